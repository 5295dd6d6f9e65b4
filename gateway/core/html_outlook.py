"""Outlook's view of conditional comments: `<!--[if mso]>` content shown, `[if !mso]` not."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Conditions are short; the bounded repetition keeps every match linear.
_MARKER = re.compile(
    r"<!--\[if(?P<hidden>[^\]>]{0,200})\]>(?P<revealed><!-->)?"
    r"|<!\[if(?P<bare>[^\]>]{0,200})\]>"
    r"|(?:<!--)?<!\[endif\]-{0,2}>",
    re.IGNORECASE,
)


def _outlook_matches(condition: str) -> bool:
    """Whether Outlook's Word engine takes a branch: it is `mso`, and not `!mso`."""
    condition = condition.lower()
    return "mso" in condition and "!" not in condition and "not" not in condition.split()


def outlook_view(html: str) -> str | None:
    """The document as Outlook parses it, or None when it has no conditional comments."""
    pieces: list[str] = []
    position = 0
    skipping = False
    found = False
    for match in _MARKER.finditer(html):
        found = True
        if not skipping:
            pieces.append(html[position:match.start()])
        position = match.end()
        condition = match.group("hidden")
        if condition is None:
            condition = match.group("bare")
        skipping = condition is not None and not _outlook_matches(condition)
    if not found:
        return None
    if not skipping:
        pieces.append(html[position:])
    return _without_xml_islands("".join(pieces))


_XML_OPEN = re.compile(r"<xml[\s>]", re.IGNORECASE)
_XML_CLOSE = re.compile(r"</xml\s*>", re.IGNORECASE)


def _without_xml_islands(html: str) -> str:
    """Without Word's ``<xml>`` data islands (``<o:PixelsPerInch>96</o:PixelsPerInch>``, the
    document settings in ``[if gte mso 9]``): data to Outlook, never drawn. An HTML parser
    would take their text for the first line of the body."""
    pieces: list[str] = []
    position = 0
    while (opened := _XML_OPEN.search(html, position)) is not None:
        closed = _XML_CLOSE.search(html, opened.end())
        if closed is None:
            break
        pieces.append(html[position:opened.start()])
        position = closed.end()
    pieces.append(html[position:])
    return "".join(pieces)


def conditional_bodies(html: str) -> Iterator[str]:
    """The content of each `<!--[if ...]>` comment, whatever its condition."""
    start: int | None = None
    for match in _MARKER.finditer(html):
        if match.group("hidden") is not None and match.group("revealed") is None:
            start = match.end()
        elif match.group("hidden") is None and match.group("bare") is None:
            if start is not None and html[start:match.start()].strip():
                yield html[start:match.start()]
            start = None
