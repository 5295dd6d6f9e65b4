"""One connection in one transaction, for the commands that work on a store's schema and rows
(``stampgate db migrate``, ``db status``, ``db copy``) rather than through a running store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gateway.store.conn import POSTGRESQL, Conn
from gateway.store.db import engine_of, sqlite_path
from gateway.store.records import StoreError


@contextlib.contextmanager
def transaction(url: str, data_dir: Path, *, create: bool = False) -> Iterator[Conn]:
    """The store ``url`` names, in a transaction committed if the block returns.

    ``create``: a SQLite file that does not exist yet is made (mode 0600); otherwise its
    absence is an error. Driver errors become a ``StoreError`` naming their class only.
    """
    if engine_of(url) == POSTGRESQL:
        with _postgresql(url) as conn:
            yield conn
        return
    path = sqlite_path(url, data_dir)
    if not path.is_file():
        if not create:
            raise StoreError(f"no store at {path} (is --data or --store right?)")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {type(exc).__name__}") from exc
    finally:
        db.close()


@contextlib.contextmanager
def _postgresql(url: str) -> Iterator[Conn]:
    import psycopg

    from gateway.store.pg_batch import PgConn
    from gateway.store.postgres import CONNECT_TIMEOUT, describe

    try:
        connection = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError:
        raise StoreError(f"cannot reach PostgreSQL at {describe(url)} (is the server "
                         "running, and the URL right?)") from None
    try:
        with connection:  # commits when the block returns, rolls back if it raises
            yield PgConn(connection)
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL: {type(exc).__name__} ({exc.sqlstate or '-'})") from exc
