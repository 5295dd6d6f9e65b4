"""The README and docs/ point only at files that are in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         ROOT / "policies" / "README.md"]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A file named in backticks that looks like a path of the repository (a folder and a name).
NAMED = re.compile(r"`((?:docs|deploy|policies|scripts|tests|gateway|fuzz)/[\w./-]+)`")
OUTSIDE = re.compile(r"`(\.\./[\w./-]+)`")  # relative to the page, as links are


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_named_files_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        if not (page.parent / target).exists():
            missing.append(target)
    missing += [t for t in OUTSIDE.findall(text) if not (page.parent / t).exists()]
    for named in NAMED.findall(text):
        path = named.rstrip(".")
        if "*" not in path and not (ROOT / path).exists():
            missing.append(named)
    assert missing == [], f"{page.relative_to(ROOT)} names files not in the repository"
