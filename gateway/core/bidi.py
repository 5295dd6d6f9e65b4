"""Text in the order it is drawn where bidi overrides reverse it (U+202E, ``<bdo dir=rtl>``).

The stamp reader drops bidi controls (``text.py``): that is the order the characters are
stored in. A right-to-left override draws the Latin letters inside it reversed, so
``RLO laitnedifnoC PDF`` shows as *Confidential*; ``visual_order`` gives that drawn text, as
another candidate for the reader.
"""

from __future__ import annotations

RLO = "\u202e"
PDF = "\u202c"
# Controls that open an embedding, override or isolate; those that close one. Only an RLO
# reverses Latin letters; the others keep their order.
_OPENS = frozenset("\u202a\u202b\u202d\u202e\u2066\u2067\u2068")
_CLOSES = frozenset("\u202c\u2069")
# Nested overrides deeper than this are read as the text they hold (bounded work).
MAX_LEVELS = 125


def visual_order(text: str) -> str:
    """``text`` with each right-to-left override's content reversed, line by line; an
    override not closed ends with its line (as a paragraph ends it)."""
    if RLO not in text:
        return text
    return "\n".join(_line(line) if RLO in line else line for line in text.split("\n"))


def _line(line: str) -> str:
    stack: list[tuple[list[str], str]] = []
    current: list[str] = []
    for char in line:
        if char in _OPENS and len(stack) < MAX_LEVELS:
            stack.append((current, char))
            current = []
        elif char in _CLOSES and stack:
            current = _close(stack, current)
        else:
            current.append(char)
    while stack:
        current = _close(stack, current)
    return "".join(current)


def _close(stack: list[tuple[list[str], str]], current: list[str]) -> list[str]:
    """End the innermost embedding: an override's characters reversed, each embedding
    inside it kept whole, as drawn."""
    outer, opener = stack.pop()
    outer.append("".join(reversed(current) if opener == RLO else current))
    return outer
