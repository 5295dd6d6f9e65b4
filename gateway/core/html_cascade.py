"""One element's computed style: its presentational attributes, the style sheet's rules and
its own ``style``, and what the element itself is to a browser (``html_elements.py``)."""

from __future__ import annotations

from dataclasses import replace

from gateway.core.html_colour import colour
from gateway.core.html_css import cascade, declarations, element_classes
from gateway.core.html_data import pictured_text
from gateway.core.html_elements import (
    BLOCK,
    CLIPPING,
    DEFAULT,
    GROUPS,
    PRE,
    PRESENTATIONAL,
    STRUCK,
    SVG,
    SVG_PRESENTATION,
    UNDRAWN,
    UNSURE,
)
from gateway.core.html_sheet import StyleSheet
from gateway.core.html_shift import first_family
from gateway.core.html_style import Computed, Display, Style, compute


def element_style(sheet: StyleSheet, outlook: bool, tag: str, attrs: dict[str, str | None],
                  parent: Style, closed_details: bool) -> Computed:
    """The computed style of one element (``attrs`` is the element's own copy)."""
    for name, tags in PRESENTATIONAL.items():  # a browser ignores them elsewhere
        if name in attrs and tag not in tags:
            del attrs[name]
    if tag in GROUPS:  # the section's own display, before any the author gives it
        attrs = {**attrs, "style": f"display:{GROUPS[tag]};{attrs.get('style') or ''}"}
    decls = []
    if sheet:
        classes = element_classes(attrs)
        element_id = (attrs.get("id") or "").lower() or None
        decls = sheet.matching(tag, classes, element_id, frozenset(attrs))
    style_attr = attrs.get("style")
    inline = declarations(style_attr) if style_attr else []
    if tag in SVG:  # presentation attributes are CSS declarations, below any other
        decls = [(name, (attrs.get(name) or "").strip().lower(), False)
                 for name in SVG_PRESENTATION if attrs.get(name)] + decls
    values = dict(cascade(decls + inline))
    if decls and inline:
        # A webmail that drops the style sheet keeps what the element's own style hides:
        # a sheet's rule (even !important) does not show it to every reader.
        own = cascade(inline)
        for prop in ("display", "visibility"):
            if own.get(prop) in ("none", "hidden", "collapse"):
                values[prop] = own[prop]
    if tag in PRE and "white-space" not in values:
        values["white-space"] = "pre"
    if tag in CLIPPING and "overflow" not in values:
        values["overflow"] = "hidden"  # a form field clips its text to its box
    if sheet.counters:  # a list style of the sheet's own: its marker text
        for word in (values.get("list-style-type", "") + " "
                     + values.get("list-style", "")).split():
            if word in sheet.counters:
                values["list-style-type"] = repr(sheet.counters[word])
    default = DEFAULT.get(tag, Display.BLOCK if tag in BLOCK else Display.INLINE)
    if "display" not in values and ("hidden" in attrs or (
            tag in UNDRAWN and not (tag == "dialog" and "open" in attrs))
            or (tag == "svg" and "0" in (attrs.get("width"), attrs.get("height")))):
        default = Display.NONE  # its text is fallback or metadata, never drawn
    if closed_details and tag != "summary":
        default, values["display"] = Display.NONE, "none"
    if tag in STRUCK and "text-decoration" not in values:
        values["text-decoration"] = "line-through"
    if tag == "bdo" and "unicode-bidi" not in values:
        values["unicode-bidi"] = "bidi-override"
    computed = compute(values, parent, default, attrs, outlook,
                       link=tag == "a" and "href" in attrs)
    # Shown by some engines, not by others: a popover until it is opened, a section hidden
    # until found whatever its display (older engines show both), MathML's phantom, an
    # object's fallback; letters in a font the message carries (they draw what it says); an
    # animation's frames; all of a document whose style sheet is fetched from elsewhere.
    if tag in UNSURE or ("popover" in attrs and "display" not in values) or (
            (attrs.get("hidden") or "").strip().lower() == "until-found") or (
            sheet.fonts and first_family(values) in sheet.fonts) or (
            sheet.keyframes and sheet.animated(values)) or (sheet.remote and tag == "html"):
        computed = replace(computed, unsure=True)
    pictures = pictured_text(values)
    if pictures:
        computed = replace(computed, pictures=pictures)
    if values.get("position", "").replace("!important", "").strip() in ("absolute", "fixed") and (
            tag in _OPAQUE or "bgcolor" in attrs or _paints_background(values)):
        computed = replace(computed, covers=True)
    return computed


# Elements that draw a picture over whatever lies below them.
_OPAQUE = frozenset({"img", "svg", "video", "canvas", "picture", "iframe", "object", "embed"})


def _paints_background(values: dict[str, str]) -> bool:
    """A background of its own that hides what lies below: a colour not mostly transparent,
    a picture or a gradient."""
    for name in ("background", "background-color", "background-image"):
        value = values.get(name, "").replace("!important", "").strip()
        if not value or value in ("none", "transparent", "inherit", "initial", "unset"):
            continue
        if "url(" in value or "gradient(" in value:
            return True
        found, unknown = colour(value.split()[0] if name == "background" else value, {})
        if unknown or found is None or found[3] >= 0.5:
            return True
    return False
