"""A PostgreSQL write transaction sent as few query strings as its reads allow.

The engine's writes (``postgres.py``) run on a ``BatchConn``: each statement is bound on the
client (psycopg's ``ClientCursor.mogrify``, which quotes every value as a literal) and
queued; the queue goes to the server as one query string, in the simple query protocol,
when a result is first read and at the commit. A transaction that reads nothing on the way
(a claim, a hold's inserts) is one query string with its ``BEGIN`` and ``COMMIT``: one
round trip, and one result parse per statement in libpq. This costs the gateway less CPU
than psycopg's pipeline mode, which it replaces for writes: a statement there goes through
several Python generators, and the gateway's event loop waits for the interpreter meanwhile.

So that the server does not parse and plan each statement again, a statement is prepared
(``PREPARE``) on a connection the first time it is queued there outside a transaction, and
queued as ``EXECUTE name(values)`` from then on. One the server cannot prepare (a
parameter whose type it cannot tell) is sent with its values in its text, as before.

A parameter too large to quote cheaply (a sealed message body) is sent bound instead, after
what is queued: one round trip more, for a message that size. If a statement fails, the
server runs nothing after it in its query string; the caller rolls the transaction back.
"""

from __future__ import annotations

import itertools
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import RowMaker, tuple_row

from gateway.store.conn import POSTGRESQL

# A bytes parameter longer than this is sent bound (quoting doubles it, as hex).
QUOTE_LIMIT = 64 * 1024
# An executemany of more rows than this is sent bound, as psycopg batches it.
MANY_LIMIT = 100
# Between the statements of one query string (tests/perf/bench_hold_trips.py splits on it).
SEPARATOR = ";\n"
# Statements prepared on one connection, and named in all, at most: SQL made per call (a
# list of values of any length) must not grow them without end.
PREPARED_LIMIT = 200
NAMES_LIMIT = 1000

_names: dict[str, str] = {}  # SQL: the name it is prepared under, on any connection
_numbers = itertools.count(1)  # one name per SQL, whichever thread comes first
_unpreparable: set[str] = set()
# A table or column not there yet (it is being made, or migrated): prepared another time.
_NOT_YET = frozenset({"42P01", "42703"})
_prepared: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[str]] = (
    weakref.WeakKeyDictionary())


class Row(tuple[Any, ...]):
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


def rows(cursor: Any) -> RowMaker[Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


def _named(cursor: psycopg.ClientCursor[tuple[Any, ...]]) -> list[Row]:
    """The current result's rows, readable by column name too."""
    make = rows(cursor)
    return [make(values) for values in cursor.fetchall()]


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """The tables' SQL (``?`` parameters) as psycopg takes it (``%s``)."""
    return sql.replace("%", "%%").replace("?", "%s")


@lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """The tables' SQL with its parameters numbered, as ``PREPARE`` takes it ($1, $2...)."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


@lru_cache(maxsize=64)
def _arguments(count: int) -> str:
    return "(" + ", ".join(["%s"] * count) + ")" if count else ""


def forget_prepared(conn: psycopg.Connection[Any]) -> None:
    """The server no longer has this connection's prepared statements: prepare anew."""
    _prepared.pop(conn, None)


class PgConn:
    """A psycopg connection, as the tables' code uses a connection: each statement is sent
    and its result read at once (the engine's reads, migrations, ``db`` commands)."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        cursor = self._conn.cursor(row_factory=rows)
        cursor.execute(pg_sql(sql), tuple(parameters))
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cursor = self._conn.cursor(row_factory=rows)
        values = [tuple(p) for p in parameters]
        if values:
            cursor.executemany(pg_sql(sql), values)
        return cursor


class Result:
    """One queued statement's result; reading it sends the queue first, if it is waiting."""

    __slots__ = ("_batch", "_next", "_rowcount", "_rows")

    def __init__(self, batch: BatchConn) -> None:
        self._batch: BatchConn | None = batch
        self._rows: list[Row] = []
        self._next = 0
        self._rowcount = -1

    def _set(self, rows: list[Row], rowcount: int) -> None:
        self._batch, self._rows, self._rowcount = None, rows, rowcount

    def _wait(self) -> None:
        if self._batch is not None:
            self._batch.flush()

    @property
    def rowcount(self) -> int:
        self._wait()
        return self._rowcount

    def fetchone(self) -> Any:
        self._wait()
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        self._wait()
        left, self._next = self._rows[self._next:], len(self._rows)
        return left

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class _Total:
    """An ``executemany``'s result: the rows all its statements affected."""

    def __init__(self, parts: list[Result]) -> None:
        self._parts = parts

    @property
    def rowcount(self) -> int:
        return sum(part.rowcount for part in self._parts)

    def fetchone(self) -> Any:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def _large(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and len(value) > QUOTE_LIMIT


class BatchConn:
    """A connection inside a write transaction, as the tables' code uses one."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._bound = PgConn(conn)  # for what is sent bound, after the queue
        # Rows as plain tuples: most results are commands, for which no column is read.
        self._cursor = psycopg.ClientCursor(conn, row_factory=tuple_row)
        self._queue: list[tuple[str, Result | None]] = []
        # Checks run before the commit (``conn.check_at_commit``), once all is queued.
        self.deferred: list[Callable[[], None]] = []

    def send(self, sql: str) -> None:
        """Queue a statement without parameters whose result nobody reads (``BEGIN``)."""
        self._queue.append((sql, None))

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        values = tuple(parameters)
        if any(_large(v) for v in values):
            self.flush()
            return self._bound.execute(sql, values)
        result = Result(self)
        name = self._prepared_name(sql)
        if name is None:
            text = self._cursor.mogrify(pg_sql(sql), values)
        else:
            text = "EXECUTE " + name + self._cursor.mogrify(_arguments(len(values)), values)
        self._queue.append((text, result))
        return result

    def _prepared_name(self, sql: str) -> str | None:
        """The name ``sql`` is prepared under on this connection; prepared now if the
        connection is outside a transaction (nothing of this one was sent yet)."""
        prepared = _prepared.setdefault(self._conn, set())
        name = _names.get(sql)
        if name is not None and name in prepared:
            return name
        if (sql in _unpreparable or len(prepared) >= PREPARED_LIMIT
                or self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE):
            return None
        if name is None:
            if len(_names) >= NAMES_LIMIT:
                return None
            name = _names.setdefault(sql, f"stampgate_{next(_numbers)}")
        try:
            self._conn.execute(f"PREPARE {name} AS {_numbered(sql)}", prepare=False)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:  # outside a transaction: nothing is lost; sent as text
            if exc.sqlstate not in _NOT_YET:
                _unpreparable.add(sql)
            return None
        prepared.add(name)
        return name

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        values = [tuple(p) for p in parameters]
        if len(values) > MANY_LIMIT or any(_large(v) for row in values for v in row):
            self.flush()
            return self._bound.executemany(sql, values)
        return _Total([self.execute(sql, row) for row in values])

    def flush(self) -> None:
        """Send what is queued as one query string; give each statement its result."""
        if not self._queue:
            return
        queue, self._queue = self._queue, []
        cursor = self._cursor
        cursor.execute(SEPARATOR.join(text for text, _ in queue))
        for n, (_, result) in enumerate(queue):
            if n:
                cursor.nextset()
            if result is not None:
                result._set(_named(cursor) if cursor.pgresult is not None
                            and cursor.pgresult.nfields else [], cursor.rowcount)
