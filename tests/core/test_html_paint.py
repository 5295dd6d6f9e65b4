"""What a rendering engine paints: a Cleared it does not paint where a reader sees it does not
clear a message; a stricter stamp it paints anywhere still counts; routine mail stays Cleared.
"""

from __future__ import annotations

import pytest

from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import html

CLEARED = "Cleared for publication"
TEXT = "<p>Dear colleagues, this is the shelter update for March.</p>"

# Each style leaves the Cleared unpainted, too faint, too small or not where it stands.
UNSEEN = {
    "text fill transparent": "-webkit-text-fill-color:transparent",
    "filter opacity": "filter:opacity(0)",
    "filter blur": "filter:blur(12px)",
    "almost transparent": "opacity:0.01",
    "mask": "mask-image:linear-gradient(transparent,transparent)",
    "clip polygon": "clip-path:polygon(0 0,0 0,0 0)",
    "clip inset px": "clip-path:inset(50px)",
    "content-visibility": "content-visibility:hidden",
    "contain strict": "contain:strict",
    "scaled down": "transform:scale(0.01)",
    "scale property": "scale:0",
    "translated away": "transform:translateX(-9999px)",
    "translate property": "translate:-9999px",
    "edge-on": "transform:rotateX(90deg)",
    "zoom": "zoom:0.01",
    "font shorthand": "font:0/0 a",
    "font vw": "font-size:0.1vw",
    "font calc": "font-size:calc(0px)",
    "font 2px": "font-size:2px",
    "indent vw": "text-indent:-100vw",
    "indent calc": "text-indent:calc(-9999px)",
    "indent right": "text-indent:9999px;white-space:nowrap;overflow:hidden",
    "margin shorthand": "margin:0 0 0 -9999px",
    "a 1px box": "height:1px;overflow:hidden",
    "letters stacked": "letter-spacing:-1em",
    "modern rgb": "color:rgb(255 255 255)",
    "modern rgb alpha": "color:rgb(0 0 0 / 0)",
    "modern hsl": "color:hsl(0 0% 100%)",
    "system colour": "color:Canvas",
    "on a gradient": "background-image:linear-gradient(#000,#000);color:#000",
    "on an inset shadow": "box-shadow:inset 0 0 0 100px #000;color:#000",
    "pulled up": "margin-top:-3em",
    "a footer group": "display:table-footer-group",
}


@pytest.mark.parametrize("style", UNSEEN.values(), ids=UNSEEN.keys())
def test_a_cleared_no_reader_sees_does_not_clear(vocabulary: Vocabulary, style: str) -> None:
    markup = f'<div style="{style}">{CLEARED}</div>{TEXT}'
    assert read_now(html(markup), vocabulary).reading.stamp is None


@pytest.mark.parametrize("style", UNSEEN.values(), ids=UNSEEN.keys())
def test_a_stricter_stamp_however_painted_counts(vocabulary: Vocabulary, style: str) -> None:
    markup = f'{TEXT}<div style="{style}">Confidential</div>'
    assert read_now(html(markup, subject=CLEARED), vocabulary).reading.stamp is (
        Stamp.CONFIDENTIAL)


UNDRAWN = {
    "closed dialog": f"<dialog>{CLEARED}</dialog>",
    "noembed": f"<noembed>{CLEARED}</noembed>",
    "ruby parenthesis": f"<ruby><rp>{CLEARED}</rp><rt></rt></ruby>",
    "audio fallback": f"<audio>{CLEARED}</audio>",
    "video fallback": f"<video>{CLEARED}</video>",
    "meter fallback": f"<meter value=.5>{CLEARED}</meter>",
    "progress fallback": f"<progress>{CLEARED}</progress>",
    "svg description": f"<svg><desc>{CLEARED}</desc></svg>",
    "svg of no size": f'<svg width="0" height="0"><text y="10">{CLEARED}</text></svg>',
    "svg white fill": f'<svg><text y="20" fill="#fff">{CLEARED}</text></svg>',
    "body text white": f'<body text="#ffffff"><div>{CLEARED}</div>{TEXT}</body>',
    "div bgcolor ignored": f'<div bgcolor="#000" style="color:#fff">{CLEARED}</div>',
    "span color ignored": f'<div style="color:#fff"><span color="#000">{CLEARED}</span></div>',
    "image behind, blocked": f'<table><tr><td background="https://example.org/dark.png" '
                             f'style="color:#fff">{CLEARED}</td></tr></table>',
    "tfoot first": f"<table><tfoot><tr><td>{CLEARED}</td></tr></tfoot><tbody><tr><td>Dear "
                   "colleagues</td></tr></tbody></table>",
    "generated content only": f'<style>.s::before{{content:"{CLEARED}"}}</style>'
                              '<div class="s"></div>',
    "shown only in print": f"<style>.c{{display:none}} @media print{{.c{{display:block}}}}"
                           f'</style><div class="c">{CLEARED}</div>',
    "shown only where unsupported": "<style>.c{display:none} @supports (display:bogus)"
                                    f'{{.c{{display:block}}}}</style><div class="c">{CLEARED}'
                                    "</div>",
    "style sheet for print": '<style>.c{display:none}</style><style media="print">'
                             f'.c{{display:block}}</style><div class="c">{CLEARED}</div>',
    "not a style sheet": f'<style type="text/x-none">.c{{display:block}}</style>'
                         f'<div class="c" style="display:none">{CLEARED}</div>',
    "shown only by the sheet": "<style>.c{display:block!important}</style>"
                               f'<div class="c" style="display:none">{CLEARED}</div>',
}


@pytest.mark.parametrize("body", UNDRAWN.values(), ids=UNDRAWN.keys())
def test_text_a_browser_does_not_draw_does_not_clear(vocabulary: Vocabulary,
                                                     body: str) -> None:
    assert read_now(html(body + TEXT), vocabulary).reading.stamp is None


ROUTINE = {
    "preheader": '<div style="display:none;max-height:0;overflow:hidden">This week</div>'
                 f"<p>{CLEARED}</p>{TEXT}",
    "dark mode": "<style>@media (prefers-color-scheme:dark){.b{color:#eee}}</style>"
                 f'<p class="b">{CLEARED}</p>{TEXT}',
    "banner": f'<table bgcolor="#123456"><tr><td style="color:#fff"><b>{CLEARED}</b></td>'
              f"</tr></table>{TEXT}",
    "outlook conditional": f"<!--[if mso]><table><tr><td><![endif]--><p>{CLEARED}</p>"
                           f"<!--[if mso]></td></tr></table><![endif]-->{TEXT}",
    "logo table": '<table><tr><td><img src="https://example.org/logo.png" alt="Logo"></td>'
                  f"</tr></table><p>{CLEARED}</p>{TEXT}",
    "modern colour": f'<p style="color:rgb(20 20 20)">{CLEARED}</p>{TEXT}',
    "relative box": f'<div style="position:relative">{CLEARED}</div>{TEXT}',
    "right-to-left table": f'<table dir="rtl"><tr><td>{CLEARED}</td><td>Case 12</td></tr>'
                           f"</table>{TEXT}",
}


@pytest.mark.parametrize("body", ROUTINE.values(), ids=ROUTINE.keys())
def test_routine_html_stays_cleared(vocabulary: Vocabulary, body: str) -> None:
    assert read_now(html(body), vocabulary).reading.stamp is Stamp.CLEARED


@pytest.mark.parametrize("markup", [
    f'<table dir="rtl"><tr><td>{TEXT}</td><td>Confidential</td></tr></table>',
    f'<div style="display:flex;direction:rtl"><div>{TEXT}</div><div>Confidential</div></div>',
])
def test_a_stamp_drawn_first_from_the_left_counts(vocabulary: Vocabulary, markup: str) -> None:
    assert read_now(html(markup, subject=CLEARED), vocabulary).reading.stamp is (
        Stamp.CONFIDENTIAL)
