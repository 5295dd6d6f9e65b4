"""Copy every table of one store into another, empty one (SQLite to PostgreSQL, or back).

The target is migrated to the latest schema first and must hold no rows; the copy is one
transaction on the target, so a failed copy leaves it empty. Values keep their meaning across
engines: times are written in the store's text format (PostgreSQL parses it), bodies as bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gateway.store import migrate
from gateway.store.conn import POSTGRESQL, Conn, dialect
from gateway.store.records import StoreError, stored

BATCH = 500
# Tables whose ids come from a sequence on PostgreSQL: it must continue after the copied ids.
_IDENTITY = ("audit_log", "outbox")


@dataclass(frozen=True, slots=True)
class Copied:
    """Rows copied per table."""

    rows: dict[str, int]


def _columns(conn: Conn, table: str) -> list[str]:
    if dialect(conn) == POSTGRESQL:
        query = ("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                 "AND table_schema = current_schema() ORDER BY ordinal_position")
        return [str(r[0]) for r in conn.execute(query, (table,))]
    return [str(r[1]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _tables(conn: Conn) -> list[str]:
    if dialect(conn) == POSTGRESQL:
        query = ("SELECT table_name FROM information_schema.tables "
                 "WHERE table_schema = current_schema() ORDER BY table_name")
    else:
        query = ("SELECT name FROM sqlite_master WHERE type = 'table' "
                 "AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [str(r[0]) for r in conn.execute(query) if r[0] != "schema_version"]


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return stored(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _batches(rows: Iterator[Any]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(tuple(_value(v) for v in row))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_store(source: Conn, target: Conn) -> Copied:
    """Copy ``source`` (at the latest schema) into ``target``, inside the caller's transaction
    on ``target``; raises ``StoreError`` if the target holds rows already."""
    state = migrate.status(source)
    if not state.current:
        raise StoreError(f"the source store is at schema version {state.version}, not "
                         f"{state.latest}: run `stampgate db migrate` on it first")
    migrate.migrate(target)
    tables = [t for t in _tables(source) if t in set(_tables(target))]
    missing = sorted(set(_tables(source)) - set(tables))
    if missing:
        raise StoreError(f"the target has no table {', '.join(missing)}")
    for table in tables:
        if target.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None:
            raise StoreError(f"the target store is not empty (table {table} has rows); "
                             "copy into a new database")
    rows: dict[str, int] = {}
    for table in tables:
        columns = [c for c in _columns(source, table) if c in set(_columns(target, table))]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
        count = 0
        for batch in _batches(iter(source.execute(f'SELECT {names} FROM "{table}"'))):
            target.executemany(insert, batch)
            count += len(batch)
        rows[table] = count
    if dialect(target) == POSTGRESQL:
        for table in _IDENTITY:
            target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")
    for table, count in rows.items():  # what went in is what is there
        found = int(target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        if found != count:
            raise StoreError(f"copy of {table}: {count} rows read, {found} in the target")
    return Copied(rows)

