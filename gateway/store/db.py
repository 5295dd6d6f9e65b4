"""The store's SQLite connection: schema, transactions and the group commit of its writes.

One ``sqlite3`` connection per store, used only from its own single-thread executor: calls
are serialized, each public method is one transaction, and the event loop never blocks.
Values are kept in the formats SQLAlchemy wrote (UTC datetimes as naive text with
microseconds, JSON as text, content as BLOB), so existing store files keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from gateway.store.records import StoreError
from gateway.store.sessions import SESSION_SCHEMA
from gateway.store.threads import THREAD_SCHEMA

DB_NAME = "stampgate.sqlite3"
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS held_messages (
    id VARCHAR(32) NOT NULL,
    queue_id VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL,
    version INTEGER NOT NULL,
    sender TEXT NOT NULL,
    recipients JSON NOT NULL,
    held_recipients JSON NOT NULL,
    stamp VARCHAR(32),
    reason TEXT NOT NULL,
    decision JSON NOT NULL,
    message_id TEXT,
    thread_id TEXT,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    decided_by TEXT,
    decided_at DATETIME,
    decision_note TEXT,
    subject BLOB,
    PRIMARY KEY (id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_held_messages_state ON held_messages (state)",
    """CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER NOT NULL,
    at DATETIME NOT NULL,
    actor TEXT NOT NULL,
    action VARCHAR(32) NOT NULL,
    held_id VARCHAR(32),
    detail JSON NOT NULL,
    PRIMARY KEY (id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_audit_held ON audit_log (held_id)",
    # Mail waiting to go downstream: released messages and notices; survives a restart.
    # ``data`` is for notices only; a release is built from the held content.
    """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL,
    purpose VARCHAR(32) NOT NULL,
    held_id VARCHAR(32),
    sender TEXT NOT NULL,
    recipients JSON NOT NULL,
    data BLOB,
    requested_by TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at DATETIME NOT NULL,
    last_error TEXT,
    done_at DATETIME,
    PRIMARY KEY (id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_outbox_held_id ON outbox (held_id)",
    "CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox (state)",
    # Which holds reviewers and sender were told about; a pending digest line per hold.
    """CREATE TABLE IF NOT EXISTS hold_notices (
    held_id VARCHAR(32) NOT NULL,
    noticed_at DATETIME NOT NULL,
    digest_pending INTEGER NOT NULL,
    PRIMARY KEY (held_id)
)""",
    # Idempotent acceptance (accepted.py): the answer given to each message, so that a
    # client's retry gets the same one. ``claimed``: an attempt is at work on it (``owner``
    # host:pid:attempt; NULL when that attempt gave up); ``answered``: the 250 it got.
    """CREATE TABLE IF NOT EXISTS accepted (
    key VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL,
    owner TEXT,
    queue_id VARCHAR(32) NOT NULL,
    hold_id VARCHAR(32),
    outcome VARCHAR(16),
    held INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    decision JSON,
    maybe_delivered INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    claimed_at DATETIME NOT NULL,
    answered_at DATETIME,
    PRIMARY KEY (key)
)""",
    "CREATE INDEX IF NOT EXISTS ix_accepted_created_at ON accepted (created_at)",
    # The thread memory's tables are its own (threads.py); created with the rest so that
    # every store file has them, whichever process opened it first.
    *THREAD_SCHEMA,
    # The review UI's sessions (sessions.py), likewise.
    *SESSION_SCHEMA,
)
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        _transaction(conn, True, _create_schema)
    except BaseException:
        conn.close()
        raise
    return conn


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        conn.execute(statement)
    # Stores made before held subjects were kept gain the column (NULL for their holds).
    if "subject" not in {row[1] for row in conn.execute("PRAGMA table_info(held_messages)")}:
        conn.execute("ALTER TABLE held_messages ADD COLUMN subject BLOB")


def checkpoint(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _transaction(conn: sqlite3.Connection, write: bool,
                 work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one transaction: committed if it returns, rolled back if it raises."""
    return _committed(conn, "BEGIN IMMEDIATE" if write else "BEGIN", lambda: work(conn))


def _group_transaction(conn: sqlite3.Connection, works: Sequence[Work]) -> list[tuple[bool, Any]]:
    """Run each of ``works`` in its own savepoint of one write transaction, then commit."""

    def each() -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        for work in works:
            conn.execute("SAVEPOINT work")
            try:
                outcomes.append((True, work(conn)))
            except Exception as exc:
                conn.execute("ROLLBACK TO work")
                outcomes.append((False, exc))
            conn.execute("RELEASE work")
        return outcomes

    return _committed(conn, "BEGIN IMMEDIATE", each)


def _committed(conn: sqlite3.Connection, begin: str, body: Callable[[], T]) -> T:
    conn.execute(begin)
    try:
        result = body()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return result


class Database:
    """The connection, its executor and the group commit; the tables' classes build on it."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor,
                 path: Path) -> None:
        self._conn = conn
        self._executor = executor
        self._closed = False
        self.path = path
        # Group commit: writes that arrive while a commit is running share the next one.
        self._batch: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @staticmethod
    async def connect(data_dir: Path) -> tuple[sqlite3.Connection, ThreadPoolExecutor, Path]:
        """Open (and create) the store file under ``data_dir`` on an executor of its own."""
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        # Created 0600 before SQLite opens it: SQLite gives the WAL and SHM files its mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except sqlite3.Error as exc:
            executor.shutdown(wait=False)
            raise StoreError(f"cannot open the store at {path}: {exc.__class__.__name__}") from exc
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return conn, executor, path

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, _transaction, self._conn, False, work)

    async def _checkpoint(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, checkpoint, self._conn)

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A read of another module's tables in this store (the web sessions)."""
        return await self._read(work)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A write of another module's tables in this store (thread memory, sessions), on the
        store's connection and in its group commits; returns once it is durable."""
        return await self._write(work)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction; returns once it is committed (durable).

        Writes that arrive while another commit is in progress are committed together in
        the next transaction, each in its own savepoint: one fsync for many holds, and a
        write that fails is rolled back alone.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._batch.append((work, done))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                try:
                    outcomes = await loop.run_in_executor(
                        self._executor, _group_transaction, self._conn, [w for w, _ in batch])
                except BaseException as exc:  # BEGIN or COMMIT failed: nothing was written
                    outcomes = [(False, exc)] * len(batch)
                for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            self._flusher = None
