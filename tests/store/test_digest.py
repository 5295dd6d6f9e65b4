"""The reviewers' digest with several gateways on one store: each period's digest is sent by
exactly one of them, listing every hold that waited for it once."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from gateway.adapters.crypto import NullSealer
from gateway.service.housekeeping import ReviewTasks
from gateway.store.store import OutboxItem, Store
from tests.service.test_notify import next_boundary, parsed
from tests.support.held import example_policy, hold, settings_for

GATEWAYS = 3


async def _digests(store: Store) -> list[OutboxItem]:
    return [e for e in await store.outbox_entries() if e.purpose == "reviewer-digest"]


async def _waiting_hold(store: Store) -> str:
    """A new hold whose reviewers are told in the next digest."""
    hold_id = await hold(store, example_policy())
    assert await store.record_hold_notices(hold_id, [], True)
    return hold_id


async def test_gateways_sharing_a_store_send_each_digest_once(tmp_path: Path,
                                                              store_url: str) -> None:
    policy = example_policy()
    settings = settings_for(tmp_path / "var", notify_mode="digest", digest_minutes=30)
    stores = [await Store.open(Path(settings.data), store_url) for _ in range(GATEWAYS)]
    try:
        gateways = [ReviewTasks(store, None, settings, lambda: policy,  # type: ignore[arg-type]
                                NullSealer(), store.thread_memory()) for store in stores]
        boundary = next_boundary(dt.datetime.now(dt.UTC), 30)
        late: list[str] = []
        for period in range(3):
            waiting = late + [await _waiting_hold(stores[period % GATEWAYS]) for _ in range(2)]
            at = boundary + dt.timedelta(minutes=30 * period, seconds=1)
            # Two gateways' housekeeping comes round in the same moment ...
            await asyncio.gather(*(gateway.housekeep(at) for gateway in gateways[:2]))
            digests = await _digests(stores[0])
            assert len(digests) == period + 1, [d.id for d in digests]
            text = parsed(digests[-1].data).get_body().get_content()  # type: ignore[union-attr]
            assert all(hold_id in text for hold_id in waiting)
            assert f"{len(waiting)} message(s) held since the last digest" in text
            # ... the third's a minute later, after another hold, and then all again: no
            # second digest in the period; that hold waits for the next period's.
            late = [await _waiting_hold(stores[-1])]
            for n, gateway in enumerate(reversed(gateways)):
                await gateway.housekeep(at + dt.timedelta(minutes=n + 1))
            assert len(await _digests(stores[0])) == period + 1
        assert [h.id for h in await stores[1].digest_pending()] == late
    finally:
        for store in stores:
            await store.close()
