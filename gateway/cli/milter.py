"""``stampgate milter``: run the gateway as a milter of Postfix or Sendmail."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pydantic import ValidationError

from gateway.adapters.master_key import MasterKeyError
from gateway.cli.common import add_settings_arguments, policy_or_report, settings_or_report
from gateway.cli.serve import _prepare_data, _store_usable
from gateway.logs import configure
from gateway.milter.listener import bind
from gateway.runtime.milter import MilterGateway
from gateway.runtime.workers import run_supervisor, run_worker
from gateway.settings import MilterSettings
from gateway.store.records import StoreError


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
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes sharing the milter socket (default: number of cores)")
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--connections-fd", type=int, help=argparse.SUPPRESS)
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
            settings = settings.model_copy(update={"milter": MilterSettings(listen=listen)})
        except ValidationError as exc:
            why = exc.errors()[0]["msg"].removeprefix("Value error, ")
            print(f"stampgate: --listen: {why}", file=sys.stderr)
            return 2
    configure(settings.log_level)
    policy = policy_or_report(settings)
    if policy is None:
        return 2
    if args.listen_fd is None and not _prepare_data(settings):
        return 1
    if args.listen_fd is None and not _store_usable(settings):
        return 1
    try:
        if args.listen_fd is not None:
            run_worker(settings, policy, args.listen_fd, args.worker_index,
                       args.connections_fd, gateway=MilterGateway)
        elif settings.workers > 1:
            run_supervisor(settings, policy, _worker_argv(args, listen),
                           sock=bind(settings.milter.listen), command="milter",
                           gateway=MilterGateway)
        else:
            asyncio.run(MilterGateway(settings, policy).serve())
    except (OSError, MasterKeyError, StoreError) as exc:
        print(f"stampgate: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
