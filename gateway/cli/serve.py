"""``stampgate serve``: run the gateway."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.master_key import MasterKeyError
from gateway.adapters.private import UMASK
from gateway.cli.common import add_settings_arguments, policy_or_report, settings_or_report
from gateway.logs import configure, get_logger
from gateway.runtime.app import Gateway
from gateway.runtime.workers import (
    remove_shared_metrics_dir,
    run_supervisor,
    run_worker,
    shared_metrics_dir,
)
from gateway.service.datadir import prepare
from gateway.settings import Settings
from gateway.store.store import Store, StoreError


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
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes sharing the SMTP socket (default: number of cores)")
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--connections-fd", type=int, help=argparse.SUPPRESS)
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
    if args.listen_fd is None and not _prepare_data(settings):
        return 1
    if args.listen_fd is None and not _store_usable(settings):
        return 1
    try:
        if args.listen_fd is not None:
            run_worker(settings, policy, args.listen_fd, args.worker_index,
                       args.connections_fd)
        elif settings.workers > 1:
            if shared_metrics_dir(settings) is not None:
                # again with the workers' metrics directory set (docs/operations.md)
                sys.stdout.flush()
                sys.stderr.flush()
                os.execv(sys.executable, [sys.executable, "-m", "gateway", "serve",
                                          *_worker_argv(args)])
            try:
                run_supervisor(settings, policy, _worker_argv(args))
            finally:
                remove_shared_metrics_dir()
        else:
            asyncio.run(Gateway(settings, policy).serve())
    except (OSError, MasterKeyError, StoreError) as exc:
        print(f"stampgate: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _store_usable(settings: Settings) -> bool:
    """Open the store once before serving: a SQLite file is migrated, a PostgreSQL schema
    older or newer than this stampgate's is refused with what to do."""

    async def check() -> None:
        await (await Store.open(Path(settings.data), settings.store_url)).close()

    try:
        asyncio.run(check())
    except StoreError as exc:
        print(f"stampgate: cannot start: {exc}", file=sys.stderr)
        return False
    return True


def _prepare_data(settings: Settings) -> bool:
    """Private modes for every file the gateway makes; the master key on first start."""
    # Workers and every file they create (store, WAL, keys, outbox) inherit this umask.
    os.umask(UMASK)
    try:
        prepared = prepare(settings)
    except OSError as exc:
        print(f"stampgate: cannot prepare the data directory {settings.data}: {exc}",
              file=sys.stderr)
        return False
    log = get_logger()
    if prepared.tightened:
        log.warning("data-made-private", data=str(settings.data), paths=list(prepared.tightened))
    if prepared.generated_key is not None:
        where = str(prepared.generated_key.resolve())
        log.warning("master-key-generated", path=where)
        print(f"stampgate: held messages are encrypted with a new master key in {where}.\n"
              "  Back it up separately from the data backups (stampgate backup "
              "--include-master-key FILE);\n  without it no held message can be read "
              "after a restore.", file=sys.stderr)
    return True
