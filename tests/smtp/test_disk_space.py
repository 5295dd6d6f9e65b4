"""The handler's free-space floor at the end of DATA: a disk that filled during the transfer.

The gateway process tests (tests/ops/test_disk_floor.py) start below the floor, so MAIL FROM
already answers 452; here the floor is raised between MAIL and the end of DATA, over a real
store file and the real statvfs of its directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope, Session

from gateway.adapters.crypto import NullSealer
from gateway.policyfiles.load import load_policy
from gateway.service.submit import Submitter
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.smtp.handler import Handler
from gateway.store.store import Store, StoreError
from gateway.store.threads import ThreadMemory
from tests.support.gateway import EXAMPLE_POLICIES, message

EXABYTE = 10**18


@dataclass
class Recording:
    description: str = "recording"
    deliveries: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        self.deliveries.append((sender, tuple(recipients), data))

    async def close(self) -> None:
        return None


@pytest.fixture
async def handler(tmp_path: Path) -> AsyncIterator[Handler]:
    policy = load_policy(EXAMPLE_POLICIES)
    settings = Settings(data=tmp_path, policies=EXAMPLE_POLICIES, workers=1)
    store = await Store.open(tmp_path)
    threads = ThreadMemory(store.path, store.write)
    await threads.open()
    submitter = Submitter(settings, lambda: policy, store, threads, Recording(), NullSealer())
    yield Handler(submitter)
    await threads.close()
    await store.close()


def transaction(first_line: str, recipient: str) -> tuple[Session, Envelope]:
    session = Session(loop=None)  # type: ignore[arg-type]
    session.peer = ("127.0.0.1", 40000)
    envelope = Envelope()
    envelope.mail_from = "alice@example.org"
    envelope.rcpt_tos = [recipient]
    envelope.original_content = message(f"{first_line}\n\nA client's story.\n", to=recipient)
    return session, envelope


def delivered(handler: Handler) -> list[tuple[str, tuple[str, ...], bytes]]:
    downstream = handler.submitter.downstream
    assert isinstance(downstream, Recording)
    return downstream.deliveries


async def test_a_disk_that_fills_during_data_gets_452_and_nothing_is_taken(
        handler: Handler) -> None:
    session, envelope = transaction("Internal", "bob@example.org")
    assert await handler.handle_DATA(None, session, envelope)  # type: ignore[arg-type]
    assert len(delivered(handler)) == 1
    handler.space.floor = EXABYTE
    handler.space.free(fresh=True)
    reply = await handler.handle_DATA(None, session, envelope)  # type: ignore[arg-type]
    assert reply == replies.NO_SPACE
    assert len(delivered(handler)) == 1


async def test_a_store_failure_on_a_full_disk_says_so(handler: Handler) -> None:
    store = handler.submitter.store
    floors = [EXABYTE, 0]

    async def full_disk(*args: object, **kwargs: object) -> str:
        handler.space.floor = floors.pop(0)  # first the disk filled while it was read
        raise StoreError("database or disk is full")

    # A wholly held message is claimed and held in one transaction, a partly held one by hold.
    store.hold = full_disk  # type: ignore[method-assign]
    store.claim_and_hold = full_disk  # type: ignore[method-assign]
    session, envelope = transaction("Needs adjustment: blur face", "partner@outside.test")
    reply = await handler.handle_DATA(None, session, envelope)  # type: ignore[arg-type]
    assert reply.startswith("452 4.3.1 Insufficient system storage"), reply
    # Another store failure, with room on the disk: the reply names the step that failed.
    handler.space.floor = 0
    reply = await handler.handle_DATA(None, session, envelope)  # type: ignore[arg-type]
    assert reply.startswith("451 4.3.0") and "storing the hold for review" in reply, reply
    assert delivered(handler) == []
