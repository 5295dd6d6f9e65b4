"""Text drawn from what the message carries (an SVG picture in a ``data:`` URL, a frame's
document, an empty text area's placeholder) and paint the reader now computes or reads both
ways (opacity by a function, blend modes, depth in perspective, logical sizes, a start margin
that pulls the first words off the page). Chromium is the oracle for each.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import html
from tests.core.pictures import difference

CLEARED = "Cleared for publication"
OTHER = "Xxxxxxx xxx xxxxxxxxxxx"
TEXT = "<p>Dear colleagues, the family now lives near the school.</p>"


def _svg(words: str) -> str:
    picture = ("<svg xmlns='http://www.w3.org/2000/svg' width='400' height='30'>"
               f"<text x='0' y='20' font-size='18'>{words}</text></svg>")
    return "data:image/svg+xml," + quote(picture)


# Markup drawing ``{words}`` above everything else.
DRAWING = {
    "svg picture": "<img src=\"{svg}\" alt=''>",
    "svg image element": "<svg width='400' height='30'><image href=\"{svg}\" width='400' "
                         "height='30'/></svg>",
    "background picture": "<div style=\"background-image:url('{svg}');height:30px;"
                          "width:400px\"></div>",
    "generated picture": "<style>.c::before {{ content: url(\"{svg}\") }}</style>"
                         "<div class='c'></div>",
    "option label": "<select><option label='{words}'>x</option></select>",
    "picture button": "<input type='image' alt='{words}' src='cid:button@example.org'>",
    "frame document": "<iframe srcdoc='<p>{words}</p>' style='border:0;height:40px'></iframe>",
    "empty text area": "<textarea placeholder='{words}' style='width:400px'></textarea>",
}
# Paint that hides a box in Chromium, newly computed or read both ways.
HIDING = {
    "opacity by a function": "opacity:calc(0)",
    "blend mode": "mix-blend-mode:screen",
    "behind the viewer": "transform:perspective(10px) translateZ(20px)",
    "logical height": "max-block-size:0;overflow:hidden",
    "logical width": "inline-size:0;overflow:hidden;white-space:nowrap",
    "pulled left": "float:left;margin-left:-100%",
    "indented left": "text-indent:-400px",
}
# Boxes positioned over the page with something opaque: what lies below them is not known.
COVERING = {
    "white box": "<div style='position:absolute;top:0;left:0;width:100%;height:40px;"
                 "background:#fff'></div>",
    "picture": "<img src='cid:banner@example.org' alt='' style='position:absolute;top:0;"
               "left:0;width:100%;height:40px'>",
    "gradient": "<div style='position:fixed;top:0;left:0;right:0;height:40px;"
                "background-image:linear-gradient(#fff,#fff)'></div>",
}
ROUTINE = {
    "hidden positioned box": "<div style='display:none'><div style='position:absolute;top:0;"
                             f"background:#fff'>Menu</div></div><p>{CLEARED}</p>",
    "positioned note without a background": f"<p>{CLEARED}</p><div style='position:absolute;"
                                           "right:0'>Page 1</div>",
    "list indent": f"<p style='margin-left:.5in;text-indent:-.25in'>{CLEARED}</p>",
    "centred": f"<div style='margin:0 auto;max-width:600px'><p>{CLEARED}</p></div>",
    "normal blend": f"<p style='mix-blend-mode:normal'>{CLEARED}</p>",
    "svg logo": "<img src=\"data:image/svg+xml," + quote("<svg xmlns='http://www.w3.org/2000/"
                "svg'><circle r='9'/></svg>") + f"\" alt=''><p>{CLEARED}</p>",
    "filled text area below": f"<p>{CLEARED}</p><textarea placeholder='Confidential'>Notes"
                              "</textarea>",
    "gpu layer": f"<div style='transform:perspective(1px) translateZ(0)'><p>{CLEARED}</p></div>",
}


def _stamp(vocabulary: Vocabulary, markup: str) -> Stamp | None:
    return read_now(html(markup, subject="Case update"), vocabulary).reading.stamp


def _drawing(name: str, words: str) -> str:
    return DRAWING[name].format(svg=_svg(words), words=words)


@pytest.mark.parametrize("name", DRAWING)
def test_a_stricter_stamp_drawn_from_carried_content_counts(vocabulary: Vocabulary,
                                                            name: str) -> None:
    body = _drawing(name, "Confidential") + f"<p>{CLEARED}</p>{TEXT}"
    assert _stamp(vocabulary, body) is Stamp.CONFIDENTIAL


def test_a_cleared_only_a_picture_draws_does_not_clear(vocabulary: Vocabulary) -> None:
    assert _stamp(vocabulary, _drawing("svg picture", CLEARED) + TEXT) is None


@pytest.mark.parametrize("style", HIDING.values(), ids=HIDING.keys())
def test_a_hidden_cleared_does_not_hide_the_stamp_below(vocabulary: Vocabulary,
                                                        style: str) -> None:
    body = f"<div style='{style}'>{CLEARED}<br>Dear all,</div><p>Confidential</p>{TEXT}"
    assert _stamp(vocabulary, body) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("markup", COVERING.values(), ids=COVERING.keys())
def test_a_cleared_a_positioned_box_may_cover_does_not_clear(vocabulary: Vocabulary,
                                                             markup: str) -> None:
    assert _stamp(vocabulary, f"{markup}<p>{CLEARED}</p>{TEXT}") is None


@pytest.mark.parametrize("markup", ROUTINE.values(), ids=ROUTINE.keys())
def test_routine_markup_still_clears(vocabulary: Vocabulary, markup: str) -> None:
    assert _stamp(vocabulary, markup + TEXT) is Stamp.CLEARED


@pytest.mark.parametrize("name", DRAWING)
def test_chromium_draws_the_carried_words(page: Page, name: str) -> None:
    drawn = difference(page, _drawing(name, "Confidential"), "Confidential", "Xxxxxxxxxxxx",
                       wait_ms=50)  # a frame's document is drawn
    assert drawn > 300, drawn


@pytest.mark.parametrize("style", HIDING.values(), ids=HIDING.keys())
def test_chromium_draws_none_of_the_cleared(page: Page, style: str) -> None:
    markup = f"<div style='background:#fff'><div style='{style}'>{CLEARED}</div></div>"
    drawn = difference(page, markup, CLEARED, OTHER)
    assert drawn < 250, drawn


@pytest.mark.parametrize("markup", [COVERING["white box"], COVERING["gradient"]],
                         ids=["white box", "gradient"])
def test_chromium_draws_the_box_over_the_cleared(page: Page, markup: str) -> None:
    drawn = difference(page, f"{markup}<p style='margin:8px 0'>{CLEARED}</p>", CLEARED, OTHER)
    assert drawn < 250, drawn
