"""Idempotent acceptance on a PostgreSQL store, where no look-up comes before the reading: the
claim finds the earlier attempt (``Acceptance.earlier``). A retry still gets the same answer
and causes nothing twice; a retry while the first attempt is at work is told to come back,
also when that attempt runs on another gateway sharing the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.adapters.crypto import NullSealer
from gateway.core.policy import Policy
from gateway.service.outcome import OutcomeKind
from gateway.service.submit import Submitter
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.store.store import Store
from tests.service.test_acceptance import CLEARED, GatedDownstream, repeated, with_id
from tests.service.test_submit import ADJUST, COLLEAGUE, PARTNER, RecordingDownstream, Rig, policy
from tests.support.gateway import EXAMPLE_POLICIES
from tests.support.postgres import TestDatabase

__all__ = ["policy"]


async def _rig(tmp_path: Path, url: str, policy: Policy) -> Rig:
    settings = Settings(data=tmp_path, policies=EXAMPLE_POLICIES, workers=1)
    store = await Store.open(tmp_path, url)
    threads = store.thread_memory()
    await threads.open()
    submitter = Submitter(settings, lambda: policy, store, threads, RecordingDownstream(),
                          NullSealer())
    return Rig(submitter, store, submitter.downstream)  # type: ignore[arg-type]


async def _close(rig: Rig) -> None:
    await rig.submitter.threads.close()
    await rig.store.close()


@pytest.fixture
async def url(postgres: TestDatabase) -> str:
    return postgres.new_schema()


@pytest.fixture
async def pg_rig(tmp_path: Path, url: str, policy: Policy) -> AsyncIterator[Rig]:
    rig = await _rig(tmp_path / "a", url, policy)
    yield rig
    await _close(rig)


@pytest.mark.parametrize(("first_line", "recipients", "kind", "delivered", "held"), [
    (CLEARED, (PARTNER,), OutcomeKind.RELAYED, 1, 0),
    (ADJUST, (PARTNER,), OutcomeKind.HELD, 0, 1),
    (ADJUST, (COLLEAGUE, PARTNER), OutcomeKind.PARTLY_HELD, 1, 1),
])
async def test_the_same_message_twice_gets_the_same_answer_and_is_acted_on_once(
        pg_rig: Rig, first_line: str, recipients: tuple[str, ...], kind: OutcomeKind,
        delivered: int, held: int) -> None:
    before = repeated("same")
    first = await pg_rig.submitter.submit(with_id(first_line, *recipients))
    second = await pg_rig.submitter.submit(with_id(first_line, *reversed(recipients),
                                                   headers={"Received": "from relay.test"}))
    assert first.kind is kind and second.kind is kind
    assert not first.repeated and second.repeated
    assert replies.for_outcome(second) == replies.for_outcome(first)
    assert (second.queue_id, second.hold_id) == (first.queue_id, first.hold_id)
    assert len(pg_rig.downstream.deliveries) == delivered
    assert len(await pg_rig.store.held(None)) == held
    assert repeated("same") == before + 1


async def test_a_retry_on_another_gateway_while_the_first_is_at_work_comes_back_later(
        tmp_path: Path, url: str, policy: Policy) -> None:
    first_gateway = await _rig(tmp_path / "a", url, policy)
    second_gateway = await _rig(tmp_path / "b", url, policy)
    # Two machines: a claim from another host is live until its time runs out.
    second_gateway.submitter.acceptance.host = "node-b.test"
    try:
        gated = GatedDownstream()
        first_gateway.submitter.downstream = gated
        first = asyncio.create_task(first_gateway.submitter.submit(with_id(CLEARED, PARTNER)))
        await asyncio.wait_for(gated.entered.wait(), 10)
        busy = await second_gateway.submitter.submit(with_id(CLEARED, PARTNER))
        assert busy.kind is OutcomeKind.IN_PROGRESS
        assert replies.for_outcome(busy) == replies.IN_PROGRESS
        gated.gate.set()
        done = await first
        later = await second_gateway.submitter.submit(with_id(CLEARED, PARTNER))
        assert later.repeated and later.queue_id == done.queue_id
        assert len(gated.deliveries) == 1
        assert second_gateway.downstream.deliveries == []
    finally:
        await _close(first_gateway)
        await _close(second_gateway)
