"""Which declarations of a rule the reader only approximates can change what a reader
sees (``html_sheet.StyleSheet.paints``): those that do make the document read once more as a
client that applies them all."""

from __future__ import annotations

from gateway.core.html_colour import colour
from gateway.core.html_paint import BASE_PX, px
from gateway.core.html_style import contrast

# Properties by which a rule may show, hide, colour, shrink or move text.
PAINTING = frozenset({
    "color", "background", "background-color", "background-image", "opacity", "font-size",
    "font", "visibility", "display", "transform", "filter", "clip-path", "clip", "text-indent",
    "position", "left", "top", "width", "height", "max-height", "max-width", "zoom", "scale",
    "translate", "line-height", "margin", "margin-top", "margin-left", "letter-spacing",
    "-webkit-text-fill-color", "overflow", "content-visibility", "mask", "mask-image",
    "-webkit-mask", "-webkit-mask-image", "block-size", "max-block-size", "inline-size",
    "max-inline-size", "mix-blend-mode", "right", "inset", "margin-inline-start",
    "margin-block-start", "-webkit-text-security",
})


def harmless(prop: str, value: str) -> bool:
    """A declaration that leaves text legible wherever it applies: a dark text colour, a
    display or visibility that shows, a readable font size, a margin or size that moves or
    clips nothing."""
    value = value.replace("!important", "").strip()
    if prop in ("color", "-webkit-text-fill-color"):
        found, unknown = colour(value, {})
        return not unknown and (found is None or (
            found[3] >= 1.0 and contrast(found, WHITE) >= _LEGIBLE))
    if prop in ("display", "visibility"):
        return value not in ("none", "hidden", "collapse")
    if prop == "font-size":
        size = px(value, BASE_PX)
        return size is not None and size >= _READABLE_PX
    length = px(value, BASE_PX) if " " not in value else None
    if prop in ("margin-top", "margin-left", "text-indent", "margin"):
        return value == "auto" or (length is not None and length >= 0)
    if prop in ("width", "height", "max-width", "max-height", "line-height"):
        return value in ("auto", "none", "normal") or value.endswith("%") or (
            length is not None and length > _READABLE_PX)
    return False


# Dark enough to read on white; large enough to read.
_LEGIBLE = 3.0
_READABLE_PX = 9.0
WHITE = (1.0, 1.0, 1.0, 1.0)
