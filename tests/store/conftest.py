"""The store's tests run on both engines (``store_url`` in ``tests/conftest.py``): SQLite in a
temporary directory, and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.store import Store


@pytest.fixture
async def any_store(tmp_path: Path, store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path, store_url)
    yield opened
    await opened.close()
