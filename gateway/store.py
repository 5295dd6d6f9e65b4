"""The durable store (SQLite): held messages, the release outbox, thread memory, the audit log."""

from __future__ import annotations

import datetime as dt
import enum
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.decision import Decision
from gateway.model import Stamp

DB_NAME = "stampgate.sqlite3"
metadata = MetaData()


class HeldState(enum.Enum):
    """Where a held message is in its review."""

    HELD = "held"
    RELEASED = "released"
    REJECTED = "rejected"
    DISCARDED = "discarded"
    EXPIRED = "expired"


held_messages = Table(
    "held_messages", metadata,
    Column("id", String(32), primary_key=True),
    Column("queue_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("version", Integer, nullable=False, default=1),
    Column("sender", Text, nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("held_recipients", JSON, nullable=False),
    Column("stamp", String(32)),
    Column("reason", Text, nullable=False),
    Column("decision", JSON, nullable=False),
    Column("message_id", Text),
    Column("thread_id", Text),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_note", Text),
)

thread_messages = Table(
    "thread_messages", metadata,
    Column("message_id", Text, primary_key=True),
    Column("thread_id", Text, nullable=False, index=True),
    Column("stamp", String(32)),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

threads = Table(
    "threads", metadata,
    Column("thread_id", Text, primary_key=True),
    Column("stamp", String(32)),
    Column("confidential", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
)

thread_participants = Table(
    "thread_participants", metadata,
    Column("thread_id", Text, primary_key=True),
    Column("address", Text, primary_key=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("held_id", String(32)),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_held", "held_id"),
)


class OutboxKind(enum.Enum):
    """What an outbox entry carries."""

    RELEASE = "release"  # a held message released to (some of) its held recipients
    NOTICE = "notice"    # a notice the gateway wrote (to reviewers or a sender)


class OutboxState(enum.Enum):
    """Where an outbox entry is on its way downstream."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# Mail waiting to go downstream: released messages and notices; survives a restart.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("held_id", String(32), index=True),
    Column("sender", Text, nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("data", LargeBinary),  # notices only; a release is built from the held content
    Column("requested_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("done_at", DateTime(timezone=True)),
)

# Which holds reviewers and sender were told about; a pending digest line per hold.
hold_notices = Table(
    "hold_notices", metadata,
    Column("held_id", String(32), primary_key=True),
    Column("noticed_at", DateTime(timezone=True), nullable=False),
    Column("digest_pending", Integer, nullable=False, default=0),
)


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
    decision: dict[str, Any]
    message_id: str | None
    thread_id: str | None
    size: int
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None

    @property
    def stamp_label(self) -> str:
        return Stamp(self.stamp).label if self.stamp else "no stamp"

    @property
    def adjustments(self) -> tuple[str, ...]:
        return tuple(self.decision.get("adjustments", []))

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "queue_id": self.queue_id,
            "created_at": self.created_at.isoformat(), "state": self.state.value,
            "sender": self.sender, "held_recipients": list(self.held_recipients),
            "recipients": list(self.recipients), "stamp": self.stamp, "reason": self.reason,
            "thread_id": self.thread_id, "newcomers": self.decision.get("newcomers", []),
            "downgrade": self.decision.get("downgrade"), "size": self.size,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_note": self.decision_note,
        }


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


def _pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """Async access to the SQLite store under the data directory."""

    def __init__(self, engine: AsyncEngine, path: Path) -> None:
        self.engine = engine
        self.path = path

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        event.listen(engine.sync_engine, "connect", _pragmas)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        except SQLAlchemyError as exc:
            await engine.dispose()
            raise StoreError(f"cannot open the store at {path}: {exc.__class__.__name__}") from exc
        return cls(engine, path)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- held messages -------------------------------------------------------------------

    async def hold(self, *, queue_id: str, sender: str, recipients: Sequence[str],
                   held: Sequence[str], decision: Decision, content: bytes,
                   message_id: str | None) -> str:
        """Durably store a held message and its decision; returns the hold id."""
        hold_id = new_hold_id()
        reasons = [r.reason for r in decision.recipients if r.address in held]
        record = {
            "id": hold_id, "queue_id": queue_id, "created_at": now(),
            "state": HeldState.HELD.value, "version": 1, "sender": sender,
            "recipients": list(recipients), "held_recipients": list(held),
            "stamp": decision.stamp.value if decision.stamp else None,
            "reason": "; ".join(reasons + list(decision.reasons))[:2000],
            "decision": decision.to_dict(), "message_id": message_id,
            "thread_id": decision.thread_id, "size": len(content), "content": content,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(held_messages).values(**record))
                await _audit(conn, "stampgate", "hold", hold_id, {
                    "queue_id": queue_id, "sender": sender, "held_recipients": list(held),
                    "stamp": record["stamp"], "rules": list(decision.rules),
                    "downgrade": decision.downgrade, "newcomers": list(decision.newcomers),
                    "thread_id": decision.thread_id,
                })
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store held message: {exc.__class__.__name__}") from exc
        return hold_id

    async def forget_hold(self, hold_id: str, why: str) -> None:
        """Undo a hold whose message was refused before the client got 250."""
        async with self.engine.begin() as conn:
            await conn.execute(held_messages.delete().where(held_messages.c.id == hold_id))
            await _audit(conn, "stampgate", "hold-withdrawn", hold_id, {"why": why})

    async def held(self, state: HeldState | None = HeldState.HELD,
                   limit: int = 1000) -> list[HeldMessage]:
        return await self.find_held(HeldFilter(state=state), limit)

    async def find_held(self, which: HeldFilter, limit: int = 1000) -> list[HeldMessage]:
        """Held messages matching every field of ``which``, oldest first."""
        c = held_messages.c
        query = select(*_summary_columns()).order_by(c.created_at, c.id).limit(limit)
        if which.state is not None:
            query = query.where(c.state == which.state.value)
        if which.stamp == "none":
            query = query.where(c.stamp.is_(None))
        elif which.stamp:
            query = query.where(c.stamp == which.stamp)
        if which.reason:
            pattern = "%" + which.reason.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            query = query.where(or_(c.reason.ilike(pattern, escape="\\"),
                                    func.json_extract(c.decision, "$.rules").ilike(
                                        pattern, escape="\\")))
        if which.created_before is not None:
            query = query.where(c.created_at < _naive(which.created_before))
        if which.created_after is not None:
            query = query.where(c.created_at >= _naive(which.created_after))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_held(row) for row in rows]

    async def get_held(self, hold_id: str) -> HeldMessage | None:
        query = select(*_summary_columns()).where(held_messages.c.id == hold_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _held(row) if row else None

    async def held_content(self, hold_id: str) -> bytes | None:
        query = select(held_messages.c.content).where(held_messages.c.id == hold_id)
        async with self.engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return bytes(value) if value is not None else None

    async def set_state(self, hold_id: str, expected_version: int, state: HeldState,
                        actor: str, note: str | None, detail: dict[str, Any],
                        mail: Sequence[NewMail] = ()) -> bool:
        """Move a held message to ``state`` if nobody decided first (optimistic locking).

        The decision, its audit entry and the mail it causes (the release itself, notices)
        are one transaction: a decision is never recorded without its mail, nor the reverse.
        """
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(held_messages)
                .where(held_messages.c.id == hold_id,
                       held_messages.c.version == expected_version,
                       held_messages.c.state == HeldState.HELD.value)
                .values(state=state.value, version=expected_version + 1, decided_by=actor,
                        decided_at=now(), decision_note=note)
            )
            if result.rowcount != 1:
                return False
            await _audit(conn, actor, state.value, hold_id, {"note": note, **detail})
            await _enqueue(conn, mail)
        return True

    # -- notices of holds ----------------------------------------------------------------

    async def record_hold_notices(self, hold_id: str, mail: Sequence[NewMail],
                                  digest_pending: bool) -> bool:
        """Queue the notices of a hold once; ``False`` if they were queued already."""
        async with self.engine.begin() as conn:
            known = (await conn.execute(select(hold_notices.c.held_id).where(
                hold_notices.c.held_id == hold_id))).first()
            if known is not None:
                return False
            await conn.execute(insert(hold_notices).values(
                held_id=hold_id, noticed_at=now(), digest_pending=int(digest_pending)))
            await _enqueue(conn, mail)
        return True

    async def holds_without_notice(self, created_before: dt.datetime) -> list[HeldMessage]:
        """Holds still waiting for review whose notices were never queued (a crash between)."""
        c = held_messages.c
        query = (select(*_summary_columns())
                 .where(c.state == HeldState.HELD.value,
                        c.created_at < _naive(created_before),
                        c.id.not_in(select(hold_notices.c.held_id)))
                 .order_by(c.created_at).limit(1000))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_held(row) for row in rows]

    async def digest_pending(self) -> list[HeldMessage]:
        c = held_messages.c
        query = (select(*_summary_columns())
                 .where(c.id.in_(select(hold_notices.c.held_id)
                                 .where(hold_notices.c.digest_pending == 1)))
                 .order_by(c.created_at))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_held(row) for row in rows]

    async def digest_sent(self, hold_ids: Sequence[str], mail: Sequence[NewMail]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(hold_notices)
                               .where(hold_notices.c.held_id.in_(list(hold_ids)))
                               .values(digest_pending=0))
            await _enqueue(conn, mail)

    # -- the outbox ----------------------------------------------------------------------

    async def enqueue(self, mail: Sequence[NewMail]) -> None:
        async with self.engine.begin() as conn:
            await _enqueue(conn, mail)

    async def due_outbox(self, at: dt.datetime, limit: int = 50) -> list[OutboxItem]:
        """Pending entries whose next attempt is due, oldest first."""
        query = (select(outbox)
                 .where(outbox.c.state == OutboxState.PENDING.value,
                        outbox.c.next_attempt_at <= _naive(at))
                 .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_outbox_item(row) for row in rows]

    async def outbox_for(self, hold_id: str) -> list[OutboxItem]:
        query = select(outbox).where(outbox.c.held_id == hold_id).order_by(outbox.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_outbox_item(row) for row in rows]

    async def outbox_entries(self, state: OutboxState | None = None,
                             limit: int = 1000) -> list[OutboxItem]:
        query = select(outbox).order_by(outbox.c.id).limit(limit)
        if state is not None:
            query = query.where(outbox.c.state == state.value)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_outbox_item(row) for row in rows]

    async def outbox_sent(self, item: OutboxItem, audit: dict[str, Any] | None) -> None:
        """Mark an entry delivered; ``audit`` (a release) is recorded with it."""
        async with self.engine.begin() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == item.id).values(
                state=OutboxState.SENT.value, attempts=item.attempts + 1, done_at=now(),
                last_error=None))
            if audit is not None:
                await _audit(conn, "stampgate", "release-delivered", item.held_id, audit)

    async def outbox_retry(self, item: OutboxItem, next_at: dt.datetime, error: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == item.id).values(
                attempts=item.attempts + 1, next_attempt_at=_naive(next_at),
                last_error=error[:1000]))

    async def outbox_failed(self, item: OutboxItem, error: str, audit: dict[str, Any] | None,
                            mail: Sequence[NewMail]) -> None:
        """Give up on an entry for good; the failure notices go in the same transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == item.id).values(
                state=OutboxState.FAILED.value, attempts=item.attempts + 1, done_at=now(),
                last_error=error[:1000]))
            if audit is not None:
                await _audit(conn, "stampgate", "release-failed", item.held_id, audit)
            await _enqueue(conn, mail)

    # -- thread memory -------------------------------------------------------------------

    async def add_participants(self, thread_id: str, addresses: Sequence[str]) -> None:
        async with self.engine.begin() as conn:
            await self._add_participants(conn, thread_id, addresses)

    @staticmethod
    async def _add_participants(conn: AsyncConnection, thread_id: str,
                                addresses: Sequence[str]) -> None:
        known = set((await conn.execute(
            select(thread_participants.c.address)
            .where(thread_participants.c.thread_id == thread_id)
        )).scalars().all())
        at = now()
        for address in dict.fromkeys(a.lower() for a in addresses if a):
            if address not in known:
                await conn.execute(insert(thread_participants).values(
                    thread_id=thread_id, address=address, added_at=at))

    # -- audit ---------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, held_id: str | None,
                    detail: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await _audit(conn, actor, action, held_id, detail)

    async def audit_entries(self, limit: int = 10000,
                            held_id: str | None = None) -> list[dict[str, Any]]:
        query = select(audit_log).order_by(audit_log.c.id).limit(limit)
        if held_id is not None:
            query = query.where(audit_log.c.held_id == held_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{"id": r["id"], "at": r["at"].isoformat(), "actor": r["actor"],
                 "action": r["action"], "held_id": r["held_id"], "detail": r["detail"]}
                for r in rows]

    async def count_held(self) -> int:
        async with self.engine.connect() as conn:
            value = (await conn.execute(
                select(func.count()).select_from(held_messages)
                .where(held_messages.c.state == HeldState.HELD.value)
            )).scalar_one()
        return int(value)


async def _audit(conn: AsyncConnection, actor: str, action: str, held_id: str | None,
                 detail: dict[str, Any]) -> None:
    await conn.execute(insert(audit_log).values(
        at=now(), actor=actor, action=action, held_id=held_id,
        detail=json.loads(json.dumps(detail, default=str))))


async def _enqueue(conn: AsyncConnection, mail: Sequence[NewMail]) -> None:
    at = now()
    for item in mail:
        await conn.execute(insert(outbox).values(
            kind=item.kind.value, purpose=item.purpose, held_id=item.held_id,
            sender=item.sender, recipients=list(item.recipients), data=item.data,
            requested_by=item.requested_by, created_at=at, state=OutboxState.PENDING.value,
            attempts=0, next_attempt_at=at))


def _outbox_item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"], kind=OutboxKind(row["kind"]), purpose=row["purpose"],
        held_id=row["held_id"], sender=row["sender"], recipients=tuple(row["recipients"]),
        data=bytes(row["data"]) if row["data"] is not None else None,
        requested_by=row["requested_by"], created_at=_aware(row["created_at"]),
        state=OutboxState(row["state"]), attempts=row["attempts"],
        next_attempt_at=_aware(row["next_attempt_at"]), last_error=row["last_error"],
        done_at=_aware(row["done_at"]) if row["done_at"] else None,
    )


def _naive(value: dt.datetime) -> dt.datetime:
    """UTC without tzinfo: how SQLAlchemy stores DateTime in SQLite, so comparisons hold."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _summary_columns() -> list[Any]:
    return [c for c in held_messages.c if c.name != "content"]


def _held(row: Any) -> HeldMessage:
    return HeldMessage(
        id=row["id"], queue_id=row["queue_id"], created_at=_aware(row["created_at"]),
        state=HeldState(row["state"]), version=row["version"], sender=row["sender"],
        recipients=tuple(row["recipients"]), held_recipients=tuple(row["held_recipients"]),
        stamp=row["stamp"], reason=row["reason"], decision=row["decision"],
        message_id=row["message_id"], thread_id=row["thread_id"], size=row["size"],
        decided_by=row["decided_by"],
        decided_at=_aware(row["decided_at"]) if row["decided_at"] else None,
        decision_note=row["decision_note"],
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
