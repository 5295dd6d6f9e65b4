"""Copying a store between engines: a store file in the old format to PostgreSQL and back."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from gateway.store.copy import copy_store
from gateway.store.direct import transaction
from gateway.store.records import StoreError
from gateway.store.store import DB_NAME, HeldFilter, Store
from tests.store.test_store_sqlite import OLD_STORE
from tests.support.postgres import TestDatabase


async def test_an_old_store_file_to_postgresql_and_back(tmp_path: Path,
                                                        postgres: TestDatabase) -> None:
    old = tmp_path / "old"
    old.mkdir()
    conn = sqlite3.connect(old / DB_NAME)
    conn.executescript(OLD_STORE)
    conn.close()
    await (await Store.open(old)).close()  # migrated as serve would
    url = postgres.new_schema(migrated=False)
    with transaction("", old) as source, transaction(url, tmp_path) as target:
        copied = copy_store(source, target)
    assert copied.rows["held_messages"] == 2 and copied.rows["audit_log"] == 1

    back = tmp_path / "back"
    with transaction(url, tmp_path) as source, transaction("", back, create=True) as target:
        copy_store(source, target)

    stores = [await Store.open(old), await Store.open(tmp_path, url), await Store.open(back)]
    try:
        every = HeldFilter(state=None)
        found = [await s.find_held(every) for s in stores]
        assert found[0] == found[1] == found[2]
        assert found[1][0].decided_at == dt.datetime(2025, 3, 2, 17, 45, 30, 250000,
                                                     tzinfo=dt.UTC)
        contents = [await s.held_content("H0123456789AB") for s in stores]
        assert contents == [b"Subject: x\r\n\r\nbody\x00\xff"] * 3
        audits = [await s.audit_entries() for s in stores]
        assert audits[0] == audits[1] == audits[2]
        outboxes = [await s.outbox_entries() for s in stores]
        assert outboxes[0] == outboxes[1] == outboxes[2]
    finally:
        for store in stores:
            await store.close()

    with pytest.raises(StoreError, match="the target store is not empty"), \
            transaction("", old) as source, transaction(url, tmp_path) as target:
        copy_store(source, target)
