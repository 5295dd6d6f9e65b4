"""``service.submit`` in-process: one message in, one outcome out, over a real store file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.adapters.crypto import NullSealer
from gateway.adapters.delivery import DeliveryError
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.core.stamps import Vocabulary
from gateway.policyfiles.load import load_policy
from gateway.service.outcome import Incoming, InputProblem, OutcomeKind
from gateway.service.reading import MessageReader, Read, read_now
from gateway.service.submit import Submitter
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.store.store import HeldState, Store, StoreError
from gateway.store.threads import ThreadMemory
from tests.support.documents import mail, pdf
from tests.support.gateway import EXAMPLE_POLICIES, message

PARTNER = "partner@outside.test"
COLLEAGUE = "bob@example.org"
PRESS = "press@example.org"
ADJUST = "Needs adjustment in 2 ways: blur face, change name"


@dataclass
class RecordingDownstream:
    """Takes every message, or refuses each with the error it is given."""

    refuse: DeliveryError | None = None
    description: str = "recording"
    deliveries: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.deliveries.append((sender, tuple(recipients), data))

    async def close(self) -> None:
        return None


@dataclass
class Rig:
    submitter: Submitter
    store: Store
    downstream: RecordingDownstream


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(EXAMPLE_POLICIES)


@pytest.fixture
async def rig(tmp_path: Path, policy: Policy) -> AsyncIterator[Rig]:
    settings = Settings(data=tmp_path, policies=EXAMPLE_POLICIES, workers=1)
    store = await Store.open(tmp_path)
    threads = ThreadMemory(store.path, store.write)
    await threads.open()
    downstream = RecordingDownstream()
    yield Rig(Submitter(settings, lambda: policy, store, threads, downstream, NullSealer()),
              store, downstream)
    await threads.close()
    await store.close()


def incoming(first_line: str, *recipients: str, data: bytes | None = None) -> Incoming:
    body = message(f"{first_line}\n\nA client's story.\n", sender="alice@example.org",
                   to=", ".join(recipients))
    return Incoming(sender="alice@example.org", recipients=recipients,
                    data=body if data is None else data, peer="127.0.0.1", helo="client.test")


CASES = [
    # first line, recipients, kind, delivered to, held for, reply starts with
    ("Cleared for publication", (PARTNER,), OutcomeKind.RELAYED, (PARTNER,), (),
     "250 2.0.0 Ok: queued as"),
    ("Internal", (COLLEAGUE, PARTNER), OutcomeKind.BOUNCED, (), (), "550-5.7.1"),
    (ADJUST, (PARTNER,), OutcomeKind.HELD, (), (PARTNER,), "250 2.0.0 Ok: held for review"),
    (ADJUST, (COLLEAGUE, PARTNER), OutcomeKind.PARTLY_HELD, (COLLEAGUE,), (PARTNER,),
     "250 2.0.0 Ok: queued as"),
    ("", (PRESS,), OutcomeKind.BOUNCED, (), (), "550-5.7.1"),
]


@pytest.mark.parametrize(("first_line", "recipients", "kind", "delivered", "held", "reply"),
                         CASES)
async def test_each_verdict_becomes_its_outcome(
        rig: Rig, first_line: str, recipients: tuple[str, ...], kind: OutcomeKind,
        delivered: tuple[str, ...], held: tuple[str, ...], reply: str) -> None:
    outcome = await rig.submitter.submit(incoming(first_line, *recipients))
    assert outcome.kind is kind
    assert [d[1] for d in rig.downstream.deliveries] == ([delivered] if delivered else [])
    holds = await rig.store.held(HeldState.HELD)
    assert [h.held_recipients for h in holds] == ([held] if held else [])
    if held:
        assert outcome.hold_id == holds[0].id and outcome.held == len(held)
        assert holds[0].decision == outcome.decision  # the typed decision survives the store
    assert outcome.delivered == len(delivered)
    assert replies.for_outcome(outcome).startswith(reply)


async def test_relayed_mail_carries_the_trace_and_the_stamp(rig: Rig) -> None:
    outcome = await rig.submitter.submit(incoming("Cleared for publication", PARTNER))
    [(_, _, relayed)] = rig.downstream.deliveries
    assert relayed.startswith(b"Received: from client.test ([127.0.0.1])")
    assert f"with ESMTP id {outcome.queue_id}".encode() in relayed
    assert b"X-Stamp: cleared\r\n" in relayed


@pytest.mark.parametrize(("temporary", "code", "kind", "reply"), [
    (True, 451, OutcomeKind.DEFERRED, "451 4.4.1 Message not accepted: onward delivery failed"),
    (False, 550, OutcomeKind.DOWNSTREAM_REFUSED, "550 5.0.0 Downstream refused the message"),
])
async def test_downstream_trouble_withdraws_the_hold(
        rig: Rig, temporary: bool, code: int, kind: OutcomeKind, reply: str) -> None:
    rig.downstream.refuse = DeliveryError(temporary, f"{code} mailbox busy", code)
    outcome = await rig.submitter.submit(incoming(ADJUST, COLLEAGUE, PARTNER))
    assert outcome.kind is kind
    assert replies.for_outcome(outcome).startswith(reply)
    # Nothing was accepted, so nothing stays held: the client's retry starts afresh.
    assert await rig.store.held(None) == []
    actions = [e["action"] for e in await rig.store.audit_entries()]
    assert actions == ["hold", "hold-withdrawn"]


async def test_a_store_failure_is_a_temporary_refusal(rig: Rig) -> None:
    async def failing(*args: object, **kwargs: object) -> str:
        raise StoreError("disk full")

    # A wholly held message's claim, thread memory and hold are one write.
    rig.submitter.store.claim_and_hold = failing  # type: ignore[method-assign]
    outcome = await rig.submitter.submit(incoming(ADJUST, PARTNER))
    assert outcome.kind is OutcomeKind.STORE_FAILED and outcome.during == "hold"
    assert replies.for_outcome(outcome) == replies.store_failed("hold")
    assert "while storing the hold for review" in replies.for_outcome(outcome)
    assert rig.downstream.deliveries == []


async def test_a_relay_whose_store_fails_does_not_speak_of_the_hold_queue(rig: Rig) -> None:
    def failing(*args: object, **kwargs: object) -> Callable[[object], None]:
        def write(conn: object) -> None:  # the thread memory's write, wherever it is made
            raise StoreError("database or disk is full")

        return write

    rig.submitter.threads.remembering = failing  # type: ignore[method-assign]
    outcome = await rig.submitter.submit(incoming("Cleared for publication", PARTNER))
    reply = replies.for_outcome(outcome)
    assert reply.startswith("451 4.3.0") and "while recording the thread" in reply, reply
    assert "hold" not in reply
    assert rig.downstream.deliveries == []


def folded_header(size: int) -> bytes:
    fold = b"\r\n\tx"
    return (b"From: alice@example.org\r\nTo: partner@outside.test\r\nX-Long: start"
            + fold * (size // len(fold)) + b"\r\nSubject: x\r\n\r\nCleared for publication\r\n")


@pytest.mark.parametrize(("size", "refused"), [
    (90 * 1024, False), (101 * 1024, True), (18_000_000, True)])
async def test_a_header_block_over_max_header_size_is_refused_unread(
        rig: Rig, size: int, refused: bool) -> None:
    outcome = await rig.submitter.submit(incoming("", PARTNER, data=folded_header(size)))
    if not refused:
        assert outcome.kind is OutcomeKind.RELAYED
        return
    assert (outcome.kind, outcome.problem) == (OutcomeKind.REFUSED_INPUT,
                                               InputProblem.HEADER_TOO_BIG)
    assert replies.for_outcome(outcome) == replies.HEADER_TOO_BIG.format(limit=102400)
    assert replies.for_outcome(outcome).startswith("552 5.3.4 Message refused: its header")
    assert rig.downstream.deliveries == []


@pytest.mark.parametrize(("data", "problem", "reply"), [
    (b"Subject: x\r\n\r\nA\0B\r\n", InputProblem.NUL, replies.NUL_IN_DATA),
    (b"Subject: x\r\n\r\nbare\nline\r\n", InputProblem.BARE_LINE_ENDING,
     replies.BARE_LINE_ENDING),
])
async def test_bytes_no_client_may_send_are_refused_unread(
        rig: Rig, data: bytes, problem: InputProblem, reply: str) -> None:
    outcome = await rig.submitter.submit(incoming("Cleared for publication", PARTNER, data=data))
    assert (outcome.kind, outcome.problem) == (OutcomeKind.REFUSED_INPUT, problem)
    assert replies.for_outcome(outcome) == reply
    assert rig.downstream.deliveries == []


async def test_the_reading_goes_through_the_submitters_reader(rig: Rig) -> None:
    """Submit reads each message only through its ``MessageReader`` (inline or in a process)."""
    seen: list[int] = []

    def counting(data: bytes, vocabulary: Vocabulary) -> Read:
        seen.append(len(data))
        return read_now(data, vocabulary)

    rig.submitter.reader = MessageReader(read_inline=counting)
    request = incoming("Cleared for publication", PARTNER)
    await rig.submitter.submit(request)
    assert seen == [len(request.data)]


async def test_a_document_to_colleagues_under_a_confidential_stamp_is_not_parsed(
        rig: Rig) -> None:
    """Confidential to a colleague: no document can make it stricter, so a large attached
    PDF is neither handed to a reader process nor parsed; the colleague gets it unchanged."""
    pages = [["Internal", *(f"line {i} of the case file" for i in range(40))]] * 30
    data = mail("Confidential\nThe file.", [("case.pdf", pdf(pages))], to=COLLEAGUE)
    outcome = await rig.submitter.submit(Incoming(
        sender="alice@example.org", recipients=(COLLEAGUE,), data=data, peer="127.0.0.1",
        helo="client.test"))
    assert outcome.kind is OutcomeKind.RELAYED and outcome.decision is not None
    assert outcome.decision.stamp is Stamp.CONFIDENTIAL and outcome.decision.sources == ()
    reader = rig.submitter.reader
    assert (reader.documents_left, reader.full_reads, reader._workers) == (1, 0, [])
    assert rig.downstream.deliveries[0][1] == (COLLEAGUE,)
    assert data.split(b"\r\n\r\n", 1)[1] in rig.downstream.deliveries[0][2]


async def test_a_document_that_may_hold_a_colleague_is_read(rig: Rig) -> None:
    """Cleared to a colleague: a Confidential PDF would hold them for approval, so it is read
    (in a reader process), and it does."""
    data = mail("Cleared for publication\nThe file.", [("case.pdf", pdf([["Confidential"]]))],
                to=COLLEAGUE)
    try:
        outcome = await rig.submitter.submit(Incoming(
            sender="alice@example.org", recipients=(COLLEAGUE,), data=data, peer="127.0.0.1",
            helo="client.test"))
        assert outcome.kind is OutcomeKind.HELD and outcome.decision is not None
        assert outcome.decision.recipients[0].rule == "downgrade"
        assert "Confidential: case.pdf, first line" in outcome.decision.sources
        reader = rig.submitter.reader
        assert (reader.documents_left, reader.full_reads, len(reader._workers)) == (0, 1, 1)
    finally:
        rig.submitter.reader.close()
