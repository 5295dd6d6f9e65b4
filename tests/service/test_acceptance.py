"""Idempotent acceptance in ``service.submit``: a retry of a message already held or relayed
gets the same answer and causes nothing twice; the one SMTP gap is counted."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from gateway.adapters.delivery import DeliveryError
from gateway.service import metrics
from gateway.service.housekeeping import ReviewTasks
from gateway.service.outcome import Incoming, OutcomeKind
from gateway.smtp import replies
from gateway.store.accepted import AcceptedState
from gateway.store.records import now
from gateway.store.store import HeldState
from tests.service.test_submit import ADJUST, COLLEAGUE, PARTNER, Rig, policy, rig
from tests.support.gateway import message

__all__ = ["policy", "rig"]
CLEARED = "Cleared for publication"


def duplicates(earlier: str | None = None) -> float:
    return sum(metrics.REGISTRY.get_sample_value(
        "stampgate_possible_duplicate_deliveries_total", {"earlier": label}) or 0.0
        for label in ("died", "gave-up") if earlier in (None, label))


def repeated(answer: str) -> float:
    return metrics.REGISTRY.get_sample_value(
        "stampgate_repeated_messages_total", {"answer": answer}) or 0.0


def with_id(first_line: str, *recipients: str, message_id: str = "<m1@example.org>",
            headers: dict[str, str] | None = None) -> Incoming:
    data = message(f"{first_line}\n\nA client's story.\n", to=", ".join(recipients),
                   message_id=message_id, headers=headers)
    return Incoming("alice@example.org", recipients, data, "127.0.0.1", "client.test")


async def accepted_rows(rig: Rig) -> list[tuple[str, str | None]]:
    """The accepted table as another connection sees it (committed rows only)."""
    with contextlib.closing(sqlite3.connect(rig.store.path)) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT state, hold_id FROM accepted")]


@pytest.mark.parametrize(("first_line", "recipients", "kind", "delivered", "held"), [
    (CLEARED, (PARTNER,), OutcomeKind.RELAYED, 1, 0),
    (ADJUST, (PARTNER,), OutcomeKind.HELD, 0, 1),
    (ADJUST, (COLLEAGUE, PARTNER), OutcomeKind.PARTLY_HELD, 1, 1),
])
async def test_the_same_message_twice_gets_the_same_answer_and_is_acted_on_once(
        rig: Rig, first_line: str, recipients: tuple[str, ...], kind: OutcomeKind,
        delivered: int, held: int) -> None:
    before = repeated("same")
    first = await rig.submitter.submit(with_id(first_line, *recipients))
    # the retry went through another relay on its way: a trace field more, same message
    second = await rig.submitter.submit(with_id(first_line, *reversed(recipients),
                                                headers={"Received": "from relay.test"}))
    assert first.kind is kind and second.kind is kind
    assert not first.repeated and second.repeated
    assert replies.for_outcome(second) == replies.for_outcome(first)
    assert (second.queue_id, second.hold_id) == (first.queue_id, first.hold_id)
    assert len(rig.downstream.deliveries) == delivered
    assert len(await rig.store.held(None)) == held
    assert repeated("same") == before + 1
    assert await accepted_rows(rig) == [(AcceptedState.ANSWERED.value, first.hold_id)]


async def test_another_recipient_or_another_body_is_another_message(rig: Rig) -> None:
    await rig.submitter.submit(with_id(CLEARED, PARTNER))
    other_rcpt = await rig.submitter.submit(with_id(CLEARED, PARTNER, COLLEAGUE))
    changed = with_id(CLEARED, PARTNER)
    other_body = await rig.submitter.submit(Incoming(
        changed.sender, changed.recipients, changed.data.replace(b"story", b"tale"),
        changed.peer, changed.helo))
    assert not other_rcpt.repeated and not other_body.repeated
    assert len(rig.downstream.deliveries) == 3


async def test_without_a_message_id_the_whole_message_is_the_key(rig: Rig) -> None:
    plain = Incoming("alice@example.org", (PARTNER,),
                     message(f"{CLEARED}\n\nA client's story.\n", unique=False),
                     "127.0.0.1", "client.test")
    first = await rig.submitter.submit(plain)
    second = await rig.submitter.submit(plain)
    assert second.repeated and second.queue_id == first.queue_id
    [(_, _, relayed)] = rig.downstream.deliveries
    assert b"Message-ID: <sg." in relayed
    # another Date, say: another message
    third = await rig.submitter.submit(Incoming(
        plain.sender, plain.recipients, plain.data.replace(b"10:00:00", b"10:00:01"),
        plain.peer, plain.helo))
    assert not third.repeated and len(rig.downstream.deliveries) == 2


@dataclass
class GatedDownstream:
    """Waits for ``gate`` before taking each message."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    description: str = "gated"
    deliveries: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        self.entered.set()
        await self.gate.wait()
        self.deliveries.append((sender, tuple(recipients), data))

    async def close(self) -> None:
        return None


async def test_a_retry_while_the_first_attempt_is_at_work_is_told_to_come_back(rig: Rig) -> None:
    gated = GatedDownstream()
    rig.submitter.downstream = gated
    first = asyncio.create_task(rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER)))
    await asyncio.wait_for(gated.entered.wait(), 10)
    busy = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert busy.kind is OutcomeKind.IN_PROGRESS
    assert replies.for_outcome(busy) == replies.IN_PROGRESS
    assert replies.IN_PROGRESS.startswith("451 4.")
    gated.gate.set()
    done = await first
    later = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert later.repeated and later.hold_id == done.hold_id
    assert len(gated.deliveries) == 1 and len(await rig.store.held(None)) == 1


async def test_a_client_that_hangs_up_mid_delivery_gets_its_hold_on_the_retry(rig: Rig) -> None:
    """Cancelled after the hold and while the allowed part was with the downstream: the
    retry finishes the work with the same hold, and its delivery is counted."""
    gated = GatedDownstream()
    rig.submitter.downstream = gated
    first = asyncio.create_task(rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER)))
    await asyncio.wait_for(gated.entered.wait(), 10)
    [hold] = await rig.store.held()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    counted = duplicates("gave-up")
    gated.gate.set()
    for _ in range(50):  # the claim is given up in the background
        retry = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
        if retry.kind is not OutcomeKind.IN_PROGRESS:
            break
        await asyncio.sleep(0.02)
    assert retry.kind is OutcomeKind.PARTLY_HELD and retry.hold_id == hold.id
    assert retry.queue_id == hold.queue_id and not retry.repeated
    assert len(await rig.store.held(None)) == 1
    assert len(gated.deliveries) == 1
    assert duplicates("gave-up") == counted + 1  # the first copy may have arrived: counted


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
async def test_a_claim_left_by_a_dead_process_is_taken_over(rig: Rig, reaped: bool) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    if reaped:
        dead.wait()
    else:  # dead but not reaped (a container whose init does not reap)
        for _ in range(200):
            with open(f"/proc/{dead.pid}/stat", "rb") as stat:
                if stat.read().rpartition(b")")[2].split()[0] == b"Z":
                    break
            await asyncio.sleep(0.02)
    owner = f"{rig.submitter.acceptance.host}:{dead.pid}:gone"
    request = with_id(CLEARED, PARTNER)
    from gateway.core.acceptance import acceptance_key
    from gateway.core.headers import read_header_block
    key = acceptance_key(read_header_block(request.data), request.data, request.sender,
                         request.recipients)
    claim = await rig.store.claim(key.digest, owner, "QDEAD", lambda row: False)
    assert claim.won
    counted = duplicates("died")
    outcome = await rig.submitter.submit(request)
    assert outcome.kind is OutcomeKind.RELAYED and outcome.queue_id == "QDEAD"
    assert duplicates("died") == counted + 1
    assert len(rig.downstream.deliveries) == 1
    dead.wait()


async def test_a_live_claim_of_another_process_is_respected(rig: Rig) -> None:
    """A claim of a running process (another worker at work on the message) is not taken."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        request = with_id(CLEARED, PARTNER)
        from gateway.core.acceptance import acceptance_key
        from gateway.core.headers import read_header_block
        key = acceptance_key(read_header_block(request.data), request.data, request.sender,
                             request.recipients)
        owner = f"{rig.submitter.acceptance.host}:{alive.pid}:at-work"
        assert (await rig.store.claim(key.digest, owner, "QLIVE", lambda row: False)).won
        outcome = await rig.submitter.submit(request)
        assert outcome.kind is OutcomeKind.IN_PROGRESS and rig.downstream.deliveries == []
    finally:
        alive.kill()
        alive.wait()
    outcome = await rig.submitter.submit(request)  # its process is gone now
    assert outcome.kind is OutcomeKind.RELAYED and outcome.queue_id == "QLIVE"


async def test_a_definite_downstream_refusal_lets_the_retry_start_afresh(rig: Rig) -> None:
    rig.downstream.refuse = DeliveryError(True, "451 busy", 451)
    counted = duplicates()
    refused = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert refused.kind is OutcomeKind.DEFERRED
    assert await accepted_rows(rig) == [] and await rig.store.held(None) == []
    rig.downstream.refuse = None
    retry = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert retry.kind is OutcomeKind.PARTLY_HELD and not retry.repeated
    assert duplicates() == counted  # nothing could have arrived the first time


async def test_an_answer_that_never_came_makes_the_retry_a_counted_possible_duplicate(
        rig: Rig) -> None:
    rig.downstream.refuse = DeliveryError(True, "no answer to the message", uncertain=True)
    counted = duplicates("gave-up")
    first = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert first.kind is OutcomeKind.DEFERRED
    assert await rig.store.held(None) == []  # the client got 451: the hold is withdrawn
    assert await accepted_rows(rig) == [(AcceptedState.CLAIMED.value, None)]
    rig.downstream.refuse = None
    retry = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert retry.kind is OutcomeKind.PARTLY_HELD and retry.queue_id == first.queue_id
    assert len(await rig.store.held(None)) == 1
    assert duplicates("gave-up") == counted + 1


async def test_housekeeping_forgets_answers_after_the_retention_window(rig: Rig) -> None:
    settings = rig.submitter.settings
    assert settings.accepted_retention_days == 7.0
    first = await rig.submitter.submit(with_id(ADJUST, PARTNER))
    tasks = ReviewTasks(rig.store, rig.downstream, settings, rig.submitter.policy,
                        rig.submitter.sealer, rig.submitter.threads)
    await tasks.housekeep(now() + dt.timedelta(days=6))
    assert len(await accepted_rows(rig)) == 1
    assert (await rig.submitter.submit(with_id(ADJUST, PARTNER))).repeated
    await tasks.housekeep(now() + dt.timedelta(days=7, minutes=1))
    assert await accepted_rows(rig) == []
    # long after: the same message is a new one (its first hold is still there)
    again = await rig.submitter.submit(with_id(ADJUST, PARTNER))
    assert not again.repeated and again.hold_id != first.hold_id
    assert [h.state for h in await rig.store.held(None)] == [HeldState.HELD] * 2


async def test_pruning_is_bounded_per_run(rig: Rig) -> None:
    for n in range(5):
        await rig.store.claim(f"k{n}", "h:1:x", "Q", lambda row: False)
    later = now() + dt.timedelta(days=8)
    assert await rig.store.prune_accepted(later, limit=2) == 2
    assert await rig.store.prune_accepted(later, limit=10) == 3
    assert await rig.store.count_accepted() == 0
