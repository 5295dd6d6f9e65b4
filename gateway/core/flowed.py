"""format=flowed text (RFC 3676) reflowed into the lines a reader sees."""

from __future__ import annotations

from gateway.core.headers import uncommented

_SIGNATURE = "-- "


def _token(value: str) -> str:
    """A parameter value as a client reads it: comments out, up to white space
    (``yes (RFC 3676)`` is ``yes``)."""
    words = uncommented(value).split()
    return words[0].strip('"').lower() if words else ""


def is_flowed(formats: list[str]) -> bool:
    """Whether a client may reflow a part: any ``format`` value given says ``flowed``
    (``format=flowed; format=fixed``: clients differ in the one they take)."""
    return any(_token(value) == "flowed" for value in formats)


def delsp_readings(values: list[str]) -> tuple[bool, ...]:
    """The ``DelSp`` settings clients may read: each value given, ``no`` without one."""
    readings = tuple(dict.fromkeys(_token(value) == "yes" for value in values))
    return readings or (False,)


def reflow(text: str, delsp: bool) -> str:
    """Join soft-broken lines (ending in a space) into one; quote depth is kept.

    With ``DelSp=yes`` the space before the soft break was added by the sender and is removed
    (``Confi `` + ``dential`` is ``Confidential``); space-stuffing is undone.
    """
    out: list[str] = []
    current: list[str] = []
    current_depth = -1
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        if line.startswith(" "):
            line = line[1:]  # space-stuffing (or the space after quote markers)
        flowed = line.endswith(" ") and line != _SIGNATURE
        if current and depth != current_depth:
            out.append(_render(current_depth, current))  # a change of depth ends a paragraph
            current = []
        current_depth = depth
        if flowed and delsp:
            line = line[:-1]
        current.append(line)
        if not flowed:
            out.append(_render(depth, current))
            current = []
    if current:
        out.append(_render(current_depth, current))
    return "\n".join(out)


def _render(depth: int, pieces: list[str]) -> str:
    line = "".join(pieces)
    return f"{'>' * depth} {line}" if depth else line
