"""The review use cases behind the web UI and the CLI: release, reject, discard, expire, view.

A held message moves once, from ``held`` to one final state (``next_state``). Deciding is
optimistic: the store moves the record only if its version is still the one the reviewer
saw, so of two concurrent decisions the first wins and the second gets ``AlreadyDecided``.
The decision, its audit entry and the mail it causes are written in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, assert_never

from gateway.adapters.accounts import Account, AccountsError, normalise_address
from gateway.adapters.crypto import BodySealer, SealError, is_sealed
from gateway.adapters.reviewers import reviewer_accounts
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.core.recipients import AddressRefused, parse_recipient
from gateway.logs import get_logger
from gateway.service import bodies, notify, photo_review, queue
from gateway.service.decisions import (
    Action,
    AlreadyDecided,
    BulkResult,
    ContentGone,
    Decided,
    FourEyes,
    NotAReviewer,
    NotFound,
    Refused,
    ReviewError,
    next_state,
)
from gateway.settings import Settings
from gateway.store.records import HeldFilter, HeldMessage, HeldState, NewMail, OutboxKind, now
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory

__all__ = ["Action", "AlreadyDecided", "BulkResult", "ContentGone", "Decided", "Desk",
           "FourEyes", "NotAReviewer", "NotFound", "Refused", "ReviewError", "next_state"]
log = get_logger()
SYSTEM = "stampgate"
MAX_REASON = 2000
VIEW_WINDOW = dt.timedelta(hours=1)  # one page view per reviewer, message and hour


class Desk:
    """The reviewers' desk: every interface decides through these methods."""

    def __init__(self, store: Store, settings: Settings, policy: Callable[[], Policy],
                 sealer: BodySealer, threads: ThreadMemory) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.sealer = sealer
        self.threads = threads
        self.accounts = reviewer_accounts(Path(settings.data))

    def reviewer(self, login: str) -> Account:
        """The enabled reviewer account ``login``; ``NotAReviewer`` if there is none."""
        try:
            account = self.accounts.get(login.strip().lower())
        except AccountsError as exc:
            raise NotAReviewer(f"the reviewer accounts cannot be read: {exc}") from None
        if account is None or account.disabled:
            state = "is disabled" if account is not None else "is not a reviewer account"
            raise NotAReviewer(f"{login!r} {state}: a decision must name an enabled reviewer "
                               "(see: stampgate reviewers list)")
        return account

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
                      expected_version: int | None = None, override: str | None = None,
                      as_admin: str | None = None) -> Decided:
        """Release to every held recipient, or to ``to`` (all held ones); sharp faces need an
        ``override`` note (recorded); ``as_admin``: an administrator's note, for a decision
        by no reviewer account."""
        hold = await self._decidable(hold_id, Action.RELEASE, expected_version)
        self._four_eyes(hold, by)
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
                  if hold.stamp == Stamp.NEEDS_ADJUSTMENT.value else [], **faces,
                  **({"as_admin": as_admin} if as_admin else {})}
        decided = await self._decide(hold, Action.RELEASE, by, note, detail,
                                     [*mail, *([notice] if notice else [])])
        await self._join_thread(hold, recipients, policy)
        return Decided(hold.id, decided, by, recipients)

    async def reject(self, hold_id: str, by: str, reason: str,
                     expected_version: int | None = None,
                     as_admin: str | None = None) -> Decided:
        """Refuse the held part; the sender is told the reason."""
        text = " ".join(reason.split())
        if not text:
            raise Refused("a rejection needs a reason for the sender")
        if len(text) > MAX_REASON:
            raise Refused(f"the reason is longer than {MAX_REASON} characters")
        hold = await self._decidable(hold_id, Action.REJECT, expected_version)
        notice = notify.decision_notice(hold, HeldState.REJECTED, by, text, (), self.settings,
                                        self.policy())
        state = await self._decide(hold, Action.REJECT, by, text, _admin(as_admin),
                                   [notice] if notice else [])
        await self._destroy(hold)
        return Decided(hold.id, state, by)

    async def discard(self, hold_id: str, by: str, note: str | None = None,
                      expected_version: int | None = None,
                      as_admin: str | None = None) -> Decided:
        """Drop the held part without telling the sender (use reject to tell them)."""
        hold = await self._decidable(hold_id, Action.DISCARD, expected_version)
        state = await self._decide(hold, Action.DISCARD, by, note, _admin(as_admin), [])
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
        """One decision per id; one failing (already decided, say) does not stop the others.

        A bulk release confirms no checklist: a *Needs adjustment* message is skipped unless
        its adjustments were ticked on its own page (``confirm_checklist``).
        """
        results: list[BulkResult] = []
        for hold_id in dict.fromkeys(hold_ids):
            try:
                decided = await self._one(action, hold_id, by, reason)
            except _Skipped as exc:
                results.append(BulkResult(hold_id, None, str(exc), skipped=True))
            except ReviewError as exc:
                results.append(BulkResult(hold_id, None, str(exc)))
            else:
                results.append(BulkResult(hold_id, decided, None))
        return results

    async def _one(self, action: Action, hold_id: str, by: str, reason: str) -> Decided:
        match action:
            case Action.RELEASE:
                hold = await self.get(hold_id)
                if hold.state is HeldState.HELD and not await queue.checklist_ticked(
                        self.store, hold):
                    raise _Skipped("not released: its adjustments ("
                                   f"{'; '.join(hold.adjustments)}) were not ticked on its "
                                   "own page")
                return await self.release(hold.id, by, adjustments_done=hold.adjustments,
                                          note=reason or None)
            case Action.REJECT:
                return await self.reject(hold_id, by, reason)
            case Action.DISCARD:
                return await self.discard(hold_id, by, reason or None)
            case Action.EXPIRE:
                raise Refused("holds expire by themselves")
            case _:
                assert_never(action)

    async def confirm_checklist(self, hold_id: str, by: str, ticked: Sequence[str]) -> None:
        """Record that ``by`` ticked every required adjustment on the message's own page."""
        hold = await self._decidable(hold_id, Action.RELEASE, None)
        self._check_adjustments(hold, ticked)
        await self.store.audit(by, queue.CHECKLIST, hold.id,
                               {"adjustments": list(hold.adjustments)})

    # -- looking at content --------------------------------------------------------------

    async def content(self, hold_id: str, by: str, what: str, once: bool = False) -> bytes:
        """The held message as received; every look is audited (who, what part).

        ``once``: a look at the same part by the same reviewer within ``VIEW_WINDOW`` is
        recorded once (a page reloaded, the preview frame of each page load).
        """
        hold = await self.get(hold_id)
        blob = await self.store.held_content(hold.id)
        if blob is None:
            raise NotFound(hold_id)
        if not blob:
            raise ContentGone(f"the content of {hold.id} was erased ({hold.state.value}); "
                              "only its record and history remain")
        try:
            data = await bodies.open_body(self.store, self.sealer, blob)
        except SealError as exc:
            raise ContentGone(f"the content of {hold.id} can no longer be read: {exc}") from exc
        if once:
            await self.store.audit_once(by, "view", hold.id, {"what": what}, now() - VIEW_WINDOW)
        else:
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

    def _four_eyes(self, hold: HeldMessage, by: str) -> None:
        """Nobody releases a message they sent (their login or any address of the account)."""
        if not self.settings.review_four_eyes:
            return
        mine = {normalise_address(by)}
        try:
            account = self.accounts.get(by.strip().lower())
        except AccountsError:
            account = None
        if account is not None:
            mine |= {normalise_address(a) for a in account.addresses}
        if normalise_address(hold.sender) in mine:
            raise FourEyes(f"{by} sent {hold.id}: another reviewer must release it "
                           "(four eyes)")

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
                await bodies.destroy_key(self.store, self.sealer, blob)
            except SealError as exc:
                log.warning("key-not-destroyed", hold_id=hold.id, error=str(exc))
        if blob:
            await self.store.erase_content(hold.id)


class _Skipped(Refused):
    """A bulk decision left one message alone on purpose."""


def _admin(note: str | None) -> dict[str, Any]:
    return {"as_admin": note} if note else {}
