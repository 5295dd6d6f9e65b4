"""The fuzzing corpus (seeds and every crasher found so far) replayed as regression tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.harness import check
from gateway.core.headers import has_bare_line_ending

CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"
FILES = sorted(CORPUS.iterdir())


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 10
    assert any(p.name.startswith("crash-") for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_entry_holds_the_properties(path: Path) -> None:
    check(path.read_bytes())


def test_bare_cr_crasher_is_refused_at_the_smtp_edge() -> None:
    """Found by atheris: with bare CRs the header/body boundary is ambiguous, so an X-Stamp
    line can move between body and header; the edge refuses such input before rewriting."""
    data = (CORPUS / "crash-bare-cr-header-boundary.eml").read_bytes()
    assert has_bare_line_ending(data)
