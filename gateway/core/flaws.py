"""Bad items of a policy list, collected so that ``policy check`` reports them all at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flaw:
    """One bad item of a list (a domain, a member), as it was written in the file."""

    value: str
    message: str
    hint: str = ""
    later: bool = False  # a duplicate: point at the later occurrence
    # Where the item is below the table that was validated, when it is a key of its own
    # (a label in [labels.tlp]): reports name it and point at its line.
    path: tuple[str, ...] = ()


class ItemFlaws(ValueError):
    """Every bad item of one list, so that ``policy check`` can report them all at once."""

    def __init__(self, flaws: list[Flaw]) -> None:
        self.flaws = flaws
        super().__init__("; ".join(f.message for f in flaws))


def fold_entry(value: str) -> str:
    """A domain or member in the form policy compares: trimmed, lower case, no trailing dot."""
    return value.strip().lower().rstrip(".")
