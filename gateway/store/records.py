"""The store's values: held-message and outbox records, their states, and the time format."""

from __future__ import annotations

import datetime as dt
import enum
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.decision import Decision
from gateway.core.model import Stamp


class HeldState(enum.Enum):
    """Where a held message is in its review."""

    HELD = "held"
    RELEASED = "released"
    REJECTED = "rejected"
    DISCARDED = "discarded"
    EXPIRED = "expired"


class OutboxKind(enum.Enum):
    """What an outbox entry carries."""

    RELEASE = "release"  # a held message released to (some of) its held recipients
    NOTICE = "notice"    # a notice the gateway wrote (to reviewers or a sender)


class OutboxState(enum.Enum):
    """Where an outbox entry is on its way downstream."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class StoreError(Exception):
    """The store could not durably record something; the client must retry later."""


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A held message's record (content loaded separately when needed)."""

    id: str
    queue_id: str
    created_at: dt.datetime
    state: HeldState
    version: int
    sender: str
    recipients: tuple[str, ...]
    held_recipients: tuple[str, ...]
    stamp: str | None
    reason: str
    decision: Decision
    message_id: str | None
    thread_id: str | None
    size: int
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    # The Subject as stored: sealed under the body's key when bodies are (``seal_beside``);
    # ``None`` for holds made before subjects were kept.
    subject: bytes | None = None

    @property
    def stamp_label(self) -> str:
        return Stamp(self.stamp).label if self.stamp else "no stamp"

    @property
    def adjustments(self) -> tuple[str, ...]:
        return self.decision.adjustments

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "queue_id": self.queue_id,
            "created_at": self.created_at.isoformat(), "state": self.state.value,
            "sender": self.sender, "held_recipients": list(self.held_recipients),
            "recipients": list(self.recipients), "stamp": self.stamp, "reason": self.reason,
            "thread_id": self.thread_id, "newcomers": list(self.decision.newcomers),
            "downgrade": self.decision.downgrade, "size": self.size,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_note": self.decision_note,
        }


def new_held(*, queue_id: str, sender: str, recipients: Sequence[str], held: Sequence[str],
             decision: Decision, size: int, message_id: str | None,
             subject: bytes | None = None) -> HeldMessage:
    """The record of a hold about to be stored (a new id, state ``held``, version 1)."""
    reasons = [r.reason for r in decision.recipients if r.address in held]
    return HeldMessage(
        id=new_hold_id(), queue_id=queue_id, created_at=now(), state=HeldState.HELD,
        version=1, sender=sender, recipients=tuple(recipients), held_recipients=tuple(held),
        stamp=decision.stamp.value if decision.stamp else None,
        reason="; ".join(reasons + list(decision.reasons))[:2000], decision=decision,
        message_id=message_id, thread_id=decision.thread_id, size=size, decided_by=None,
        decided_at=None, decision_note=None, subject=subject)


@dataclass(frozen=True, slots=True)
class NewMail:
    """A message to put in the outbox (in the same transaction as what caused it)."""

    kind: OutboxKind
    purpose: str
    sender: str
    recipients: tuple[str, ...]
    requested_by: str
    held_id: str | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class HoldNotices:
    """The notices a new hold causes now, and whether it waits for the reviewers' digest."""

    mail: tuple[NewMail, ...]
    digest_pending: bool


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox entry as stored."""

    id: int
    kind: OutboxKind
    purpose: str
    held_id: str | None
    sender: str
    recipients: tuple[str, ...]
    data: bytes | None
    requested_by: str
    created_at: dt.datetime
    state: OutboxState
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    done_at: dt.datetime | None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind.value, "purpose": self.purpose,
            "held_id": self.held_id, "recipients": list(self.recipients),
            "requested_by": self.requested_by, "created_at": self.created_at.isoformat(),
            "state": self.state.value, "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
            "done_at": self.done_at.isoformat() if self.done_at else None,
        }


@dataclass(frozen=True, slots=True)
class HeldFilter:
    """Which held messages to list; every field narrows the list."""

    state: HeldState | None = HeldState.HELD
    stamp: str | None = None  # a stamp value, or "none" for unstamped
    reason: str | None = None  # text the reason or the rules contain
    created_before: dt.datetime | None = None
    created_after: dt.datetime | None = None


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_hold_id() -> str:
    return "H" + secrets.token_hex(6).upper()


# Every column of held_messages but the content, which is loaded only when needed.
HELD_COLUMNS = ("id, queue_id, created_at, state, version, sender, recipients, "
                "held_recipients, stamp, reason, decision, message_id, thread_id, size, "
                "decided_by, decided_at, decision_note, subject")
OUTBOX_COLUMNS = ("id, kind, purpose, held_id, sender, recipients, data, requested_by, "
                  "created_at, state, attempts, next_attempt_at, last_error, done_at")


def held_from_row(row: Any) -> HeldMessage:
    """A stored held message; its decision is parsed back into a ``Decision`` here."""
    return HeldMessage(
        id=row["id"], queue_id=row["queue_id"], created_at=aware(row["created_at"]),
        state=HeldState(row["state"]), version=row["version"], sender=row["sender"],
        recipients=tuple(json.loads(row["recipients"])),
        held_recipients=tuple(json.loads(row["held_recipients"])),
        stamp=row["stamp"], reason=row["reason"],
        decision=Decision.from_dict(json.loads(row["decision"])),
        message_id=row["message_id"], thread_id=row["thread_id"], size=row["size"],
        decided_by=row["decided_by"],
        decided_at=aware(row["decided_at"]) if row["decided_at"] else None,
        decision_note=row["decision_note"],
        subject=bytes(row["subject"]) if row["subject"] is not None else None,
    )


def outbox_item_from_row(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"], kind=OutboxKind(row["kind"]), purpose=row["purpose"],
        held_id=row["held_id"], sender=row["sender"],
        recipients=tuple(json.loads(row["recipients"])),
        data=bytes(row["data"]) if row["data"] is not None else None,
        requested_by=row["requested_by"], created_at=aware(row["created_at"]),
        state=OutboxState(row["state"]), attempts=row["attempts"],
        next_attempt_at=aware(row["next_attempt_at"]), last_error=row["last_error"],
        done_at=aware(row["done_at"]) if row["done_at"] else None,
    )


def _naive(value: dt.datetime) -> dt.datetime:
    """UTC without tzinfo (a naive value is taken as UTC already)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def stored(value: dt.datetime) -> str:
    """A datetime as the store keeps it: naive UTC text, microseconds always.

    The text SQLAlchemy wrote for ``DateTime`` on SQLite; fixed width, so comparing the
    text compares the times.
    """
    v = _naive(value)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
            f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}")


def loaded(text: str | dt.datetime) -> dt.datetime:
    """A stored datetime as it was written (naive UTC); PostgreSQL hands out datetimes."""
    return text if isinstance(text, dt.datetime) else dt.datetime.fromisoformat(text)


def aware(text: str | dt.datetime) -> dt.datetime:
    value = loaded(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
