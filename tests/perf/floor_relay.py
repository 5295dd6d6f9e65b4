"""The floor under stampgate's rate: its SMTP edge and delivery with none of its work.

``python tests/perf/floor_relay.py --port P --downstream SINKPORT --mode MODE --workers N``
serves SMTP with stampgate's own protocol class (aiosmtpd's ``SMTP`` with the gateway's
chunked DATA reader, batched replies and plain-path parsing: ``GatewaySMTP``) on uvloop, in
N processes sharing one listening socket (as ``stampgate serve`` does), and sends on with
stampgate's delivery adapter (aiosmtplib over pooled connections, with its line-ending and
dot-stuffing shortcuts: ``SmtpDownstream``). No reading, policy, store or log. It answers
each message after DATA:

- ``accept``: ``250`` at once, the message dropped: the edge's own cost per message;
- ``relay``: ``250`` once the downstream accepted the message (MAIL, RCPT, DATA on a
  pooled connection): the shape the product must have;
- ``durable``: ``relay``, then one SQLite commit (WAL, ``synchronous=FULL``: one fsync)
  recording the message in a thread before the ``250``, as stampgate's exactly-once
  answer does;
- ``raw`` and ``piped``: ``relay`` with a minimal client of asyncio streams instead of
  aiosmtplib, one command at a time (``raw``) or MAIL, RCPT and DATA in one write (RFC 2920
  PIPELINING, ``piped``): what the delivery library and pipelining cost.

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

import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.adapters.delivery import DeliveryError, DotStuffing, Downstream, make_downstream
from gateway.smtp.handler import GatewaySMTP, HookNames

MODES = ("accept", "relay", "durable", "raw", "piped")
_STUFFING = DotStuffing()


class Streams:
    """A minimal SMTP client on asyncio streams, with idle connections kept for reuse. No
    error handling beyond refusing to go on: the downstream here is smtp-sink."""

    def __init__(self, port: int, pipelined: bool) -> None:
        self.port = port
        self.pipelined = pipelined
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    @staticmethod
    async def _reply(reader: asyncio.StreamReader) -> int:
        while True:
            line = await reader.readline()
            if not line:
                raise OSError("the downstream closed the connection")
            if line[3:4] != b"-":
                return int(line[:3])

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self._reply(reader)
        writer.write(b"EHLO floor.localdomain\r\n")
        await self._reply(reader)
        return reader, writer

    async def _envelope(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        commands: list[bytes]) -> list[int]:
        if self.pipelined:
            writer.write(b"".join(commands))
            return [await self._reply(reader) for _ in commands]
        codes = []
        for command in commands:
            writer.write(command)
            codes.append(await self._reply(reader))
        return codes

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        commands = [b"MAIL FROM:<" + sender.encode() + b">\r\n",
                    *(b"RCPT TO:<" + r.encode() + b">\r\n" for r in recipients), b"DATA\r\n"]
        reused = bool(self.idle)
        reader, writer = self.idle.pop() if reused else await self._connect()
        try:
            codes = await self._envelope(reader, writer, commands)
        except OSError:
            if not reused:
                raise
            writer.close()  # an idle connection the downstream closed: once more afresh
            reader, writer = await self._connect()
            codes = await self._envelope(reader, writer, commands)
        if codes[-1] != 354:
            raise OSError(f"the downstream answered {codes}")
        body = _STUFFING.sub(b"..", data)
        writer.write(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        if await self._reply(reader) != 250:
            raise OSError("the downstream refused the message")
        self.idle.append((reader, writer))


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


class Handler(HookNames):
    def __init__(self, mode: str, pool: Downstream | Streams, record: Record | None) -> None:
        self.mode = mode
        self.pool = pool
        self.record = record
        self.count = 0
        self.prefix = f"{os.getpid()}-"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.mode != "accept":
            data = envelope.original_content or b""
            try:
                await self.pool.deliver(envelope.mail_from or "", envelope.rcpt_tos, data)
            except (DeliveryError, OSError, TimeoutError) as exc:
                return f"451 4.4.1 downstream: {type(exc).__name__}"
            if self.record is not None:
                self.count += 1
                await self.record.commit(self.prefix + str(self.count))
        return "250 2.0.0 OK"


async def serve(sock: socket.socket, mode: str, downstream: int, data: Path) -> None:
    record = Record(data / f"floor-{os.getpid()}.sqlite3") if mode == "durable" else None
    pool: Downstream | Streams = (
        Streams(downstream, mode == "piped") if mode in ("raw", "piped")
        else make_downstream(f"smtp://127.0.0.1:{downstream}", "floor.localdomain"))
    handler = Handler(mode, pool, record)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GatewaySMTP(handler, hostname="floor.localdomain", data_size_limit=None,
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
