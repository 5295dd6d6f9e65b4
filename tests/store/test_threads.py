"""Thread memory: every referenced id counts, and the strictest known thread wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.core.decision import Decision
from gateway.core.model import Stamp
from gateway.store.store import Store
from gateway.store.threads import LOOKUP_CHUNK, ThreadMemory
from tests.support.postgres import TestDatabase


def relayed(stamp: Stamp | None, sender: str = "alice@example.org") -> Decision:
    return Decision(stamp=stamp, found_in=(), recipients=(), rules=(), reasons=(),
                    policy_version="v1", sender=sender)


@pytest.fixture
async def memory(any_store: Store) -> AsyncIterator[ThreadMemory]:
    threads = any_store.thread_memory()
    await threads.open()
    yield threads
    await threads.close()


def unknown(count: int) -> list[str]:
    return [f"<unknown-{i}@elsewhere.test>" for i in range(count)]


async def test_a_confidential_parent_after_150_unknown_ids_and_a_cleared_thread(
        memory: ThreadMemory) -> None:
    await memory.remember("<cleared@example.org>", relayed(Stamp.CLEARED), [])
    await memory.remember("<secret@example.org>", relayed(Stamp.CONFIDENTIAL),
                          ["bob@example.org"])
    ids = ["<cleared@example.org>", *unknown(150), "<secret@example.org>"]
    thread = await memory.thread_for(ids)
    assert thread is not None
    assert (thread.thread_id, thread.stamp) == ("<secret@example.org>", Stamp.CONFIDENTIAL)
    assert thread.participants == frozenset({"alice@example.org", "bob@example.org"})


async def test_ids_beyond_one_query_are_looked_up_too(memory: ThreadMemory) -> None:
    await memory.remember("<secret@example.org>", relayed(Stamp.CONFIDENTIAL), [])
    thread = await memory.thread_for([*unknown(3 * LOOKUP_CHUNK + 7), "<secret@example.org>"])
    assert thread is not None and thread.stamp is Stamp.CONFIDENTIAL


async def test_equally_strict_threads_go_to_the_nearest_parent(memory: ThreadMemory) -> None:
    await memory.remember("<far@example.org>", relayed(Stamp.INTERNAL), [])
    await memory.remember("<near@example.org>", relayed(Stamp.INTERNAL), [])
    thread = await memory.thread_for(["<near@example.org>", *unknown(5), "<far@example.org>"])
    assert thread is not None and thread.thread_id == "<near@example.org>"


async def test_a_stricter_thread_further_up_beats_an_unstamped_parent(
        memory: ThreadMemory) -> None:
    await memory.remember("<plain@example.org>", relayed(None), [])
    await memory.remember("<internal@example.org>", relayed(Stamp.INTERNAL), [])
    thread = await memory.thread_for(["<plain@example.org>", "<internal@example.org>"])
    assert thread is not None and thread.stamp is Stamp.INTERNAL


async def test_only_unknown_ids_belong_to_no_thread(memory: ThreadMemory) -> None:
    assert await memory.thread_for(unknown(200)) is None
    assert await memory.thread_for([]) is None


async def test_released_recipients_join_the_chain(memory: ThreadMemory) -> None:
    await memory.remember("<secret@example.org>", relayed(Stamp.CONFIDENTIAL), [])
    await memory.add_participants("<secret@example.org>", ["Carol@Example.org", ""])
    thread = await memory.thread_for(["<secret@example.org>"])
    assert thread is not None and thread.participants == frozenset(
        {"alice@example.org", "carol@example.org"})


async def test_two_gateways_remember_one_new_thread_at_the_same_moment(
        postgres: TestDatabase) -> None:
    """The per-thread lock: without it both would insert the thread and one would fail."""
    url = postgres.new_schema()
    stores = [await Store.open(Path("unused"), url) for _ in range(2)]
    memories = [store.thread_memory() for store in stores]
    try:
        for memory in memories:
            await memory.open()
        root = "<root@example.org>"
        senders = [f"staff{i}@example.org" for i in range(24)]
        await asyncio.gather(*(
            memories[i % 2].remember(f"<m{i}@example.org>", replace(
                relayed(Stamp.INTERNAL if i % 3 else Stamp.CONFIDENTIAL, sender),
                thread_id=root), [])
            for i, sender in enumerate(senders)))
        for memory in memories:
            thread = await memory.thread_for([f"<m{i}@example.org>" for i in range(24)])
            assert thread is not None
            assert (thread.thread_id, thread.stamp) == (root, Stamp.CONFIDENTIAL)
            # every confidential message's sender is in, whoever won the race to the thread
            assert thread.participants is not None
            assert {s for i, s in enumerate(senders) if i % 3 == 0} <= thread.participants
    finally:
        for memory, store in zip(memories, stores, strict=True):
            await memory.close()
            await store.close()
