"""A PostgreSQL database for one test run on the machine's server, and a schema per test.

``STAMPGATE_TEST_POSTGRES`` names the server (default: postgres on 127.0.0.1:5432, trust
authentication). A run creates ``stampgate_test_<random>`` and drops it at the end; each test
gets a fresh schema in it, migrated to the latest version, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
import urllib.parse

import psycopg

from gateway.store import migrate
from gateway.store.pg_batch import PgConn

SERVER = os.environ.get("STAMPGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + database))


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on the search path (every table lands there)."""
    options = urllib.parse.quote(f"-csearch_path={schema}")
    return f"{url}{'&' if '?' in url else '?'}options={options}"


class TestDatabase:
    """``stampgate_test_<random>`` on the server: created, then dropped with everything in it."""

    __test__ = False

    def __init__(self, server: str = SERVER) -> None:
        self.server = server
        self.name = f"stampgate_test_{secrets.token_hex(4)}"
        self.url = _with_database(server, self.name)

    def create(self) -> TestDatabase:
        try:
            with psycopg.connect(self.server, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.OperationalError as exc:
            raise RuntimeError(
                f"the tests need PostgreSQL at {self.server} (set STAMPGATE_TEST_POSTGRES "
                f"to another server): {exc}") from None
        return self

    def drop(self) -> None:
        with psycopg.connect(self.server, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def new_schema(self, *, migrated: bool = True) -> str:
        """A URL whose tables live in a new, empty (or migrated) schema of this database."""
        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=False, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"SET LOCAL search_path = {schema}")
            if migrated:
                migrate.migrate(PgConn(conn))
        return with_schema(self.url, schema)
