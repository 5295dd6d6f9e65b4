"""The register's tables: clients in clear by pseudonym, their values only as keyed hashes.

This module is the only writer of the register tables (``REGISTER_SCHEMA``). In a SQLite
store file it creates them when it first opens it; on PostgreSQL the store's migrations made
them, and every gateway sharing the database reads the same register. Admin commands write
them and every gateway process reads them on a connection of its own; the generation number
tells a reader that the register changed.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from gateway.core.register import ClientField, ClientStatus, HashRow
from gateway.store.conn import POSTGRESQL, Conn, dialect
from gateway.store.db import engine_of
from gateway.store.direct import transaction

T = TypeVar("T")

REGISTER_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS register_clients (
    pseudonym TEXT NOT NULL,
    fields TEXT NOT NULL,
    resettled INTEGER NOT NULL,
    share_only_after_resettlement INTEGER NOT NULL,
    PRIMARY KEY (pseudonym)
)""",
    """CREATE TABLE IF NOT EXISTS register_hashes (
    pseudonym TEXT NOT NULL,
    field VARCHAR(16) NOT NULL,
    tokens BLOB NOT NULL,
    full BLOB NOT NULL,
    length INTEGER NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS ix_register_hashes_pseudonym ON register_hashes (pseudonym)",
    """CREATE TABLE IF NOT EXISTS register_generation (
    id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (id)
)""",
)


@contextlib.contextmanager
def connect(path: Path, url: str = "") -> Iterator[Conn]:
    """A connection to the store with the register's tables in it: the SQLite file at
    ``path``, or the PostgreSQL database ``url`` names (one transaction, committed at the
    end of the block)."""
    if engine_of(url) == POSTGRESQL:
        with transaction(url, path.parent) as conn:
            yield conn
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA secure_delete=ON")  # a removed client's hashes are overwritten
        for statement in REGISTER_SCHEMA:
            conn.execute(statement)
        yield conn
    finally:
        conn.close()


def _bump(conn: Conn) -> None:
    conn.execute("INSERT INTO register_generation (id, generation) VALUES (1, 1) "
                 "ON CONFLICT (id) DO UPDATE SET generation = register_generation.generation + 1")


def _write(conn: Conn, work: Callable[[], T]) -> T:
    if dialect(conn) == POSTGRESQL:  # already in the transaction ``connect`` opened
        result = work()
        _bump(conn)
        return result
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        _bump(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


def put_client(conn: Conn, status: ClientStatus, rows: Sequence[HashRow],
               replaced: frozenset[ClientField] | None = None) -> bool:
    """Add or update one client in one transaction; True if added.

    The hashes of the ``replaced`` fields (all of them by default) give way to ``rows``;
    the others stay, so an update need not enter every value again.
    """

    def work() -> bool:
        added = conn.execute("SELECT 1 FROM register_clients WHERE pseudonym = ?",
                             (status.pseudonym,)).fetchone() is None
        for field in replaced if replaced is not None else ClientField:
            conn.execute("DELETE FROM register_hashes WHERE pseudonym = ? AND field = ?",
                         (status.pseudonym, field.value))
        conn.execute(
            "INSERT INTO register_clients VALUES (?, ?, ?, ?) ON CONFLICT (pseudonym) DO "
            "UPDATE SET fields = excluded.fields, resettled = excluded.resettled, "
            "share_only_after_resettlement = excluded.share_only_after_resettlement",
            (status.pseudonym, ",".join(sorted(f.value for f in status.fields)),
             int(status.resettled), int(status.share_only_after_resettlement)))
        conn.executemany("INSERT INTO register_hashes VALUES (?, ?, ?, ?, ?)",
                         [(r.pseudonym, r.field.value, r.tokens, r.full, r.length)
                          for r in rows])
        return added

    return _write(conn, work)


def remove_client(conn: Conn, pseudonym: str) -> bool:
    def work() -> bool:
        conn.execute("DELETE FROM register_hashes WHERE pseudonym = ?", (pseudonym,))
        return conn.execute("DELETE FROM register_clients WHERE pseudonym = ?",
                            (pseudonym,)).rowcount > 0

    return _write(conn, work)


def generation(conn: Conn) -> int:
    row = conn.execute("SELECT generation FROM register_generation WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def clients(conn: Conn) -> list[ClientStatus]:
    rows = conn.execute("SELECT pseudonym, fields, resettled, share_only_after_resettlement "
                        "FROM register_clients ORDER BY pseudonym").fetchall()
    # One frozenset per combination of fields, not per client: a large register has few.
    sets: dict[str, frozenset[ClientField]] = {}
    return [ClientStatus(p, sets.setdefault(fields, frozenset(
                ClientField(f) for f in fields.split(",") if f)),
                         bool(resettled), bool(share_only))
            for p, fields, resettled, share_only in rows]


def hashes(conn: Conn) -> Iterable[HashRow]:
    for pseudonym, field, tokens, full, length in conn.execute(
            'SELECT pseudonym, field, tokens, "full", length FROM register_hashes'):
        yield HashRow(pseudonym, ClientField(field), bytes(tokens), bytes(full), int(length))


def snapshot(conn: Conn,
             build: Callable[[list[ClientStatus], Iterable[HashRow]], T]) -> tuple[int, T]:
    """The generation, and what ``build`` makes of the clients and their hashes, read in one
    transaction. The hashes reach ``build`` as they are read, never all in a list: a large
    register's rows as objects would outweigh what is built of them."""
    if dialect(conn) == POSTGRESQL:  # the first statement of ``connect``'s transaction
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return generation(conn), build(clients(conn), hashes(conn))
    conn.execute("BEGIN")
    try:
        return generation(conn), build(clients(conn), hashes(conn))
    finally:
        conn.execute("COMMIT")
