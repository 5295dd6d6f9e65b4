"""Fixtures for the policy admins' tools: a writable copy of the example policy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "policies"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A copy of the shipped example policy (with its cases) that a test may break."""
    target = tmp_path / "policies"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("README.md"))
    return target


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``stampgate ARGS...`` in-process: (exit status, stdout, stderr)."""

    def runner(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return runner
