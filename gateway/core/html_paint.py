"""Whether an element's box is painted where a reader can see it, and the colours it paints.

``html_style.py`` computes the style; this module answers what a rendering engine paints:
a box made transparent, filtered, masked, clipped, scaled, zoomed or moved off the page is
not read, and neither is a box too small for its text. Each answer errs on the side of
hiding: hidden text is still read for stricter stamps, it only never clears a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tinycss2.color3 import RGBA, parse_color
from tinycss2.color4 import parse_color as parse_color4

from gateway.core.html_length import evaluate

Colour = tuple[float, float, float, float]

BASE_PX = 16.0
# Further off the page than any screen is wide.
OFF_SCREEN_PX = -500.0
# A box this small, or this faint, shows its text to nobody.
# A box that clips its text to this size shows a slice of a letter at most.
_CLIP_PX = 6.0
_FAINT = 0.1
# A viewport a mail is read in, for vw and vh: a phone's, the narrowest.
_VIEWPORT_PX = 360.0
_LENGTH = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(px|pt|pc|em|rem|ex|ch|%|cm|mm|in|q|vw|vh|"
                     r"vmin|vmax)?$")
_UNIT_PX = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "cm": 96 / 2.54, "mm": 96 / 25.4,
            "in": 96.0, "q": 96 / 101.6, "vw": _VIEWPORT_PX / 100, "vh": 640 / 100,
            "vmin": _VIEWPORT_PX / 100, "vmax": 640 / 100}
_NUMBERS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_FUNCTION = re.compile(r"([a-z-]+)\(([^()]*)\)")
# System colours (CSS Color 4) as a light page draws them.
_SYSTEM = {"canvas": (1.0, 1.0, 1.0, 1.0), "canvastext": (0.0, 0.0, 0.0, 1.0),
           "transparent": (0.0, 0.0, 0.0, 0.0)}


def px(value: str, relative_to: float) -> float | None:
    """A length in pixels (``calc()``, ``min()``, ``max()``, ``clamp()`` too); None when it
    is not one, or cannot be evaluated."""
    value = value.replace("!important", "").strip()
    match = _LENGTH.match(value)
    if match is None:
        if "(" not in value or "%" in value:
            return None  # a percentage of a width the gateway does not know: unknown
        return evaluate(value, lambda number, unit: _pixels(number, unit, relative_to))
    return _pixels(float(match.group(1)), match.group(2), relative_to)


def _pixels(number: float, unit: str | None, relative_to: float) -> float | None:
    if unit in (None, "", "px"):
        return number
    if unit in ("em", "ex", "ch"):
        return number * relative_to
    if unit == "rem":
        return number * BASE_PX
    if unit == "%":
        return number * relative_to / 100
    factor = _UNIT_PX.get(unit)
    return None if factor is None else number * factor


def is_sliver(value: str, relative_to: float = BASE_PX, limit: float = 2.0) -> bool:
    """A length of at most two pixels (``limit``): nothing a reader reads fits in it."""
    length = px(value, relative_to)
    return length is not None and length <= limit


def _fraction(value: str) -> float | None:
    value = value.replace("!important", "").strip()
    try:
        return float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        return None


def box_hidden(values: Mapping[str, str], line_height_zero: bool, outlook: bool) -> bool:
    """Properties that hide the element's box and everything in it, beyond overriding."""
    opacity = _fraction(values.get("opacity", "1"))
    if opacity is not None and opacity <= _FAINT:
        return True
    if outlook and values.get("mso-hide") == "all":
        return True
    contain = values.get("contain", "").split()
    if values.get("content-visibility") == "hidden" or "strict" in contain or "size" in contain:
        return True
    if any(values.get(p, "none") not in ("none", "") for p in _MASKS):
        return True
    overflow = " ".join(values.get(p, "") for p in ("overflow", "overflow-x", "overflow-y"))
    if "hidden" in overflow or "clip" in overflow or "paint" in contain:
        sizes = ("height", "max-height", "width", "max-width", "block-size", "max-block-size",
                 "inline-size", "max-inline-size")
        if line_height_zero or any(is_sliver(values.get(s, ""), limit=_CLIP_PX) for s in sizes):
            return True
    if _off_screen(values):
        return True
    zoom = _fraction(values.get("zoom", "1"))
    if zoom is not None and zoom <= _FAINT:
        return True
    spacing = px(values.get("letter-spacing", "0"), BASE_PX)
    if spacing is not None and spacing <= -BASE_PX / 2:
        return True  # the letters drawn on top of each other
    return (_clipped(values) or _filtered(values.get("filter", ""))
            or _transformed_away(values.get("transform", ""))
            or _scaled(values.get("scale", "")) or _far(values.get("translate", "")))


_MASKS = ("mask", "mask-image", "-webkit-mask", "-webkit-mask-image")


def _off_screen(values: Mapping[str, str]) -> bool:
    offsets: list[str] = [values.get(p, "") for p in ("margin-left", "margin-top",
                                                       "text-indent")]
    margin = values.get("margin", "").split()
    if margin:  # top, right, bottom, left (left is right, top when fewer are given)
        offsets += [margin[0], margin[3] if len(margin) == 4 else margin[-1 if len(margin) < 3
                                                                          else 1]]
    if values.get("position") in ("absolute", "fixed"):
        offsets += [values.get(p, "") for p in ("left", "top", "right", "inset")]
    for value in offsets:
        length = _offset(value)
        if length is not None and (length <= OFF_SCREEN_PX or (
                value.strip().endswith("vw") and length <= -_VIEWPORT_PX)):
            return True
    indent = _offset(values.get("text-indent", "0"))
    overflow = values.get("overflow", "") + values.get("white-space", "")
    return indent is not None and indent >= -OFF_SCREEN_PX and (
        "hidden" in overflow or "nowrap" in overflow)


def _offset(value: str) -> float | None:
    """A margin or an indent: a percentage is of the width of the box it is in, a screen's
    at least."""
    if value.strip().endswith("%"):
        return px(value, _VIEWPORT_PX)
    return px(value, BASE_PX)


def _clipped(values: Mapping[str, str]) -> bool:
    clip = values.get("clip", "")
    if clip.startswith("rect("):
        numbers = [float(n) for n in _NUMBERS.findall(clip)]
        if len(numbers) == 4:
            top, right, bottom, left = numbers
            return (right - left <= 1 and bottom - top <= 1) or right - left <= 0 or bottom <= top
    path = values.get("clip-path", "")
    if path.startswith("polygon("):
        return True  # a shape cut out of the text is not how a stamp is shown
    if path.startswith("inset("):
        numbers = [float(n) for n in _NUMBERS.findall(path)]
        return bool(numbers) and (max(numbers) >= 50 if "%" in path else max(numbers) > 0)
    if path.startswith(("circle(", "ellipse(")):
        numbers = [float(n) for n in _NUMBERS.findall(path.split(" at ")[0])]
        return bool(numbers) and max(numbers) == 0
    return False


def _filtered(value: str) -> bool:
    for name, argument in _FUNCTION.findall(value):
        if name == "opacity":
            amount = _fraction(argument)
            if amount is not None and amount <= _FAINT:
                return True
        if name == "blur":
            radius = px(argument, BASE_PX)
            if radius is not None and radius >= 3:
                return True
    return False


def _transformed_away(value: str) -> bool:
    for name, argument in _FUNCTION.findall(value):
        numbers = [float(n) for n in _NUMBERS.findall(argument)]
        if name in ("scale", "scalex", "scaley", "scale3d") and any(
                abs(n) <= _FAINT for n in numbers):
            return True
        if name.startswith("translate") and _far(argument.replace(",", " ")):
            return True
        if name in ("rotatex", "rotatey") and numbers and abs(numbers[0]) % 180 == 90:
            return True  # turned edge-on
        if name == "matrix" and len(numbers) == 6 and abs(numbers[0]) <= _FAINT \
                and abs(numbers[1]) <= _FAINT:
            return True
    return False


def _scaled(value: str) -> bool:
    return any(abs(float(n)) <= _FAINT for n in _NUMBERS.findall(value))


def _far(value: str) -> bool:
    for part in value.split():
        length = px(part, BASE_PX)
        if length is not None and abs(length) >= -OFF_SCREEN_PX:
            return True
    return False


def rgba(text: str | None) -> Colour | None:
    """A colour value (CSS Color 3, then 4's space-separated forms, system colours)."""
    if not text:
        return None
    text = text.replace("!important", "").strip()
    system = _SYSTEM.get(text)
    if system is not None:
        return system
    try:
        colour = parse_color(text)
    except (ValueError, TypeError):
        colour = None
    if isinstance(colour, RGBA):
        return (colour.red, colour.green, colour.blue, colour.alpha)
    try:
        modern = parse_color4(text)
    except (ValueError, TypeError):
        return None
    if modern is None or isinstance(modern, str):
        return None
    try:
        red, green, blue = modern.to("srgb").coordinates
    except (ValueError, TypeError, AttributeError):
        return None
    return (_unit(red), _unit(green), _unit(blue), _unit(modern.alpha))


def _unit(value: float | None) -> float:
    return min(max(float(value or 0.0), 0.0), 1.0)


def first_colour(text: str) -> Colour | None:
    """The first colour written in a value (a shorthand, a gradient, a shadow)."""
    for word in text.replace(",", " , ").split():
        if word.startswith(("rgb", "hsl", "hwb", "lab", "lch", "oklab", "oklch", "color(")):
            start = text.find(word)
            word = text[start:text.find(")", start) + 1]
        colour = rgba(word)
        if colour is not None:
            return colour
    return None


def painted_background(values: Mapping[str, str]) -> Colour | None:
    """A background painted by a gradient or an inset shadow: its first colour."""
    for prop in ("background-image", "background"):
        value = values.get(prop, "")
        if "gradient(" in value:
            return first_colour(value[value.find("gradient(") + len("gradient("):])
    shadow = values.get("box-shadow", "")
    if "inset" in shadow:
        return first_colour(shadow)
    return None
