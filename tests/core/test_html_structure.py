"""HTML parsing and layout of the candidates: malformed markup, Outlook, images, tables."""

from __future__ import annotations

import pytest

from gateway.core.html_outlook import outlook_view
from gateway.core.html_text import renderings


def tops(markup: str) -> list[str]:
    return [next((line for line in text.split("\n") if line.strip()), "")
            for text in renderings(markup)]


@pytest.mark.parametrize(("markup", "top"), [
    ("<html><head><p>Confidential</p>", "Confidential"),
    ("Internal<html><body><p>x</p>", "Internal"),
    ("<html><head><body><p>Confidential</p></body></head>", "Confidential"),
    ("<title>Cleared</title><p>Internal</p>", "Internal"),
    ("<script>Cleared</script><style>.a{}</style><p>Internal</p>", "Internal"),
    ("<template><p>Cleared</p></template><p>Internal</p>", "Internal"),
    ("<!-- Cleared --><![CDATA[Cleared]]><p>Internal</p>", "Internal"),
    ("<noscript>Confidential</noscript><p>x</p>", "Confidential"),
    ("<b><p>Conf</b>idential</p>", "Confidential"),
    ("<p>Internal<p>Hello", "Internal"),
])
def test_parsed_as_a_browser_parses(markup: str, top: str) -> None:
    assert tops(markup)[0] == top


def test_outlook_conditional_content_is_a_candidate() -> None:
    markup = ("<!--[if !mso]><!--><p>Cleared for publication</p><!--<![endif]-->"
              "<!--[if mso]><p>Confidential</p><![endif]-->")
    found = tops(markup)
    assert found[0] == "Cleared for publication"
    assert "Confidential" in found


def test_words_xml_data_islands_are_not_outlook_s_first_line() -> None:
    # Word's document settings, kept for Outlook in [if gte mso 9]: data, never drawn.
    head = ("<html><head><!--[if gte mso 9]><xml><o:OfficeDocumentSettings>"
            "<o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml>"
            "<![endif]--></head><body><p>Cleared for publication</p><p>Story</p></body></html>")
    view = outlook_view(head)
    assert view is not None and "96" not in view and "Cleared for publication" in view
    # an unclosed island is left as it is
    assert "96" in (outlook_view(head.replace("</xml>", "")) or "")


def test_conditional_comments_for_other_clients_are_still_read() -> None:
    assert "Internal" in tops("<!--[if IE]><p>Internal</p><![endif]--><p>Hello</p>")


def test_alt_text_is_a_candidate_when_images_are_blocked() -> None:
    found = tops("<p><img src='cid:logo' alt='Confidential'></p><p>Hello</p>")
    assert found[0] == "Hello"
    assert "Confidential" in found


def test_table_cells_are_read_together_and_apart() -> None:
    found = tops("<table><tr><td>Confidential</td><td>case 12</td></tr></table>")
    assert found[0] == "Confidential case 12"
    assert "Confidential" in found


def test_line_breaks_follow_block_and_inline_layout() -> None:
    markup = ("<div>a<span>b</span></div><p>c</p>d<br>e<span style='display:block'>f</span>"
              "<div style='display:inline'>g</div><ul><li>h</li><li>i</li></ul>")
    assert renderings(markup)[0].split("\n") == ["ab", "", "c", "", "d", "e", "f", "g", "h",
                                                 "i"]


def test_pre_keeps_its_lines_and_entities_are_decoded() -> None:
    text = renderings("<pre>Internal\n  x &amp; y</pre>")[0]
    assert text.split("\n") == ["Internal", "x & y"]


def test_quoted_blocks_are_marked() -> None:
    text = renderings("<p>Hi</p><blockquote><p>Confidential</p></blockquote>")[0]
    assert text.split("\n")[-1] == "> Confidential"


def test_the_private_markers_cannot_be_injected() -> None:
    found = tops("<p>\x1eConfidential\x1d</p>")
    assert found == ["Confidential"]
