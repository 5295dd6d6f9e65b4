"""Nesting beyond what browsers build, flattened before parsing so parsing stays linear."""

from __future__ import annotations

import re
from functools import cache

# Chromium stops nesting at 512 levels; deeper, the HTML5 tree builder's scope checks make
# parsing quadratic. Deeper elements are renamed to custom elements, which the tree builder
# inserts without scope checks; the renderer reads them back under their own names.
MAX_DEPTH = 512
PREFIX = "sgx-"
_TOKEN = re.compile(r"<!--|<(/?)([a-zA-Z][^\s/>]{0,100})")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr", "keygen", "frame", "image"})
_RAW = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed",
                  "noframes"})
# Closed implicitly by their next sibling; an end tag for them is optional.
_SELF_CLOSING = frozenset({"p", "li", "dt", "dd", "td", "th", "tr", "option", "optgroup",
                           "rb", "rt", "rp", "tbody", "thead", "tfoot", "colgroup"})
_LOOK_BACK = 16


@cache
def _raw_end(name: str) -> re.Pattern[str]:
    return re.compile("</" + re.escape(name), re.IGNORECASE)


def bounded_depth(html: str) -> tuple[str, bool]:
    """The document with over-deep elements renamed, and whether any were."""
    stack: list[tuple[str, bool]] = []
    edits: list[tuple[int, str]] = []
    if html.count("<") <= MAX_DEPTH:
        return html, False
    skip_to = 0
    deep = False
    for match in _TOKEN.finditer(html):
        if match.start() < skip_to:
            continue
        position = match.end()
        if match.group(0) == "<!--":
            end = html.find("-->", position)
            skip_to = len(html) if end < 0 else end + 3
            continue
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name.startswith(PREFIX):
            edits.append((match.start(2), PREFIX))  # the sender's own custom names stay theirs
        if closing:
            for back in range(len(stack) - 1, max(-1, len(stack) - 1 - _LOOK_BACK), -1):
                if stack[back][0] == name:
                    if stack[back][1]:
                        edits.append((match.start(2), PREFIX))
                    del stack[back:]
                    break
            continue
        if name in _VOID:
            continue
        if name in _RAW:
            end_match = _raw_end(name).search(html, position)
            skip_to = len(html) if end_match is None else end_match.start()
            continue
        if name in _SELF_CLOSING:
            for back in range(len(stack) - 1, max(-1, len(stack) - 1 - _LOOK_BACK), -1):
                if stack[back][0] == name:
                    del stack[back:]
                    break
        renamed = len(stack) >= MAX_DEPTH
        deep = deep or renamed
        if renamed:
            edits.append((match.start(2), PREFIX))
        stack.append((name, renamed))
    if not deep:
        return html, False
    pieces: list[str] = []
    last = 0
    for at, text in edits:
        pieces += (html[last:at], text)
        last = at
    pieces.append(html[last:])
    return "".join(pieces), True
