"""The command table: every sub-command is found, and ``serve`` loads only what it needs."""

from __future__ import annotations

import argparse
import subprocess
import sys

from gateway.cli.main import COMMANDS, build_parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_the_table_names_every_registered_command() -> None:
    assert _commands(build_parser()) == set(COMMANDS)
    for command in COMMANDS:
        assert command in _commands(build_parser(command))


def test_serve_does_not_load_the_review_ui_or_other_commands() -> None:
    probe = ("import sys; from gateway.cli.main import build_parser; build_parser('serve'); "
             "print(sorted(m for m in sys.modules if m.startswith(('gateway.web', "
             "'gateway.cli.held', 'gateway.cli.policy', 'gateway.service.review'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_an_unknown_command_lists_the_real_ones() -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", "nonsense"], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "invalid choice: 'nonsense'" in result.stderr
    assert "serve" in result.stderr and "held" in result.stderr
