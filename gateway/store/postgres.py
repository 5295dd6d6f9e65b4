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
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.rows import RowMaker

from gateway.store import migrate
from gateway.store.conn import POSTGRESQL, Conn, Work
from gateway.store.group import GroupCommit, Outcome
from gateway.store.records import StoreError

T = TypeVar("T")
POOL_SIZE = 8
# Seconds a call waits for a connection before it fails (and the client is told to retry).
TIMEOUT = 5.0
CONNECT_TIMEOUT = 3
# Seconds a pooled connection may sit unused before it is checked when handed out again.
CHECK_IDLE = 2.0


class Row(tuple[Any, ...]):
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


def _rows(cursor: Any) -> RowMaker[Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Pipelined:
    """A cursor in pipeline mode: its statement is sent, its result not yet read. Reading a
    row waits for it (psycopg does); reading ``rowcount`` syncs the pipeline first."""

    def __init__(self, cursor: psycopg.Cursor[Row], pipeline: psycopg.Pipeline) -> None:
        self._cursor = cursor
        self._pipeline = pipeline

    @property
    def rowcount(self) -> int:
        if self._cursor.rowcount < 0:
            self._pipeline.sync()
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class PgConn:
    """A psycopg connection inside a transaction, as the tables' code uses a connection.

    With ``pipeline`` (the engine's calls), statements are sent without waiting for each
    result: a transaction whose results are not read on the way (a hold's inserts) is one
    round trip with its ``BEGIN`` and ``COMMIT``; the first result read waits for those
    before it.
    """

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any],
                 pipeline: psycopg.Pipeline | None = None) -> None:
        self._conn = conn
        self._pipeline = pipeline
        # Checks run before the commit (``conn.check_at_commit``); outside a pipeline they
        # run at once.
        self.deferred: list[Callable[[], None]] | None = [] if pipeline is not None else None

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        cursor = self._conn.cursor(row_factory=_rows)
        cursor.execute(_pg_sql(sql), tuple(parameters))
        return cursor if self._pipeline is None else _Pipelined(cursor, self._pipeline)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cursor = self._conn.cursor(row_factory=_rows)
        rows = [tuple(p) for p in parameters]
        if rows:
            cursor.executemany(_pg_sql(sql), rows)
        return cursor


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
        """``work`` with its statements pipelined, returning once the server answered them
        all; raises if any failed.

        A write is one transaction: ``BEGIN`` (and, not ``durable``, ``SET LOCAL
        synchronous_commit TO OFF``) goes out with the first statements and ``COMMIT`` with
        the last, so that a transaction whose results are not read on the way (a hold's
        inserts) is one round trip; if anything failed, nothing of it was committed. A read
        runs its statements one by one, without a transaction: at PostgreSQL's READ
        COMMITTED each statement sees the database as of its own start either way, and a
        one-statement read is one round trip instead of four.
        """
        try:
            with self._pool.connection(timeout=self._timeout) as conn:
                try:
                    if not write:  # each statement's result is read at once anyway
                        return work(PgConn(conn))
                    with conn.pipeline() as pipeline:
                        pg = PgConn(conn, pipeline)
                        conn.execute("BEGIN", prepare=False)
                        if not durable:  # answered before the WAL is flushed (group.py)
                            conn.execute("SET LOCAL synchronous_commit TO OFF", prepare=False)
                        result = work(pg)
                        for check in pg.deferred or ():
                            check()
                        conn.execute("COMMIT", prepare=False)
                    return result
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

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL overwrites freed rows by its own vacuum."""

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute("SELECT 1").fetchone())


