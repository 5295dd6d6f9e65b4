"""``stampgate serve``: run the gateway."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import add_settings_arguments, policy_or_report, settings_or_report
from gateway.cli.processes import add_worker_arguments, start_processes
from gateway.logs import configure


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve", help="run the SMTP gateway",
        description="Accept mail over SMTP, read its stamp, and relay, bounce or hold it.",
    )
    add_settings_arguments(parser)
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="where to accept SMTP (default 127.0.0.1:2525)")
    parser.add_argument("--downstream", metavar="URL",
                        help="where allowed mail goes: maildir:PATH "
                             "(default maildir:./var/outbox), smtp://host:port, "
                             "smtp+starttls://host:port, smtps://host:port")
    add_worker_arguments(parser, "SMTP socket")
    parser.set_defaults(handler=run)


def _worker_argv(args: argparse.Namespace) -> list[str]:
    """The flags a worker process needs to resolve the same settings."""
    argv: list[str] = []
    for key in ("config", "listen", "downstream", "policies", "data", "store", "workers"):
        value = getattr(args, key, None)
        if value is not None:
            argv += [f"--{key}", str(value)]
    return argv


def run(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    configure(settings.log_level)
    policy = policy_or_report(settings)
    if policy is None:
        return 2
    return start_processes(args, settings, policy, command="serve",
                           worker_argv=_worker_argv(args))
