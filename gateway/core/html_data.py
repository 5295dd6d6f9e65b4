"""What a message carries in ``data:`` URLs and frames: style sheets, SVG pictures with
text, documents shown in a frame (``srcdoc``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from selectolax.lexbor import LexborHTMLParser
from tinycss2.ast import FunctionBlock, Node, StringToken, URLToken

_DATA = re.compile(r"^\s*data:([^,]*?)(;base64)?,(.*)$", re.DOTALL | re.IGNORECASE)
# How much text one ``data:`` URL or frame may bring.
MAX_CARRIED = 256 * 1024
_SVG = "image/svg+xml"
# An SVG picture in a style value (``background: url("data:image/svg+xml,...")``).
_CSS_SVG = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\s]*))\s*\)")
# Properties that draw a picture in or around the element's box.
_PICTURES = ("background", "background-image", "border-image", "border-image-source",
             "list-style", "list-style-image")
_HTML = ("text/html", "application/xhtml+xml", _SVG)


def data_text(url: str, kinds: tuple[str, ...] = ()) -> str | None:
    """The text of a ``data:`` URL (percent-encoded or base64) of one of ``kinds`` (any
    without), or None for another URL."""
    match = _DATA.match(url[: MAX_CARRIED * 2])
    if match is None:
        return None
    if kinds and match.group(1).split(";")[0].strip().lower() not in kinds:
        return None
    try:
        raw = (base64.b64decode(match.group(3), validate=False) if match.group(2)
               else unquote_to_bytes(match.group(3)))
    except ValueError:
        return None
    return raw[:MAX_CARRIED].decode("utf-8", "replace")


def carried_text(tag: str, attrs: Mapping[str, str | None]) -> str:
    """The text an element draws from content the message carries: an SVG picture's text
    (``<img src="data:image/svg+xml,...">``, an SVG ``<image>``), a frame's document
    (``srcdoc``, or a ``data:`` document in an iframe, object or embed). Empty for anything
    else."""
    if tag in ("img", "image"):  # an SVG <image> names it by href
        url = attrs.get("src") if tag == "img" else attrs.get("href") or attrs.get("xlink:href")
        return svg_text(url) if url and "data:" in url[:16] else ""
    if tag not in ("iframe", "object", "embed", "frame"):
        return ""
    document = attrs.get("srcdoc") if tag == "iframe" else None
    if document is None:
        document = data_text(attrs.get("data" if tag == "object" else "src") or "", _HTML)
    return _text(document[:MAX_CARRIED], "body") if document else ""


@lru_cache(maxsize=64)
def svg_text(url: str) -> str:
    """The text an SVG picture in a ``data:`` URL draws; empty for any other URL (the same
    picture repeated is read once)."""
    svg = data_text(url, (_SVG,))
    return _text(svg, "text") if svg else ""


def _text(markup: str, selector: str) -> str:
    tree = LexborHTMLParser(markup)
    return "\n".join(node.text(deep=True, separator="\n").strip()
                     for node in tree.css(selector)).strip()


def pictured_text(values: Mapping[str, str]) -> str:
    """The text of SVG pictures a style draws in or around the box (a background, a border
    image, a list marker) from ``data:`` URLs."""
    found: list[str] = []
    for name in _PICTURES:
        value = values.get(name, "")
        if "data:image/svg" not in value:
            continue
        found += (svg_text("".join(groups)) for groups in _CSS_SVG.findall(value))
    return "\n".join(text for text in found if text)


# Web font services: their sheets hold ``@font-face`` rules for the fonts they serve, nothing
# a sender writes.
FONT_SERVICES = ("https://fonts.googleapis.com/", "https://fonts.bunny.net/",
                 "https://use.typekit.net/", "https://p.typekit.net/")


def imported(prelude: list[Node]) -> str:
    """The URL an ``@import`` names."""
    for token in prelude:
        if isinstance(token, URLToken | StringToken):
            return str(token.value)
        if isinstance(token, FunctionBlock) and token.lower_name in ("url", "src"):
            strings = [a.value for a in token.arguments if isinstance(a, StringToken)]
            return strings[0] if strings else ""
    return ""


def remote(url: str) -> bool:
    """A sheet a client may fetch (Apple Mail loads remote content): what it hides or shows
    is not in the message, so all its text is unsure. Web font services are not."""
    url = url.strip()
    return bool(url) and not url.lower().startswith(("data:", *FONT_SERVICES))
