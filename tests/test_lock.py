"""The lock files pin, with hashes, every dependency pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _locked(path: Path) -> dict[str, list[str]]:
    """Package name -> the hashes pinned for it in a pip-compile lock file."""
    pins: dict[str, list[str]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        pinned = re.match(r"([A-Za-z0-9._-]+)==\S+", line)
        if pinned:
            current = _name(pinned.group(1))
            pins[current] = []
        elif current and "--hash=sha256:" in line:
            pins[current].append(line.split("--hash=sha256:")[1].split()[0])
    return pins


def _declared() -> tuple[list[str], list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run = [_name(r) for r in project["dependencies"]]
    test = [_name(r) for r in project["optional-dependencies"]["test"]]
    return run, test


@pytest.mark.parametrize(("lock", "kinds"), [("run.txt", ("run",)),
                                              ("test.txt", ("run", "test"))])
def test_every_declared_dependency_is_locked_with_hashes(lock: str, kinds: tuple[str, ...]) -> None:
    run, test = _declared()
    wanted = run + (test if "test" in kinds else [])
    pins = _locked(ROOT / "requirements" / lock)
    missing = [name for name in wanted if name not in pins]
    assert not missing, f"requirements/{lock} lacks {missing}: run scripts/lock"
    unhashed = [name for name, hashes in pins.items() if not hashes]
    assert not unhashed, f"requirements/{lock} pins without hashes: {unhashed}"


def test_the_run_lock_holds_no_test_tools() -> None:
    pins = _locked(ROOT / "requirements" / "run.txt")
    assert "pytest" not in pins and "playwright" not in pins
