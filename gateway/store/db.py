"""The store's engine behind one interface: SQLite (default) or PostgreSQL, chosen by URL.

``[store] url`` (or ``--store URL``): empty or ``sqlite:///...`` for the embedded SQLite file
(``sqlite.py``), ``postgresql://user@host/db`` for a PostgreSQL server shared by several
gateways (``postgres.py``). The tables' classes build on ``Database`` and never see which.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from gateway.store.conn import POSTGRESQL, SQLITE, Conn
from gateway.store.records import StoreError

DB_NAME = "stampgate.sqlite3"
T = TypeVar("T")


class Engine(Protocol):
    """What the tables need of an engine."""

    dialect: str
    description: str

    @property
    def path(self) -> Path | None: ...

    async def read(self, work: Callable[[Conn], T]) -> T: ...

    async def write(self, work: Callable[[Conn], T], durable: bool = True) -> T: ...

    def write_now(self, work: Callable[[Conn], T]) -> tuple[T] | None: ...

    async def checkpoint(self) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def engine_of(url: str) -> str:
    """``sqlite`` or ``postgresql`` for a store URL; a clear error for anything else."""
    if not url or url.startswith("sqlite:///"):
        return SQLITE
    if url.startswith(("postgresql://", "postgres://")):
        return POSTGRESQL
    raise StoreError(f"store URL {url.split('://')[0]!r}... is not understood: write "
                     "sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE")


def sqlite_path(url: str, data_dir: Path) -> Path:
    """The SQLite file a URL names (``sqlite:///relative``, ``sqlite:////absolute``);
    the default store file in ``data_dir`` for an empty URL."""
    if not url:
        return data_dir / DB_NAME
    rest = url.removeprefix("sqlite:///")
    if not rest:
        raise StoreError("store URL sqlite:/// names no file (write sqlite:///var/"
                         f"{DB_NAME} or sqlite:////srv/stampgate/{DB_NAME})")
    return Path(rest)


def check_url(url: str, data_dir: Path) -> str:
    """``url`` if it is a store URL this stampgate can use with ``data_dir``; ``ValueError``
    saying why not (a SQLite store is the file in the data directory, nowhere else)."""
    try:
        path = sqlite_path(url, data_dir) if engine_of(url) == SQLITE else None
        if path is not None and path.resolve() != (data_dir / DB_NAME).resolve():
            raise ValueError(f"the SQLite store is the file {DB_NAME} in the data "
                             f"directory ({data_dir / DB_NAME}); set data to move it")
    except StoreError as exc:
        raise ValueError(str(exc)) from None
    return url


def store_table_url(table: object, where: str, error: type[Exception]) -> str:
    """The url of a settings file's ``[store]`` table; ``error`` if the table is not one."""
    if not isinstance(table, dict) or set(table) != {"url"} or not isinstance(table["url"], str):
        raise error(f"{where}[store] takes one key, url "
                    "(url = \"postgresql://stampgate@db.internal/stampgate\")")
    return table["url"]


async def open_engine(url: str, data_dir: Path, *, check_schema: bool = True) -> Engine:
    if engine_of(url) == POSTGRESQL:
        from gateway.store.postgres import PostgresEngine

        return await PostgresEngine.open(url, check_schema=check_schema)
    from gateway.store.sqlite import SqliteEngine

    return await SqliteEngine.open(sqlite_path(url, data_dir))


class Database:
    """The engine the tables' classes share."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.dialect = engine.dialect
        self.description = engine.description

    @property
    def path(self) -> Path | None:
        """The SQLite file; ``None`` on PostgreSQL."""
        return self._engine.path

    async def close(self) -> None:
        await self._engine.close()

    async def ping(self) -> None:
        """Raises unless the store can be written now (the readiness probe)."""
        await self._engine.ping()

    async def _read(self, work: Callable[[Conn], T]) -> T:
        return await self._engine.read(work)

    async def read(self, work: Callable[[Conn], T]) -> T:
        """A read of another module's tables in this store (the thread memory)."""
        return await self._engine.read(work)

    async def _checkpoint(self) -> None:
        await self._engine.checkpoint()

    async def write(self, work: Callable[[Conn], T], durable: bool = True) -> T:
        """A write of another module's tables in this store (the thread memory); returns
        once it is durable (not ``durable``: once visible, on disk with the next durable
        write; see ``group.py``)."""
        return await self._engine.write(work, durable)

    async def _write(self, work: Callable[[Conn], T], durable: bool = True) -> T:
        return await self._engine.write(work, durable)

    def _write_now(self, work: Callable[[Conn], T]) -> tuple[T] | None:
        """``work`` written at once on this thread, not durable yet; ``None`` if the engine
        cannot (SQLite's write lock is taken or other writes are queued; PostgreSQL is
        always a round trip)."""
        return self._engine.write_now(work)
