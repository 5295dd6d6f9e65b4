"""Versioned schema migrations: numbered SQL files per engine and the ``schema_version`` table.

``migrations/<engine>/NNNN_name.sql`` are applied in order, each in the transaction that
records it in ``schema_version``. A SQLite store file from before versioned migrations (its
tables, no ``schema_version``) is at the baseline, version 1, whose statements are all
``IF NOT EXISTS``; migrating it records that and goes on from there.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from gateway.store.conn import POSTGRESQL, SQLITE, Conn, dialect
from gateway.store.records import StoreError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_ADD_COLUMN = re.compile(r"^ALTER TABLE (\w+) ADD COLUMN (\w+)", re.I)
# Taken while migrating PostgreSQL, so that two gateways or commands never migrate at once.
MIGRATION_LOCK = 7_316_001


class SchemaError(StoreError):
    """The store's schema is not the one this version of stampgate works with."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        text = "\n".join(line for line in self.sql.splitlines()
                         if not line.lstrip().startswith("--"))
        return [s.strip() for s in text.split(";") if s.strip()]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a store's schema is: its version (0: empty), the latest known, what is pending."""

    engine: str
    version: int
    latest: int
    pending: tuple[Migration, ...]

    @property
    def current(self) -> bool:
        return self.version == self.latest


@cache
def migrations(engine: str) -> tuple[Migration, ...]:
    """The engine's migrations, in order; their numbers run 1, 2, 3 without a gap."""
    folder = resources.files("gateway.store").joinpath("migrations", engine)
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise AssertionError(f"migrations for {engine} are not numbered 1..{len(found)}")
    return tuple(found)


def latest(engine: str) -> int:
    return len(migrations(engine))


def _tables(conn: Conn) -> set[str]:
    if dialect(conn) == POSTGRESQL:
        query = ("SELECT table_name FROM information_schema.tables "
                 "WHERE table_schema = current_schema()")
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(row[0]) for row in conn.execute(query)}


def version(conn: Conn) -> int:
    """The schema version of the store ``conn`` is on (0 for an empty one)."""
    tables = _tables(conn)
    if "schema_version" in tables:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)
    # Before versioned migrations: a SQLite store with its tables is at the baseline.
    return 1 if "held_messages" in tables and dialect(conn) == SQLITE else 0


def status(conn: Conn) -> SchemaStatus:
    engine = dialect(conn)
    at = version(conn)
    known = migrations(engine)
    return SchemaStatus(engine, at, len(known), tuple(m for m in known if m.version > at))


def migrate(conn: Conn) -> list[Migration]:
    """Apply every pending migration in the caller's transaction; returns what was applied."""
    engine = dialect(conn)
    if engine == POSTGRESQL:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
    state = status(conn)
    refuse_newer(state)
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                 "name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (version))")
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if state.version == 1 and not conn.execute("SELECT 1 FROM schema_version").fetchone():
        baseline = migrations(engine)[0]  # a store from before: record its baseline
        for statement in baseline.statements():
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                     (1, baseline.name, at))
    for migration in state.pending:
        for statement in migration.statements():
            if not _column_there(conn, statement):
                conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                     (migration.version, migration.name, at))
    return list(state.pending)


def _column_there(conn: Conn, statement: str) -> bool:
    """An ``ADD COLUMN`` whose column a SQLite file has already: releases before versioned
    migrations added columns when they opened a file (SQLite has no ``IF NOT EXISTS`` here)."""
    found = _ADD_COLUMN.match(statement)
    if found is None or dialect(conn) != SQLITE:
        return False
    table, column = found.groups()
    return column in {str(row[1]) for row in conn.execute(
        "SELECT * FROM pragma_table_info(?)", (table,))}


def refuse_newer(state: SchemaStatus) -> None:
    if state.version > state.latest:
        raise SchemaError(
            f"the store's schema is at version {state.version}, newer than this stampgate "
            f"knows (version {state.latest}): run the stampgate version that migrated it, "
            "or upgrade this one")


def check(state: SchemaStatus) -> None:
    """Refuse a schema this stampgate cannot work with, saying what to do."""
    refuse_newer(state)
    if state.version == 0:
        raise SchemaError(f"the {state.engine} store is empty (no schema): "
                          "run `stampgate db migrate --store URL` first")
    if state.version < state.latest:
        raise SchemaError(
            f"the store's schema is at version {state.version}, this stampgate needs "
            f"version {state.latest}: run `stampgate db migrate --store URL` "
            f"({len(state.pending)} migration(s) pending)")
