"""The floor under stampgate's rate: the chosen libraries with none of stampgate's work.

``python tests/perf/floor_relay.py --port P --downstream SINKPORT --mode MODE --workers N``
serves SMTP with aiosmtpd's own ``SMTP`` protocol on uvloop, in N processes sharing one
listening socket (as ``stampgate serve`` does), and answers each message after DATA:

- ``accept``: ``250`` at once, the message dropped: aiosmtpd's own cost per message, the
  ceiling of any gateway built on it;
- ``relay``: ``250`` once the downstream accepted the message over aiosmtplib (MAIL, RCPT,
  DATA on a pooled connection, as stampgate's delivery does): the shape the product must
  have, with no reading, no policy and no store;
- ``durable``: ``relay``, then one SQLite commit (WAL, ``synchronous=FULL``: one fsync)
  recording the message in a thread before the ``250``, as stampgate's exactly-once
  answer does.

Used by ``scripts/bench --floor`` (tests/perf/bench.py); not part of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosmtplib
import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session

MODES = ("accept", "relay", "durable")


class Pool:
    """Idle downstream connections, kept for reuse (at most 16, as stampgate keeps)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[aiosmtplib.SMTP] = []

    async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        client = self.idle.pop() if self.idle else None
        if client is None or not client.is_connected:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.port,
                                     local_hostname="floor.localdomain", timeout=60)
            await client.connect()
        await client.mail(sender)
        for rcpt in recipients:
            await client.rcpt(rcpt)
        await client.data(data)
        if len(self.idle) < 16:
            self.idle.append(client)
        else:
            await client.quit()


class Record:
    """One fsync'd SQLite commit per message, on one thread (the store's shape)."""

    def __init__(self, path: Path) -> None:
        self.executor = ThreadPoolExecutor(1)
        self.local = threading.local()
        self.path = path

    def _commit(self, key: str) -> None:
        db = getattr(self.local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, code INTEGER)")
            self.local.db = db
        db.execute("BEGIN")
        db.execute("INSERT INTO sent VALUES (?, 250)", (key,))
        db.execute("COMMIT")

    async def commit(self, key: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._commit, key)


class Handler:
    def __init__(self, mode: str, pool: Pool, record: Record | None) -> None:
        self.mode = mode
        self.pool = pool
        self.record = record
        self.count = 0
        self.prefix = f"{os.getpid()}-"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.mode != "accept":
            data = envelope.original_content or b""
            try:
                await self.pool.send(envelope.mail_from or "", envelope.rcpt_tos, data)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return f"451 4.4.1 downstream: {type(exc).__name__}"
            if self.record is not None:
                self.count += 1
                await self.record.commit(self.prefix + str(self.count))
        return "250 2.0.0 OK"


async def serve(sock: socket.socket, mode: str, downstream: int, data: Path) -> None:
    record = Record(data / f"floor-{os.getpid()}.sqlite3") if mode == "durable" else None
    handler = Handler(mode, Pool(downstream), record)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="floor.localdomain", data_size_limit=None,
                     enable_SMTPUTF8=True, decode_data=False),
        sock=sock)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--downstream", type=int, required=True, help="the sink's port")
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data", type=Path, required=True, help="a directory for durable")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    children: list[int] = []
    for _ in range(max(0, args.workers - 1)):
        pid = os.fork()
        if pid == 0:
            uvloop.run(serve(sock, args.mode, args.downstream, args.data))
            os._exit(0)
        children.append(pid)

    def stop_children(*_: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    try:
        uvloop.run(serve(sock, args.mode, args.downstream, args.data))
    finally:
        stop_children()
        for pid in children:
            os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
