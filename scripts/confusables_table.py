"""Write gateway/core/confusables.py: every letter Unicode TR39 finds confusable with a-z.

The source is the Unicode confusables data (confusables.txt) as the confusable-homoglyphs
package ships it, plus the Latin letters whose Unicode name says which letter they are (small
capitals, ``LATIN SMALL LETTER ALPHA``). Run it after upgrading that package:
``.venv/bin/python scripts/confusables_table.py``; tests/core/test_confusables.py fails while
the table in the tree differs from what this script writes.
"""

from __future__ import annotations

import json
import re
import string
import sys
import unicodedata
from importlib import resources
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "gateway" / "core" / "confusables.py"
_LATIN_NAME = re.compile(
    r"^LATIN (?:(?:SMALL|CAPITAL) LETTER|LETTER SMALL CAPITAL|SMALL CAPITAL LETTER) "
    r"(?:(?:SMALL |CAPITAL )?([A-Z]))$")
_LETTERS = frozenset(string.ascii_letters)
_WIDTH = 88


def _data() -> dict[str, list[dict[str, str]]]:
    text = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(
        encoding="utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(text)
    return data


def latin_letters() -> dict[str, str]:
    """Each non-ASCII character that displays as one Latin letter, and that letter (a-z)."""
    data = _data()
    found: dict[str, str] = {}
    for char in map(chr, range(0x80, sys.maxunicode + 1)):
        if 0xD800 <= ord(char) <= 0xDFFF or unicodedata.category(char) == "Nd":
            continue  # digits keep their value: "in ٥ ways" is a count, not a letter
        name = unicodedata.name(char, "")
        match = _LATIN_NAME.match(name)
        if match is not None:
            found[char] = match.group(1).lower()
            continue
        for entry in data.get(char, []):
            target = entry["c"]
            if len(target) == 1 and target in _LETTERS:
                found[char] = target.lower()
                break
    # TR39 gives some letters a Latin variant as their look-alike (Greek tau and Cyrillic te
    # look like a small capital T), and that variant reads as its letter: so do they.
    for char, entries in data.items():
        if len(char) != 1 or char in found or char.isascii() or char.isdigit():
            continue
        for entry in entries:
            target = entry["c"]
            match = _LATIN_NAME.match(unicodedata.name(target, "")) if len(target) == 1 else None
            if match is not None:
                found[char] = match.group(1).lower()
                break
    return found


def render(table: dict[str, str]) -> str:
    """The module text: one string of look-alikes per Latin letter."""
    by_letter: dict[str, list[str]] = {}
    for char, letter in sorted(table.items()):
        by_letter.setdefault(letter, []).append(char)
    out = [
        '"""Characters Unicode TR39 (confusables.txt) shows as a Latin letter; generated."""',
        "",
        "# Written by scripts/confusables_table.py from the Unicode confusables data and the",
        "# Unicode names of Latin letter variants; do not edit by hand.",
        "",
        "LOOK_ALIKES: dict[str, str] = {",
    ]
    for letter in sorted(by_letter):
        chars = "".join(by_letter[letter])
        escaped = "".join(f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}"
                          for c in chars)
        # Never cut an escape in two: re-split on escape boundaries.
        pieces = _split_escapes(escaped, _WIDTH - 8)
        out.append(f'    "{letter}": (')
        out.extend(f'        "{piece}"' for piece in pieces)
        out.append("    ),")
    out.append("}")
    return "\n".join(out) + "\n"


def _split_escapes(escaped: str, width: int) -> list[str]:
    parts = re.findall(r"\\U[0-9a-f]{8}|\\u[0-9a-f]{4}", escaped)
    lines: list[str] = []
    current = ""
    for part in parts:
        if len(current) + len(part) > width:
            lines.append(current)
            current = ""
        current += part
    if current:
        lines.append(current)
    return lines


def main() -> None:
    TARGET.write_text(render(latin_letters()), encoding="utf-8")


if __name__ == "__main__":
    main()
