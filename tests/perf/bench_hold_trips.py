"""Round trips to the store per held message: what the hold path asks of PostgreSQL (or SQLite).

``scripts/bench --hold-trips`` runs it (a profile, not a timed test; ``--sessions N``
submits N at once, ``--one-by-one`` sends each PostgreSQL statement and waits for it). It
submits ``--count`` wholly held messages through the real use case (``Submitter``) on a
fresh store, one at a time (no group commit shares a transaction), and counts per message
the queries sent to the server (each a round trip; a write's statements, ``BEGIN`` and
``COMMIT`` included, go as one query string until a result is read), the commits, and the
statements per kind. On SQLite it counts statements and commits the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# Counting wraps libpq's calls, which only psycopg's Python implementation lets us do; the
# statements and round trips are the same with its C implementation.
os.environ["PSYCOPG_IMPL"] = "python"

from gateway.adapters.crypto import Sealer, new_master_key, parse_master_key  # noqa: E402
from gateway.logs import configure  # noqa: E402
from gateway.policyfiles.load import load_policy  # noqa: E402
from gateway.service.outcome import Incoming, OutcomeKind  # noqa: E402
from gateway.service.submit import Submitter  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.store import pg_batch  # noqa: E402
from gateway.store.pg_batch import SEPARATOR  # noqa: E402
from gateway.store.store import Store  # noqa: E402
from tests.support.gateway import EXAMPLE_POLICIES, message  # noqa: E402
from tests.support.postgres import TestDatabase  # noqa: E402

PARTNER = "partner@outside.test"
FILLER = "The caseworker's notes on the appointment follow in the attached summary.\n" * 70
_VERB = re.compile(rb"^\s*(\w+)(?:\s+(?:INTO|FROM)?\s*(\w+))?", re.I)


class Counts:
    def __init__(self) -> None:
        self.queries = 0
        self.waits = 0  # times the client waited for the server: round trips
        self.commits = 0
        self.seconds = 0.0  # wall clock, one message at a time
        self.cpu = 0.0  # this process's CPU time
        self.kinds: collections.Counter[str] = collections.Counter()

    def saw(self, sql: bytes | str) -> None:
        text = sql.encode() if isinstance(sql, str) else sql
        self.queries += 1
        match = _VERB.match(text)
        verb = (match.group(1) or b"?").decode().upper() if match else "?"
        table = (match.group(2) or b"").decode() if match and match.group(2) else ""
        if verb == "COMMIT":
            self.commits += 1
        self.kinds[f"{verb} {table}".strip()] += 1


@contextmanager
def counting_postgresql(counts: Counts) -> Iterator[None]:
    """Count every query psycopg sends (its libpq binding's send and exec calls)."""
    from psycopg import pq

    cls: Any = pq.PGconn
    names = ["send_query", "send_query_params", "send_query_prepared", "exec_", "exec_params",
             "send_prepare", "pipeline_sync", "send_flush_request"]
    saved = {name: getattr(cls, name) for name in names}

    def wrap(name: str) -> Any:
        original = saved[name]

        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            # A round trip: a query outside a pipeline, or a point where a pipeline's
            # results are awaited (a sync, or a flush request before reading a result).
            if name in ("pipeline_sync", "send_flush_request") or self.pipeline_status == 0:
                counts.waits += 1
            if name == "send_query_prepared":
                counts.saw(b"EXECUTE prepared")
            elif name == "send_query":  # a write's statements, sent as one query string
                text = args[0] if isinstance(args[0], bytes) else str(args[0]).encode()
                prepared = {name.encode(): sql.encode() for sql, name in pg_batch._names.items()}
                for statement in text.split(SEPARATOR.encode()):
                    if statement.startswith(b"EXECUTE "):  # counted as what was prepared
                        statement = prepared[statement[8:].partition(b"(")[0]]
                    counts.saw(statement)
            elif name not in ("send_prepare", "pipeline_sync", "send_flush_request"):
                counts.saw(args[0])
            return original(self, *args, **kwargs)

        return counted

    for name in names:
        setattr(cls, name, wrap(name))
    try:
        yield
    finally:
        for name, original in saved.items():
            setattr(cls, name, original)


def counting_sqlite(counts: Counts) -> None:
    sqlite3.enable_callback_tracebacks(True)
    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = original(*args, **kwargs)
        conn.set_trace_callback(counts.saw)
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]


async def _run(url: str, data: Path, count: int, sessions: int = 1) -> Counts:
    counts = Counts()
    if not url:
        counting_sqlite(counts)
    policy = load_policy(EXAMPLE_POLICIES)
    settings = Settings(data=data, policies=EXAMPLE_POLICIES, workers=1, notify_mode="off")
    store = await Store.open(data, url)
    threads = store.thread_memory()
    await threads.open()
    sealer = Sealer(parse_master_key(new_master_key()), data / "held-keys")
    submitter = Submitter(settings, lambda: policy, store, threads, None,  # type: ignore[arg-type]
                          sealer)
    body = "Needs adjustment: blur face\n\n" + FILLER

    async def one(n: int) -> None:
        data_ = message(body, to=PARTNER, message_id=f"<trips-{n}-{time.time_ns()}@example.org>")
        outcome = await submitter.submit(Incoming("alice@example.org", (PARTNER,), data_,
                                                  "127.0.0.1", "client.test"))
        assert outcome.kind is OutcomeKind.HELD, outcome

    try:
        await one(-1)  # warm: pools, caches
        measured = Counts()
        async def all_of_them() -> None:
            numbers = iter(range(count))

            async def session() -> None:
                for n in numbers:
                    await one(n)

            await asyncio.gather(*(session() for _ in range(sessions)))

        started, cpu = time.perf_counter(), time.process_time()
        if url:
            with counting_postgresql(measured):
                await all_of_them()
        else:
            counts.queries = counts.commits = 0
            counts.kinds.clear()
            await all_of_them()
            measured = counts
        measured.seconds = time.perf_counter() - started
        measured.cpu = time.process_time() - cpu
    finally:
        await threads.close()
        await store.close()
    return measured


def _one_by_one() -> None:
    from gateway.store import postgres

    def run(self: Any, work: Any, write: bool = True, durable: bool = True) -> Any:
        with self._pool.connection(timeout=self._timeout) as conn:
            if not write:
                return work(pg_batch.PgConn(conn))
            with conn.transaction():
                if not durable:
                    conn.execute("SET LOCAL synchronous_commit TO OFF")
                return work(pg_batch.PgConn(conn))

    postgres.PostgresEngine._run = run  # type: ignore[method-assign]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="held messages (50)")
    parser.add_argument("--sessions", type=int, default=1,
                        help="messages submitted at once (1: one at a time)")
    parser.add_argument("--one-by-one", action="store_true",
                        help="PostgreSQL: each statement sent and waited for (for comparison)")
    args = parser.parse_args(argv)
    configure("warning")  # not a log line per message
    if args.one_by_one:
        _one_by_one()
    database = TestDatabase().create()
    try:
        with tempfile.TemporaryDirectory(prefix="stampgate-trips-") as tmp:
            for engine, url in (("postgresql", database.new_schema()), ("sqlite", "")):
                data = Path(tmp) / engine
                counts = asyncio.run(_run(url, data, args.count, args.sessions))
                waits = f"{counts.waits / args.count:.1f} round trips, " if url else ""
                print(f"{engine}: per held message {counts.queries / args.count:.1f} "
                      f"statements, {waits}{counts.commits / args.count:.1f} commits; "
                      f"{args.count / counts.seconds:.0f} msgs/s with {args.sessions} at once, "
                      f"({counts.cpu / args.count * 1000:.2f} ms CPU in the gateway)")
                for kind, n in sorted(counts.kinds.items(), key=lambda i: -i[1]):
                    print(f"  {n / args.count:5.2f}  {kind}")
    finally:
        database.drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
