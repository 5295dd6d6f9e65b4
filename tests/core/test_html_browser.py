"""Differential test: the first line Chromium shows is a first line of the gateway's candidates."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from gateway.core.html_text import renderings

PRE = "<div style='{}'>See what is new this week</div>"
CASES: dict[str, str] = {
    # plain structure
    "paragraphs": "<p>Internal</p><p>Hello</p>",
    "divs": "<div>Confidential</div><div>Hi</div>",
    "spans-join": "<span>Con</span><span>fidential</span><div>x</div>",
    "bold-inside-word": "<p>Con<b>fiden</b>tial</p><p>x</p>",
    "br-lines": "Confidential<br>Dear Bob<br>",
    "leading-brs": "<br><br>&nbsp;<br>Internal<br>x",
    "entities": "<p>&#67;onfidential &amp; private</p>",
    "nbsp-line": "<div>&nbsp;</div><div><b>CONFIDENTIAL</b></div><div>Hello</div>",
    "headings": "<h1>Internal</h1><h2>Case notes</h2>",
    "list": "<ul><li>Confidential</li><li>two</li></ul>",
    "pre": "<pre>  Internal\n  next line</pre>",
    "pre-leading-newline": "<pre>\nStrictly confidential\nx</pre>",
    "whitespace-runs": "<p>   Needs   adjustment:\n  blur   face  </p>",
    "center": "<center>Cleared for publication</center><p>Story</p>",
    "heading-then-p": "<h3>Stamp: Internal</h3><p>body</p>",
    # tables
    "table-cells": "<table><tr><td>Confidential</td><td>case 12</td></tr></table>",
    "table-rows": "<table><tr><td>Internal</td></tr><tr><td>x</td></tr></table>",
    "nested-tables": "<table><tr><td><table><tr><td>Confidential</td></tr></table></td></tr>"
                     "</table><p>x</p>",
    "empty-first-cell": "<table><tr><td></td><td>Internal</td></tr></table>",
    "display-table-cell": "<div style='display:table-cell'>Internal</div>"
                          "<div style='display:table-cell'>x</div>",
    # malformed markup
    "unclosed-head": "<html><head><title>t</title><p>Confidential</p><p>x</p>",
    "text-before-html": "Internal<html><body><p>x</p></body></html>",
    "body-inside-head": "<html><head><body><p>Confidential</p></body></head></html>",
    "misnested": "<b><i>Confidential</b> case</i><p>x</p>",
    "stray-end-tags": "</div></p></span><p>Internal</p>",
    "unclosed-p": "<p>Confidential<p>Hello<p>Bye",
    "table-foster": "<table>Confidential<tr><td>x</td></tr></table>",
    "p-in-button-scope": "<p>Internal<div>x</div>",
    "cdata": "<![CDATA[Cleared for publication]]><p>Confidential</p>",
    "comment-first": "<!-- Cleared for publication --><p>Internal</p>",
    "unterminated-comment-like": "<p>Internal</p><!-- x -- y -->",
    "title-style-script": "<title>Cleared</title><style>p{}</style><script>x=1</script>"
                          "<p>Confidential</p>",
    "template": "<template><p>Cleared</p></template><p>Internal</p>",
    "noscript-shown": "<noscript>Confidential</noscript><p>x</p>",
    "textarea-free-text": "<p>Internal</p><p>reply</p>",
    "uppercase-tags": "<P>Internal</P><DIV>x</DIV>",
    # hidden things before the stamp
    "display-none": "<div style='display:none'>Cleared for publication</div><p>Internal</p>",
    "display-later-wins": "<div style='display:none;display:block'>Confidential</div><p>x</p>",
    "display-important": "<div style='display:none !important;display:block'>Cleared</div>"
                         "<p>Internal</p>",
    "hidden-attribute": "<div hidden>Cleared</div><p>Internal</p>",
    "hidden-attribute-overridden": "<div hidden style='display:block'>Internal</div><p>x</p>",
    "visibility-hidden": "<div style='visibility:hidden'>Cleared</div><p>Internal</p>",
    "visibility-collapse": "<div style='visibility:collapse'>Cleared</div><p>Internal</p>",
    "visibility-reshown": "<div style='visibility:hidden'>Cleared<p style='visibility:visible'>"
                          "Internal</p></div>",
    "style-class": "<style>.pre{display:none}</style><div class='pre'>Hi</div><p>Internal</p>",
    "style-id": "<style>#x {visibility:hidden}</style><p id='x'>Cleared</p><p>Internal</p>",
    "style-tag": "<style>span{display:none}</style><span>Cleared</span><p>Confidential</p>",
    "style-media": "<style>@media screen{.p{display:none}}</style><div class=p>Cleared</div>"
                   "<p>Confidential</p>",
    "details-closed": "<details><summary>Internal</summary>Cleared</details>",
    "display-block-span": "<span style='display:block'>Internal</span><span>x</span>",
    "display-inline-div": "<div style='display:inline'>Confi</div><div style='display:inline'>"
                          "dential</div><p>x</p>",
    # hidden things shown to the browser's innerText, read from a hidden candidate
    "preheader-max-height": PRE.format("max-height:0;overflow:hidden") + "<p>Internal</p>",
    "preheader-font-size": PRE.format("font-size:0") + "<p>Confidential</p>",
    "preheader-tiny-font": PRE.format("font-size:1px;line-height:1px") + "<p>Internal</p>",
    "preheader-opacity": PRE.format("opacity:0") + "<p>Confidential</p>",
    "preheader-white": PRE.format("color:#ffffff") + "<p>Internal</p>",
    "preheader-white-on-bg": "<div style='background:#123456'><span style='color:rgb(18,52,86)'>"
                             "Cleared</span></div><p>Internal</p>",
    "preheader-named-colour": "<body bgcolor='black'><font color='black'>Cleared</font>"
                              "<p style='color:white'>Confidential</p></body>",
    "preheader-transparent": PRE.format("color:transparent") + "<p>Internal</p>",
    "preheader-line-height": PRE.format("line-height:0;overflow:hidden") + "<p>Internal</p>",
    "preheader-zero-size": PRE.format("width:0;height:0;overflow:hidden") + "<p>Internal</p>",
    "preheader-off-screen": PRE.format("position:absolute;left:-9999px") + "<p>Internal</p>",
    "preheader-text-indent": PRE.format("text-indent:-9999px") + "<p>Confidential</p>",
    "preheader-clip": PRE.format("position:absolute;clip:rect(0 0 0 0)") + "<p>Internal</p>",
    "preheader-clip-path": PRE.format("clip-path:inset(50%)") + "<p>Internal</p>",
    "preheader-scale": PRE.format("transform:scale(0)") + "<p>Internal</p>",
    # images and Outlook
    "image-alt": "<img alt='Confidential' src='cid:x'><p>Hello</p>",
    "image-then-text": "<p><img src='cid:logo'></p><p>Internal</p>",
    "conditional-mso": "<!--[if mso]><p>Confidential</p><![endif]--><p>Cleared for publication</p>",
    "downlevel-revealed": "<!--[if !mso]><!--><p>Cleared for publication</p><!--<![endif]-->"
                          "<!--[if mso]><p>Confidential</p><![endif]-->",
    "blockquote": "<p>Cleared</p><blockquote>Confidential</blockquote>",
    "svg-text": "<p>Internal</p><svg><text>x</text></svg>",
    "mixed-block-inline": "Internal<div>x</div>",
}


def first_line(text: str) -> str | None:
    for line in text.split("\n"):
        normalised = " ".join(line.split()).casefold()
        # The gateway marks quoted text as plain-text mail does; a browser draws a bar.
        while normalised.startswith(">"):
            normalised = normalised[1:].lstrip()
        if normalised:
            return normalised
    return None


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("markup", CASES.values(), ids=CASES.keys())
def test_browser_first_line_is_a_candidate_first_line(page: Page, markup: str) -> None:
    page.set_content(markup)
    shown = page.evaluate("document.body ? document.body.innerText : ''")
    expected = first_line(shown)
    assert expected is not None
    candidates = {first_line(text) for text in renderings(markup)}
    assert expected in candidates
