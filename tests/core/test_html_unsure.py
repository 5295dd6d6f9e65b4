"""Colours, form fields, elements and boxes the gateway reads as a browser draws them, or, where
it cannot compute them or clients differ, both ways: a Cleared some reader may not see does not
clear, and text some reader sees above a Cleared keeps that Cleared from being the top.

Chromium is the oracle for what is not painted: the page is drawn with the Cleared and with the
same number of other letters, and the two pictures must (nearly) agree.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Page

from gateway.core.html_colour import legacy
from gateway.core.html_paint import px
from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import html

CLEARED = "Cleared for publication"
OTHER = "Xxxxxxx xxx xxxxxxxxxxx"
TEXT = "<p>Dear colleagues, here are the names of the families we discussed.</p>"

# A Cleared Chromium does not paint where a reader sees it.
UNSEEN = {
    "font color without #": f"<font color='ffffff'>{CLEARED}</font>",
    "bgcolor without #": f"<table bgcolor='000000' width='100%'><tr><td>{CLEARED}</td></tr>"
                         "</table>",
    "bgcolor chucknorris": "<table bgcolor='chucknorris' width='100%'><tr><td>"
                           f"<span style='color:#c00000'>{CLEARED}</span></td></tr></table>",
    "body link colour": f"<body link='#ffffff'><a href='https://example.org/'>{CLEARED}</a>"
                        f"{TEXT}</body>",
    "link on its own blue": "<table bgcolor='#0000ee' width='100%'><tr><td>"
                            f"<a href='https://example.org/'>{CLEARED}</a></td></tr></table>",
    "custom property": f"<div style='--c:#ffffff;color:var(--c)'>{CLEARED}</div>",
    "inherited custom property": f"<div style='--c:#fff'><p style='color:var(--c)'>{CLEARED}"
                                 "</p></div>",
    "color-mix": f"<div style='color:color-mix(in srgb, white 100%, black)'>{CLEARED}</div>",
    "light-dark": f"<div style='color:light-dark(#fff,#fff)'>{CLEARED}</div>",
    "unknown background": "<div style='background-color:color-mix(in srgb, black 100%, white)'>"
                          f"{CLEARED}</div>",
    "password field": f"<input type='password' value='{CLEARED}' style='border:0;width:300px'>",
    "narrow field": f"<input value='{CLEARED}' style='width:2px;border:0'>",
    "tiny text area": f"<textarea style='width:2px;height:2px'>{CLEARED}</textarea>",
    "text security": f"<div style='-webkit-text-security:disc'>{CLEARED}</div>",
    "content image": "<div style=\"content:url('data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEAAAAAL"
                     f"AAAAAABAAEAAAICRAEAOw==')\">{CLEARED}</div>",
    "popover": f"<div popover>{CLEARED}</div>",
    "hidden until found": f"<div hidden='until-found' style='display:block'>{CLEARED}</div>",
    "math phantom": f"<math><mphantom><mtext>{CLEARED}</mtext></mphantom></math>",
    "object fallback": f"<object data='cid:x'>{CLEARED}</object>",
    "svg display": f"<svg width='300' height='20'><text y='15' display='none'>{CLEARED}</text>"
                   "</svg>",
    "svg visibility": f"<svg width='300' height='20'><text y='15' visibility='hidden'>{CLEARED}"
                      "</text></svg>",
    "svg opacity": f"<svg width='300' height='20'><text y='15' opacity='0'>{CLEARED}</text>"
                   "</svg>",
    "svg no fill": f"<svg width='300' height='20'><text y='15' fill='none'>{CLEARED}</text>"
                   "</svg>",
    "svg font size": f"<svg width='300' height='20'><text y='15' font-size='1'>{CLEARED}</text>"
                     "</svg>",
    "svg text below its box": f"<svg width='300' height='20'><text y='200'>{CLEARED}</text>"
                              "</svg>",
    "svg text beside its box": f"<svg viewBox='0 0 300 20'><text x='400' y='15'>{CLEARED}"
                               "</text></svg>",
    "zoom times font size": f"<div style='zoom:0.2'><span style='font-size:8px'>{CLEARED}"
                            "</span></div>",
    "scale times font size": "<div style='transform:scale(0.15);transform-origin:0 0'>"
                             f"<span style='font-size:12px'>{CLEARED}</span></div>",
    "squashing matrix": f"<div style='transform:matrix(1,0,0,0,0,0)'>{CLEARED}</div>",
    "skewed edge-on": f"<div style='transform:skewX(89.99deg)'>{CLEARED}</div>",
    "collapsed column": "<table><colgroup><col style='visibility:collapse'><col></colgroup>"
                        f"<tr><td>{CLEARED}</td><td>Notes</td></tr></table>",
    "shadow root without a slot": "<div><template shadowrootmode='open'><p>Partner notes</p>"
                                  f"</template>{CLEARED}</div>",
    "font min()": f"<div style='font-size:min(1px,16px)'>{CLEARED}</div>",
    "font calc product": f"<div style='font-size:calc(16px * 0)'>{CLEARED}</div>",
    "height min() clipped": f"<div style='height:min(0px,10px);overflow:hidden'>{CLEARED}</div>",
    "indent percent": f"<div style='text-indent:-300%;overflow:hidden'>{CLEARED}</div>",
    "margin percent": f"<div style='margin-left:-300%'>{CLEARED}</div>",
    "contain size paint": f"<div style='contain:size paint'>{CLEARED}</div>",
    "overflow-x on no width": f"<div style='width:0;overflow-x:hidden'>{CLEARED}</div>",
    "3px clipping box": f"<div style='width:3px;height:3px;overflow:hidden'>{CLEARED}</div>",
    "clip path": f"<div style=\"clip-path:path('M0 0')\">{CLEARED}</div>",
    "clip circle": f"<div style='clip-path:circle(1px)'>{CLEARED}</div>",
    "clip xywh": f"<div style='clip-path:xywh(0 0 0 0)'>{CLEARED}</div>",
    "filter invert": f"<div style='filter:invert(1)'>{CLEARED}</div>",
    "escaped class name": f"<style>.md\\:hidden{{display:none}}</style><div class='md:hidden'>"
                          f"{CLEARED}</div>",
    ":is() selector": f"<style>:is(.s){{display:none}}</style><div class='s'>{CLEARED}</div>",
    "non-ASCII class name": f"<style>.caché{{display:none}}</style><div class='caché'>{CLEARED}"
                            "</div>",
}
# Letters drawn as other pictures where the font is there: Outlook on Windows has Wingdings,
# a font the message carries draws whatever its glyphs are (no oracle here: read only).
OTHER_GLYPHS = {
    "symbol font": f"<div style='font-family:Wingdings'>{CLEARED}</div>",
    "symbol font shorthand": f"<div style='font:12px/1.2 \"Webdings\", serif'>{CLEARED}</div>",
    "font carried in the message": "<style>@font-face{font-family:'Stamp';"
                                   "src:url(data:font/ttf;base64,AAEAAAASAQAABAAg)}</style>"
                                   f"<div style=\"font-family:'Stamp'\">{CLEARED}</div>",
}
# Shown by the select, not the Cleared: checked by the select's own value.
NOT_SELECTED = {
    "select shows the selected option": f"<select><option>{CLEARED}</option>"
                                        "<option selected>Partner meeting notes</option></select>",
}
# An unsure box above a Cleared that some client draws: the Cleared is not the top for it.
SHOWN_SOMEWHERE = {
    "popover": "<div popover>Dear colleagues,</div>",
    "unknown colour": "<div style='color:color-mix(in srgb, red 50%, blue)'>Dear colleagues,</div>",
    "transformed": "<div style='transform:matrix(1,0,0,1,0,5)'>Dear colleagues,</div>",
    "pulled up": "<div style='margin-block-start:-2px'>Dear colleagues,</div>",
}
# A stricter stamp drawn at the top by what the gateway did not read before.
LINE = "<div>Dear colleagues, the names are below.</div>"
# A stricter stamp drawn at the top by what the gateway did not read before: the body after
# the Cleared line (``{line}``: a line of text).
DRAWN_ON_TOP = {
    "matrix move": "{line}<div style='transform:matrix(1,0,0,1,0,-40);background:#fff'>"
                   "Confidential</div>",
    "margin block start": "{line}<div style='margin-block-start:-40px;position:relative;"
                          "background:#fff'>Confidential</div>",
    "calc margin": "{line}<div style='margin-top:calc(-40px);position:relative;"
                   "background:#fff'>Confidential</div>",
    "inset block": "{line}<div style='position:relative;inset-block:-40px auto;"
                   "background:#fff'>Confidential</div>",
    "previous margin bottom": "<div style='margin-bottom:-20px'>{line}</div>"
                              "<div style='position:relative;background:#fff'>Confidential</div>",
}
GENERATED = {
    "counter style": "<style>@counter-style conf{system:cyclic;symbols:'Confidential';"
                     "suffix:' '}</style><ol style='list-style:conf'>"
                     f"<li>{CLEARED}</li></ol>",
    "open quote": "<style>.q{quotes:'Confidential \\A ' ''} .q::before{content:open-quote;"
                  f"white-space:pre}}</style><div class='q'>{CLEARED}</div>",
    "custom property content": "<style>.q{--s:'Confidential — '} .q::before{content:var(--s)}"
                               f"</style><div class='q'>{CLEARED}</div>",
    "shadow root": "<div><template shadowrootmode='open'><p>Confidential</p><slot></slot>"
                   f"</template>{CLEARED}</div>",
}
ROUTINE = {
    "root variable": "<style>:root{--brand:#123456}</style>"
                     f"<p style='color:var(--brand)'>{CLEARED}</p>",
    "rotate zero": f"<div style='transform:rotate(0deg)'><p>{CLEARED}</p></div>",
    "gpu layer hack": f"<div style='transform:translateZ(0)'><p>{CLEARED}</p></div>",
    "translate3d zero": f"<div style='transform:translate3d(0,0,0)'><p>{CLEARED}</p></div>",
    "brand colour variable": "<div style='--brand:#003366;color:var(--brand,#003366)'>"
                             f"<p>{CLEARED}</p></div>",
    "variable fallback": f"<p style='color:var(--undefined, #222)'>{CLEARED}</p>",
    "outlook windowtext": f"<p class=MsoNormal style='color:windowtext'>{CLEARED}</p>",
    "styled link": f"<p><a href='https://example.org' style='color:#0563C1'>{CLEARED}</a></p>",
    "plain link": f"<p><a href='https://example.org'>{CLEARED}</a></p>",
    "legacy colours": f"<table bgcolor='ffffff'><tr><td><font color='333333'>{CLEARED}</font>"
                      "</td></tr></table>",
    "header cell first": f"<table border=1><thead><tr><th>{CLEARED}</th></tr></thead><tbody>"
                         "<tr><td>Release text.</td></tr></tbody></table>",
    "selected option": f"<select><option>Other</option><option selected>{CLEARED}</option>"
                       "</select>",
    "scaled up": f"<div style='transform:scale(1.2);transform-origin:0 0'>{CLEARED}</div>",
    "password field": f"<p>{CLEARED}</p><input type='password' placeholder='Your code'>",
    "gap closed under a logo": "<div style='margin-bottom:-4px'><img src='cid:logo' alt=''>"
                               f"</div><p>{CLEARED}</p>",
    "invalid colour ignored": f"<p style='color:auto'>{CLEARED}</p>",
    "fluid font size": f"<p style='font-size:clamp(14px, 2vw, 18px)'>{CLEARED}</p>",
    "symbol font as a fallback": "<p style=\"font-family:'Segoe UI','Segoe UI Symbol'\">"
                                 f"{CLEARED}</p>",
    "remote web font": "<style>@font-face{font-family:'Brand';"
                       "src:url(https://example.org/brand.woff2)}</style>"
                       f"<p style=\"font-family:'Brand',Arial\">{CLEARED}</p>",
    "box narrower than the page": f"<div style='width:calc(100% - 20px);overflow:hidden'>"
                                  f"{CLEARED}</div>",
    "round avatar": "<img src='cid:avatar' alt='' style='clip-path:circle(50%)'>"
                    f"<p>{CLEARED}</p>",
    "svg text in its box": f"<svg width='300' height='20'><text y='15'>{CLEARED}</text></svg>",
    "escaped class names": "<style>.md\\:text-lg{font-size:18px} .md\\:hidden{display:none}"
                           f"</style><p class='md:text-lg md hidden'>{CLEARED}</p>",
}


def _stamp(vocabulary: Vocabulary, markup: str, subject: str = "Case update") -> Stamp | None:
    return read_now(html(markup, subject=subject), vocabulary).reading.stamp


@pytest.mark.parametrize("markup", UNSEEN.values(), ids=UNSEEN.keys())
def test_a_cleared_a_reader_may_not_see_does_not_clear(vocabulary: Vocabulary,
                                                        markup: str) -> None:
    assert _stamp(vocabulary, markup + TEXT) is None


@pytest.mark.parametrize("markup", OTHER_GLYPHS.values(), ids=OTHER_GLYPHS.keys())
def test_a_cleared_drawn_in_other_glyphs_does_not_clear(vocabulary: Vocabulary,
                                                        markup: str) -> None:
    assert _stamp(vocabulary, markup + TEXT) is None


@pytest.mark.parametrize("markup", NOT_SELECTED.values(), ids=NOT_SELECTED.keys())
def test_an_option_the_select_does_not_show_does_not_clear(vocabulary: Vocabulary,
                                                           markup: str) -> None:
    assert _stamp(vocabulary, markup + TEXT) is None


def _picture(page: Page, markup: str) -> Image.Image:
    """The first lines of the page, where the Cleared would be drawn (what follows it may
    move by a pixel when the box of an undrawn Cleared is as wide as its letters). A new
    document each time: ``set_content`` keeps the last one's ``<body link>`` colour."""
    page.goto("about:blank")
    page.set_content(markup)
    clip = {"x": 0, "y": 0, "width": 800, "height": 34}
    return Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")


@pytest.mark.parametrize("markup", UNSEEN.values(), ids=UNSEEN.keys())
def test_chromium_paints_none_of_these_cleared(page: Page, markup: str) -> None:
    page.set_viewport_size({"width": 800, "height": 300})
    seen = _picture(page, markup + TEXT)
    other = _picture(page, (markup + TEXT).replace(CLEARED, OTHER))
    assert _changed(seen, other) < 250, _changed(seen, other)  # a visible one: some 1,500


@pytest.mark.parametrize("markup", NOT_SELECTED.values(), ids=NOT_SELECTED.keys())
def test_chromium_shows_the_selected_option(page: Page, markup: str) -> None:
    page.set_content(markup)
    assert page.evaluate("document.querySelector('select').selectedOptions[0].text") != CLEARED


@pytest.mark.parametrize("markup", SHOWN_SOMEWHERE.values(), ids=SHOWN_SOMEWHERE.keys())
def test_text_some_client_shows_above_a_cleared_keeps_it_from_the_top(
        vocabulary: Vocabulary, markup: str) -> None:
    assert _stamp(vocabulary, f"{markup}<p>{CLEARED}</p>{TEXT}") is None


@pytest.mark.parametrize("markup", DRAWN_ON_TOP.values(), ids=DRAWN_ON_TOP.keys())
def test_a_stricter_stamp_drawn_over_the_top_counts(vocabulary: Vocabulary,
                                                    markup: str) -> None:
    body = f"<div>{CLEARED}</div>{markup.format(line=LINE)}{TEXT}"
    assert _stamp(vocabulary, body) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("markup", GENERATED.values(), ids=GENERATED.keys())
def test_generated_stricter_text_counts(vocabulary: Vocabulary, markup: str) -> None:
    assert _stamp(vocabulary, markup + TEXT) is Stamp.CONFIDENTIAL


def _changed(first: Image.Image, second: Image.Image) -> int:
    """How many pixels differ between two pictures, more than anti-aliasing makes them."""
    red, green, blue = ImageChops.difference(first, second).split()
    changed = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return sum(changed.histogram()[32:])


@pytest.mark.parametrize("markup", GENERATED.values(), ids=GENERATED.keys())
def test_chromium_draws_the_generated_stamp_on_the_first_line(page: Page, markup: str) -> None:
    page.set_viewport_size({"width": 800, "height": 300})
    clip = {"x": 0, "y": 0, "width": 800, "height": 30}
    page.set_content(markup + TEXT)
    drawn = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
    page.set_content((markup + TEXT).replace("Confidential", "Xxxxxxxxxxxx"))
    other = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
    assert _changed(drawn, other) > 250


@pytest.mark.parametrize("markup", DRAWN_ON_TOP.values(), ids=DRAWN_ON_TOP.keys())
def test_chromium_draws_the_stricter_stamp_above_the_text(page: Page, markup: str) -> None:
    page.set_content(f"<div>{CLEARED}</div>{markup.format(line=LINE)}{TEXT}")
    tops = page.evaluate("""() => {
        const top = (start) => [...document.querySelectorAll('div')].find(
            (el) => el.textContent.startsWith(start)).getBoundingClientRect().top;
        return [top('Confidential'), top('Dear colleagues')];
    }""")
    assert tops[0] <= tops[1]


@pytest.mark.parametrize("markup", ROUTINE.values(), ids=ROUTINE.keys())
def test_routine_html_stays_cleared(vocabulary: Vocabulary, markup: str) -> None:
    assert _stamp(vocabulary, markup + TEXT) is Stamp.CLEARED


@pytest.mark.parametrize(("value", "expected"), [
    ("chucknorris", (0xC0, 0x00, 0x00)),
    ("ffffff", (0xFF, 0xFF, 0xFF)),
    ("#abc", (0xAA, 0xBB, 0xCC)),
    ("fff", (0x0F, 0x0F, 0x0F)),
    ("#1234567890abcdef", (0x12, 0x78, 0xCD)),
    ("navy", (0x00, 0x00, 0x80)),
    (" #00ff00 ", (0x00, 0xFF, 0x00)),
])
def test_legacy_colour_values(value: str, expected: tuple[int, int, int]) -> None:
    found = legacy(value)
    assert found is not None
    assert tuple(round(channel * 255) for channel in found[:3]) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("chucknorris", "rgb(192, 0, 0)"), ("ffffff", "rgb(255, 255, 255)"),
    ("fff", "rgb(15, 15, 15)"), ("#1234567890abcdef", "rgb(18, 120, 205)"),
])
def test_chromium_parses_legacy_colours_so(page: Page, value: str, expected: str) -> None:
    page.set_content(f"<table bgcolor='{value}'><tr><td>x</td></tr></table>")
    assert page.evaluate("getComputedStyle(document.querySelector('table'))"
                         ".backgroundColor") == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("calc(16px * 0)", 0.0), ("min(1px,16px)", 1.0), ("max(1px, 16px)", 16.0),
    ("clamp(14px, 2vw, 18px)", 14.0), ("calc(-40px)", -40.0), ("calc(1em + 2px)", 18.0),
    ("calc(2 * (3px + 1px))", 8.0), ("calc(10px / 0)", None), ("calc(1px 2px)", None),
    ("calc(100% - 20px)", None), ("var(--x)", None), ("calc(2px * 3px)", None),
])
def test_math_lengths(value: str, expected: float | None) -> None:
    assert px(value, 16.0) == expected


def test_a_value_nested_beyond_the_css_library_is_unsure_not_a_crash(
        vocabulary: Vocabulary) -> None:
    # tinycss2 serializes recursively: thousands of nested calc( once made the reader fail,
    # and a Cleared Subject then relayed a body that opens with Confidential.
    deep = "calc(" * 5000 + "1px" + ")" * 5000
    html = f'<p style="font-size:{deep}">Hello</p><p>Confidential</p>'
    data = ("Subject: Cleared for publication\r\nContent-Type: text/html\r\n\r\n"
            + html).encode()
    reading = read_now(data, vocabulary).reading
    assert reading.unreadable == () and reading.stamp is Stamp.CONFIDENTIAL
