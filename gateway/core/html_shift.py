"""Boxes some engines draw elsewhere, smaller or not at all: what ``html_style.py`` reads as
*shifted* (drawn maybe elsewhere: read alone too, and never the clearing top), *unsure* (shown
by one client, not by another) and the factor a box shrinks its text by.

Each answer errs the safe way twice: a shifted or unsure box stays where the source has it in
one rendering (its text above a Cleared keeps that Cleared from being the top) and is left
out of another (a Cleared in it does not clear).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping

from gateway.core.html_paint import BASE_PX, px

_NUMBERS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")
_FUNCTION = re.compile(r"([a-z0-9-]+)\(([^()]*)\)")
_IDENTITY = {"matrix": (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)}
# Functions that keep a box where it stands and its size (and ``none``).
_STILL = frozenset({"scale", "scalex", "scaley", "scalez", "scale3d"})


def _length(value: str) -> float | None:
    """A length in pixels (math functions too), None when it is none or cannot be read."""
    return px(value.replace("!important", "").strip(), BASE_PX)


def _negative(value: str) -> bool:
    """A negative length, or one the gateway cannot evaluate (it may be negative)."""
    value = value.strip()
    if not value or value in ("auto", "0"):
        return False
    length = _length(value)
    return (length is None and "(" in value) or (length is not None and length < 0)


def shifted(values: Mapping[str, str]) -> bool:
    """Drawn maybe elsewhere than the source has it, by a property the gateway reads no
    further: pulled up by a logical or computed margin, offset by a logical inset, or any
    transform that is not the identity or a scale."""
    computed = [values.get("margin-top", ""), *values.get("margin", "").split()[:1]]
    logical = [values.get("margin-block-start", ""), *values.get("margin-block", "").split()[:1]]
    if any(_negative(value) and "(" in value for value in computed) or any(
            _negative(value) for value in logical):
        return True
    if values.get("position", "") in ("relative", "sticky") and any(
            values.get(key, "auto") not in ("auto", "") and _length(values[key]) != 0
            for key in ("inset-block", "inset-block-end") if key in values):
        return True
    return _pulled_left(values) or moves(values.get("transform", "none"))


def _pulled_left(values: Mapping[str, str]) -> bool:
    """A start margin, or an indent beyond the margin, that pulls the line's first words
    left of the page (``margin-left:-100%``): the reader may see only its end."""
    margin = values.get("margin", "").split()
    starts = [values.get("margin-left", ""), values.get("margin-inline-start", ""),
              *values.get("margin-inline", "").split()[:1],
              *(margin[3:4] if len(margin) == 4 else margin[1:2] if margin[1:] else margin)]
    start = min((_width(value) for value in starts if value.strip()), default=0.0)
    return min(start, start + _width(values.get("text-indent", ""))) <= _PULLED_PX


def _width(value: str) -> float:
    """A horizontal length in pixels (a percentage of a phone's screen), 0 when none."""
    length = px(value.replace("!important", "").strip(), _SCREEN_PX)
    return 0.0 if length is None else length


# Three letters' width: an indent of a list's bullet (``-.25in``) is less.
_PULLED_PX = -48.0
_SCREEN_PX = 360.0


def moves(transform: str) -> bool:
    """Whether a ``transform`` may draw a box elsewhere than it stands (not the identity, a
    scale, or a move in depth only)."""
    transform = transform.replace("!important", "").strip()
    if transform in ("none", ""):
        return False
    functions = _FUNCTION.findall(transform)
    if any(name == "perspective" for name, _ in functions) and any(
            name in _DEPTH and any(float(n) != 0 for n in _NUMBERS.findall(argument))
            for name, argument in functions):
        return True  # a move in depth seen in perspective: larger, or behind the viewer
    for name, argument in functions:
        numbers = tuple(float(n) for n in _NUMBERS.findall(argument))
        if name in _STILL or _IDENTITY.get(name) == numbers or _unmoved(name, numbers):
            continue
        return True
    return not _FUNCTION.search(transform)


def _unmoved(name: str, numbers: tuple[float, ...]) -> bool:
    """A transform that moves nothing on the page: ``rotate(0)``, ``translate(0, 0)``, and
    the depth-only moves of the "GPU layer" hacks (``translateZ(0)``, ``translate3d(0,0,0)``,
    ``perspective(1px)``)."""
    if name in ("translatez", "perspective"):
        return True  # alone (``moves`` looks at a perspective with a move in depth)
    if name == "translate3d":
        numbers = numbers[:2]
    return name in _UNMOVED and all(n == 0 for n in numbers)


# Transforms that move a box in depth (or turn it there).
_DEPTH = frozenset({"translatez", "translate3d", "rotatex", "rotatey", "rotate3d", "matrix3d"})
# Transforms that are the identity when every number they take is zero.
_UNMOVED = frozenset({"rotate", "rotatez", "rotatex", "rotatey", "translate", "translatex",
                      "translatey", "translate3d", "skew", "skewx", "skewy"})


def pulls_next(values: Mapping[str, str]) -> bool:
    """A negative bottom margin of half a line or more: the box after it is drawn over it,
    higher up."""
    ends = [values.get("margin-bottom", ""), values.get("margin-block-end", "")]
    margin = values.get("margin", "").split()
    if len(margin) >= 3:
        ends.append(margin[2])
    elif margin:
        ends.append(margin[0])
    block = values.get("margin-block", "").split()
    if block:
        ends.append(block[-1])
    for value in ends:
        length = _length(value.strip()) if value.strip() not in ("", "auto") else 0.0
        if (length is None and "(" in value) or (length is not None and length <= _PULL_PX):
            return True
    return False


# A pull this small overlaps no line of text (a gap closed under an image or a border).
_PULL_PX = -8.0


def shrink(values: Mapping[str, str]) -> float:
    """The factor this box draws its text at: ``zoom`` times the transform's and ``scale``'s
    smallest scale (a skew or a degenerate matrix squashes it too)."""
    factor = 1.0
    zoom = values.get("zoom", "").replace("!important", "").strip()
    if zoom:
        with contextlib.suppress(ValueError):
            factor *= float(zoom[:-1]) / 100 if zoom.endswith("%") else float(zoom)
    scale = values.get("scale", "")
    if scale and scale != "none":
        numbers = [abs(float(n)) for n in _NUMBERS.findall(scale)]
        factor *= min(numbers[:2], default=1.0)
    for name, argument in _FUNCTION.findall(values.get("transform", "")):
        numbers = [float(n) for n in _NUMBERS.findall(argument)]
        factor *= _factor(name, numbers, argument)
    return max(factor, 0.0)


def _factor(name: str, numbers: list[float], argument: str) -> float:
    if name in ("scale", "scale3d") and numbers:
        return min(abs(n) for n in numbers[:2])
    if name in ("scalex", "scaley") and numbers:
        return abs(numbers[0])
    if name == "matrix" and len(numbers) == 6:
        a, b, c, d = numbers[:4]
        return min(math.hypot(a, b), abs(a * d - b * c) / max(math.hypot(a, b), 1e-9))
    if name == "matrix3d" and len(numbers) == 16:
        a, b, c, d = numbers[0], numbers[1], numbers[4], numbers[5]
        return min(math.hypot(a, b), abs(a * d - b * c) / max(math.hypot(a, b), 1e-9))
    if name in ("skew", "skewx", "skewy") and numbers:
        if "rad" in argument or "turn" in argument or "grad" in argument:
            return 1.0
        return abs(math.cos(math.radians(max(abs(n) for n in numbers[:2]))))
    return 1.0


def unsure(values: Mapping[str, str]) -> bool:
    """What one engine draws and another does not, or what the gateway cannot compute:
    ``content`` replacing an element's own text with an image, letters drawn as discs
    (``-webkit-text-security``), a clip path of a shape it does not measure, a filter that
    changes colours, a symbol font (Outlook draws its dingbats), a font size, opacity or
    zoom it cannot evaluate, a blend mode."""
    content = values.get("content", "")
    if "url(" in content or "image-set(" in content or "gradient(" in content:
        return True
    if values.get("-webkit-text-security", "none") not in ("none", ""):
        return True
    clip = values.get("clip-path", "none").replace("!important", "").strip()
    if clip not in ("none", "") and not clip.startswith(("inset(", "polygon(")):
        return True
    filters = {name for name, _ in _FUNCTION.findall(values.get("filter", ""))}
    if filters - _PLAIN_FILTERS or "url(" in values.get("filter", ""):
        return True
    if first_family(values) in _SYMBOL_FONTS:
        return True
    size = values.get("font-size", "")
    if "(" in size and px(size, BASE_PX) is None:
        return True
    # A blend with what lies below (``screen`` turns black text white on white), and an
    # opacity or zoom given by a function the paint rules do not evaluate.
    if values.get("mix-blend-mode", "normal").replace("!important", "").strip() not in (
            "normal", "", "initial", "unset"):
        return True
    return any("(" in values.get(name, "") for name in ("opacity", "zoom"))


def first_family(values: Mapping[str, str]) -> str:
    """The first font family an element names (the one drawn where it is installed)."""
    families = values.get("font-family") or _FONT_FAMILIES.sub("", values.get("font", ""))
    return families.split(",")[0].replace("!important", "").strip(" '\"")


# Filters that keep the text's colours (``html_paint`` judges opacity and blur).
_PLAIN_FILTERS = frozenset({"opacity", "blur", "drop-shadow"})
# Fonts whose letters are pictures, where installed (the first family is the one drawn).
_SYMBOL_FONTS = frozenset({"wingdings", "wingdings 2", "wingdings 3", "webdings", "symbol",
                           "marlett", "zapf dingbats", "itc zapf dingbats"})
# What comes before the families in a ``font`` shorthand: style words and the size.
_FONT_FAMILIES = re.compile(r"^.*?[\d.]+[a-z%]*(?:/\S+)?\s+")
