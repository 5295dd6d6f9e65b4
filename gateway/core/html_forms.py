"""What an element draws of its children: the option a drop-down shows, a header group drawn
where it stands, a collapsed column, a declarative shadow root."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

_SHADOW = re.compile(r"shadowroot", re.IGNORECASE)
_SHADOW_ROOT = "template[shadowrootmode], template[shadowroot]"
_MAX_SHADOW_ROOTS = 16


def shadow_roots(html: str) -> Iterator[str]:
    """The content of each declarative shadow root (``<template shadowrootmode>``): drawn
    in place of its host's children by engines that know it, not at all by the others."""
    if _SHADOW.search(html) is None:
        return
    budget = 2 * len(html)  # nested roots repeat their content: read it twice at most
    for template in LexborHTMLParser(html).css(_SHADOW_ROOT)[:_MAX_SHADOW_ROOTS]:
        markup = template.html or ""
        budget -= len(markup)
        if budget < 0:
            return
        yield markup[markup.find(">") + 1:markup.rfind("<")]


def shadow_hosts(tree: LexborHTMLParser, html: str) -> frozenset[int]:
    """The elements whose children a shadow root without a ``<slot>`` replaces: drawn by
    engines that know no shadow roots, not by those that do."""
    if _SHADOW.search(html) is None:
        return frozenset()
    return frozenset(template.parent.mem_id for template in tree.css(_SHADOW_ROOT)
                     if template.parent is not None and "<slot" not in (template.html or ""))


def leads(node: LexborNode) -> bool:
    """Whether a table section has no rows before it (a header group there is drawn where
    the source has it)."""
    before = node.prev
    while before is not None:
        if before.tag in ("tbody", "tr", "thead", "tfoot"):
            return False
        before = before.prev
    return True


def collapses(table: LexborNode, visible: Callable[[LexborNode], bool]) -> bool:
    """Whether a column of a table is collapsed (``visibility: collapse`` on a ``<col>``):
    its cells are not drawn. Only the table's own column groups are looked at."""
    for group in table.iter():
        if group.tag == "colgroup":
            for column in group.iter():
                if column.tag == "col" and not visible(column):
                    return True
    return False


def choice(select: LexborNode) -> int | None:
    """The option a drop-down ``<select>`` shows (the last one selected, or the first), or
    None for a list box, which shows them all."""
    attrs = select.attributes
    if "multiple" in attrs or (attrs.get("size") or "1").strip() not in ("", "0", "1"):
        return None
    first = chosen = None
    for option in select.css("option"):
        first = option.mem_id if first is None else first
        if "selected" in option.attributes:
            chosen = option.mem_id
    return chosen or first


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def outside_viewport(text: LexborNode) -> bool:
    """Whether an SVG ``<text>`` is placed (``x``, ``y``) outside the box of the ``<svg>`` it
    is in, which clips it away."""
    svg = text.parent
    for _ in range(8):
        if svg is None or svg.tag == "svg":
            break
        svg = svg.parent
    if svg is None or svg.tag != "svg":
        return False
    box = [float(n) for n in _NUMBER.findall(svg.attributes.get("viewBox")
                                             or svg.attributes.get("viewbox") or "")]
    if len(box) == 4:
        left, top, width, height = box
    else:
        sizes = [_NUMBER.match((svg.attributes.get(name) or "").strip())
                 for name in ("width", "height")]
        if sizes[0] is None or sizes[1] is None or "%" in (svg.attributes.get("width") or "") \
                + (svg.attributes.get("height") or ""):
            return False
        left, top, width, height = 0.0, 0.0, float(sizes[0].group()), float(sizes[1].group())
    x = _NUMBER.match((text.attributes.get("x") or "0").strip())
    y = _NUMBER.match((text.attributes.get("y") or "0").strip())
    if x is None or y is None:
        return False
    # y is the baseline: the letters stand above it.
    return (float(y.group()) <= top or float(y.group()) > top + height + 16
            or float(x.group()) >= left + width)
