"""Text a browser draws that is not in the document's text nodes, or not in their order.

Generated content (``::before``, ``::after``, ``::marker``), form fields' values, and letters
a bidi override draws reversed. Chromium is the oracle: the text it draws is read off its
layout (each character's box, ordered by position), not its ``innerText``, which leaves
generated content and form values out and keeps the stored order.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import Page

from gateway.core.bidi import PDF, RLO, visual_order
from gateway.core.message import read_message
from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import html, plain
from tests.core.test_html_browser import first_line

S = "Cleared for publication"  # in the Subject of the messages below: what must not win

DRAWN: dict[str, str] = {
    "before": '<style>p.s::before{content:"Confidential"}</style><p class="s"></p><p>Hi</p>',
    "before-one-colon": '<style>.s:before{content:"Confidential"}</style><div class="s"></div>'
                        "<p>Hi</p>",
    "after-line-break": '<style>span.s::after{content:"\\A";white-space:pre}</style>'
                        '<p><span class="s">Confidential</span>audit notes follow</p>',
    "after-empty-first": '<style>#x::after{content:"Internal"}</style><div id="x"></div>'
                         "<p>Hello</p>",
    "attr": '<style>.s::before{content:attr(data-x)}</style><div class="s" data-x="Internal">'
            "</div><p>Hi</p>",
    "marker": '<style>li::marker{content:"Confidential"}</style><ul><li></li></ul><p>Hi</p>',
    "input-value": '<input value="Confidential" readonly><p>Hi</p>',
    "input-placeholder": '<input placeholder="Internal"><p>Hi</p>',
    "select": "<select><option>Confidential</option></select><p>Hi</p>",
    "bdo": '<p><bdo dir="rtl">laitnedifnoC</bdo></p><p>Hi</p>',
    "css-override": '<p style="direction:rtl;unicode-bidi:bidi-override">lanretnI</p><p>Hi</p>',
    "rlo-character": "<p>\u202elaitnedifnoC\u202c</p><p>Hi</p>",
    "two-keyword-display": 'Confi<div style="display:inline flow-root">dential</div><p>Hi</p>',
    # drawn elsewhere than the source has them
    "flex-column-reverse": '<div style="display:flex;flex-direction:column-reverse">'
                           "<div>Hello there</div><div>Confidential</div></div>",
    "flex-order": '<div style="display:flex;flex-direction:column"><div>Hello there</div>'
                  '<div style="order:-1">Internal</div></div>',
    "thead-after-tbody": "<table><tbody><tr><td>Hello there</td></tr></tbody>"
                         "<thead><tr><td>Confidential</td></tr></thead></table>",
    "caption-last": "<table><tr><td>Hello there</td></tr><caption>Internal</caption></table>",
    "absolute-top": "<p>Hello there</p><p>More</p>"
                    '<div style="position:absolute;top:0;left:0">Confidential</div>',
    "grid-row": '<div style="display:grid"><div>Hello there</div>'
                '<div style="grid-row:1">Confidential</div></div>',
    # boxes side by side that draw one word
    "float-split": '<div style="float:left">Confi</div><div style="float:left">dential</div>'
                   '<div style="clear:both">Hello</div>',
    "cells-split": "<table cellspacing=0 cellpadding=0><tr><td>Confi</td><td>dential</td></tr>"
                   "</table><p>Hi</p>",
    "flex-row-split": '<div style="display:flex"><div>Confi</div><div>dential</div></div>'
                      "<p>Hi</p>",
    "approximated-inline": "<style>div[data-i]{display:inline}</style>"
                           "Confi<div data-i>dential</div><p>Hi</p>",
    "row-reverse-split": '<div style="display:flex;flex-direction:row-reverse;'
                         'justify-content:flex-end"><span>dential</span><span>Confi</span></div>'
                         "<p>Hi</p>",
    # a box as wide as the line breaks it
    "full-width-spacer": 'Confidential<span style="display:inline-block;width:100%"></span>'
                         "audit notes follow<p>Hi</p>",

}

# The layout's text: every character of every text node and form field with its box,
# generated content as its pseudo-element's box; grouped in lines by their top, ordered by
# their left edge.
DRAWN_TEXT = """() => {
  const items = [];
  const add = (text, rect) => {
    if (rect.width > 0 && rect.height > 0) items.push([Math.round(rect.top), rect.left, text]);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      for (const rect of range.getClientRects()) add(node.data[i], rect);
    }
  }
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    for (const pseudo of ['::before', '::after', '::marker']) {
      const content = getComputedStyle(el, pseudo).content;
      if (content && content.startsWith('"')) {
        const text = content.slice(1, -1).replace(/\\\\[aA] ?/g, '');
        if (text.trim()) items.push([Math.round(rect.top), pseudo === '::after' ? rect.right
                                     : rect.left - 1, text]);
      }
    }
    if (el.tagName === 'INPUT') items.push([Math.round(rect.top), rect.left,
                                            el.value || el.placeholder]);
    if (el.tagName === 'SELECT' && el.selectedOptions.length)
      items.push([Math.round(rect.top), rect.left, el.selectedOptions[0].text]);
  }
  items.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const lines = [];
  let top = null;
  for (const [y, , text] of items) {
    if (top === null || y > top + 4) { lines.push(''); top = y; }
    lines[lines.length - 1] += text;
  }
  return lines.join('\\n');
}"""


@pytest.mark.parametrize("markup", DRAWN.values(), ids=DRAWN.keys())
def test_the_first_line_chromium_draws_is_a_candidate_first_line(page: Page,
                                                                   markup: str) -> None:
    page.set_content(markup)
    expected = first_line(page.evaluate(DRAWN_TEXT))
    assert expected in {"confidential", "internal"}, expected  # the oracle drew the stamp
    assert expected in {first_line(text.text) for text in read_message(html(markup)).top_texts}


@pytest.mark.parametrize("markup", DRAWN.values(), ids=DRAWN.keys())
def test_a_drawn_stamp_outranks_the_subjects_cleared(vocabulary: Vocabulary,
                                                     markup: str) -> None:
    stamp = read_now(html(markup, subject=S), vocabulary).reading.stamp
    assert stamp in (Stamp.CONFIDENTIAL, Stamp.INTERNAL)


@pytest.mark.parametrize("markup", [
    '<input type="hidden" value="Confidential"><p>Cleared for publication</p>',
    '<input type="checkbox" value="Confidential"><p>Cleared for publication</p>',
    '<style>.s::before{content:"\\2022  "}</style><p class="s">Cleared for publication</p>',
])
def test_drawn_text_that_says_nothing_leaves_the_stamp(vocabulary: Vocabulary,
                                                       markup: str) -> None:
    assert read_now(html(markup), vocabulary).reading.stamp is Stamp.CLEARED


def test_a_reversed_plain_text_line_is_read_as_drawn(vocabulary: Vocabulary) -> None:
    body = f"{RLO}laitnedifnoC{PDF}\n\nHello"
    assert read_now(plain(body, subject=S), vocabulary).reading.stamp is Stamp.CONFIDENTIAL
    # And a Cleared that is drawn reversed is not a Cleared a reader sees.
    body = f"{RLO}Cleared for publication{PDF}\n\nHello"
    assert read_now(plain(body), vocabulary).reading.stamp is None


@pytest.mark.parametrize(("text", "drawn"), [
    (f"{RLO}cba{PDF}", "abc"),
    (f"x {RLO}cba{PDF} y", "x abc y"),
    (f"{RLO}cba", "abc"),  # not closed: the line ends it
    (f"{RLO}ab\ncd", "ba\ncd"),
    (f"{RLO}a\u202db c\u202cd{PDF}", "db ca"),  # an LTR override inside keeps its order
    ("\u2067cba\u2069", "\u2067cba\u2069"),  # an isolate alone reverses no Latin letter
])
def test_visual_order(text: str, drawn: str) -> None:
    assert visual_order(text) == drawn


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\u202a\u202b\u202c\u202d\u202e"
                                                           "\u2066\u2067\u2068\u2069\n")))
def test_an_override_draws_its_content_reversed(text: str) -> None:
    assert visual_order(RLO + text[::-1] + PDF) == text
    assert visual_order(text) == text


@pytest.mark.parametrize("markup", [
    "<p><del>Cleared for publication</del></p><p>Hello team</p>",
    "<p><s>Cleared for publication</s></p><p>Hello team</p>",
    '<p style="text-decoration:line-through">Cleared for publication</p><p>Hello</p>',
    '<div style="text-decoration:line-through"><span style="text-decoration:none">'
    "Cleared for publication</span></div><p>Hello</p>",
])
def test_a_struck_cleared_is_withdrawn(vocabulary: Vocabulary, markup: str) -> None:
    assert read_now(html(markup), vocabulary).reading.stamp is None


def test_a_struck_stricter_stamp_still_counts(vocabulary: Vocabulary) -> None:
    markup = "<p><del>Internal</del></p><p>Cleared for publication</p><p>Hello</p>"
    assert read_now(html(markup), vocabulary).reading.stamp is Stamp.INTERNAL


@pytest.mark.parametrize("markup", [
    # Strings CSS draws that the layout oracle cannot read back: a list-style string is the
    # item's marker, quotes are what a <q> draws around its text.
    "<ul style=\"list-style-type:'Confidential';list-style-position:inside\"><li>&#8203;</li>"
    "</ul><p>Hi</p>",
    '<style>q{quotes:"Confidential" ""}</style><div><q></q></div><p>Hi</p>',
    "<div style=\"quotes:'Internal' ''\"><q></q></div><p>Hi</p>",
])
def test_strings_css_draws_count(vocabulary: Vocabulary, markup: str) -> None:
    stamp = read_now(html(markup, subject=S), vocabulary).reading.stamp
    assert stamp in (Stamp.CONFIDENTIAL, Stamp.INTERNAL)


def test_a_reversed_row_keeps_a_cleared_in_either_order(vocabulary: Vocabulary) -> None:
    markup = ('<div style="display:flex;flex-direction:row-reverse"><span>Cleared for '
              "publication</span></div><p>Hello team</p>")
    assert read_now(html(markup), vocabulary).reading.stamp is Stamp.CLEARED
