"""What each HTML element is to a browser: never drawn, a block, drawn elsewhere, its own
presentational attributes (the tables ``html_text.py`` renders with)."""

from __future__ import annotations

from gateway.core.html_style import Display

# Never rendered, whatever the CSS says (scripting is off in mail clients, so <noscript>
# content is shown and is not listed here; an iframe draws its ``srcdoc``, never its children).
NEVER = frozenset({
    "head", "title", "style", "script", "template", "meta", "link", "base", "noframes",
    "param", "source", "track", "datalist", "area", "frameset", "object-params",
})
# Form fields that show no text of their own (an <input> of another type shows its value, or
# its placeholder while empty; a list box shows its options and their groups' labels).
NO_TEXT_INPUTS = frozenset({"hidden", "checkbox", "radio", "file", "image", "range", "color"})
BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "dir",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "legend", "li", "listing", "main", "menu",
    "nav", "ol", "pre", "search", "section", "summary", "table", "caption", "ul", "xmp",
    "plaintext", "body", "html", "optgroup", "option", "tbody", "thead", "tfoot",
})
DEFAULT = {"p": Display.PARAGRAPH, "tr": Display.ROW, "td": Display.CELL, "th": Display.CELL}
STRUCK = frozenset({"del", "s", "strike"})
# Drawn where their own position says, not in source order: a table's caption, a ruby
# annotation (above its base), an SVG text (at its x and y): each is also read alone.
MOVED = frozenset({"caption", "rt", "text"})
# Table sections drawn at the top or the bottom wherever the source has them.
GROUPS = {"thead": "table-header-group", "tfoot": "table-footer-group"}
# Presentational attributes and the elements a browser takes them on.
PRESENTATIONAL = {
    "bgcolor": frozenset({"body", "table", "tr", "td", "th"}),
    "background": frozenset({"body", "table", "tr", "td", "th"}),
    "color": frozenset({"font", "basefont"}),
    "text": frozenset({"body"}),
    "link": frozenset({"body"}),
}
# Elements whose text a browser does not draw (a media element's fallback, a closed dialog,
# an SVG's description).
UNDRAWN = frozenset({"noembed", "rp", "audio", "video", "meter", "progress", "canvas", "desc",
                      "metadata", "dialog"})
PRE = frozenset({"pre", "listing", "xmp", "plaintext", "textarea"})
# Form fields, which clip their text to their box whatever their overflow.
CLIPPING = frozenset({"input", "textarea", "select"})
# SVG elements, and the presentation attributes they take as CSS.
SVG = frozenset({"svg", "g", "text", "tspan", "textpath", "switch", "symbol", "use"})
SVG_PRESENTATION = ("display", "visibility", "opacity", "fill", "font-size",
                    "transform", "clip-path", "mask", "filter", "color")
# Elements one engine draws the text of and another does not (MathML's phantom, an object's
# fallback).
UNSURE = frozenset({"mphantom", "object"})
