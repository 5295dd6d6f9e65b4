"""Which writes wait for the disk: durable ones always; a batch with one durable write is
durable as a whole; writes marked not durable (an acceptance claim) are visible to every
gateway at once and reach the disk with the next durable commit (``store/group.py``).

Each write below reads, inside its own transaction, the setting its commit will run with:
SQLite's ``synchronous`` (2 = FULL: the WAL is fsync'd at commit; 1 = NORMAL: it is not)
and PostgreSQL's ``synchronous_commit``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from gateway.store.accepted import claim_in
from gateway.store.conn import POSTGRESQL, Conn, dialect
from gateway.store.store import Store, StoreError

WAITS = "waits for the disk"
NO_WAIT = "does not wait"


def setting(conn: Conn) -> str:
    if dialect(conn) == POSTGRESQL:
        value = conn.execute("SHOW synchronous_commit").fetchone()[0]
        return WAITS if value == "on" else NO_WAIT
    value = conn.execute("PRAGMA synchronous").fetchone()[0]
    return WAITS if value == 2 else NO_WAIT


async def test_a_durable_write_waits_for_the_disk_and_one_not_durable_does_not(
        any_store: Store) -> None:
    assert await any_store.write(setting) == WAITS
    assert await any_store.write(setting, durable=False) == NO_WAIT
    # The next durable write after one that was not waits again.
    assert await any_store.write(setting) == WAITS
    assert await any_store.write(setting, durable=False) == NO_WAIT
    assert await any_store.write(setting, durable=False) == NO_WAIT


async def test_a_batch_with_one_durable_write_waits_for_the_disk_as_a_whole(
        any_store: Store) -> None:
    # Queued in the same turn of the event loop: one group commit for all three.
    results = await asyncio.gather(any_store.write(setting, durable=False),
                                   any_store.write(setting),
                                   any_store.write(setting, durable=False))
    assert results == [WAITS, WAITS, WAITS]
    alone = await asyncio.gather(any_store.write(setting, durable=False),
                                 any_store.write(setting, durable=False))
    assert alone == [NO_WAIT, NO_WAIT]


async def test_a_failed_batch_leaves_the_next_durable_write_durable(any_store: Store) -> None:
    def fails(conn: Conn) -> None:
        conn.execute("SELECT no_such_column FROM accepted")

    with pytest.raises((StoreError, sqlite3.Error)):
        await any_store.write(fails, durable=False)
    assert await any_store.write(setting) == WAITS


async def test_a_claim_is_seen_by_another_gateway_at_once(tmp_path: Path,
                                                          store_url: str) -> None:
    first = await Store.open(tmp_path, store_url)
    second = await Store.open(tmp_path, store_url)
    try:
        claim = await first.claim("k" * 64, "host:1:aa", "Q1", lambda row: False)
        assert claim.won
        seen = await second.accepted("k" * 64)
        assert seen is not None and seen.owner == "host:1:aa"
        # The other gateway's attempt at the same key finds it taken.
        other = await second.claim("k" * 64, "host:2:bb", "Q2", lambda row: False)
        assert not other.won and other.before is not None
        assert other.before.owner == "host:1:aa"
    finally:
        await first.close()
        await second.close()


async def test_a_failed_write_commits_nothing_of_itself(any_store: Store,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    def half_then_fails(conn: Conn) -> None:
        claim_in(conn, "h" * 64, "host:1:aa", "Q1", lambda row: False)
        conn.execute("SELECT no_such_column FROM accepted")

    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with pytest.raises((StoreError, sqlite3.Error)):
                await any_store.write(half_then_fails)
    assert await any_store.accepted("h" * 64) is None
    # The connection went back to its pool with the transaction ended (psycopg_pool warns
    # when it finds one still open).
    assert not [r for r in caplog.records if "rolling back" in r.getMessage()]
    # And the next write on it works.
    claim = await any_store.claim("h" * 64, "host:1:aa", "Q1", lambda row: False)
    assert claim.won
