"""The release outbox worker: released messages and notices go downstream, with retries.

Entries live in the store (``outbox`` table), written in the same transaction as the
decision that caused them, so a restart loses none: the worker picks up whatever is due.
A temporary refusal is retried with exponential back-off; a permanent one, or one still
failing after ``outbox_give_up_hours``, is given up and reported to the reviewer and sender.
A crash after the downstream took a message but before it was marked sent delivers it again
on restart: a duplicate, never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import os
import secrets
import socket
from collections.abc import Callable

from gateway.adapters import signing
from gateway.adapters.accounts import AccountsError
from gateway.adapters.crypto import BodySealer, SealError
from gateway.adapters.delivery import DeliveryError, Downstream
from gateway.adapters.reviewers import notice_address, reviewer_accounts
from gateway.core.label_writers import label_stamp
from gateway.core.message import read_message
from gateway.core.photos import stripped_header
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.logs import get_logger
from gateway.service import bodies, notify, partners
from gateway.settings import Settings
from gateway.store.records import HeldMessage, OutboxItem, OutboxKind, now
from gateway.store.store import Store

log = get_logger()


class Undeliverable(Exception):
    """An entry that can never be sent (its held content is gone)."""


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling, capped."""
    delay = settings.outbox_retry_seconds * (2 ** min(attempts, 30))
    return float(min(delay, settings.outbox_retry_max_seconds))


# Entries one worker claims at a time.
CLAIM_BATCH = 10


class OutboxWorker:
    """Sends what is due, one entry at a time; ``wake`` makes it look now."""

    def __init__(self, store: Store, downstream: Downstream, settings: Settings,
                 policy: Callable[[], Policy], sealer: BodySealer) -> None:
        self.store = store
        self.sealer = sealer
        self.downstream = downstream
        self.settings = settings
        self.policy = policy
        self._wake = asyncio.Event()
        # Names this worker's claims on outbox entries (docs/deploy.md, several instances).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def wake(self) -> None:
        self._wake.set()

    async def release(self) -> None:
        """Once stopped: the entries this worker claimed and did not finish are due again
        now, for the next gateway to start, not when their lease ends."""
        try:
            released = await self.store.release_outbox_claims(self.owner)
        except Exception:  # the lease still ends: the entries wait for it, nothing is lost
            log.exception("outbox-release-error")
            return
        if released:
            log.info("outbox-claims-released", entries=released)

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a store hiccup: log it and look again at the next poll
                log.exception("outbox-error")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            # that arrives as the wake-up does, and the worker would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.outbox_poll_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self, at: dt.datetime | None = None) -> int:
        """Claim the entries that are due and try each; returns how many were tried.

        Several gateways may share the store: each claims a few entries for a lease long
        enough to try them all, so no entry is sent twice, and a claimer that dies leaves
        its entries to the others once the lease ends.
        """
        settings = self.settings
        lease = dt.timedelta(seconds=settings.outbox_lease_seconds)
        # No more than can be tried, each to its timeout, well within the lease.
        count = min(CLAIM_BATCH, max(1, int(settings.outbox_lease_seconds
                                           // settings.downstream_timeout) - 1))
        items = await self.store.claim_outbox(at or now(), self.owner, lease, count)
        for item in items:
            await self.attempt(item)
        return len(items)

    async def attempt(self, item: OutboxItem) -> None:
        hold = await self.store.get_held(item.held_id) if item.held_id else None
        try:
            made = await self._payload(item, hold)
            await partners.deliver(self.downstream, item.sender, made, f"outbox {item.id}")
        except Undeliverable as exc:
            await self._give_up(item, hold, str(exc))
            return
        except DeliveryError as exc:
            too_old = now() - item.created_at > dt.timedelta(
                hours=self.settings.outbox_give_up_hours)
            if not exc.temporary or too_old:
                why = exc.detail if not too_old else (
                    f"still failing after {self.settings.outbox_give_up_hours:g} hours: "
                    f"{exc.detail}")
                await self._give_up(item, hold, why)
                return
            delay = backoff(self.settings, item.attempts)
            await self.store.outbox_retry(item, now() + dt.timedelta(seconds=delay), exc.detail)
            log.warning("outbox-deferred", outbox_id=item.id, kind=item.kind.value,
                        hold_id=item.held_id, attempts=item.attempts + 1,
                        retry_in=round(delay, 2), error=exc.detail[:200])
            return
        audit = None
        if item.kind is OutboxKind.RELEASE:
            audit = {"outbox_id": item.id, "recipients": list(item.recipients),
                     "attempts": item.attempts + 1, "released_by": item.requested_by}
        await self.store.outbox_sent(item, audit)
        log.info("outbox-sent", outbox_id=item.id, kind=item.kind.value, purpose=item.purpose,
                 hold_id=item.held_id, recipients=list(item.recipients),
                 attempts=item.attempts + 1)

    async def _payload(self, item: OutboxItem, hold: HeldMessage | None) -> list[partners.Parcel]:
        """The copies to send: a notice as stored; a release as the relay would have sent it,
        partners' recipients with their labels (service/partners.py)."""
        match item.kind:
            case OutboxKind.NOTICE:
                if item.data is None:
                    raise Undeliverable("the notice has no content")
                return [(tuple(item.recipients), item.data)]
            case OutboxKind.RELEASE:
                if hold is None:
                    raise Undeliverable(f"held message {item.held_id} is gone")
                blob = await self.store.held_content(hold.id)
                if not blob:
                    raise Undeliverable(f"held message {hold.id} has no content (erased)")
                try:
                    data = await bodies.open_body(self.store, self.sealer, blob)
                except SealError as exc:
                    raise Undeliverable(f"held content cannot be read: {exc}") from exc
                policy = self.policy()
                recipients = [parse_recipient(a, policy.organisation.plus_separator)
                              for a in item.recipients]
                trace = self._released(data, hold, item.requested_by)
                return partners.parcels(policy, label_stamp(hold.decision), recipients, data,
                                        trace)

    def _released(self, data: bytes, hold: HeldMessage, by: str) -> list[tuple[str, str]]:
        """The gateway's trace fields for a released original, as the SMTP edge writes them."""
        stamp = hold.stamp or "none"
        by_token = "".join(ch for ch in by if ch.isprintable() and ch not in "\r\n;()")[:100]
        received = (f"by {self.settings.hostname} (stampgate) with local id {hold.id} "
                    f"(released by {by_token});\r\n\t{email.utils.formatdate(localtime=False)}")
        trace = [("Received", received), ("X-Stamp", stamp)]
        if stripped_header(hold.decision.photos):
            trace.append(("X-Stampgate-Photos", stripped_header(hold.decision.photos)))
        message_id = hold.message_id
        if message_id and read_message(data).message_id is None:
            trace.append(("Message-ID", message_id))
        if self.settings.stamp_signing_key is not None and message_id:
            key = signing.resolve_key(self.settings.stamp_signing_key.get_secret_value())
            trace.append(signing.signature_field(key, hold.queue_id, stamp, message_id))
        return trace

    async def _give_up(self, item: OutboxItem, hold: HeldMessage | None, error: str) -> None:
        mail = []
        audit = None
        if item.kind is OutboxKind.RELEASE and hold is not None:
            try:
                account = reviewer_accounts(self.settings.data).get(item.requested_by)
            except AccountsError:
                account = None
            reviewer = notice_address(account) or (
                item.requested_by if "@" in item.requested_by else None)
            mail = notify.delivery_failed_notices(hold, item.recipients, error, reviewer,
                                                  self.settings, self.policy())
            audit = {"outbox_id": item.id, "recipients": list(item.recipients),
                     "attempts": item.attempts + 1, "error": error[:500]}
        await self.store.outbox_failed(item, error, audit, mail)
        log.error("outbox-failed", outbox_id=item.id, kind=item.kind.value,
                  purpose=item.purpose, hold_id=item.held_id, attempts=item.attempts + 1,
                  error=error[:200])
