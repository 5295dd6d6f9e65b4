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
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.store.accepted import Claim, claim_in
from gateway.store.conn import POSTGRESQL, Conn, dialect
from gateway.store.store import Store, StoreError
from tests.support.loop import ticking

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


def remembering(message_id: str):  # type: ignore[no-untyped-def]
    def write(conn: Conn) -> None:
        conn.execute("INSERT INTO thread_messages (message_id, thread_id, stamp, seen_at) "
                     "VALUES (?, ?, NULL, '2026-01-01 00:00:00.000000')",
                     (message_id, message_id))
    return write


def thread_names() -> tuple[list[str], Callable[[Conn], None]]:
    """A write that notes the name of the thread it runs on, and the names it noted."""
    names: list[str] = []

    def noting(conn: Conn) -> None:
        names.append(threading.current_thread().name)

    return names, noting


def remembered(path: Path, message_id: str) -> bool:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT 1 FROM thread_messages WHERE message_id = ?",
                            (message_id,)).fetchone() is not None


async def test_a_claim_with_its_thread_memory_is_one_write_seen_by_all_at_once(
        tmp_path: Path, store_url: str) -> None:
    first = await Store.open(tmp_path, store_url)
    second = await Store.open(tmp_path, store_url)
    try:
        claim, failed = await first.claim_remembering("c" * 64, "host:1:aa", "Q1",
                                                      lambda row: False, remembering("<m1>"))
        assert failed is None and isinstance(claim, Claim) and claim.won
        seen = await second.accepted("c" * 64)
        assert seen is not None and seen.owner == "host:1:aa"
        again, _ = await second.claim_remembering("c" * 64, "host:2:bb", "Q2",
                                                  lambda row: False, remembering("<m2>"))
        assert isinstance(again, Claim) and not again.won
        assert again.before is not None and again.before.owner == "host:1:aa"
    finally:
        await first.close()
        await second.close()


async def test_a_claim_while_another_process_writes_waits_for_it_off_the_event_loop(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    assert store.path is not None
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another gateway process in the middle of a commit
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "COMMIT")
        started = loop.time()
        async with ticking() as ticks:
            claim, failed = await store.claim_remembering("w" * 64, "host:1:aa", "Q1",
                                                          lambda row: False, remembering("<w>"))
        assert failed is None and isinstance(claim, Claim) and claim.won
        assert loop.time() - started >= 0.25  # it waited for the lock...
        assert ticks.count >= 10  # ...while the event loop went on
        assert remembered(store.path, "<w>")
    finally:
        other.close()
        await store.close()


async def test_a_failed_claim_or_thread_memory_write_leaves_nothing_and_says_which(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    assert store.path is not None
    try:
        def broken(conn: Conn) -> None:
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        claim, failed = await store.claim_remembering("f" * 64, "host:1:aa", "Q1",
                                                      lambda row: False, broken)
        # The claim stands alone (the caller lets it go); the thread memory's failure is told.
        assert isinstance(claim, Claim) and claim.won
        assert isinstance(failed, sqlite3.Error | StoreError)
        # A claim that cannot be written is told as the claim's failure.
        with sqlite3.connect(store.path) as conn:
            conn.execute("DROP TABLE accepted")
        claim, failed = await store.claim_remembering("g" * 64, "host:1:aa", "Q1",
                                                      lambda row: False, remembering("<g>"))
        assert isinstance(claim, StoreError)
    finally:
        await store.close()


async def test_on_an_idle_sqlite_store_the_claim_is_written_without_a_hand_over(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    threads, noting = thread_names()
    try:
        claim, failed = await store.claim_remembering("i" * 64, "host:1:aa", "Q1",
                                                      lambda row: False, noting)
        assert failed is None and isinstance(claim, Claim) and claim.won
        assert threads == [threading.current_thread().name]
        # Not waited onto the disk, yet in the file: a fresh connection reads it.
        assert store.path is not None
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("SELECT owner FROM accepted").fetchone() == ("host:1:aa",)
    finally:
        await store.close()


async def test_a_claim_while_other_writes_are_queued_joins_their_commit(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    threads, noting = thread_names()
    release = threading.Event()

    def slow(conn: Conn) -> None:  # another session's write, on the store's thread
        release.wait(5)

    try:
        other = asyncio.create_task(store._write(slow))
        # Queued, not begun yet: the write lock is still free, and the claim joins it all
        # the same (one commit of many writes costs less than many commits of one).
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_later(0.1, release.set)
        claim, failed = await store.claim_remembering("j" * 64, "host:1:aa", "Q1",
                                                      lambda row: False, noting)
        await other
        assert failed is None and isinstance(claim, Claim) and claim.won
        assert threads and threads[0] != threading.current_thread().name
    finally:
        release.set()
        await store.close()
