"""The ``stampgate`` command line: one sub-command module per concern."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

# Each module registers its sub-commands; a handler returns the process exit code.
Handler = Callable[[argparse.Namespace], int]
COMMAND_MODULES = (
    "gateway.serve_cli",
    "gateway.held_cli",
    "gateway.reviewers_cli",
    "gateway.audit_cli",
    "gateway.policy_cli",
    "gateway.ops_cli",
    "gateway.users_cli",
    "gateway.security_cli",
    "gateway.keys_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stampgate",
        description="SMTP relay that enforces confidentiality stamps (relay, bounce or hold).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
