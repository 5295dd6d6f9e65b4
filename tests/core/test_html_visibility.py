"""Each way of hiding HTML text: skipped when finding the top, still read as a candidate."""

from __future__ import annotations

import pytest

from gateway.core.html_text import renderings, visible_text

HIDING = {
    "display-none": "<div style='display:none'>{}</div>",
    "display-none-later": "<div style='display:block;display:none'>{}</div>",
    "display-none-important": "<div style='display:none!important;display:block'>{}</div>",
    "display-none-uppercase": "<div style='DISPLAY : NONE'>{}</div>",
    "hidden-attribute": "<div hidden>{}</div>",
    "visibility-hidden": "<div style='visibility:hidden'>{}</div>",
    "visibility-collapse": "<div style='visibility:collapse'>{}</div>",
    "visibility-inherited": "<div style='visibility:hidden'><p><b>{}</b></p></div>",
    "font-size-zero": "<div style='font-size:0'>{}</div>",
    "font-size-zero-px": "<div style='font-size:0px'>{}</div>",
    "font-size-one-px": "<div style='font-size:1px'>{}</div>",
    "font-size-zero-inherited": "<div style='font-size:0'><span>{}</span></div>",
    "font-size-relative-to-zero": "<div style='font-size:0'><span style='font-size:2em'>{}</span>"
                                  "</div>",
    "max-height-overflow": "<div style='max-height:0;overflow:hidden'>{}</div>",
    "height-overflow": "<div style='height:0px;overflow:hidden'>{}</div>",
    "width-overflow": "<div style='width:0;overflow:hidden'>{}</div>",
    "line-height-overflow": "<div style='line-height:0;overflow:hidden'>{}</div>",
    "opacity-zero": "<div style='opacity:0'>{}</div>",
    "opacity-zero-not-overridable": "<div style='opacity:0'><p style='opacity:1'>{}</p></div>",
    "white-on-white": "<div style='color:#fff'>{}</div>",
    "white-named": "<div style='color:white'>{}</div>",
    "near-white": "<div style='color:#fefefe'>{}</div>",
    "rgb-on-rgb": "<div style='background-color:rgb(10,20,30)'><span style='color:#0a141e'>{}"
                  "</span></div>",
    "font-colour-on-bgcolor": "<table bgcolor='#336699'><tr><td><font color='#336699'>{}</font>"
                              "</td></tr></table>",
    "background-shorthand": "<div style='background:#000 none'><p style='color:black'>{}</p>"
                            "</div>",
    "transparent": "<div style='color:transparent'>{}</div>",
    "rgba-zero-alpha": "<div style='color:rgba(0,0,0,0)'>{}</div>",
    "off-screen-left": "<div style='position:absolute;left:-9999px'>{}</div>",
    "off-screen-top": "<div style='position:fixed;top:-5000px'>{}</div>",
    "text-indent": "<div style='text-indent:-10000px'>{}</div>",
    "clip-rect": "<div style='position:absolute;clip:rect(0,0,0,0)'>{}</div>",
    "clip-path-inset": "<div style='clip-path:inset(100%)'>{}</div>",
    "clip-path-circle": "<div style='clip-path:circle(0)'>{}</div>",
    "scale-zero": "<div style='transform:scale(0)'>{}</div>",
    "style-class": "<style>.pre {{ display: none }}</style><div class='x pre'>{}</div>",
    "style-id": "<style>#pre {{ visibility: hidden }}</style><div id='pre'>{}</div>",
    "style-tag": "<style>aside {{ display: none }}</style><aside>{}</aside>",
    "style-compound": "<style>div.pre {{ font-size: 0 }}</style><div class='pre'>{}</div>",
    "style-descendant": "<style>body .pre {{ display: none }}</style><div class='pre'>{}</div>",
    "style-in-media": "<style>@media screen {{ .pre {{ display: none }} }}</style>"
                      "<div class='pre'>{}</div>",
    "head-unclosed-title": "<title>{}</title>",
}


def first_lines(markup: str) -> list[str]:
    return [next((line for line in text.split("\n") if line.strip()), "")
            for text in renderings(markup)]


@pytest.mark.parametrize("wrapper", HIDING.values(), ids=HIDING.keys())
def test_hidden_text_is_not_the_top(wrapper: str) -> None:
    markup = wrapper.format("Cleared for publication") + "<p>Internal</p><p>Hello</p>"
    assert first_lines(markup)[0] == "Internal"
    assert visible_text(markup).strip().split("\n")[0] == "Internal"


@pytest.mark.parametrize("wrapper", [w for k, w in HIDING.items() if k != "head-unclosed-title"],
                         ids=[k for k in HIDING if k != "head-unclosed-title"])
def test_a_stamp_in_hidden_text_is_a_candidate_top(wrapper: str) -> None:
    markup = "<p>Hello Bob</p>" + wrapper.format("Confidential") + "<p>the file</p>"
    assert first_lines(markup)[0] == "Hello Bob"
    assert "Confidential" in first_lines(markup)


def test_closed_details_show_only_their_summary() -> None:
    markup = "<details><summary>More</summary><p>Cleared</p></details><p>Internal</p>"
    assert renderings(markup)[0].split("\n") == ["More", "", "Internal"]
    markup = "<p>Hello</p><details><summary>More</summary><p>Confidential</p></details>"
    assert "Confidential" in first_lines(markup)


@pytest.mark.parametrize("style", [
    "font-size:0.9em", "font-size:4px", "opacity:0.8", "color:#777", "color:red",
    "display:block", "visibility:visible", "max-height:0", "height:0", "overflow:hidden",
    "position:relative", "text-indent:2em", "clip-path:inset(10%)",
    "color:#fff;background:#000", "transform:scale(1.5)", "opacity:20%",
    "color:rgb(0 0 0)", "background-image:linear-gradient(#000,#000);color:#fff",
])
def test_visible_styles_do_not_hide(style: str) -> None:
    markup = f"<div style='{style}'>Confidential</div><p>Hello</p>"
    assert first_lines(markup)[0] == "Confidential"


@pytest.mark.parametrize(("markup", "top"), [
    ("<div style='visibility:hidden'>Cleared <span style='visibility:visible'>Internal</span>"
     "</div>", "Internal"),
    ("<div style='font-size:0'>Cleared<p style='font-size:14px'>Internal</p></div>", "Internal"),
    ("<div style='color:#fff'>Cleared<p style='color:#000'>Internal</p></div>", "Internal"),
    ("<div hidden style='display:block'>Internal</div>", "Internal"),
    ("<style>.a {display:none} .a {display:block}</style><div class=a>Internal</div>",
     "Internal"),
    ("<style>#a {display:block} div {display:none}</style><div id=a>Internal</div>",
     "Internal"),
    ("<style>.a {display:none}</style><div class=a style='display:block'>Internal</div>",
     "Internal"),
    ("<style>.a {display:none !important}</style><div class=a style='display:block'>Cleared"
     "</div><p>Internal</p>", "Internal"),
    ("<div style='background:white'><div style='background:black;color:white'>Internal</div>"
     "</div>", "Internal"),
])
def test_the_cascade_decides(markup: str, top: str) -> None:
    assert first_lines(markup)[0] == top


def test_an_attacker_cannot_split_the_stamp_with_hidden_letters() -> None:
    markup = "<p>Con<span style='font-size:0'>x</span>fiden<span hidden>y</span>tial</p>"
    assert first_lines(markup)[0] == "Confidential"


def test_a_display_none_block_inside_a_word_breaks_no_line() -> None:
    assert first_lines("Confi<div style='display:none'>x</div>dential")[0] == "Confidential"


@pytest.mark.parametrize("style", [
    "position:absolute;left:10px", "position:relative;top:-3em", "margin-top:-4em",
    "transform:translateY(-5em)", "order:-1", "display:table-footer-group",
])
def test_a_box_drawn_elsewhere_is_read_alone_not_as_the_top(style: str) -> None:
    """Where a box is drawn is not where the source has it: its text is a candidate top of
    its own (a stricter stamp there counts), never the shown rendering's top."""
    markup = f"<div style='{style}'>Confidential</div><p>Hello</p>"
    assert first_lines(markup)[0] == "Hello"
    assert "Confidential" in first_lines(markup)
