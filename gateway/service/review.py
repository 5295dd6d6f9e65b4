"""The review use cases behind the web UI and the CLI: release, reject, discard, expire, view.

A held message moves once, from ``held`` to one final state (``next_state``). Deciding is
optimistic: the store moves the record only if its version is still the one the reviewer
saw, so of two concurrent decisions the first wins and the second gets ``AlreadyDecided``.
The decision, its audit entry and the mail it causes are written in one transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from gateway.adapters.crypto import BodySealer, SealError, is_sealed
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.core.recipients import AddressRefused, parse_recipient
from gateway.logs import get_logger
from gateway.service import notify, photo_review
from gateway.settings import Settings
from gateway.store.records import HeldFilter, HeldMessage, HeldState, NewMail, OutboxKind, now
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory

log = get_logger()
SYSTEM = "stampgate"
MAX_REASON = 2000


class Action(enum.Enum):
    """What a reviewer (or the clock) can do to a held message."""

    RELEASE = "release"
    REJECT = "reject"
    DISCARD = "discard"
    EXPIRE = "expire"


class ReviewError(Exception):
    """A decision that cannot be made; the message says why and what to do."""


class NotFound(ReviewError):
    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no held message {hold_id!r}")
        self.hold_id = hold_id


class AlreadyDecided(ReviewError):
    """Someone decided first (or the message expired): nothing was changed."""

    def __init__(self, hold: HeldMessage) -> None:
        by = f" by {hold.decided_by}" if hold.decided_by else ""
        at = f" at {hold.decided_at:%Y-%m-%d %H:%M:%S} UTC" if hold.decided_at else ""
        super().__init__(f"{hold.id} was already decided: {hold.state.value}{by}{at}; "
                         "nothing was changed")
        self.hold = hold


class Refused(ReviewError):
    """The request itself is wrong (a recipient not held, no reason, adjustments unticked)."""


class ContentGone(ReviewError):
    """The held content can no longer be read (its key was destroyed, or no key is set)."""


def next_state(state: HeldState, action: Action) -> HeldState:
    """The state machine: only a held message can be decided, and every decision is final."""
    match state:
        case HeldState.HELD:
            return _target(action)
        case HeldState.RELEASED | HeldState.REJECTED | HeldState.DISCARDED | HeldState.EXPIRED:
            raise ReviewError(f"a {state.value} message cannot be {_past(action)}")
        case _:
            assert_never(state)


def _target(action: Action) -> HeldState:
    match action:
        case Action.RELEASE:
            return HeldState.RELEASED
        case Action.REJECT:
            return HeldState.REJECTED
        case Action.DISCARD:
            return HeldState.DISCARDED
        case Action.EXPIRE:
            return HeldState.EXPIRED
        case _:
            assert_never(action)


def _past(action: Action) -> str:
    return {Action.RELEASE: "released", Action.REJECT: "rejected",
            Action.DISCARD: "discarded", Action.EXPIRE: "expired"}[action]


@dataclass(frozen=True, slots=True)
class Decided:
    """The outcome of one decision."""

    hold_id: str
    state: HeldState
    by: str
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BulkResult:
    hold_id: str
    decided: Decided | None
    error: str | None


class Desk:
    """The reviewers' desk: every interface decides through these methods."""

    def __init__(self, store: Store, settings: Settings, policy: Callable[[], Policy],
                 sealer: BodySealer, threads: ThreadMemory) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.sealer = sealer
        self.threads = threads

    async def get(self, hold_id: str) -> HeldMessage:
        hold = await self.store.get_held(hold_id.strip().upper())
        if hold is None:
            raise NotFound(hold_id)
        return hold

    async def find(self, which: HeldFilter, limit: int = 1000) -> list[HeldMessage]:
        return await self.store.find_held(which, limit)

    # -- decisions -----------------------------------------------------------------------

    async def release(self, hold_id: str, by: str, to: Sequence[str] | None = None,
                      adjustments_done: Sequence[str] = (), note: str | None = None,
                      expected_version: int | None = None, override: str | None = None) -> Decided:
        """Release to every held recipient, or to ``to`` (all held ones); sharp faces need an
        ``override`` note (recorded)."""
        hold = await self._decidable(hold_id, Action.RELEASE, expected_version)
        recipients = self._release_recipients(hold, to)
        self._check_adjustments(hold, adjustments_done)
        faces = photo_review.override_detail(hold, override, Refused)
        policy = self.policy()
        mail = [NewMail(kind=OutboxKind.RELEASE, purpose="release", sender=hold.sender,
                        recipients=recipients, requested_by=by, held_id=hold.id)]
        notice = notify.decision_notice(hold, HeldState.RELEASED, by, note, recipients,
                                        self.settings, policy)
        detail = {"released_to": list(recipients),
                  "not_released": [a for a in hold.held_recipients if a not in recipients],
                  "adjustments_done": list(hold.adjustments)
                  if hold.stamp == Stamp.NEEDS_ADJUSTMENT.value else [], **faces}
        decided = await self._decide(hold, Action.RELEASE, by, note, detail,
                                     [*mail, *([notice] if notice else [])])
        await self._join_thread(hold, recipients, policy)
        return Decided(hold.id, decided, by, recipients)

    async def reject(self, hold_id: str, by: str, reason: str,
                     expected_version: int | None = None) -> Decided:
        """Refuse the held part; the sender is told the reason."""
        text = " ".join(reason.split())
        if not text:
            raise Refused("a rejection needs a reason for the sender (--reason TEXT)")
        if len(text) > MAX_REASON:
            raise Refused(f"the reason is longer than {MAX_REASON} characters")
        hold = await self._decidable(hold_id, Action.REJECT, expected_version)
        notice = notify.decision_notice(hold, HeldState.REJECTED, by, text, (), self.settings,
                                        self.policy())
        state = await self._decide(hold, Action.REJECT, by, text, {},
                                   [notice] if notice else [])
        await self._destroy(hold)
        return Decided(hold.id, state, by)

    async def discard(self, hold_id: str, by: str, note: str | None = None,
                      expected_version: int | None = None) -> Decided:
        """Drop the held part without telling the sender (use reject to tell them)."""
        hold = await self._decidable(hold_id, Action.DISCARD, expected_version)
        state = await self._decide(hold, Action.DISCARD, by, note, {}, [])
        await self._destroy(hold)
        return Decided(hold.id, state, by)

    async def expire_due(self, at: dt.datetime | None = None) -> list[Decided]:
        """Expire every hold older than ``hold_expiry_days``; the senders are told."""
        cutoff = (at or now()) - dt.timedelta(days=self.settings.hold_expiry_days)
        done: list[Decided] = []
        for hold in await self.store.find_held(HeldFilter(created_before=cutoff)):
            notice = notify.decision_notice(hold, HeldState.EXPIRED, SYSTEM, None, (),
                                            self.settings, self.policy())
            note = f"not reviewed within {self.settings.hold_expiry_days:g} day(s)"
            try:
                state = await self._decide(hold, Action.EXPIRE, SYSTEM, note,
                                           {"created_at": hold.created_at.isoformat()},
                                           [notice] if notice else [])
            except AlreadyDecided:
                continue  # a reviewer decided in the meantime
            await self._destroy(hold)
            log.info("hold-expired", hold_id=hold.id)
            done.append(Decided(hold.id, state, SYSTEM))
        return done

    async def bulk(self, action: Action, hold_ids: Sequence[str], by: str,
                   reason: str = "") -> list[BulkResult]:
        """One decision per id; one failing (already decided, say) does not stop the others."""
        results: list[BulkResult] = []
        for hold_id in dict.fromkeys(hold_ids):
            try:
                decided = await self._one(action, hold_id, by, reason)
            except ReviewError as exc:
                results.append(BulkResult(hold_id, None, str(exc)))
            else:
                results.append(BulkResult(hold_id, decided, None))
        return results

    async def _one(self, action: Action, hold_id: str, by: str, reason: str) -> Decided:
        match action:
            case Action.RELEASE:
                hold = await self.get(hold_id)
                return await self.release(hold_id, by, adjustments_done=hold.adjustments,
                                          note=reason or None)
            case Action.REJECT:
                return await self.reject(hold_id, by, reason)
            case Action.DISCARD:
                return await self.discard(hold_id, by, reason or None)
            case Action.EXPIRE:
                raise Refused("holds expire by themselves")
            case _:
                assert_never(action)

    # -- looking at content --------------------------------------------------------------

    async def content(self, hold_id: str, by: str, what: str) -> bytes:
        """The held message as received; every look is audited (who, what part)."""
        hold = await self.get(hold_id)
        blob = await self.store.held_content(hold.id)
        if blob is None:
            raise NotFound(hold_id)
        if not blob:
            raise ContentGone(f"the content of {hold.id} was erased ({hold.state.value}); "
                              "only its record and history remain")
        try:
            data = await asyncio.to_thread(self.sealer.open, blob)
        except SealError as exc:
            raise ContentGone(f"the content of {hold.id} can no longer be read: {exc}") from exc
        await self.store.audit(by, "view", hold.id, {"what": what})
        return data

    # -- helpers -------------------------------------------------------------------------

    async def _decidable(self, hold_id: str, action: Action,
                         expected_version: int | None) -> HeldMessage:
        hold = await self.get(hold_id)
        if hold.state is not HeldState.HELD:
            raise AlreadyDecided(hold)
        if expected_version is not None and expected_version != hold.version:
            raise AlreadyDecided(hold)
        next_state(hold.state, action)
        return hold

    async def _decide(self, hold: HeldMessage, action: Action, by: str, note: str | None,
                      detail: dict[str, Any], mail: Sequence[NewMail]) -> HeldState:
        state = next_state(hold.state, action)
        if not await self.store.set_state(hold.id, hold.version, state, by, note, detail, mail):
            raise AlreadyDecided(await self.get(hold.id))
        log.info("hold-decided", hold_id=hold.id, state=state.value, by=by)
        return state

    @staticmethod
    def _release_recipients(hold: HeldMessage, to: Sequence[str] | None) -> tuple[str, ...]:
        if to is None:
            return hold.held_recipients
        held = {a.lower(): a for a in hold.held_recipients}
        chosen: dict[str, None] = {}
        for address in to:
            key = address.strip().strip("<>").rstrip(".").lower()
            if key not in held:
                raise Refused(f"{address!r} is not a held recipient of {hold.id}; a release "
                              f"can go only to: {', '.join(hold.held_recipients)}")
            chosen[held[key]] = None
        if not chosen:
            raise Refused("choose at least one recipient to release to")
        return tuple(chosen)

    @staticmethod
    def _check_adjustments(hold: HeldMessage, done: Sequence[str]) -> None:
        """Every adjustment the stamp asks for must be ticked as made before a release."""
        if hold.stamp != Stamp.NEEDS_ADJUSTMENT.value:
            return
        ticked = {" ".join(d.split()).lower() for d in done}
        missing = [a for a in hold.adjustments if " ".join(a.split()).lower() not in ticked]
        if missing:
            raise Refused("confirm each required adjustment was made before releasing: "
                          + "; ".join(missing))

    async def _join_thread(self, hold: HeldMessage, recipients: Sequence[str],
                           policy: Policy) -> None:
        """A released recipient of a confidential chain becomes one of its participants."""
        thread_id = hold.thread_id or hold.message_id
        if hold.stamp != Stamp.CONFIDENTIAL.value or thread_id is None:
            return
        keys: list[str] = []
        for address in recipients:
            try:
                keys.append(parse_recipient(address, policy.organisation.plus_separator).key)
            except AddressRefused:
                keys.append(address.lower())
        try:
            await self.threads.add_participants(thread_id, keys)
        except Exception:  # the release stands; a later reply to them is held again (safe)
            log.exception("thread-join-failed", hold_id=hold.id)

    async def erase_released(self, at: dt.datetime | None = None) -> list[str]:
        """Erase the bodies of messages released more than ``released_retention_days`` ago.

        Only once every release of the message has left the outbox; the record, its
        decision and the audit trail stay.
        """
        days = self.settings.released_retention_days
        cutoff = (at or now()) - dt.timedelta(days=days)
        erased: list[str] = []
        for hold in await self.store.released_unerased(cutoff):
            await self._destroy(hold)
            await self.store.audit(SYSTEM, "erase", hold.id,
                                   {"reason": f"released more than {days:g} day(s) ago"})
            log.info("hold-erased", hold_id=hold.id)
            erased.append(hold.id)
        return erased

    async def _destroy(self, hold: HeldMessage) -> None:
        """A body nobody will receive (any more): destroy its key, then erase it from the store.

        A sealed body is unreadable for good once its key is gone, wherever copies of the
        store went; the stored bytes are erased too (the store zeroes freed pages).
        """
        blob = await self.store.held_content(hold.id)
        if blob is None:
            return
        if is_sealed(blob):
            try:
                await asyncio.to_thread(self.sealer.destroy, blob)
            except SealError as exc:
                log.warning("key-not-destroyed", hold_id=hold.id, error=str(exc))
        if blob:
            await self.store.erase_content(hold.id)
