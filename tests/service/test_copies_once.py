"""A message that goes out as several copies (partners get their own labelled one) over a
real store file: when a later copy fails after the downstream took an earlier one, the retry
sends only the copies that did not go, and the answer counts every recipient reached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.adapters.crypto import NullSealer
from gateway.adapters.delivery import DeliveryError
from gateway.core.acceptance import acceptance_key
from gateway.core.headers import read_header_block
from gateway.milter.listener import MilterEdge
from gateway.policyfiles.load import load_policy
from gateway.service.outcome import Incoming, OutcomeKind
from gateway.service.submit import Submitter
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.store.store import Store
from tests.service.test_acceptance import duplicates, with_id
from tests.support.partners import partner_policies
from tests.support.postgres import TestDatabase

COLLEAGUE = "bob@example.org"
PARTNER = "ana@unhcr.test"
PRESS = "press@example.org"
ADJUST = "Needs adjustment: change name"


@dataclass
class ScriptedDownstream:
    """Answers each transaction as scripted (an error, or None: taken), then takes all;
    ``gate``: the transaction of that number waits for it."""

    script: list[DeliveryError | None] = field(default_factory=list)
    gate_at: int | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    description: str = "scripted"
    calls: int = 0
    deliveries: list[tuple[str, ...]] = field(default_factory=list)

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        self.calls += 1
        if self.calls == self.gate_at:
            self.entered.set()
            await self.gate.wait()
        error = self.script.pop(0) if self.script else None
        if error is not None:
            raise error
        self.deliveries.append(tuple(recipients))

    async def close(self) -> None:
        return None

    def copies_to(self, address: str) -> int:
        return sum(address in recipients for recipients in self.deliveries)


@dataclass
class Rig:
    submitter: Submitter
    store: Store
    downstream: ScriptedDownstream


async def open_rig(tmp_path: Path, data: Path, store_url: str) -> Rig:
    """A submitter with the partners' policy, where partners may also get material that needs
    adjustment (communications and other outside recipients wait for review)."""
    policies = tmp_path / "policies"
    if not policies.exists():
        partner_policies(policies)
        rules = (policies / "rules.toml").read_text()
        (policies / "rules.toml").write_text(rules.replace(
            'external = "hold"\ngroups = { communications = "hold" }',
            'external = "hold"\ngroups = { communications = "hold", partners = "allow" }', 1))
    policy = load_policy(policies)
    settings = Settings(data=data, policies=policies, workers=1)
    store = await Store.open(data, store_url)
    threads = store.thread_memory()
    await threads.open()
    downstream = ScriptedDownstream()
    return Rig(Submitter(settings, lambda: policy, store, threads, downstream, NullSealer()),
               store, downstream)


async def close_rig(rig: Rig) -> None:
    await rig.submitter.threads.close()
    await rig.store.close()


@pytest.fixture
async def rig(tmp_path: Path, store_url: str) -> AsyncIterator[Rig]:
    opened = await open_rig(tmp_path, tmp_path / "var", store_url)
    yield opened
    await close_rig(opened)


async def test_the_retry_of_a_partly_held_message_sends_only_the_copy_that_failed(
        rig: Rig) -> None:
    rig.downstream.script = [None, DeliveryError(True, "451 4.3.0 busy", 451)]
    counted = duplicates()
    request = with_id(ADJUST, COLLEAGUE, PARTNER, PRESS)
    first = await rig.submitter.submit(request)
    assert first.kind is OutcomeKind.DEFERRED and first.reached == (COLLEAGUE,)
    assert replies.for_outcome(first) == (
        "451-4.4.1 Message not accepted: onward delivery failed (451 4.3.0 busy); try again "
        f"later\r\n451 4.4.1 Delivered already to <{COLLEAGUE}>: a retry goes only to the "
        "others")
    assert rig.downstream.deliveries == [(COLLEAGUE,)]
    assert await rig.store.held(None) == []  # no 250: the hold is withdrawn
    retry = await rig.submitter.submit(request)
    assert retry.kind is OutcomeKind.PARTLY_HELD and retry.queue_id == first.queue_id
    # the answer counts everyone the message reached, the colleague included
    assert replies.for_outcome(retry) == (
        f"250 2.0.0 Ok: queued as {first.queue_id}; delivered to 2 recipient(s), held for "
        f"review as {retry.hold_id} for 1 recipient(s)")
    assert rig.downstream.deliveries == [(COLLEAGUE,), (PARTNER,)]
    assert len(await rig.store.held()) == 1
    assert duplicates() == counted  # nothing was sent twice, nothing may have been
    again = await rig.submitter.submit(request)
    assert again.repeated and replies.for_outcome(again) == replies.for_outcome(retry)
    assert len(rig.downstream.deliveries) == 2


async def test_the_retry_skips_whom_it_reached_whatever_the_case_order_and_copies(
        rig: Rig, tmp_path: Path) -> None:
    """The retry lists the recipients in another order and case (the same message), and
    partners' labels were switched off meanwhile (one copy for all): only the partner's
    address is handed over."""
    rig.downstream.script = [None, DeliveryError(True, "451 4.3.0 busy", 451)]
    first = await rig.submitter.submit(with_id(ADJUST, COLLEAGUE, PARTNER))
    assert first.kind is OutcomeKind.DEFERRED
    (tmp_path / "policies" / "partners.toml").write_text("")
    policy = load_policy(tmp_path / "policies")
    rig.submitter.policy = lambda: policy
    retry = await rig.submitter.submit(with_id(ADJUST, PARTNER.upper(), "Bob@example.org"))
    assert retry.kind is OutcomeKind.RELAYED and retry.queue_id == first.queue_id
    assert rig.downstream.deliveries == [(COLLEAGUE,), (PARTNER.split("@")[0].upper()
                                                       + "@unhcr.test",)]


async def test_a_later_copy_whose_answer_never_came_is_sent_again_and_counted(
        rig: Rig) -> None:
    rig.downstream.script = [None, DeliveryError(True, "no answer to the message",
                                                 uncertain=True)]
    counted = duplicates("gave-up")
    request = with_id(ADJUST, COLLEAGUE, PARTNER)
    first = await rig.submitter.submit(request)
    assert first.kind is OutcomeKind.DEFERRED and first.reached == (COLLEAGUE,)
    retry = await rig.submitter.submit(request)
    assert retry.kind is OutcomeKind.RELAYED and retry.delivered == 2
    assert rig.downstream.copies_to(COLLEAGUE) == 1
    assert rig.downstream.deliveries[-1] == (PARTNER,)
    assert duplicates("gave-up") == counted + 1  # the partner's copy may have gone before


async def test_a_client_that_hangs_up_between_copies_gets_only_the_rest_on_its_retry(
        rig: Rig) -> None:
    rig.downstream.gate_at = 2  # the colleague's copy is taken; the partner's waits
    request = with_id(ADJUST, COLLEAGUE, PARTNER)
    first = asyncio.create_task(rig.submitter.submit(request))
    await asyncio.wait_for(rig.downstream.entered.wait(), 10)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    rig.downstream.gate.set()
    counted = duplicates("gave-up")
    for _ in range(50):  # the claim is given up in the background
        retry = await rig.submitter.submit(request)
        if retry.kind is not OutcomeKind.IN_PROGRESS:
            break
        await asyncio.sleep(0.02)
    assert retry.kind is OutcomeKind.RELAYED and retry.delivered == 2
    assert rig.downstream.deliveries == [(COLLEAGUE,), (PARTNER,)]
    assert duplicates("gave-up") == counted + 1  # the partner's copy was at the downstream


async def test_copies_refused_for_good_do_not_stop_the_rest_and_are_named(rig: Rig) -> None:
    refusal = DeliveryError(False, "downstream refused <ana@unhcr.test>: 550 5.1.1 unknown",
                            550)
    rig.downstream.script = [refusal, None]
    request = with_id(ADJUST, PARTNER, COLLEAGUE)  # the partner's copy first
    first = await rig.submitter.submit(request)
    assert first.kind is OutcomeKind.DOWNSTREAM_REFUSED
    assert (first.reached, first.refused) == ((COLLEAGUE,), (PARTNER,))
    assert replies.for_outcome(first) == (
        f"550-5.0.0 Downstream refused the message for <{PARTNER}>: {refusal.detail}\r\n"
        f"550-5.0.0 It was delivered to <{COLLEAGUE}>; nobody else got it\r\n"
        "550 5.0.0 Sent again unchanged, it goes only to those it did not reach")
    retry = await rig.submitter.submit(request)
    assert retry.kind is OutcomeKind.RELAYED and retry.delivered == 2
    assert rig.downstream.deliveries == [(COLLEAGUE,), (PARTNER,)]


async def test_a_refusal_with_nothing_delivered_is_answered_as_before(rig: Rig) -> None:
    refusal = DeliveryError(False, "554 5.6.0 rejected", 554)
    rig.downstream.script = [refusal, refusal]
    request = with_id(ADJUST, COLLEAGUE, PARTNER)
    first = await rig.submitter.submit(request)
    assert first.reached == () and first.refused == (COLLEAGUE, PARTNER)
    assert replies.for_outcome(first) == replies.downstream_refused(554, refusal.detail)
    assert await rig.store.accepted(
        acceptance_key(read_header_block(request.data), request.data, request.sender,
                       request.recipients).digest) is None  # a retry starts afresh


async def test_the_milter_hands_its_one_copy_over_whatever_went_before(rig: Rig) -> None:
    """Behind a milter the MTA delivers one copy to all once the milter answers: a claim
    whose relayed copies went (the relay and the milter sharing a store) cannot take some
    recipients off it, so the copy is handed over whole, and counted."""
    request: Incoming = with_id(ADJUST, COLLEAGUE, PARTNER)
    key = acceptance_key(read_header_block(request.data), request.data, request.sender,
                         request.recipients)
    await rig.store.claim(key.digest, "relay:1:x", "QRELAY", lambda row: False)
    await rig.store.abandon_claim(key.digest, "relay:1:x", maybe_delivered=False,
                                  hold_gone=False, delivered_to=[COLLEAGUE])
    counted = duplicates("gave-up")
    outcome, data = await MilterEdge(rig.submitter).submit(request)
    assert outcome.kind is OutcomeKind.RELAYED and outcome.queue_id == "QRELAY"
    assert data is not None and b"X-Stamp: needs_adjustment" in data
    assert duplicates("gave-up") == counted + 1
    assert rig.downstream.calls == 0  # the MTA delivers, never the relay's downstream


async def test_the_retry_on_another_gateway_sharing_the_store_sends_only_the_rest(
        tmp_path: Path, postgres: TestDatabase) -> None:
    url = postgres.new_schema()
    first_gateway = await open_rig(tmp_path, tmp_path / "a", url)
    second_gateway = await open_rig(tmp_path, tmp_path / "b", url)
    try:
        first_gateway.downstream.script = [None, DeliveryError(True, "451 4.3.0 busy", 451)]
        request = with_id(ADJUST, COLLEAGUE, PARTNER, PRESS)
        first = await first_gateway.submitter.submit(request)
        assert first.kind is OutcomeKind.DEFERRED and first.reached == (COLLEAGUE,)
        retry = await second_gateway.submitter.submit(request)
        assert retry.kind is OutcomeKind.PARTLY_HELD and retry.queue_id == first.queue_id
        assert retry.delivered == 2 and retry.held == 1
        assert first_gateway.downstream.deliveries == [(COLLEAGUE,)]
        assert second_gateway.downstream.deliveries == [(PARTNER,)]
        again = await first_gateway.submitter.submit(request)
        assert again.repeated and again.hold_id == retry.hold_id
        assert first_gateway.downstream.calls == 2 and second_gateway.downstream.calls == 1
    finally:
        await close_rig(first_gateway)
        await close_rig(second_gateway)
