"""Bodies nobody will receive are erased: at once when refused, after the retention period
when released; sealed ones lose their key as well. The record and its history stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.adapters import crypto
from gateway.adapters.key_files import KEY_DIR
from gateway.core.policy import Policy
from gateway.service.review import ContentGone, Desk
from gateway.settings import Settings
from gateway.store.store import OutboxKind, OutboxState, Store, now
from gateway.store.threads import ThreadMemory
from tests.support.held import hold

STORY = b"A client's story."
REVIEWER = "director@example.org"
DONE = ("blur face", "change name")


def _files_hold(data: Path, needle: bytes) -> list[str]:
    return [p.name for p in data.glob("stampgate.sqlite3*") if needle in p.read_bytes()]


async def _release(desk: Desk, store: Store, policy: Policy, *, sent: bool = True) -> str:
    hold_id = await hold(store, policy)
    await desk.release(hold_id, REVIEWER, adjustments_done=DONE)
    if sent:
        for item in await store.outbox_entries(OutboxState.PENDING):
            if item.kind is OutboxKind.RELEASE:
                await store.outbox_sent(item, None)
    return hold_id


@pytest.mark.parametrize("action", ["reject", "discard"])
async def test_a_refused_plaintext_body_is_erased_from_the_store(
        action: str, desk: Desk, store: Store, policy: Policy, settings: Settings) -> None:
    hold_id = await hold(store, policy)
    kwargs = {"reason": "not for outside"} if action == "reject" else {}
    await getattr(desk, action)(hold_id, REVIEWER, **kwargs)
    with pytest.raises(ContentGone, match="erased"):
        await desk.content(hold_id, REVIEWER, "body")
    record = await store.get_held(hold_id)
    assert record is not None and record.state.value == f"{action}ed".replace("dd", "d")
    assert _files_hold(Path(settings.data), STORY) == []


async def test_a_released_body_is_kept_for_the_retention_period_then_erased(
        desk: Desk, store: Store, policy: Policy, settings: Settings) -> None:
    hold_id = await _release(desk, store, policy)
    days = settings.released_retention_days
    assert await desk.erase_released(now() + dt.timedelta(days=days - 1)) == []
    assert STORY in await desk.content(hold_id, REVIEWER, "body")
    assert await desk.erase_released(now() + dt.timedelta(days=days + 1)) == [hold_id]
    with pytest.raises(ContentGone, match="erased"):
        await desk.content(hold_id, REVIEWER, "body")
    assert _files_hold(Path(settings.data), STORY) == []
    actions = [e["action"] for e in await store.audit_entries(held_id=hold_id)]
    assert actions[-1] == "erase" and "released" in actions
    assert await desk.erase_released(now() + dt.timedelta(days=days + 2)) == []  # once


async def test_a_release_still_in_the_outbox_is_not_erased(
        desk: Desk, store: Store, policy: Policy, settings: Settings) -> None:
    hold_id = await _release(desk, store, policy, sent=False)
    later = now() + dt.timedelta(days=settings.released_retention_days + 1)
    assert await desk.erase_released(later) == []
    assert STORY in await desk.content(hold_id, REVIEWER, "body")


async def test_a_sealed_released_body_loses_its_key(
        store: Store, policy: Policy, settings: Settings, threads: ThreadMemory) -> None:
    data = Path(settings.data)
    sealer = crypto.Sealer(crypto.parse_master_key(crypto.new_master_key()),
                           data / KEY_DIR)
    desk = Desk(store, settings, lambda: policy, sealer, threads)
    hold_id = await hold(store, policy, sealer=sealer)
    assert _files_hold(data, STORY) == []  # sealed at rest
    assert len(await store.all_held_keys()) == 1
    await desk.release(hold_id, REVIEWER, adjustments_done=DONE)
    for item in await store.outbox_entries(OutboxState.PENDING):
        await store.outbox_sent(item, None)
    later = now() + dt.timedelta(days=settings.released_retention_days + 1)
    assert await desk.erase_released(later) == [hold_id]
    assert await store.all_held_keys() == []
    with pytest.raises(ContentGone):
        await desk.content(hold_id, REVIEWER, "body")


async def test_housekeeping_erases_released_bodies(
        store: Store, policy: Policy, settings: Settings, sealer: crypto.BodySealer,
        threads: ThreadMemory) -> None:
    from gateway.adapters.delivery import make_downstream
    from gateway.service.housekeeping import ReviewTasks

    tasks = ReviewTasks(store, make_downstream(settings.downstream, settings.hostname, 1),
                        settings, lambda: policy, sealer, threads)
    hold_id = await _release(tasks.desk, store, policy)
    await tasks.housekeep(now() + dt.timedelta(days=settings.released_retention_days + 1))
    with pytest.raises(ContentGone, match="erased"):
        await tasks.desk.content(hold_id, REVIEWER, "body")
