"""text/enriched (RFC 1896) and text/richtext (RFC 1341) as a client that knows them shows them.

Formatting commands (``<bold>``, ``</bold>``) are not shown, the content of ``<param>`` is
not either, ``<<`` is a ``<``. In text/enriched a single line break is a space and each
further one a break (outside ``<nofill>``); text/richtext breaks lines only at ``<nl>``.
"""

from __future__ import annotations

import re

ENRICHED_TYPES = frozenset({"text/enriched", "text/richtext"})
_COMMAND = re.compile(r"<(/?)([A-Za-z0-9-]{1,60})>")
_NEWLINES = re.compile(r"\n+")


def unenriched(text: str, richtext: bool = False) -> str:
    """The text a reader sees of a text/enriched (or ``richtext``) body."""
    out: list[str] = []
    param = nofill = 0
    position = 0
    while position < len(text):
        found = text.find("<", position)
        chunk = text[position:] if found < 0 else text[position:found]
        if not param:
            out.append(_lines(chunk, richtext, nofill > 0))
        if found < 0:
            break
        if text.startswith("<<", found):
            if not param:
                out.append("<")
            position = found + 2
            continue
        command = _COMMAND.match(text, found)
        if command is None:  # not a command: the character as it is
            if not param:
                out.append("<")
            position = found + 1
            continue
        closing, name = command.group(1) == "/", command.group(2).lower()
        step = -1 if closing else 1
        if name == "param":
            param = max(param + step, 0)
        elif name == "nofill":
            nofill = max(nofill + step, 0)
        elif richtext and name in ("nl", "np") and not param:
            out.append("\n")
        position = command.end()
    return "".join(out)


def _lines(chunk: str, richtext: bool, nofill: bool) -> str:
    if nofill:
        return chunk
    if richtext:
        return chunk.replace("\n", " ")
    # One line break is a space; n of them are n - 1 breaks.
    return _NEWLINES.sub(lambda m: " " if len(m.group()) == 1 else "\n" * (len(m.group()) - 1),
                         chunk)
