"""Style sheets beyond plain rules: CSS nesting, ``@scope``, ``@keyframes``, sheets carried in
``data:`` URLs, attribute selectors and sheets fetched from elsewhere. Rules a client applies
may hide a Cleared (it then does not clear) and a stricter stamp below it is then the top.

Chromium is the oracle: it draws none of these Cleared lines (the page with the Cleared and
with as many other letters must look the same).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from gateway.core.html_data import data_text
from gateway.core.html_sheet import StyleSheet
from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import html
from tests.core.pictures import difference

CLEARED = "Cleared for publication"
OTHER = "Xxxxxxx xxx xxxxxxxxxxx"
HIDDEN = f"<div class='h' data-note='1'>{CLEARED}<br>Dear colleagues,</div>"
BELOW = "<p>Confidential</p><p>The family now lives near the school on the corner.</p>"

# Style sheets that hide the element ``.h`` (with ``data-note``) in Chromium.
HIDING = {
    "nested with &": "body { & .h { display: none } }",
    "nested without &": "body { .h { display: none } }",
    "nested compound": "div { &.h { visibility: hidden } }",
    "nested media": ".h { @media screen { display: none } }",
    "deeply nested": "html { body { div { &.h { display: none } } } }",
    "scope": "@scope (body) { .h { display: none } }",
    "scope root": "@scope (.h) { :scope { display: none } }",
    "keyframes forwards": "@keyframes k { to { opacity: 0 } } .h { animation: k 1ms forwards }",
    "keyframes by name": "@keyframes fade { from, to { visibility: hidden } } "
                         ".h { animation-name: fade; animation-duration: 1s; "
                         "animation-fill-mode: both }",
    "import data url": "@import url('data:text/css,.h%7Bdisplay:none%7D');",
    "import base64": '@import "data:text/css;base64,LmggeyBkaXNwbGF5Om5vbmUgfQ==";',
    "import within import": '@import "data:text/css,@import url(data:text/css,'
                            '.h%257Bdisplay:none%257D);";',
    "attribute present": "[data-note] { display: none }",
    "attribute class word": "[class~=h] { display: none }",
    "attribute value": "div[data-note='1'] { display: none }",
}
# Approximated or conditional rules that colour, fade or shrink ``.h`` in Chromium.
PAINTING = {
    "descendant colour": "body .h { color: #fff }",
    "media colour": "@media screen { .h { color: #ffffff } }",
    "media font size": "@media all and (min-width: 1px) { .h { font-size: 1px } }",
    "pseudo-class colour": "div.h:not(.x) { color: white }",
    "child opacity": "body > .h { opacity: .05 }",
    "attribute colour": "[class=h] { color: #fff }",
    "nested colour": "body { .h { color: #fff } }",
}
LINKED = "<link rel='stylesheet' href='data:text/css,.h%7Bdisplay:none%7D'>"
# Sheets a message may fetch: what they do is not in it.
REMOTE = {
    "linked": "<link rel='stylesheet' href='https://example.org/mail.css'>",
    "imported": "<style>@import url(https://example.org/mail.css);</style>",
    "part of the message": "<link rel=stylesheet href='cid:sheet@example.org'>",
}
# Ordinary newsletter and client markup: the Cleared at the top still clears.
ROUTINE = {
    "outlook link colours": "<style>a:link, span.MsoHyperlink { color: #0563C1 } a:visited,"
                            " span.MsoHyperlinkFollowed { color: #954F72 }</style>",
    "dark mode": "<style>@media (prefers-color-scheme: dark) { body, .card { background: #1e1e1e"
                 " !important } .card p { color: #f1f1f1 !important } } [data-ogsc] .card p"
                 " { color: #f1f1f1 !important }</style>",
    "hover colour": "<style>a:hover { color: #ffffff } .card p:hover { color: #fff }</style>",
    "mobile rules": "<style>.mobile { display: none } @media (max-width: 600px) { .card p { "
                    "font-size: 18px !important; margin: 0 auto !important } .mobile { display:"
                    " block !important } }</style>",
    "hidden attribute reset": "<style>[hidden] { display: none !important }</style>",
    "apple data detectors": "<style>a[x-apple-data-detectors] { color: inherit !important; "
                            "text-decoration: none !important }</style>",
    "nested colours": "<style>.card { & p { color: #333; margin: 0 } }</style>",
    "unused animation": "<style>@keyframes pulse { to { opacity: .5 } } .badge { animation: "
                        "pulse 2s infinite }</style>",
    "web font sheet": "<link rel='stylesheet' href='https://fonts.googleapis.com/css2?"
                      "family=Inter'><style>@import url(https://fonts.bunny.net/css?"
                      "family=inter);</style>",
    "scope without hiding": "<style>@scope (.card) { p { margin: 0 } }</style>",
    "telephone links": "<style>a[href^=tel] { color: inherit }</style>",
}


def _stamp(vocabulary: Vocabulary, markup: str) -> Stamp | None:
    return read_now(html(markup, subject="Case update"), vocabulary).reading.stamp


def _page(style: str) -> str:
    return f"<style>{style}</style>{HIDDEN}{BELOW}"


@pytest.mark.parametrize("style", HIDING.values(), ids=HIDING.keys())
def test_a_stricter_stamp_below_a_hidden_cleared_is_the_top(vocabulary: Vocabulary,
                                                              style: str) -> None:
    assert _stamp(vocabulary, _page(style)) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("style", PAINTING.values(), ids=PAINTING.keys())
def test_a_cleared_an_approximated_rule_may_paint_away_does_not_clear(
        vocabulary: Vocabulary, style: str) -> None:
    body = f"<style>{style}</style><body style='background:#fff'>{HIDDEN}{BELOW}</body>"
    assert _stamp(vocabulary, body) is Stamp.CONFIDENTIAL


def test_a_linked_data_sheet_hides_too(vocabulary: Vocabulary) -> None:
    assert _stamp(vocabulary, LINKED + HIDDEN + BELOW) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("markup", REMOTE.values(), ids=REMOTE.keys())
def test_a_cleared_under_a_fetched_sheet_does_not_clear(vocabulary: Vocabulary,
                                                         markup: str) -> None:
    body = f"{markup}<p>{CLEARED}</p><p>Release text for the website.</p>"
    assert _stamp(vocabulary, body) is None


@pytest.mark.parametrize("markup", ROUTINE.values(), ids=ROUTINE.keys())
def test_routine_sheets_leave_the_cleared_at_the_top(vocabulary: Vocabulary,
                                                      markup: str) -> None:
    body = (f"{markup}<div class='card'><p>{CLEARED}</p><p>Release text for the website."
            "</p><span class='badge'>New</span></div>")
    assert _stamp(vocabulary, body) is Stamp.CLEARED


def test_sheets_nested_past_any_real_one_hide_everything(vocabulary: Vocabulary) -> None:
    deep = "@media screen {" * 100 + ".x { color: red }" + "}" * 100
    assert _stamp(vocabulary, f"<style>{deep}</style><p>{CLEARED}</p><p>Text.</p>") is None


def test_many_nested_selectors_stay_bounded() -> None:
    sheet = StyleSheet()
    sheet.add("a, b, c, d, e, f, g, h {" * 12 + "&.h { display: none }" + "}" * 12)
    rules = sum(len(rules) for rules in sheet.by_class.values())
    assert 0 < rules <= 64 * 12
    assert ("display", "none", False) in sheet.matching("h", frozenset({"h"}), None)


def test_a_data_url_is_decoded_and_others_are_not() -> None:
    assert data_text("data:text/css,.a%7Bx:y%7D") == ".a{x:y}"
    assert data_text("data:text/css;base64,LmF7eDp5fQ==") == ".a{x:y}"
    assert data_text("https://example.org/a.css") is None


@pytest.mark.parametrize("markup", [*(_page(style) for style in HIDING.values()),
                                    *(_page(style) for style in PAINTING.values()),
                                    LINKED + HIDDEN + BELOW],
                         ids=[*HIDING.keys(), *PAINTING.keys(), "linked data sheet"])
def test_chromium_draws_none_of_these_cleared(page: Page, markup: str) -> None:
    drawn = difference(page, markup, CLEARED, OTHER, wait_ms=100)  # a 1 ms animation ended
    assert drawn < 250, drawn


def test_chromium_draws_the_cleared_when_nothing_hides_it(page: Page) -> None:
    assert difference(page, _page(".z { color: red }"), CLEARED, OTHER) > 500
