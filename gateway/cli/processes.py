"""The start-up ``stampgate serve`` and ``stampgate milter`` share: the data directory, the
store check, then one process, or a supervisor and its workers with their shared metrics
directory, or (in a process the supervisor started) one worker."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.adapters import interpreter
from gateway.adapters.master_key import MasterKeyError
from gateway.adapters.private import UMASK
from gateway.core.policy import Policy
from gateway.logs import get_logger
from gateway.runtime.app import Gateway
from gateway.runtime.loop import run as run_loop
from gateway.runtime.workers import (
    remove_shared_metrics_dir,
    run_supervisor,
    run_worker,
    shared_metrics_dir,
)
from gateway.service.datadir import prepare
from gateway.settings import Settings
from gateway.store.store import Store, StoreError


def add_worker_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers N``, and the hidden flags the supervisor starts a worker with."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"processes sharing the {what} (default: number of cores)")
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--connections-fd", type=int, help=argparse.SUPPRESS)


def start_processes(args: argparse.Namespace, settings: Settings, policy: Policy, *,
                    command: str, worker_argv: Sequence[str],
                    gateway: type[Gateway] = Gateway,
                    bind: Callable[[], socket.socket] | None = None) -> int:
    """Run ``command`` (``serve`` or ``milter``) until it stops; the exit status.

    With several workers and no ``PROMETHEUS_MULTIPROC_DIR``, the process starts itself
    again (``exec``, the same ``worker_argv``) with DATA/metrics, emptied, as that directory,
    so ``/metrics`` adds up every worker; the directory goes when the supervisor stops.
    ``bind`` makes the listening socket (the SMTP port when not given).
    """
    if args.listen_fd is None and not prepare_data(settings):
        return 1
    if args.listen_fd is None and not store_usable(settings):
        return 1
    try:
        if args.listen_fd is not None:
            run_worker(settings, policy, args.listen_fd, args.worker_index,
                       args.connections_fd, gateway=gateway)
        elif settings.workers > 1:
            if shared_metrics_dir(settings) is not None:
                # again with the workers' metrics directory set (docs/operations.md)
                sys.stdout.flush()
                sys.stderr.flush()
                os.execve(sys.executable,
                          interpreter.command("-m", "gateway", command, *worker_argv),
                          interpreter.environment())
            try:
                run_supervisor(settings, policy, worker_argv,
                               sock=bind() if bind is not None else None, command=command,
                               gateway=gateway)
            finally:
                remove_shared_metrics_dir()
        else:
            run_loop(gateway(settings, policy).serve(), settings.event_loop)
    except (OSError, MasterKeyError, StoreError) as exc:
        print(f"stampgate: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def store_usable(settings: Settings) -> bool:
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


def prepare_data(settings: Settings) -> bool:
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
