"""What a "Needs adjustment" stamp says: the count it states and the adjustments it lists."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
}
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s+(.*\S)\s*$")
_ITEM_SEPARATOR = re.compile(r"\s*(?:[,;]|\band\b|\bet\b|\by\b)\s*")


def listed_adjustments(trailer: str, following: Sequence[str]) -> tuple[str, ...]:
    """The adjustments a "Needs adjustment" stamp lists: in its trailer, or as bullets below."""
    if trailer:
        items = _ITEM_SEPARATOR.split(trailer)
        return tuple(i.strip(" .") for i in items if i.strip(" ."))
    found: list[str] = []
    for line in following:
        if not line.strip():
            if found:
                break
            continue
        match = _BULLET.match(line)
        if match is None:
            break
        found.append(match.group(1).strip(" ."))
    return tuple(found)


def number(token: str) -> int | None:
    """The count a "Needs adjustment in N ways" states: digits or a number word."""
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS.get(token)
