"""The renderings of a message body: what one part shows, and parts shown one after another."""

from __future__ import annotations

import re

from gateway.core.bidi import RLO, visual_order
from gateway.core.model import Location
from gateway.core.shapes import shaped

# A run of white space no screen is wide enough to show on one line with what follows it.
WRAPPING_RUN = 40
_SEPARATORS = ("\u2028", "\u2029", "\x85", "\x0b", "\x0c")
_WIDE = re.compile(rf"[ \t\u00a0\u3000]{{{WRAPPING_RUN},}}")

# Where it was read, the text, and whether it is a whole rendering a reader sees
# (``TextPart.shown``).
Rendering = tuple[Location, str, bool]


def joined(shown: list[list[Rendering]]) -> list[Rendering]:
    """Each displayed part on its own, and the parts joined in display order.

    A client shows the parts of a mixed message one after another, so the top of the message
    is the first line of that sequence; the first and the last rendering a reader sees of
    each part (the plain and the HTML alternative) make two joined candidates. A part alone
    is then no longer a whole rendering: its stamps count, but it cannot withhold a
    *Cleared* that the message shows at its top. Nor can a part that has no whole rendering
    of its own (the text drawn in an SVG image): the parts that have are joined without it
    as well.
    """
    if len(shown) < 2:
        return [r for renderings in shown for r in renderings]
    flat = [(location, text, False) for renderings in shown for location, text, _ in renderings]
    seen_parts = [whole for renderings in shown if (whole := [r for r in renderings if r[2]])]
    for pick in (0, -1):
        for parts in (shown, seen_parts):
            if not parts or (parts is seen_parts and len(seen_parts) == len(shown)):
                continue
            pieces = [([r for r in renderings if r[2]] or renderings)[pick]
                      for renderings in parts]
            joined = (pieces[0][0], "\n".join(text for _, text, _ in pieces),
                      all(whole for _, _, whole in pieces))
            if joined not in flat:
                flat.append(joined)
    return flat


def drawn(views: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The views of one text, and the texts a client draws of them: letters a bidi override
    reverses, in the order drawn (a rendering as well); lines broken where a client breaks
    them, and letters read by their shape (for stricter stamps)."""
    out = list(views)
    out += [(visual_order(text), shown) for text, shown in views if RLO in text]
    for text, _ in views:
        broken = wrapped(text)
        if broken is not None:
            out.append((broken, False))
        shape = shaped(text)
        if shape is not None:
            out.append((shape, False))
    return out


def wrapped(text: str) -> str | None:
    """A text broken where a client breaks its lines and the text itself does not: at a
    run of white space too wide for any screen (``Confidential`` + 400 spaces + a sentence
    shows the stamp on a line of its own), and at a line or paragraph separator (U+2028,
    U+2029, NEL, a vertical tab, a form feed); None when it has neither."""
    # A wide run holds eight spaces in a row or another white space: quick searches spare
    # the pattern's walk over the common text.
    if ("        " not in text and "\t" not in text and "\u00a0" not in text
            and "\u3000" not in text and "\u2028" not in text and "\u2029" not in text
            and "\x85" not in text and "\x0b" not in text and "\x0c" not in text):
        return None
    broken = _WIDE.sub("\n", text)
    for separator in _SEPARATORS:
        broken = broken.replace(separator, "\n")
    return None if broken == text else broken
