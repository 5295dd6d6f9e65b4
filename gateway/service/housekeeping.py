"""The review queue's background work in the primary gateway process: outbox and housekeeping.

Housekeeping runs every ``housekeeping_seconds``: it expires old holds, queues the notices
of holds whose notices were never queued (the gateway stopped between the hold and its
notices), forgets the answers of messages accepted more than ``accepted_retention_days``
ago and, in digest mode, sends the reviewers' digest every ``digest_minutes`` (one
gateway of those sharing a store sends each period's digest).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

from gateway.adapters.crypto import BodySealer
from gateway.adapters.delivery import Downstream
from gateway.core.policy import Policy
from gateway.logs import get_logger
from gateway.service import notify
from gateway.service.outbox import OutboxWorker
from gateway.service.review import Desk
from gateway.settings import Settings
from gateway.store.records import now
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory

log = get_logger()
# Rows of accepted messages forgotten per housekeeping run, in batches of PRUNE_BATCH: a
# backlog (a gateway down for days) is worked off over several runs, never in one go.
PRUNE_BATCH = 1000
PRUNE_BATCHES = 20


class ReviewTasks:
    """Start and stop the outbox worker and the housekeeping loop."""

    def __init__(self, store: Store, downstream: Downstream, settings: Settings,
                 policy: Callable[[], Policy], sealer: BodySealer,
                 threads: ThreadMemory) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.desk = Desk(store, settings, policy, sealer, threads)
        self.outbox = OutboxWorker(store, downstream, settings, policy, sealer)
        self._tasks: list[asyncio.Task[None]] = []
        # The period this gateway started in counts as seen: its first digest is at the next.
        self._digest_period = notify.digest_period(now(), settings.digest_minutes)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self.outbox.run(), name="outbox"),
                       asyncio.create_task(self._housekeeping(), name="housekeeping")]

    async def stop(self) -> None:
        for task in self._tasks:
            # Cancel until it is done: a library call may absorb one cancellation.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.outbox.release()

    async def _housekeeping(self) -> None:
        while True:
            try:
                await self.housekeep()
            except Exception:
                log.exception("housekeeping-error")
            await asyncio.sleep(self.settings.housekeeping_seconds)

    async def prune_accepted(self, at: dt.datetime) -> int:
        """Forget the answers older than the retention window; how many were forgotten."""
        before = at - dt.timedelta(days=self.settings.accepted_retention_days)
        total = 0
        for _ in range(PRUNE_BATCHES):
            gone = await self.store.prune_accepted(before, PRUNE_BATCH)
            total += gone
            if gone < PRUNE_BATCH:
                break
        return total

    async def housekeep(self, at: dt.datetime | None = None) -> None:
        at = at or now()
        policy = self.policy()
        expired = await self.desk.expire_due(at)
        await self.desk.erase_released(at)
        # A hold younger than this may still be withdrawn by its SMTP session (downstream
        # trouble for the allowed part); its own session queues its notices.
        grace = dt.timedelta(seconds=2 * self.settings.downstream_timeout + 30)
        swept = await notify.sweep(self.store, self.settings, policy, at - grace)
        if swept:
            log.info("notices-swept", holds=swept)
        forgotten = await self.prune_accepted(at)
        if forgotten:
            log.info("accepted-forgotten", messages=forgotten)
        digest = 0
        period = notify.digest_period(at, self.settings.digest_minutes)
        if self.settings.notify_mode == "digest" and period != self._digest_period:
            # One gateway of those sharing the store sends each period's digest.
            digest = await notify.send_digest(self.store, self.settings, policy, period, at)
            self._digest_period = period
        if expired or swept or digest:
            self.outbox.wake()
