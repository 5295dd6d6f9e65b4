"""FIRST's Traffic Light Protocol (TLP 2.0) markers in folded text and in header values.

``TLP:RED``, ``TLP:AMBER+STRICT``, ``TLP:AMBER``, ``TLP:GREEN``, ``TLP:CLEAR``, and TLP 1.0's
``TLP:WHITE`` (read as CLEAR). The functions take text folded by ``normalise_text`` (lower
case, look-alike letters as Latin, fullwidth colons as ``:``), so ``TLP : Amber``, ``tlp:red``
and a Cyrillic ``ТLP:RЕD`` all read the same.
"""

from __future__ import annotations

import re

from gateway.core.labels import TLP, Label
from gateway.core.text import normalise_phrase

# Strictest first: the order reasons and ``policy check`` list them in.
COLOURS = ("red", "amber+strict", "amber", "green", "clear")
_ALIASES = {"white": "clear"}  # TLP 1.0
_COLOUR = r"(red|amber\s*\+\s*strict|amber|green|clear|white)"
# "tlp" then a colon (or "=", a dash, or only spaces), then the colour as a whole word.
_MARKER = re.compile(r"(?<![^\W_])tlp(?:\s*[:=\-–—]\s*|\s+)" + _COLOUR + r"(?![^\W_]|\s*\+)")
_BARE = re.compile(r"^\s*" + _COLOUR + r"\s*$")
# A subject has one or two markers; past this many the rest are not looked at.
MAX_MARKERS = 10


def colour(word: str) -> str | None:
    """The canonical colour of a folded colour word (``amber + strict``, ``white``)."""
    squeezed = re.sub(r"\s+", "", word)
    squeezed = _ALIASES.get(squeezed, squeezed)
    return squeezed if squeezed in COLOURS else None


def label(name: str) -> Label:
    """The label of a canonical colour: ``TLP:AMBER+STRICT``."""
    return Label(TLP, name, f"TLP:{name.upper()}", True)


def marker_at_start(text: str) -> tuple[Label, str] | None:
    """A marker that opens ``text``, and the rest of the text after it.

    ``TLP:CLEAR?`` asks a question, it does not mark the text.
    """
    match = _MARKER.match(text)
    if match is None:
        return None
    rest = text[match.end():]
    if rest.lstrip().startswith("?"):
        return None
    found = colour(match.group(1))
    return None if found is None else (label(found), rest)


def markers_in(text: str) -> list[Label]:
    """Every marker anywhere in a folded line (a Subject: ``Weekly report (TLP:AMBER)``).

    A line that asks (``What does TLP:CLEAR mean?``) mentions the markers inside it: only a
    marker that opens it or stands in brackets counts there.
    """
    found: list[Label] = []
    asks = text.rstrip().endswith("?")
    for count, match in enumerate(_MARKER.finditer(text)):
        if count >= MAX_MARKERS:
            break
        if text[match.end():].lstrip().startswith("?"):
            continue
        before = text[:match.start()].rstrip()
        if asks and before and not before.endswith(("[", "(", "【", "{")):
            continue
        name = colour(match.group(1))
        if name is not None:
            found.append(label(name))
    return list(dict.fromkeys(found))


def header_label(value: str) -> Label | None:
    """The marker of a TLP header's value: ``AMBER``, ``TLP:AMBER+STRICT``, ``tlp: red``."""
    folded = normalise_phrase(value)
    bare = _BARE.match(folded)
    if bare is not None:
        name = colour(bare.group(1))
        return None if name is None else label(name)
    found = markers_in(folded)
    return found[0] if len(found) == 1 else None


def policy_key(key: str) -> str | None:
    """A key of ``[labels.tlp]`` as a canonical colour: ``TLP:RED``, ``red``, ``White``."""
    folded = normalise_phrase(key)
    match = _MARKER.fullmatch(folded) or _BARE.match(folded)
    return None if match is None else colour(match.group(1))
