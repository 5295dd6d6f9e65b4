"""What an element passes to its children while ``html_text.py`` renders a document."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway.core.html_lines import Lines
from gateway.core.html_style import Style


@dataclass(frozen=True, slots=True)
class Frame:
    """What an element passes to its children."""

    style: Style
    flow: bool  # laid out: no display:none on the way down
    shown: bool  # no box on the way down is hidden as a whole
    hidden: Lines | None  # the outermost hidden element this one is inside, if any
    quote: int
    closed_details: bool
    # Blocks drawn elsewhere than their place in the source that this one is inside: each is
    # also read alone, so a stamp drawn at the top from the end of the source counts.
    moved: tuple[Lines, ...] = ()
    # Its children are laid out side by side (read as the cells of a row), or in reverse.
    row_items: bool = False
    reverses: bool = False
    mirrors: bool = False
    # Inside a box one client draws and another does not (``Computed.unsure``).
    unsure: bool = False
    # Inside a drop-down <select>: the option it shows.
    choice: int | None = None


def hide(frame: Frame, hidden: list[Lines]) -> Frame:
    """The frame inside a hidden block: its own, or a new one added to ``hidden``."""
    if frame.hidden is not None:
        return frame
    sink = Lines()
    hidden.append(sink)
    return replace(frame, shown=False, hidden=sink)
