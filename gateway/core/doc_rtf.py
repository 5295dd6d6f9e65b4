"""RTF: the body text, headers and footers, and the title, subject and keywords of ``\\info``."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from gateway.core.documents import Budget, Document, Unreadable, clipped

_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+",
    re.DOTALL)
_MARGINS = frozenset({"header", "headerl", "headerr", "headerf", "footer", "footerl",
                      "footerr", "footerf"})
_PROPERTIES = frozenset({"title", "subject", "keywords"})
# Destinations whose content is not shown as text.
_SKIPPED = frozenset({
    "fonttbl", "colortbl", "stylesheet", "pict", "object", "listtable", "listoverridetable",
    "rsidtbl", "generator", "xmlnstbl", "themedata", "colorschememapping", "datastore",
    "latentstyles", "fldinst", "author", "operator", "comment", "doccomm", "company",
    "category", "manager", "hlinkbase", "bkmkstart", "bkmkend", "nonshppict", "userprops",
    "revtbl", "filetbl",
})
_SYMBOLS = {"~": "\u00a0", "_": "-", "-": "", "\\": "\\", "{": "{", "}": "}", "\n": "\n",
            "\r": "\n"}
_BREAKS = {"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "cell": "\t",
           "tab": "\t", "emdash": "—", "endash": "–", "lquote": "‘", "rquote": "’",
           "ldblquote": "“", "rdblquote": "”", "bullet": "•"}
MAX_GROUPS = 1000


@dataclass(slots=True)
class _Group:
    destination: str = "body"
    skip_after_unicode: int = 1


@dataclass(slots=True)
class _Out:
    parts: dict[str, list[str]] = field(default_factory=dict)

    def add(self, destination: str, text: str) -> None:
        self.parts.setdefault(destination, []).append(text)

    def text(self, destination: str) -> str:
        return "".join(self.parts.get(destination, []))


def read_rtf(name: str, data: bytes, budget: Budget) -> Document:
    """The text a word processor shows of an RTF file; nesting beyond ``MAX_GROUPS`` is refused."""
    source = data.decode("latin-1")
    stack = [_Group()]
    out = _Out()
    codepage = "cp1252"
    margins: list[str] = []
    pending_skip = 0  # characters still to drop after a \uN
    in_info = False
    for match in _TOKEN.finditer(source):
        word, number, hexbyte, symbol, brace, text = match.groups()
        group = stack[-1]
        if brace == "{":
            if len(stack) >= MAX_GROUPS:
                raise Unreadable(f"RTF groups nested deeper than {MAX_GROUPS}")
            stack.append(_Group(group.destination, group.skip_after_unicode))
            continue
        if brace == "}":
            if len(stack) > 1:
                closed = stack.pop()
                if closed.destination in _MARGINS and stack[-1].destination not in _MARGINS:
                    margins.append(out.text(closed.destination))
                    out.parts.pop(closed.destination, None)
                if closed.destination == "info":
                    in_info = False
            continue
        if word is not None:
            if word == "info":
                in_info = True
                group.destination = "info"
            elif (in_info and word in _PROPERTIES) or word in _MARGINS:
                group.destination = word
            elif word in _SKIPPED:
                group.destination = "skip"
            elif word == "ansicpg" and number:
                codepage = _codepage(number)
            elif word == "uc" and number:
                group.skip_after_unicode = max(int(number), 0)
            elif word == "u" and number:
                value = int(number)
                _emit(out, group, chr(value + 65536 if value < 0 else value % 0x110000))
                pending_skip = group.skip_after_unicode
            elif word in _BREAKS:
                _emit(out, group, _BREAKS[word])
            continue
        if symbol is not None:
            if symbol == "*":
                group.destination = "skip"
            elif symbol in _SYMBOLS:
                _emit(out, group, _SYMBOLS[symbol])
            continue
        if hexbyte is not None:
            if pending_skip:
                pending_skip -= 1
                continue
            _emit(out, group, bytes([int(hexbyte, 16)]).decode(codepage, "replace"))
            continue
        if text is not None:
            if pending_skip:
                dropped = min(pending_skip, len(text))
                text = text[dropped:]
                pending_skip -= dropped
            _emit(out, group, text)
    limits = budget.limits
    properties = tuple(t for t in (out.text("title").strip(), out.text("subject").strip()) if t)
    keywords = tuple(k.strip() for k in re.split(r"[;,]", out.text("keywords")) if k.strip())
    return Document(name, "rtf", clipped(out.text("body"), limits), tuple(margins), properties,
                    keywords)


def _emit(out: _Out, group: _Group, text: str) -> None:
    if group.destination not in ("skip", "info"):
        out.add(group.destination, text)


def _codepage(number: str) -> str:
    name = f"cp{int(number)}"
    try:
        codecs.lookup(name)
    except LookupError:
        return "cp1252"
    return name
