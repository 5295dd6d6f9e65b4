"""The durable store (SQLite): held messages, thread memory and the audit log."""

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
    select,
    update,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.decision import Decision, ThreadContext
from gateway.message import MessageFacts
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
        query = select(*_summary_columns()).order_by(held_messages.c.created_at).limit(limit)
        if state is not None:
            query = query.where(held_messages.c.state == state.value)
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
                        actor: str, note: str | None, detail: dict[str, Any]) -> bool:
        """Move a held message to ``state`` if nobody decided first (optimistic locking)."""
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
        return True

    # -- thread memory -------------------------------------------------------------------

    async def thread_for(self, facts: MessageFacts) -> ThreadContext | None:
        """The known thread a message refers to (In-Reply-To or any References id)."""
        ids = facts.thread_ids
        if not ids:
            return None
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(thread_messages.c.message_id, thread_messages.c.thread_id)
                .where(thread_messages.c.message_id.in_(ids))
            )).all()
            if not rows:
                return None
            found = {row.message_id: row.thread_id for row in rows}
            thread_id = next(found[i] for i in ids if i in found)
            thread = (await conn.execute(
                select(threads).where(threads.c.thread_id == thread_id)
            )).mappings().first()
            participants: frozenset[str] | None = None
            if thread is not None and thread["confidential"]:
                members = (await conn.execute(
                    select(thread_participants.c.address)
                    .where(thread_participants.c.thread_id == thread_id)
                )).scalars().all()
                participants = frozenset(members)
        stamp = Stamp(thread["stamp"]) if thread is not None and thread["stamp"] else None
        return ThreadContext(thread_id=thread_id, stamp=stamp, participants=participants)

    async def remember(self, message_id: str | None, decision: Decision,
                       delivered_to: Sequence[str]) -> None:
        """Record a message that went through: its id in its thread, and chain participants.

        ``delivered_to`` are the recipients' policy keys that received it (or will, once
        released); a held newcomer joins the chain when a reviewer releases to them.
        """
        thread_id = decision.thread_id or message_id
        if thread_id is None:
            return
        stamp = decision.stamp
        at = now()
        async with self.engine.begin() as conn:
            current = (await conn.execute(
                select(threads).where(threads.c.thread_id == thread_id)
            )).mappings().first()
            confidential = stamp is Stamp.CONFIDENTIAL
            if current is None:
                await conn.execute(insert(threads).values(
                    thread_id=thread_id, stamp=stamp.value if stamp else None,
                    confidential=int(confidential), started_at=at))
            else:
                old = Stamp(current["stamp"]) if current["stamp"] else None
                keep = old if old and (stamp is None or old.rank >= stamp.rank) else stamp
                confidential = confidential or bool(current["confidential"])
                await conn.execute(update(threads).where(threads.c.thread_id == thread_id)
                                   .values(stamp=keep.value if keep else None,
                                           confidential=int(confidential)))
            if message_id is not None:
                exists = (await conn.execute(select(thread_messages.c.message_id).where(
                    thread_messages.c.message_id == message_id))).first()
                if exists is None:
                    await conn.execute(insert(thread_messages).values(
                        message_id=message_id, thread_id=thread_id,
                        stamp=stamp.value if stamp else None, seen_at=at))
            if confidential:
                await self._add_participants(conn, thread_id, [decision.sender, *delivered_to])

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

    async def audit_entries(self, limit: int = 10000) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(audit_log).order_by(audit_log.c.id).limit(limit)
            )).mappings().all()
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
