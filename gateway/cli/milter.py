"""``stampgate milter``: run the gateway as a milter of Postfix or Sendmail."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import ValidationError

from gateway.cli.common import add_settings_arguments, policy_or_report, settings_or_report
from gateway.cli.processes import add_worker_arguments, start_processes
from gateway.logs import configure
from gateway.milter.listener import bind
from gateway.runtime.milter import MilterGateway
from gateway.settings import MilterSettings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "milter", help="run the gateway as a Postfix or Sendmail milter",
        description="Answer an MTA's milter requests: at the end of each message, read its "
                    "stamp and let it through, reject it or hold it (docs/deploy.md, "
                    "'As a Postfix milter').",
    )
    add_settings_arguments(parser)
    parser.add_argument("--listen", metavar="inet:HOST:PORT|unix:PATH",
                        help="where the MTA connects (default inet:127.0.0.1:8891; "
                             "setting [milter] listen)")
    parser.add_argument("--downstream", metavar="URL",
                        help="where released messages and notices go: an MTA port without "
                             "the milter, e.g. smtp://127.0.0.1:10026")
    add_worker_arguments(parser, "milter socket")
    parser.set_defaults(handler=run)


def _worker_argv(args: argparse.Namespace, listen: str | None) -> list[str]:
    """The flags a worker process needs to resolve the same settings."""
    argv: list[str] = []
    for key in ("config", "downstream", "policies", "data", "store", "workers"):
        value = getattr(args, key, None)
        if value is not None:
            argv += [f"--{key}", str(value)]
    return [*argv, "--listen", listen] if listen is not None else argv


def run(args: argparse.Namespace) -> int:
    listen, args.listen = args.listen, None  # the SMTP listener's setting is not this one
    settings = settings_or_report(args)
    if settings is None:
        return 2
    if listen is not None:
        try:
            milter = MilterSettings(**{**settings.milter.model_dump(), "listen": listen})
            settings = settings.model_copy(update={"milter": milter})
        except ValidationError as exc:
            why = exc.errors()[0]["msg"].removeprefix("Value error, ")
            print(f"stampgate: --listen: {why}", file=sys.stderr)
            return 2
    configure(settings.log_level)
    policy = policy_or_report(settings)
    if policy is None:
        return 2
    milter_socket = settings.milter.listen
    return start_processes(args, settings, policy, command="milter",
                           worker_argv=_worker_argv(args, listen), gateway=MilterGateway,
                           bind=lambda: bind(milter_socket))
