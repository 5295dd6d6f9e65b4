"""Colours as a browser resolves them: HTML's legacy colour attributes, custom properties
(``var()``), the system colours, and values the gateway cannot compute.

A colour that cannot be computed (``color-mix()``, ``light-dark()``, an unknown function, a
``var()`` with nothing to resolve it) may be the background's: its text is *unsure*, read as
shown where it stands (so it stays above what follows it) and as hidden (so a Cleared in it
does not clear).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tinycss2.color3 import RGBA, parse_color

from gateway.core.html_paint import Colour, first_colour, painted_background, rgba

# System colours (CSS Color 4, deprecated ones too) as a light page draws them.
_SYSTEM: dict[str, Colour] = {
    **{name: (0.0, 0.0, 0.0, 1.0) for name in (
        "windowtext", "buttontext", "captiontext", "infotext", "menutext", "fieldtext",
        "marktext", "selecteditemtext", "accentcolortext", "highlighttext",
        "inactivecaptiontext")},
    **{name: (1.0, 1.0, 1.0, 1.0) for name in (
        "window", "buttonface", "field", "menu", "background", "infobackground",
        "buttonhighlight", "threedhighlight", "threedlighthighlight")},
    "graytext": (0.43, 0.43, 0.43, 1.0), "linktext": (0.0, 0.0, 0.93, 1.0),
    "visitedtext": (0.33, 0.1, 0.55, 1.0), "activetext": (1.0, 0.0, 0.0, 1.0),
}
# Values that keep the inherited colour (or the initial one, black on a light page).
_KEEP = frozenset({"inherit", "currentcolor", "initial", "unset", "revert", "revert-layer"})
_VAR = re.compile(r"var\(\s*(--[^,()\s]+)\s*(?:,((?:[^()]|\([^()]*\))*))?\)")
_MAX_SUBSTITUTIONS = 16
_HEX = frozenset("0123456789abcdef")

# The colour unvisited links are drawn in (``a:link``) unless the page says otherwise.
LINK: Colour = (0.0, 0.0, 0.93, 1.0)


def resolve(value: str, custom: Mapping[str, str]) -> str | None:
    """The value with its ``var()`` references substituted; None when one cannot be."""
    for _ in range(_MAX_SUBSTITUTIONS):
        match = _VAR.search(value)
        if match is None:
            return value
        found = custom.get(match.group(1))
        if found is None:
            found = match.group(2)
        if found is None or not found.strip():
            return None
        value = value[:match.start()] + found.strip() + value[match.end():]
    return None


def colour(value: str | None, custom: Mapping[str, str]) -> tuple[Colour | None, bool]:
    """A CSS colour value: the colour (None to keep the inherited one), and whether it could
    not be computed."""
    if not value:
        return None, False
    if "var(" in value:
        resolved = resolve(value, custom)
        if resolved is None:
            return None, True
        value = resolved
    value = value.replace("!important", "").strip()
    if value in _KEEP:
        return None, False
    system = _SYSTEM.get(value)
    if system is not None:
        return system, False
    found = rgba(value)
    if found is not None:
        return found, False
    # A function a browser may compute (color-mix, light-dark, relative colours): unknown.
    # A word it does not know is an invalid declaration, which a browser ignores.
    return None, "(" in value


def legacy(value: str | None) -> Colour | None:
    """A presentational colour attribute (``bgcolor``, ``<font color>``, ``<body text>``)
    by the HTML standard's rules for parsing a legacy colour value."""
    if value is None:
        return None
    text = value.strip(" \t\n\f\r")
    lowered = text.lower()
    if not text or lowered == "transparent":
        return None
    if lowered.isalpha():
        named = parse_color(lowered)
        if isinstance(named, RGBA):
            return (named.red, named.green, named.blue, 1.0)
    if len(text) == 4 and text[0] == "#" and all(c in _HEX for c in lowered[1:]):
        red, green, blue = (int(c, 16) * 17 / 255 for c in lowered[1:])
        return (red, green, blue, 1.0)
    digits = "".join("00" if ord(c) > 0xFFFF else c for c in lowered)[:128]
    if digits.startswith("#"):
        digits = digits[1:]
    digits = "".join(c if c in _HEX else "0" for c in digits)
    while not digits or len(digits) % 3:
        digits += "0"
    size = len(digits) // 3
    parts = [digits[i * size:(i + 1) * size] for i in range(3)]
    if size > 8:
        parts = [part[-8:] for part in parts]
        size = 8
    while size > 2 and all(part.startswith("0") for part in parts):
        parts = [part[1:] for part in parts]
        size -= 1
    parts = [part[:2] for part in parts]
    red, green, blue = (int(part, 16) / 255 for part in parts)
    return (red, green, blue, 1.0)


_CLEAR: Colour = (0.0, 0.0, 0.0, 0.0)
# What paints the glyphs, first first: -webkit-text-fill-color over color, SVG's fill.
_GLYPHS = ("-webkit-text-fill-color", "fill", "color")


def text_paint(values: Mapping[str, str], attribute: str | None, parent: Colour,
               parent_unsure: bool, names: Mapping[str, str]) -> tuple[Colour, bool]:
    """The colour the glyphs are painted in (``attribute``: ``<font color>``, ``<body
    text>``), and whether it could not be computed."""
    for prop in _GLYPHS:
        value = values.get(prop)
        if value and value.replace("!important", "").strip() == "none":
            return _CLEAR, False  # SVG's fill="none" paints nothing
        found, unknown = colour(value, names)
        if found is not None or unknown:
            return found or parent, unknown
    found = legacy(attribute)
    if found is not None:
        return found, False
    return parent, parent_unsure


def background_colour(values: Mapping[str, str], attribute: str | None,
                      behind: Colour | None, behind_unsure: bool,
                      names: Mapping[str, str]) -> tuple[Colour | None, bool]:
    """The colour behind the text (``attribute``: ``bgcolor``), and whether it could not be
    computed."""
    painted = painted_background(values)
    if painted is not None:
        return painted, False
    shorthand = values.get("background", "")
    unknown = False
    if "var(" in shorthand:
        resolved = resolve(shorthand, names)
        unknown = resolved is None
        shorthand = resolved or ""
    # An image behind the text is not shown (mail clients block remote images): the colour
    # given for it then, or the one behind it.
    given, unknown_given = colour(values.get("background-color"), names)
    found = given or first_colour(shorthand) or legacy(attribute)
    unknown = unknown or unknown_given or (found is None and any(
        name in shorthand for name in ("color-mix(", "light-dark(", " from ")))
    if found is None:
        return behind, unknown or behind_unsure
    if found[3] >= 1 or behind is None:
        return found, unknown
    alpha = found[3]
    red, green, blue = (c * alpha + p * (1 - alpha) for c, p in zip(found[:3], behind[:3],
                                                                   strict=True))
    return (red, green, blue, 1.0), unknown
