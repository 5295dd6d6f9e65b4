"""The ``stampgate`` command line: one sub-command module per concern."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

# Each module registers its sub-commands; a handler returns the process exit code.
Handler = Callable[[argparse.Namespace], int]
# The module that registers each sub-command. Only the one named on the command line is
# imported (``serve`` workers never load the review UI, the CLI tables and the like);
# ``stampgate --help`` and an unknown command import them all.
COMMANDS = {
    "serve": "gateway.cli.serve",
    "milter": "gateway.cli.milter",
    "held": "gateway.cli.held",
    "reviewers": "gateway.cli.reviewers",
    "audit": "gateway.cli.audit",
    "policy": "gateway.cli.policy",
    "backup": "gateway.cli.ops",
    "restore": "gateway.cli.ops",
    "users": "gateway.cli.users",
    "verify-stamp": "gateway.cli.security",
    "keygen": "gateway.cli.security",
    "keys": "gateway.cli.keys",
    "clients": "gateway.cli.clients",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command`` alone if it is known, else for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="stampgate",
        description="SMTP relay that enforces confidentiality stamps (relay, bounce or hold).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import importlib

    modules = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
