"""What the tables' SQL runs on: a connection of either engine, as the store's code sees it.

The SQL is written once, with ``?`` parameters and the syntax both engines share
(``ON CONFLICT``, ``RETURNING``); the PostgreSQL connection translates the parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection inside one transaction: ``sqlite3.Connection`` or the PostgreSQL one."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


Work = Callable[[Conn], Any]


def dialect(conn: Conn) -> str:
    return str(getattr(conn, "dialect", SQLITE))


def lock_key(conn: Conn, key: str) -> None:
    """Serialise the writers of ``key`` until the transaction ends.

    PostgreSQL: a transaction-level advisory lock, so that two gateways updating the same
    thread wait for each other. SQLite: its write transactions are serial already.
    """
    if dialect(conn) == POSTGRESQL:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))


def check_at_commit(conn: Conn, check: Callable[[], None]) -> None:
    """Run ``check`` (which may raise, rolling the transaction back) before the transaction
    commits: at once on SQLite; on PostgreSQL once every statement of the transaction was
    sent, so that the checks of a group commit's writes wait for the server once together."""
    deferred: list[Callable[[], None]] | None = getattr(conn, "deferred", None)
    if deferred is None:
        check()
    else:
        deferred.append(check)
