"""The adjustments a "Needs adjustment" stamp lists: in its trailer, or as bullets below it."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
