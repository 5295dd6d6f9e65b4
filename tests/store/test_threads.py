"""Thread memory: every referenced id counts, and the strictest known thread wins."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.core.decision import Decision
from gateway.core.model import Stamp
from gateway.store.store import Store
from gateway.store.threads import LOOKUP_CHUNK, ThreadMemory


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
