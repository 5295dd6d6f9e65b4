"""The PostgreSQL engine: a pool of psycopg connections; each write one transaction on one,
each read its statements on one.

The tables' SQL is the same as for SQLite (``?`` parameters become ``%s`` here); it runs on
a thread pool as large as the connection pool, so the event loop never blocks. Reads run
side by side; writes are group-committed (``group.py``) as on SQLite, so that concurrent
holds share one commit and its fsync. Several
gateways may share the database: rows are claimed with ``FOR UPDATE SKIP LOCKED``, thread
memory is written under a per-thread advisory lock (``conn.lock_key``). When the server is
unreachable every call fails within ``timeout`` with a ``StoreError`` (the client gets
``451 4.3.0``); the pool reconnects with backoff and service resumes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from gateway.store import migrate
from gateway.store.conn import POSTGRESQL, Conn, Work
from gateway.store.group import GroupCommit, Outcome
from gateway.store.pg_batch import BatchConn, PgConn, forget_prepared
from gateway.store.records import StoreError

T = TypeVar("T")
POOL_SIZE = 8
# Seconds a call waits for a connection before it fails (and the client is told to retry).
TIMEOUT = 5.0
CONNECT_TIMEOUT = 3
# Seconds a pooled connection may sit unused before it is checked when handed out again.
CHECK_IDLE = 2.0


def _store_error(exc: Exception) -> Exception:
    """A driver error as the caller sees it (its class and state only: a message may quote
    values); anything else as it is."""
    if isinstance(exc, psycopg.Error):
        error = StoreError(f"PostgreSQL: {type(exc).__name__} ({exc.sqlstate or '-'})")
        error.__cause__ = exc
        return error
    return exc


def _unavailable(exc: Exception) -> bool:
    """The server could not be reached or the connection broke (not the work's fault)."""
    cause = exc.__cause__ if isinstance(exc, StoreError) else exc
    if isinstance(cause, psycopg.errors.TransactionRollback):  # a deadlock: one lost
        return False
    return isinstance(cause, psycopg.OperationalError | psycopg_pool.PoolTimeout)


def _transaction(conn: psycopg.Connection[Any], work: Callable[[Conn], T], durable: bool) -> T:
    """``work`` as one transaction on a ``BatchConn``; rolled back if anything failed."""
    batch = BatchConn(conn)
    batch.send("BEGIN")
    if not durable:  # answered before the WAL is flushed (group.py)
        batch.send("SET LOCAL synchronous_commit TO OFF")
    try:
        result = work(batch)
        for check in batch.deferred:
            check()
        batch.send("COMMIT")
        batch.flush()
    except BaseException:
        _roll_back(conn)
        raise
    return result


def _roll_back(conn: psycopg.Connection[Any]) -> None:
    """End a failed write's transaction, if the server has one open (a statement failed, or
    the work raised after some were sent); a broken connection is the pool's to drop."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE or conn.broken:
        return
    with contextlib.suppress(psycopg.Error):  # the pool checks the connection it gets back
        conn.execute("ROLLBACK", prepare=False)


def describe(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return re.sub(r"(postgres(?:ql)?://[^:/@]*):[^@]*@", r"\1:***@", url)


class PostgresEngine:
    """A connection pool and the thread pool its calls run on."""

    dialect = POSTGRESQL
    path = None

    def __init__(self, url: str, size: int = POOL_SIZE, timeout: float = TIMEOUT) -> None:
        self.description = describe(url)
        self._timeout = timeout
        self._last_used: dict[int, float] = {}
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=size, open=False, timeout=timeout,
            # Transactions are begun by ``_run`` itself, for writes only.
            kwargs={"connect_timeout": CONNECT_TIMEOUT, "autocommit": True},
            check=self._check,
            reconnect_timeout=24 * 3600.0, name="stampgate")
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="store-pg")
        self._group = GroupCommit(self._commit)

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """Check a connection idle for a while before handing it out (the server may have
        restarted meanwhile); one in steady use fails its call at worst, and is dropped."""
        idle = time.monotonic() - self._last_used.get(id(conn), 0.0)
        if idle > CHECK_IDLE:
            psycopg_pool.ConnectionPool.check_connection(conn)

    @classmethod
    async def open(cls, url: str, *, check_schema: bool = True,
                   timeout: float = TIMEOUT) -> PostgresEngine:
        """Connect; with ``check_schema``, refuse a schema older or newer than this code's."""
        engine = cls(url, timeout=timeout)
        try:
            await asyncio.to_thread(engine._pool.open, True, timeout)
            if check_schema:
                migrate.check(await engine.read(migrate.status))
        except psycopg_pool.PoolTimeout:
            await engine.close()
            raise StoreError(f"cannot reach PostgreSQL at {engine.description} within "
                             f"{timeout:g} s (is the server running, and the URL right?)"
                             ) from None
        except BaseException:
            await engine.close()
            raise
        return engine

    async def close(self) -> None:
        await self._group.drain()
        await asyncio.to_thread(self._pool.close)
        self._executor.shutdown(wait=True)

    def _run(self, work: Callable[[Conn], T], write: bool = True, durable: bool = True) -> T:
        """``work`` on a pooled connection, returning once the server answered it all;
        raises if anything failed.

        A write is one transaction on a ``BatchConn`` (``pg_batch.py``): ``BEGIN`` (and, not
        ``durable``, ``SET LOCAL synchronous_commit TO OFF``) goes out with the first
        statements and ``COMMIT`` with the last, so that a transaction whose results are not
        read on the way (a claim, a hold's inserts) is one round trip. If anything failed,
        it is rolled back before the connection goes back to the pool. A read runs its
        statements one by one, without a transaction: at PostgreSQL's READ COMMITTED each
        statement sees the database as of its own start either way, and a one-statement read
        is one round trip instead of three.
        """
        try:
            with self._pool.connection(timeout=self._timeout) as conn:
                try:
                    if not write:  # each statement's result is read at once anyway
                        return work(PgConn(conn))
                    try:
                        return _transaction(conn, work, durable)
                    except psycopg.errors.InvalidSqlStatementName:
                        # Its prepared statements are gone (DEALLOCATE, or a pooler in
                        # between): nothing was committed; prepare them again, once.
                        forget_prepared(conn)
                        return _transaction(conn, work, durable)
                finally:
                    self._last_used[id(conn)] = time.monotonic()
        except psycopg_pool.PoolTimeout as exc:
            raise StoreError("PostgreSQL unavailable: no connection within "
                             f"{self._timeout:g} s") from exc
        except psycopg.Error as exc:
            raise _store_error(exc) from exc

    async def read(self, work: Callable[[Conn], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, work,
                                                                 False)

    async def write(self, work: Callable[[Conn], T], durable: bool = True) -> T:
        """Run ``work`` in the next group transaction; returns once that is committed (not
        ``durable``: once it is visible, on disk with the next durable commit)."""
        return await self._group.write(work, durable)

    async def _commit(self, works: list[Work], durable: bool) -> list[Outcome]:
        """All of ``works`` in one transaction, without a savepoint each (every statement is
        a round trip to the server). If one fails, the transaction is rolled back and each
        is run again alone, so that only the failing one fails; if the server is away, all
        fail at once."""
        loop = asyncio.get_running_loop()

        def batch(conn: Conn) -> list[Outcome]:
            return [(True, work(conn)) for work in works]

        try:
            return await loop.run_in_executor(self._executor, self._run, batch, True, durable)
        except Exception as exc:
            if len(works) == 1 or _unavailable(exc):
                raise
        outcomes: list[Outcome] = []
        for work in works:
            try:
                outcomes.append((True, await loop.run_in_executor(
                    self._executor, self._run, work, True, durable)))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes

    def write_now(self, work: Callable[[Conn], T]) -> tuple[T] | None:
        """Never: every write is a round trip to the server (``write``)."""
        return None

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL overwrites freed rows by its own vacuum."""

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute("SELECT 1").fetchone())


