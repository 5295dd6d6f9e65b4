"""Lines of rendered text built the way `innerText` builds them: text runs and line breaks."""

from __future__ import annotations

import re

# Private markers, removed from the document's own text before rendering: a table cell
# boundary (a tab in a browser's text, a visual column a reader reads apart) and the two
# ends of an image's alt text (shown only when images are blocked).
CELL = "\x1f"
ALT_OPEN = "\x1e"
ALT_CLOSE = "\x1d"
MARKERS = re.compile("[\x1d\x1e\x1f]")

_SPACES = re.compile(r"[ \t\n\r\f]+")
_ALT = re.compile("\x1e[^\x1d\x1e]*\x1d")


class Lines:
    """Accumulates text; block boundaries are break counts that collapse like a browser's."""

    __slots__ = ("_at_line_start", "_parts", "_pending")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pending = 0
        self._at_line_start = True

    def breaks(self, count: int) -> None:
        """A required line break count: adjacent counts merge into the largest."""
        self._pending = max(self._pending, count)

    def newline(self, quote: int) -> None:
        """A literal line break (`<br>`)."""
        self._flush()
        self._parts.append("\n")
        self._at_line_start = True

    def text(self, data: str, quote: int, pre: bool) -> None:
        """A run of text; outside `pre`, white space collapses to single spaces."""
        if not pre:
            data = _SPACES.sub(" ", data)
            if data == " ":
                if not self._at_line_start and not self._pending:
                    self._parts.append(" ")
                return
        elif not data:
            return
        self._flush()
        prefix = "> " * quote
        if pre:
            data = data.replace("\r\n", "\n").replace("\n", "\n" + prefix)
        if self._at_line_start and prefix:
            self._parts.append(prefix)
        self._parts.append(data)
        self._at_line_start = data.endswith("\n")

    def _flush(self) -> None:
        if self._pending and self._parts:
            self._parts.append("\n" * self._pending)
            self._at_line_start = True
        self._pending = 0

    def __bool__(self) -> bool:
        return any(part.strip() for part in self._parts)

    def raw(self) -> str:
        """The text with its markers still in, for `finish`."""
        return "".join(self._parts)


def finish(raw: str, *, cells_apart: bool, alt_shown: bool, glued: bool = False) -> str:
    """Resolve the markers of one rendering and normalise each line's white space.

    Cells are read apart (each on its own line), joined as ``innerText`` joins them (a tab),
    or ``glued``: boxes side by side with no gap draw ``Confi`` and ``dential`` as one word.
    """
    if alt_shown:
        raw = raw.replace(ALT_OPEN, " ").replace(ALT_CLOSE, " ")
    elif ALT_OPEN in raw:
        raw = _ALT.sub("", raw)
    raw = raw.replace(CELL, "" if glued else "\n" if cells_apart else "\t")
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
