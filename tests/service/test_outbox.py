"""Release delivery through the durable outbox, against a recording downstream on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.adapters.accounts import add_user
from gateway.adapters.crypto import NullSealer
from gateway.adapters.delivery import make_downstream
from gateway.adapters.reviewers import reviewers_path
from gateway.core.policy import Policy
from gateway.service.outbox import OutboxWorker, backoff
from gateway.service.review import Desk
from gateway.settings import Settings
from gateway.store.store import HeldState, OutboxState, Store, now
from gateway.store.threads import ThreadMemory
from tests.support.downstream import Downstream, Mode
from tests.support.held import desk_for, hold, settings_for

TICKED = ["blur face", "change name"]


@pytest.fixture(scope="module")
def recording() -> Iterator[Downstream]:
    server = Downstream().start()
    yield server
    server.stop()


@pytest.fixture
def downstream_settings(tmp_path: Path, recording: Downstream) -> Settings:
    recording.clear()
    return settings_for(tmp_path / "var", downstream=recording.url, downstream_timeout=5)


@pytest.fixture
async def parts(downstream_settings: Settings,
                policy: Policy) -> AsyncIterator[tuple[Store, Desk, OutboxWorker]]:
    store = await Store.open(Path(downstream_settings.data))
    sender = make_downstream(downstream_settings.downstream, "gateway.test", 5)
    yield (store, desk_for(store, downstream_settings, policy),
           OutboxWorker(store, sender, downstream_settings, lambda: policy, NullSealer()))
    await sender.close()
    await store.close()


async def drain(worker: OutboxWorker, rounds: int = 50) -> None:
    """Run the worker until nothing is due (waiting out the short test back-off)."""
    for _ in range(rounds):
        await worker.run_once()
        if not await worker.store.outbox_entries(OutboxState.PENDING):
            return
        await asyncio.sleep(0.05)


async def test_release_survives_a_failing_downstream(parts: tuple[Store, Desk, OutboxWorker],
                                                     recording: Downstream,
                                                     policy: Policy) -> None:
    store, desk, worker = parts
    hold_id = await hold(store, policy, message_id="<story-1@example.org>")
    recording.set(Mode.TEMPFAIL)
    await desk.release(hold_id, "director@example.org", adjustments_done=TICKED)
    for _ in range(3):
        await worker.run_once(now() + dt.timedelta(hours=2))
    [release, notice] = await store.outbox_entries()
    assert release.state is OutboxState.PENDING and release.attempts == 3
    assert release.last_error is not None and "451" in release.last_error
    assert recording.messages == []
    recording.set(Mode.ACCEPT)
    await drain(worker)
    [release, notice] = await store.outbox_entries()
    assert release.state is OutboxState.SENT and release.attempts == 4
    assert notice.state is OutboxState.SENT
    released = recording.delivered_to("partner@outside.test")
    [message] = released
    assert message.sender == "alice@example.org" and message.recipients == ["partner@outside.test"]
    assert "X-Stamp: needs_adjustment" in message.header_text
    assert f"with local id {hold_id} (released by director@example.org)" in message.header_text
    assert b"A client's story." in message.data
    [sender_notice] = recording.delivered_to("alice@example.org")
    assert sender_notice.sender in ("", "<>")
    assert "Released: " + hold_id in sender_notice.header_text
    audit = [a["action"] for a in await store.audit_entries(held_id=hold_id)]
    assert audit == ["hold", "released", "release-delivered"]


async def test_release_adds_the_held_message_id(parts: tuple[Store, Desk, OutboxWorker],
                                                recording: Downstream, policy: Policy) -> None:
    store, desk, worker = parts
    hold_id = await hold(store, policy)  # the original had no Message-ID
    await desk.release(hold_id, "director@example.org", adjustments_done=TICKED)
    await drain(worker)
    [message] = recording.delivered_to("partner@outside.test")
    assert "Message-ID: <generated@stampgate.localdomain>" in message.header_text


async def test_permanent_failure_is_reported(parts: tuple[Store, Desk, OutboxWorker],
                                             recording: Downstream, policy: Policy,
                                             downstream_settings: Settings) -> None:
    store, desk, worker = parts
    add_user(reviewers_path(Path(downstream_settings.data)), "director", "a" * 16,
             ["director@example.org"])
    hold_id = await hold(store, policy)
    recording.set(Mode.REFUSE_RCPT, refuse_rcpt=["partner@outside.test"])
    await desk.release(hold_id, "director", adjustments_done=TICKED)
    await drain(worker)
    entries = await store.outbox_entries()
    assert [(e.purpose, e.state) for e in entries] == [
        ("release", OutboxState.FAILED), ("sender-released", OutboxState.SENT),
        ("reviewer-release-failed", OutboxState.SENT),
        ("sender-release-failed", OutboxState.SENT)]
    assert entries[0].last_error is not None and "550" in entries[0].last_error
    [to_reviewer] = recording.delivered_to("director@example.org")
    assert f"Release failed: {hold_id}" in to_reviewer.header_text
    assert b"550" in to_reviewer.data and b"client's story" not in to_reviewer.data
    assert len(recording.delivered_to("alice@example.org")) == 2
    assert [a["action"] for a in await store.audit_entries(held_id=hold_id)] == [
        "hold", "released", "release-failed"]
    record = await store.get_held(hold_id)
    assert record is not None and record.state is HeldState.RELEASED


async def test_gives_up_after_the_limit(tmp_path: Path, recording: Downstream,
                                        policy: Policy) -> None:
    settings = settings_for(tmp_path / "var", downstream=recording.url,
                            outbox_give_up_hours=0.0001)
    store = await Store.open(Path(settings.data))
    sender = make_downstream(settings.downstream, "gateway.test", 5)
    try:
        desk = desk_for(store, settings, policy)
        worker = OutboxWorker(store, sender, settings, lambda: policy, NullSealer())
        hold_id = await hold(store, policy)
        recording.set(Mode.TEMPFAIL)
        await desk.discard(hold_id, "director@example.org")
        another = await hold(store, policy)
        await desk.release(another, "director@example.org", adjustments_done=TICKED)
        await asyncio.sleep(0.5)
        await worker.run_once()
        [release, *_] = await store.outbox_entries()
        assert release.state is OutboxState.FAILED
        assert release.last_error is not None and "still failing after" in release.last_error
    finally:
        await sender.close()
        await store.close()


async def test_restart_in_the_middle_of_a_release(downstream_settings: Settings,
                                                  recording: Downstream,
                                                  policy: Policy) -> None:
    """The store is closed with the release pending; a new worker on the same file sends it."""
    path = Path(downstream_settings.data)
    store = await Store.open(path)
    hold_id = await hold(store, policy)
    await desk_for(store, downstream_settings, policy).release(
        hold_id, "director@example.org", adjustments_done=TICKED)
    recording.set(Mode.DISCONNECT)
    sender = make_downstream(downstream_settings.downstream, "gateway.test", 5)
    await OutboxWorker(store, sender, downstream_settings, lambda: policy, NullSealer()).run_once()
    await sender.close()
    await store.close()

    recording.set(Mode.ACCEPT)
    store = await Store.open(path)
    sender = make_downstream(downstream_settings.downstream, "gateway.test", 5)
    try:
        await drain(OutboxWorker(store, sender, downstream_settings, lambda: policy, NullSealer()))
        assert len(recording.delivered_to("partner@outside.test")) == 1
    finally:
        await sender.close()
        await store.close()


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 60), (1, 120), (5, 1920), (6, 3600),
                                                   (200, 3600)])
def test_backoff_doubles_up_to_the_cap(attempts: int, seconds: float, tmp_path: Path) -> None:
    assert backoff(settings_for(tmp_path, outbox_retry_seconds=60,
                                outbox_retry_max_seconds=3600), attempts) == seconds


async def test_stop_ends_a_task_that_absorbs_a_cancellation(store: Store, settings: Settings,
                                                             policy: Policy) -> None:
    """Shutdown never hangs on a background task that swallowed one cancel (as Python
    3.11's wait_for can when the cancel and a wake-up arrive together)."""
    from gateway.service.housekeeping import ReviewTasks

    tasks = ReviewTasks(store, make_downstream(settings.downstream, settings.hostname, 1),
                        settings, lambda: policy, NullSealer(),
                        ThreadMemory(store.path, store.write))
    absorbed = 0

    async def stubborn() -> None:
        nonlocal absorbed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                absorbed += 1
                if absorbed > 1:
                    raise

    tasks.start()
    tasks._tasks.append(asyncio.create_task(stubborn()))
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(tasks.stop(), 30)
    assert asyncio.get_running_loop().time() - started < 5
    assert absorbed == 2 and tasks._tasks == []
