"""Computed style of an element as far as visibility and line breaks need it."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache

from gateway.core.html_colour import LINK, background_colour, legacy, resolve, text_paint
from gateway.core.html_css import PARTIAL_INLINE, is_zero
from gateway.core.html_paint import (
    BASE_PX,
    Colour,
    box_hidden,
    px,
)
from gateway.core.html_shift import moves, pulls_next, shifted, shrink, unsure

# The properties that may draw a line through text (WebKit's prefixed ones too).
_DECORATION = ("text-decoration", "text-decoration-line", "-webkit-text-decoration",
               "-webkit-text-decoration-line")

_WHITE: Colour = (1.0, 1.0, 1.0, 1.0)
_BLACK: Colour = (0.0, 0.0, 0.0, 1.0)
# Text this small, this faint or this close to the background is not read by a person.
_TINY_PX = 2.0
_FAINT_ALPHA = 0.1
_MIN_CONTRAST = 1.25
_NUMBERS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_FONT_SIZE_ATTR = {"1": 10.0, "2": 13.0, "3": 16.0, "4": 18.0, "5": 24.0, "6": 32.0, "7": 48.0}


class Display(enum.Enum):
    """How an element takes part in line layout."""

    NONE = "none"
    INLINE = "inline"
    BLOCK = "block"
    PARAGRAPH = "paragraph"
    ROW = "row"
    CELL = "cell"


_DISPLAY = {
    "none": Display.NONE, "inline": Display.INLINE, "inline-block": Display.INLINE,
    "inline-flex": Display.INLINE, "inline-grid": Display.INLINE, "inline-table": Display.INLINE,
    "contents": Display.INLINE, "block": Display.BLOCK, "flex": Display.BLOCK,
    "grid": Display.BLOCK, "list-item": Display.BLOCK, "table": Display.BLOCK,
    "flow-root": Display.BLOCK, "table-caption": Display.BLOCK, "table-row": Display.ROW,
    "table-cell": Display.CELL,
}


@dataclass(frozen=True, slots=True)
class Style:
    """The inherited properties that decide whether text shows, and how it breaks."""

    visible: bool = True
    colour: Colour = _BLACK
    background: Colour | None = _WHITE
    font_px: float = BASE_PX
    line_height_zero: bool = False
    pre: bool = False
    # Struck through (text-decoration: line-through, <del>, <s>): a reader sees it withdrawn,
    # so it is read like hidden text (a stricter stamp in it counts, a Cleared does not).
    struck: bool = False
    # The marks a <q> draws before and after its text (``quotes``, inherited).
    quotes: tuple[str, str] | None = None
    # Right to left (``direction``, ``dir``; inherited): a table row's cells from the right.
    rtl: bool = False
    # Custom properties (``--name``, inherited), for ``var()``.
    custom: tuple[tuple[str, str], ...] = ()
    # The colour of unvisited links (``<body link>``), the factor ancestors' ``zoom`` and
    # transforms draw text at, and whether the text's or the background's colour could not
    # be computed (then the text is *unsure*: see ``html_colour.py``).
    link: Colour = LINK
    scale: float = 1.0
    colour_unsure: bool = False
    background_unsure: bool = False
    # Every element's style is a cache key: its hash is computed once.
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(tuple(
            getattr(self, name) for name in _STYLE_FIELDS)))

    def __hash__(self) -> int:
        return self._hash

    def text_shows(self) -> bool:
        """Whether text with this style is readable on its background."""
        return _text_shows(self)


_STYLE_FIELDS = tuple(item.name for item in fields(Style) if item.name != "_hash")


@lru_cache(maxsize=4096)
def _text_shows(style: Style) -> bool:
    if (not style.visible or style.struck or style.font_px * style.scale <= _TINY_PX
            or style.colour[3] < _FAINT_ALPHA):
        return False
    return style.background is None or contrast(style.colour, style.background) >= _MIN_CONTRAST


@dataclass(frozen=True, slots=True)
class Computed:
    """One element's layout role, whether its whole box is hidden, and its inherited style."""

    display: Display
    box_hidden: bool
    style: Style
    # Its letters are drawn right to left, reversed (``unicode-bidi: bidi-override`` with
    # ``direction: rtl``; ``<bdo dir="rtl">``).
    reversed: bool = False
    # Drawn elsewhere than its place in the source: positioned (absolute, fixed, offset),
    # reordered (``order``, a grid area), a table caption.
    moved: bool = False
    # Its children are laid out side by side (a flex row, a grid), in reverse order too.
    row_items: bool = False
    reverses: bool = False
    # Maybe beside what follows it rather than above it: floated, or made inline by a rule
    # whose selector is only approximated (``div[data-x]{display:inline}``).
    beside: bool = False
    # The text a list-style string draws as its marker (``list-style-type: 'x'``).
    marker: str = ""
    # Drawn by some clients and not others, or maybe elsewhere (``html_shift.py``), and
    # whether the box after it is pulled up over it.
    unsure: bool = False
    shifted: bool = False
    pulls_next: bool = False
    # The text of SVG pictures its style draws (``html_data.pictured_text``).
    pictures: str = ""
    # Positioned over the page with something opaque (``html_cascade.covers``).
    covers: bool = False


def _display(value: str, default: Display) -> Display:
    """``display``, in one keyword or in the two of CSS Display 3 (``inline flow-root``: the
    outer one says whether the box breaks the line)."""
    known = _DISPLAY.get(value)
    if known is not None or " " not in value:
        return known or default
    words = value.split()
    if "none" in words:
        return Display.NONE
    if "inline" in words:
        return Display.INLINE
    if "table-cell" in words:
        return Display.CELL
    if "table-row" in words:
        return Display.ROW
    if "block" in words or "list-item" in words or "run-in" in words:
        return Display.BLOCK
    return default


def compute(values: Mapping[str, str], parent: Style, default: Display,
            attrs: Mapping[str, str | None], outlook: bool, link: bool = False) -> Computed:
    """Apply an element's cascaded values (and presentational attributes) to its parent's;
    ``link``: an ``<a href>``, drawn in the link colour unless its style gives one."""
    custom = parent.custom
    if any(key.startswith("--") for key in values):
        merged = dict(custom)
        merged.update((key, value) for key, value in values.items() if key.startswith("--"))
        custom = tuple(merged.items())[-_MAX_CUSTOM:]
    names = dict(custom)
    if any("var(" in value for value in values.values()):
        values = {key: found for key, value in values.items()
                  if (found := value if key in _PAINT else resolve(value, names)) is not None}
    display = _display(values.get("display", ""), default)
    if display is Display.INLINE and _full_width(values):
        display = Display.BLOCK  # an inline box as wide as the line is a line of its own
    if default is Display.PARAGRAPH and display is Display.BLOCK:
        display = default  # a paragraph keeps its blank lines whatever block display it has
    visible = parent.visible
    visibility = values.get("visibility")
    if visibility in ("hidden", "collapse"):
        visible = False
    elif visibility == "visible":
        visible = True
    background, background_unsure = background_colour(
        values, attrs.get("bgcolor"), parent.background, parent.background_unsure, names)
    if link and not any(values.get(prop) for prop in _PAINT[:3]):
        text_colour, colour_unsure = parent.link, False  # a:link, unless styled
    else:
        text_colour, colour_unsure = text_paint(values, attrs.get("color") or attrs.get(
            "text"), parent.colour, parent.colour_unsure, names)
    size_attr = attrs.get("size") if "color" in attrs or "face" in attrs or "size" in attrs \
        else None  # <font size>
    font_px = _font_size(values.get("font-size") or _font_shorthand(values.get("font", "")),
                         size_attr, parent.font_px)
    line_height = values.get("line-height")
    line_height_zero = parent.line_height_zero if line_height is None else is_zero(line_height)
    white_space = values.get("white-space")
    pre = parent.pre if white_space is None else white_space.startswith("pre")
    # A decoration drawn by an ancestor goes through its descendants' text whatever they say.
    struck = parent.struck or "line-through" in " ".join(
        values.get(name, "") for name in _DECORATION)
    marks = _strings(values.get("quotes", ""))
    quotes = (marks[0], marks[1] if len(marks) > 1 else "") if marks else parent.quotes
    direction = values.get("direction") or (attrs.get("dir") or "").strip().lower()
    rtl = direction == "rtl" if direction in ("rtl", "ltr") else parent.rtl
    style = Style(visible, text_colour, background, font_px, line_height_zero, pre, struck,
                  quotes, rtl, custom, legacy(attrs.get("link")) or parent.link,
                  parent.scale * shrink(values), colour_unsure, background_unsure)
    reversed_ = (direction == "rtl"
                 and values.get("unicode-bidi") in ("bidi-override", "isolate-override"))
    marker = "".join(_strings(values.get("list-style-type", "") + " "
                              + values.get("list-style", ""))[:1])
    return Computed(display, box_hidden(values, line_height_zero, outlook), style, reversed_,
                    *_layout(values), marker, unsure(values), shifted(values),
                    pulls_next(values))


_MAX_CUSTOM = 64
_PAINT = ("-webkit-text-fill-color", "fill", "color", "background-color", "background")


def _strings(value: str) -> list[str]:
    """The quoted strings of a CSS value, in order."""
    if '"' not in value and "'" not in value:
        return []
    return [double or single for double, single in _STRING.findall(value)]


def _full_width(values: Mapping[str, str]) -> bool:
    """An inline-level box (inline-block, inline-flex ...) at least as wide as the line."""
    if values.get("display", "inline") == "inline":
        return False  # a width does not apply to an inline box
    width = values.get("width", "") + " " + values.get("min-width", "")
    return any(_at_least_line(part) for part in width.split())


def _at_least_line(value: str) -> bool:
    for unit, full in (("%", 100.0), ("vw", 100.0)):
        if value.endswith(unit):
            try:
                return float(value[:-len(unit)]) >= full
            except ValueError:
                return False
    return False


def _layout(values: Mapping[str, str]) -> tuple[bool, bool, bool, bool]:
    """``Computed.moved``, ``row_items``, ``reverses`` and ``beside`` of one element."""
    position = values.get("position", "")
    offset = any(values.get(side, "auto") != "auto" and not is_zero(values.get(side, "auto"))
                 for side in ("top", "bottom", "inset", "inset-block-start"))
    display = values.get("display", "")
    margin = values.get("margin", "").split()
    pulled = any(value.startswith("-") and not is_zero(value)
                 for value in (values.get("margin-top", ""), margin[0] if margin else ""))
    transform = values.get("transform", "")
    moved = (position in ("absolute", "fixed") or (position in ("relative", "sticky") and offset)
             or pulled or (("translate" in transform or "rotate" in transform)
                           and moves(transform))
             or "translate" in values or "rotate" in values
             or any(not is_zero(values.get(key, "0")) for key in _ORDER)
             or values.get("-webkit-box-ordinal-group", "1") != "1"
             or "header-group" in display or "footer-group" in display or "caption" in display
             or values.get("caption-side") == "bottom"
             or any(key in values for key in _GRID_PLACEMENT))
    flow = " ".join(values.get(key, "") for key in _FLOW)
    container = "flex" in display or "grid" in display or "-box" in display
    row_items = container and "column" not in flow and "vertical" not in flow
    reverses = container and "reverse" in flow

    beside = (values.get("float", "none") in ("left", "right", "inline-start", "inline-end")
              or PARTIAL_INLINE in values)
    return moved, row_items, reverses, beside


_ORDER = ("order", "-webkit-order", "-ms-flex-order")
_FLOW = ("flex-direction", "flex-flow", "flex-wrap", "-webkit-flex-direction",
         "-webkit-flex-flow", "-webkit-flex-wrap", "-webkit-box-direction",
         "-webkit-box-orient", "-ms-flex-direction")


_STRING = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_GRID_PLACEMENT = ("grid-area", "grid-row", "grid-row-start", "grid-row-end")


def _font_shorthand(value: str) -> str | None:
    """The size in a ``font`` shorthand (``font: 0/0 a``, ``bold 12px/1.2 Arial``)."""
    for word in value.split():
        size = word.split("/", 1)[0]
        if px(size, BASE_PX) is not None:
            return size
    return None


def _font_size(value: str | None, attr: str | None, parent: float) -> float:
    if value is not None:
        if value in ("smaller", "larger"):
            return parent * (0.83 if value == "smaller" else 1.2)
        size = px(value, parent)
        return parent if size is None else size
    if attr is not None:
        return _FONT_SIZE_ATTR.get(attr.strip().lstrip("+-")[:1], parent)
    return parent


def _luminance(colour: Colour) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(c) for c in colour[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(text: Colour, background: Colour) -> float:
    """WCAG contrast ratio, with a translucent text colour blended onto the background."""
    alpha = text[3]
    mixed: Colour = (text[0] * alpha + background[0] * (1 - alpha),
                     text[1] * alpha + background[1] * (1 - alpha),
                     text[2] * alpha + background[2] * (1 - alpha), 1.0)
    lighter, darker = sorted((_luminance(mixed), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
