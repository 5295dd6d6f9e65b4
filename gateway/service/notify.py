"""Notices to reviewers and senders: hold ids, stamps, reasons and links; never a subject or body.

Every notice goes through the outbox (``outbox.py``), so a downstream outage delays it but
does not lose it. Notices carry the gateway's null envelope sender (RFC 3834), so a notice
that cannot be delivered never bounces back into the gateway.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP

from gateway.core.policy import Policy
from gateway.logs import get_logger
from gateway.settings import Settings
from gateway.store.records import HeldMessage, HeldState, HoldNotices, NewMail, OutboxKind
from gateway.store.store import Store

log = get_logger()
NOTICE_HEADER = "X-Stampgate-Notice"
NULL_SENDER = ""
FOOTER = ("This notice never carries the message's subject or content; "
          "open the link to review it.")


def notice_from(settings: Settings, policy: Policy) -> str:
    if settings.notify_from:
        return settings.notify_from
    return f"stampgate@{policy.organisation.domains[0]}"


def reviewer_addresses(settings: Settings, policy: Policy) -> tuple[str, ...]:
    """The ``reviewer_addresses`` setting, else the members of the policy's reviewers group."""
    if settings.reviewer_addresses:
        return settings.reviewer_addresses
    members = policy.members_of(policy.organisation.reviewers)
    return tuple(sorted(m for m in members if not m.startswith("@")))


def base_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url
    return f"http://{settings.web_listen or '127.0.0.1:8025'}"


def link(settings: Settings, hold_id: str) -> str:
    return f"{base_url(settings)}/held/{hold_id}"


def compose(settings: Settings, policy: Policy, to: Sequence[str], subject: str,
            body: str, purpose: str) -> bytes:
    """A plain-text notice, marked auto-generated, with CRLF line endings."""
    message = EmailMessage(policy=SMTP)
    _set(message, "From", f"stampgate <{notice_from(settings, policy)}>")
    _set(message, "To", ", ".join(to))
    _set(message, "Subject", subject)
    _set(message, "Date", email.utils.formatdate(localtime=False))
    _set(message, "Message-ID", email.utils.make_msgid("notice", domain=settings.hostname))
    _set(message, "Auto-Submitted", "auto-generated")
    _set(message, NOTICE_HEADER, purpose)
    message.set_content(body, charset="utf-8")
    return message.as_bytes()


def _set(message: EmailMessage, name: str, value: str) -> None:
    """Add a header; a short ASCII one as it is, anything else parsed and encoded.

    Parsing every header with ``policy.SMTP``'s header registry cost more than the rest of
    a hold; a short single-line ASCII value needs neither encoding nor folding.
    """
    if value.isascii() and len(name) + 2 + len(value) <= 78 and not _LINE_BREAK.search(value):
        message.set_raw(name, value)
    else:
        message[name] = value


_LINE_BREAK = re.compile(r"[\r\n]")


def _notice(settings: Settings, policy: Policy, to: Sequence[str], subject: str, body: str,
            purpose: str, held_id: str | None, by: str = "stampgate") -> NewMail:
    recipients = tuple(dict.fromkeys(to))
    return NewMail(kind=OutboxKind.NOTICE, purpose=purpose, sender=NULL_SENDER,
                   recipients=recipients, requested_by=by, held_id=held_id,
                   data=compose(settings, policy, recipients, subject, body, purpose))


def _stamp_line(hold: HeldMessage) -> str:
    found = ", ".join(loc.value for loc in hold.decision.found_in) or "-"
    return f"{hold.stamp_label} (found in: {found})"


def _held_lines(hold: HeldMessage) -> list[str]:
    """Who was held and why, one line per recipient, from the stored decision."""
    held = {a.lower() for a in hold.held_recipients}
    lines = [f"  - {r.reason} [rule {r.rule}]"
             for r in hold.decision.recipients if r.address.lower() in held]
    return lines or [f"  - {hold.reason}"]


def _describe(hold: HeldMessage) -> str:
    message_id = hold.message_id or "(none)"
    return (f"your message {message_id} (queue id {hold.queue_id}, "
            f"{hold.created_at:%Y-%m-%d %H:%M} UTC)")


def reviewer_notice(hold: HeldMessage, settings: Settings, policy: Policy) -> NewMail | None:
    """One message per hold to the reviewers."""
    to = reviewer_addresses(settings, policy)
    if not to:
        return None
    adjustments = hold.decision.adjustments
    lines = [
        "A message is waiting for review.", "",
        f"Hold:        {hold.id}",
        f"Stamp:       {_stamp_line(hold)}",
        f"From:        {hold.sender or '<>'}",
        f"Held for:    {', '.join(hold.held_recipients)}",
        "Why:", *_held_lines(hold),
    ]
    if adjustments:
        lines.append(f"Adjustments: {len(adjustments)} required (listed on the review page)")
    if hold.decision.downgrade:
        lines.append(f"Downgrade:   {hold.decision.downgrade}")
    if hold.decision.newcomers:
        lines.append(f"New to the confidential thread: {', '.join(hold.decision.newcomers)}")
    expires = hold.created_at + dt.timedelta(days=settings.hold_expiry_days)
    lines += ["", f"Review it:   {link(settings, hold.id)}", "",
              f"Unless someone decides first, the hold expires on {expires:%Y-%m-%d %H:%M} UTC "
              "and the sender is told.", FOOTER]
    return _notice(settings, policy, to, f"Held for review: {hold.id} ({hold.stamp_label})",
                   "\n".join(lines) + "\n", "reviewer-hold", hold.id)


def digest_notice(holds: Sequence[HeldMessage], settings: Settings,
                  policy: Policy) -> NewMail | None:
    """One message listing every hold since the last digest."""
    to = reviewer_addresses(settings, policy)
    if not to or not holds:
        return None
    lines = [f"{len(holds)} message(s) held since the last digest.", ""]
    for hold in holds:
        state = "" if hold.state is HeldState.HELD else f" [now {hold.state.value}]"
        lines += [f"{hold.id}  {hold.stamp_label}  from {hold.sender or '<>'}{state}",
                  f"  held for: {', '.join(hold.held_recipients)}",
                  f"  why: {hold.reason}",
                  f"  {link(settings, hold.id)}", ""]
    lines += [f"The whole queue: {base_url(settings)}/", FOOTER]
    return _notice(settings, policy, to, f"Held for review: {len(holds)} message(s)",
                   "\n".join(lines) + "\n", "reviewer-digest", None)


def sender_hold_notice(hold: HeldMessage, settings: Settings, policy: Policy) -> NewMail | None:
    """Tell the sender which recipients were held and why."""
    if not hold.sender:
        return None
    held = {a.lower() for a in hold.held_recipients}
    delivered = [a for a in hold.recipients if a.lower() not in held]
    lines = [f"stampgate held {_describe(hold)} for review.", ""]
    if delivered:
        lines += [f"Delivered now to: {', '.join(delivered)}"]
    lines += [f"Held for:         {', '.join(hold.held_recipients)}",
              f"Stamp:            {_stamp_line(hold)}", "", "Why:", *_held_lines(hold), "",
              f"A reviewer will release or reject it; you will be told (hold {hold.id}).",
              f"Unreviewed, it expires after {settings.hold_expiry_days:g} day(s).",
              "You need not send it again."]
    return _notice(settings, policy, [hold.sender], f"Held for review: {hold.id}",
                   "\n".join(lines) + "\n", "sender-hold", hold.id)


def hold_notices(hold: HeldMessage, settings: Settings, policy: Policy) -> HoldNotices:
    """The notices a new hold causes now, and whether it waits for the reviewers' digest."""
    mode = settings.notify_mode
    mail: list[NewMail] = []
    sender = sender_hold_notice(hold, settings, policy) if mode != "off" else None
    if sender is not None:
        mail.append(sender)
    if mode == "per-message":
        reviewer = reviewer_notice(hold, settings, policy)
        if reviewer is not None:
            mail.append(reviewer)
    return HoldNotices(tuple(mail), mode == "digest")


def new_hold_notices(hold: HeldMessage, settings: Settings,
                     policy: Policy) -> HoldNotices | None:
    """``hold_notices`` for a hold about to be stored; ``None`` if they cannot be written.

    A notice that fails never fails the hold: the housekeeping sweep queues it later.
    """
    try:
        return hold_notices(hold, settings, policy)
    except Exception:
        log.exception("notice-failed", hold_id=hold.id)
        return None


def decision_notice(hold: HeldMessage, state: HeldState, by: str, note: str | None,
                    released_to: Sequence[str], settings: Settings,
                    policy: Policy) -> NewMail | None:
    """Tell the sender what happened to the held part of their message (discard: nothing)."""
    if not hold.sender or settings.notify_mode == "off":
        return None
    what = _describe(hold)
    match state:
        case HeldState.RELEASED:
            kept = [a for a in hold.held_recipients if a.lower() not in
                    {r.lower() for r in released_to}]
            lines = [f"A reviewer released {what}.", "",
                     f"Released to:      {', '.join(released_to)}"]
            if kept:
                lines.append(f"Not released to:  {', '.join(kept)}")
            subject = f"Released: {hold.id}"
        case HeldState.REJECTED:
            lines = [f"A reviewer rejected {what}.", "",
                     f"Not delivered to: {', '.join(hold.held_recipients)}",
                     f"Reason:           {note or '-'}"]
            subject = f"Rejected: {hold.id}"
        case HeldState.EXPIRED:
            lines = [f"Nobody reviewed {what} within {settings.hold_expiry_days:g} day(s); "
                     "it has expired.", "",
                     f"Not delivered to: {', '.join(hold.held_recipients)}",
                     "If it should still go to them, ask a reviewer (management) and send "
                     "it again."]
            subject = f"Expired: {hold.id}"
        case HeldState.DISCARDED | HeldState.HELD:
            return None
    lines += ["", f"Decided by: {by}"]
    return _notice(settings, policy, [hold.sender], subject, "\n".join(lines) + "\n",
                   f"sender-{state.value}", hold.id, by)


def delivery_failed_notices(hold: HeldMessage, recipients: Sequence[str], error: str,
                            reviewer: str | None, settings: Settings,
                            policy: Policy) -> list[NewMail]:
    """A released message the downstream would not take: tell the reviewer and the sender."""
    text = [f"The release of hold {hold.id} could not be delivered to "
            f"{', '.join(recipients)}.", "", f"The downstream said: {' '.join(error.split())}",
            ""]
    mail: list[NewMail] = []
    to_reviewers = [reviewer] if reviewer else list(reviewer_addresses(settings, policy))
    if to_reviewers:
        body = [*text, f"Details: {link(settings, hold.id)}", FOOTER]
        mail.append(_notice(settings, policy, to_reviewers, f"Release failed: {hold.id}",
                            "\n".join(body) + "\n", "reviewer-release-failed", hold.id))
    if hold.sender:
        body = [f"The release of {_describe(hold)} failed.", *text[1:],
                "A reviewer has been told."]
        mail.append(_notice(settings, policy, [hold.sender], f"Release failed: {hold.id}",
                            "\n".join(body) + "\n", "sender-release-failed", hold.id))
    return mail


async def on_hold(store: Store, settings: Settings, policy: Policy, hold_id: str) -> None:
    """The SMTP handler's hook after a hold is final: queue its notices. Never raises."""
    try:
        hold = await store.get_held(hold_id)
        if hold is None:
            return
        notices = hold_notices(hold, settings, policy)
        await store.record_hold_notices(hold_id, notices.mail, notices.digest_pending)
    except Exception:  # the hold is stored; the housekeeping sweep queues its notices later
        log.exception("notice-failed", hold_id=hold_id)


async def sweep(store: Store, settings: Settings, policy: Policy,
                created_before: dt.datetime) -> int:
    """Queue the notices of holds that never got them (the gateway stopped in between)."""
    count = 0
    for hold in await store.holds_without_notice(created_before):
        notices = hold_notices(hold, settings, policy)
        if await store.record_hold_notices(hold.id, notices.mail, notices.digest_pending):
            count += 1
    return count


def digest_period(at: dt.datetime, minutes: float) -> str:
    """The digest period ``at`` falls in: every gateway counts them alike (from the Unix
    epoch, ``minutes`` long), so that the store can give each period to one of them."""
    return f"{minutes:g}m:{int(at.timestamp() // (minutes * 60))}"


async def send_digest(store: Store, settings: Settings, policy: Policy, period: str,
                      at: dt.datetime) -> int:
    """Queue the reviewers' digest of ``period`` unless another gateway sharing the store
    did: how many holds it lists (0 if none waited, or the period was claimed already)."""

    def compose(holds: list[HeldMessage]) -> list[NewMail]:
        notice = digest_notice(holds, settings, policy)
        return [notice] if notice is not None else []

    listed = await store.claim_digest(period, at, compose)
    if listed is None:
        log.info("digest-claimed-elsewhere", period=period)
        return 0
    return listed
