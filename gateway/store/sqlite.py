"""The SQLite engine: one connection on a thread of its own, and the group commit of writes.

Calls are serialized on the engine's single-thread executor, each public method of the
store is one transaction, and the event loop never blocks. Values are kept in the formats
SQLAlchemy wrote (UTC datetimes as naive text with microseconds, JSON as text, content as
BLOB), so existing store files keep working. Opening a file migrates its schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from gateway.store import migrate
from gateway.store.conn import SQLITE, Conn, Work
from gateway.store.group import GroupCommit, Outcome, in_savepoints
from gateway.store.records import StoreError

T = TypeVar("T")
# What every connection to the store enforces, the direct one (connect_direct) included.
_RULES = ("PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON")
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    *_RULES,
)


# What an admin can do about the SQLite errors that opening the store meets.
_WHY = {
    "SQLITE_BUSY": "another process holds its write lock; try again",
    "SQLITE_LOCKED": "another process holds its write lock; try again",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_NOTADB": "the file is not a stampgate store, or it is damaged",
    "SQLITE_CORRUPT": "the file is damaged (restore it from a backup: docs/operations.md)",
    "SQLITE_CANTOPEN": "the file cannot be opened (its directory, or permissions)",
    "SQLITE_PERM": "this user may not open it",
    "SQLITE_READONLY": "it cannot be written (read-only file, disk or permissions)",
    "SQLITE_IOERR": "the disk failed to read or write it",
}


def _why(exc: sqlite3.Error) -> str:
    """The error's class and code, and what they mean (never its text: no values)."""
    code = getattr(exc, "sqlite_errorname", None) or ""
    meaning = next((why for prefix, why in _WHY.items()
                    if code == prefix or code.startswith(prefix + "_")), None)
    named = f"{exc.__class__.__name__} ({code})" if code else exc.__class__.__name__
    return f"{named}: {meaning}" if meaning else named


def connect_file(path: Path) -> sqlite3.Connection:
    """The store file at ``path``, its schema migrated to the latest version."""
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        _transaction(conn, True, migrate.migrate)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_direct(path: Path) -> sqlite3.Connection:
    """A connection for ``SqliteEngine.write_now``: it never waits for a lock, never waits
    for the disk (synchronous NORMAL) and never checkpoints, so a write on it costs the
    event loop only the write itself."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in (*_RULES, "PRAGMA busy_timeout=0", "PRAGMA synchronous=NORMAL",
                       "PRAGMA wal_autocheckpoint=0"):
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


def checkpoint(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _transaction(conn: sqlite3.Connection, write: bool, work: Callable[[Conn], T]) -> T:
    """Run ``work`` in one transaction: committed if it returns, rolled back if it raises."""
    return _committed(conn, "BEGIN IMMEDIATE" if write else "BEGIN", lambda: work(conn))


def _group_transaction(conn: sqlite3.Connection, works: Sequence[Work],
                       switch_to: str | None = None) -> list[Outcome]:
    """Run each of ``works`` in its own savepoint of one write transaction, then commit;
    first ``PRAGMA synchronous=switch_to`` if the batch's durability differs from the last.

    FULL: the WAL is fsync'd at each commit. NORMAL (in WAL mode): a commit is written but
    not fsync'd; the next FULL commit's fsync covers it, as does any checkpoint, and SQLite
    stays consistent after a power cut (which may lose such a commit; a crash of this
    process cannot: the write is in the OS already). It can only be set between
    transactions."""
    if switch_to is not None:
        conn.execute(f"PRAGMA synchronous={switch_to}")
    return _committed(conn, "BEGIN IMMEDIATE", lambda: in_savepoints(conn, works))


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


def _try_write_lock(path: Path) -> None:
    conn = sqlite3.connect(path, timeout=1.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


class SqliteEngine:
    """The connection, its executor and the group commit."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor,
                 path: Path) -> None:
        self._conn = conn
        self._executor = executor
        self._closed = False
        self.path: Path | None = path
        self.description = f"sqlite:///{path}"
        self._group = GroupCommit(self._commit)
        # The connection's synchronous setting: FULL (True), NORMAL (False), unsure (None).
        self._durable: bool | None = True
        self._direct: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> SqliteEngine:
        """Open (and create, and migrate) the store file ``path`` on an executor of its own."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created 0600 before SQLite opens it: SQLite gives the WAL and SHM files its mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect_file, path)
        except sqlite3.Error as exc:
            executor.shutdown(wait=False)
            raise StoreError(f"cannot open the store at {path}: {_why(exc)}") from exc
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, path)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._direct is not None:
            self._direct.close()
            self._direct = None
        await self._group.drain()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)

    async def read(self, work: Callable[[Conn], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, _transaction, self._conn, False, work)

    async def checkpoint(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, checkpoint, self._conn)

    async def ping(self) -> None:
        """Writable now: the write lock can be taken within a second."""
        assert self.path is not None
        await asyncio.to_thread(_try_write_lock, self.path)

    async def write(self, work: Callable[[Conn], T], durable: bool = True) -> T:
        """Run ``work`` in a write transaction; returns once it is committed (durable unless
        ``durable`` is false: then once it is visible, on disk with the next durable one).

        Writes that arrive while another commit is in progress are committed together in
        the next transaction (``group.py``): one fsync for many holds.
        """
        return await self._group.write(work, durable)

    def write_now(self, work: Callable[[Conn], T]) -> tuple[T] | None:
        """Run ``work`` in a write transaction here and now, on the caller's thread (the
        event loop's), committed as a ``write(work, durable=False)`` is: visible at once, on
        the disk with the next durable commit. ``None`` if it could not be made at once (the
        write lock is taken, by this store's thread or another process; or any error): the
        caller then writes the usual way. Nothing of it is written then. While writes are
        queued for the store's thread it is ``None`` too: one commit of many writes costs less
        than many commits of one.

        A hand-over to the store's thread and back costs several times such a write. The
        connection never waits for a lock, and never checkpoints (the store's thread does),
        so the event loop never waits for the disk here."""
        if self._closed or not self._group.idle:
            return None  # other writes are on their way: this one joins their commit
        try:
            if self._direct is None:
                assert self.path is not None
                self._direct = connect_direct(self.path)
            conn = self._direct
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return None
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except Exception:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            return None
        return (result,)

    async def _commit(self, works: list[Work], durable: bool) -> list[Outcome]:
        # One batch at a time (GroupCommit): the setting is not changed under a running one.
        switch_to = None if durable == self._durable else "FULL" if durable else "NORMAL"
        self._durable = None
        outcomes = await asyncio.get_running_loop().run_in_executor(
            self._executor, _group_transaction, self._conn, works, switch_to)
        self._durable = durable
        return outcomes
