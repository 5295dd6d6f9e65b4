"""The store's tests run on both engines: SQLite in a temporary directory, and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.store import Store
from tests.support.postgres import TestDatabase

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store on each engine (SQLite: the data directory's file)."""
    if request.param == "sqlite":
        return ""
    database: TestDatabase = request.getfixturevalue("postgres")
    return database.new_schema()


@pytest.fixture
async def any_store(tmp_path: Path, store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path, store_url)
    yield opened
    await opened.close()
