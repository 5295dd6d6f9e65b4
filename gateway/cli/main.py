"""The ``stampgate`` command line: one sub-command module per concern."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from gateway.adapters.accounts import AccountsError
from gateway.adapters.crypto import SealError
from gateway.adapters.master_key import MasterKeyError
from gateway.logs import configure
from gateway.store.records import StoreError

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
    "db": "gateway.cli.db",
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
    configure()  # log lines go to stderr; standard output carries only results
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except EOFError:
        print("stampgate: the input ended before the command had what it asked for "
              "(run it at a terminal, or give the value as an option)", file=sys.stderr)
        return 2
    except (AccountsError, MasterKeyError, SealError, StoreError) as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a data directory or file that cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"stampgate: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
