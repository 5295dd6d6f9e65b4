"""Finding the line of a key, or of a bad value under it, in a policy file's TOML text."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TABLE_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*$")
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_LINE = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_BARE_OR_QUOTED})\s*=")


def _key_parts(text: str) -> tuple[str, ...]:
    parts = re.findall(_BARE_OR_QUOTED, text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _without_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def locate(text: str, key: Sequence[str], value: str | None = None,
           later: bool = False) -> int | None:
    """Best-effort line of a key path (or of a bad string value under it) in a TOML text.

    ``key`` is a path such as ``("internal", "groups", "comms")`` or ``("case", "2", "to")``
    (arrays of tables are numbered from 0). With ``later`` the last matching value is
    returned: the second of two duplicates.
    """
    if not text:
        return None
    path = tuple(key)
    best: tuple[int, int] | None = None  # (depth of the matched prefix, line)
    hits: list[int] = []
    table: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    counts: dict[tuple[str, ...], int] = {}

    def consider(found: tuple[str, ...], number: int) -> None:
        nonlocal best
        if found and path[:len(found)] == found and (best is None or len(found) > best[0]):
            best = (len(found), number)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = _without_comment(raw)
        header = _TABLE_HEADER.match(line)
        if header:
            name = _key_parts(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
                name = (*name, str(index))
            table = context = name
            consider(table, number)
            continue
        assignment = _KEY_LINE.match(line)
        if assignment:
            context = (*table, *_key_parts(assignment.group(1)))
            consider(context, number)
            for inner in _INLINE_KEY.finditer(line, assignment.end()):
                consider((*context, *_key_parts(inner.group(1))), number)
        if value and path[:len(context)] == context and (
                f'"{value}"' in line or f"'{value}'" in line):
            hits.append(number)
    if hits:
        return hits[-1] if later else hits[0]
    return best[1] if best else None


def syntax_error_line(message: str, text: str) -> int | None:
    """The line a TOML syntax error names (the last line for one at the end of the text)."""
    match = re.search(r"line (\d+)", message)
    if match:
        return int(match.group(1))
    return len(text.splitlines()) or None if "end of document" in message else None
