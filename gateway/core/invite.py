"""A calendar part as a client shows it: an invite whose title is the event's SUMMARY.

Outlook, Gmail and Apple Mail show a ``text/calendar`` alternative as an invite card: the
event's title (``SUMMARY``) on top, then its place and description. ``shown_invite`` is that
text, read for stricter stamps (an invite titled *Confidential*); the iCalendar source is
read as written as well.
"""

from __future__ import annotations

import re

# RFC 5545 3.1: a line beginning with a space or a tab continues the one before.
_FOLD = re.compile(r"\r?\n[ \t]")
# A property: its name, parameters (``;LANGUAGE=en``, quoted values may hold ``:``), value.
_PROPERTY = re.compile(r'^([A-Za-z-]+)(?:;(?:"[^"]*"|[^:\n])*)?:(.*)$', re.MULTILINE)
_SHOWN = ("SUMMARY", "LOCATION", "DESCRIPTION")
_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\"}
_ESCAPE = re.compile(r"\\([nN,;\\])")
CALENDAR_TYPES = frozenset({"text/calendar", "text/x-vcalendar"})
# The calendar text read this way (characters): an invite's title is in its first lines.
MAX_INVITE_CHARS = 65536


def shown_invite(content_type: str, text: str) -> str | None:
    """The invite's titles, places and descriptions in that order, one per line; None when
    the part is no calendar or the calendar has none."""
    if content_type not in CALENDAR_TYPES:
        return None
    unfolded = _FOLD.sub("", text[:MAX_INVITE_CHARS])
    found: dict[str, list[str]] = {name: [] for name in _SHOWN}
    for name, value in _PROPERTY.findall(unfolded):
        upper = name.upper()
        if upper in found:
            found[upper].append(_ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], value.rstrip("\r")))
    lines = [value for name in _SHOWN for value in found[name]]
    return "\n".join(lines) if lines else None
