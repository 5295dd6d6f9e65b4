"""The held-message table: store a hold, find and read it, move it to its final state."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gateway.store.accepted import AcceptanceUpdate, ClaimTaken, apply_update, claim_fresh
from gateway.store.audit import record_audit
from gateway.store.conn import POSTGRESQL, Conn
from gateway.store.db import Database
from gateway.store.keys import insert_key
from gateway.store.outbox import enqueue_rows, record_notices
from gateway.store.records import (
    HELD_COLUMNS,
    HeldFilter,
    HeldMessage,
    HeldState,
    HoldNotices,
    NewMail,
    OutboxKind,
    OutboxState,
    StoreError,
    aware,
    held_from_row,
    now,
    stored,
)

T = TypeVar("T")


def _hold_work(record: HeldMessage, content: bytes, notices: HoldNotices | None,
               acceptance: AcceptanceUpdate | None,
               key: tuple[bytes, bytes] | None) -> Callable[[Conn], None]:
    """The statements that store a hold, for a transaction."""
    decision = record.decision
    row = (
        record.id, record.queue_id, stored(record.created_at), record.state.value,
        record.version, record.sender, json.dumps(list(record.recipients)),
        json.dumps(list(record.held_recipients)), record.stamp, record.reason,
        json.dumps(decision.to_dict()), record.message_id, record.thread_id, record.size,
        content, record.subject,
    )
    detail = {
        "queue_id": record.queue_id, "sender": record.sender,
        "held_recipients": list(record.held_recipients), "stamp": record.stamp,
        "rules": list(decision.rules), "downgrade": decision.downgrade,
        "newcomers": list(decision.newcomers), "thread_id": decision.thread_id,
    }

    def work(conn: Conn) -> None:
        conn.execute(
            "INSERT INTO held_messages (id, queue_id, created_at, state, version, sender, "
            "recipients, held_recipients, stamp, reason, decision, message_id, thread_id, "
            "size, content, subject) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        if key is not None:
            insert_key(conn, *key)
        record_audit(conn, "stampgate", "hold", record.id, detail)
        if notices is not None:
            record_notices(conn, record.id, notices.mail, notices.digest_pending,
                           record.created_at)
        if acceptance is not None:
            apply_update(conn, acceptance, record.id)

    return work


class HeldTables(Database):
    """Held messages, their content and their review state."""

    async def hold(self, record: HeldMessage, content: bytes,
                   notices: HoldNotices | None = None,
                   acceptance: AcceptanceUpdate | None = None,
                   key: tuple[bytes, bytes] | None = None) -> str:
        """Durably store a held message and its decision; returns the hold id.

        ``notices`` (when nothing can withdraw the hold any more): queued in the same
        transaction, one commit instead of two. ``acceptance``: the message's answer (or
        its hold id on its claim), in the same transaction, so a retry finds this hold.
        ``key``: the sealed body's key id and wrapped key, stored in the same transaction.
        """
        await self._writing_hold(_hold_work(record, content, notices, acceptance, key))
        return record.id

    async def claim_and_hold(self, claim_key: str, owner: str, remember: Callable[[Conn], None],
                             record: HeldMessage, content: bytes,
                             notices: HoldNotices | None, acceptance: AcceptanceUpdate,
                             key: tuple[bytes, bytes] | None) -> str | None:
        """A wholly held message in one transaction (one commit): a fresh claim of its
        acceptance key, its thread memory (``remember``) and the hold as ``hold`` stores it.
        Returns the hold id; ``None`` if the key had a row already (nothing was written:
        the caller claims it the usual way). On PostgreSQL nothing in it waits for the
        server before the commit, so a group commit of many holds is one round trip."""
        hold = _hold_work(record, content, notices, acceptance, key)

        def work(conn: Conn) -> str:
            claim_fresh(conn, claim_key, owner, record.queue_id)
            remember(conn)
            hold(conn)
            return record.id

        try:
            return await self._writing_hold(work)
        except ClaimTaken:
            return None

    async def _writing_hold(self, work: Callable[[Conn], T]) -> T:
        try:
            return await self._write(work)
        except (StoreError, ClaimTaken):
            raise
        except Exception as exc:  # sqlite3.Error and the like: the class only, no values
            raise StoreError(f"cannot store held message: {exc.__class__.__name__}") from exc

    async def forget_hold(self, hold_id: str, why: str) -> None:
        """Undo a hold whose message was refused before the client got 250."""

        def work(conn: Conn) -> None:
            conn.execute("DELETE FROM held_messages WHERE id = ?", (hold_id,))
            record_audit(conn, "stampgate", "hold-withdrawn", hold_id, {"why": why})

        await self._write(work)

    async def held(self, state: HeldState | None = HeldState.HELD,
                   limit: int = 1000) -> list[HeldMessage]:
        return await self.find_held(HeldFilter(state=state), limit)

    async def find_held(self, which: HeldFilter, limit: int = 1000) -> list[HeldMessage]:
        """Held messages matching every field of ``which``, oldest first."""
        where: list[str] = []
        params: list[Any] = []
        if which.state is not None:
            where.append("state = ?")
            params.append(which.state.value)
        if which.stamp == "none":
            where.append("stamp IS NULL")
        elif which.stamp:
            where.append("stamp = ?")
            params.append(which.stamp)
        if which.reason:
            pattern = "%" + which.reason.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            rules = ("(decision::json->>'rules')" if self.dialect == POSTGRESQL
                     else "json_extract(decision, '$.rules')")
            where.append(f"(lower(reason) LIKE lower(?) ESCAPE '\\' OR "
                         f"lower({rules}) LIKE lower(?) ESCAPE '\\')")
            params += [pattern, pattern]
        if which.created_before is not None:
            where.append("created_at < ?")
            params.append(stored(which.created_before))
        if which.created_after is not None:
            where.append("created_at >= ?")
            params.append(stored(which.created_after))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        query = (f"SELECT {HELD_COLUMNS} FROM held_messages {clause}"
                 "ORDER BY created_at, id LIMIT ?")
        return await self._read(lambda conn: [
            held_from_row(row) for row in conn.execute(query, (*params, limit))])

    async def get_held(self, hold_id: str) -> HeldMessage | None:
        row = await self._read(lambda conn: conn.execute(
            f"SELECT {HELD_COLUMNS} FROM held_messages WHERE id = ?", (hold_id,)).fetchone())
        return held_from_row(row) if row else None

    async def held_content(self, hold_id: str) -> bytes | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT content FROM held_messages WHERE id = ?", (hold_id,)).fetchone())
        return bytes(row[0]) if row is not None and row[0] is not None else None

    async def erase_content(self, hold_id: str) -> None:
        """Replace a held message's content with nothing, keeping its record (idempotent).

        ``secure_delete`` zeroes the freed pages; the checkpoint then copies them into the
        database file and empties the write-ahead log, which still held the old pages. If
        another connection is reading, the log is emptied at a later checkpoint instead.
        """
        await self._write(lambda conn: conn.execute(
            "UPDATE held_messages SET content = ? WHERE id = ? AND length(content) > 0",
            (b"", hold_id)))
        await self._checkpoint()

    async def released_unerased(self, decided_before: dt.datetime,
                                limit: int = 1000) -> list[HeldMessage]:
        """Released before ``decided_before``, content still stored, no release pending.

        Oldest decided first: the holds whose content retention may erase.
        """
        query = (f"SELECT {HELD_COLUMNS} FROM held_messages AS h "
                 "WHERE state = ? AND decided_at < ? AND length(content) > 0 "
                 "AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.held_id = h.id "
                 "AND o.kind = ? AND o.state = ?) "
                 "ORDER BY decided_at, id LIMIT ?")
        params = (HeldState.RELEASED.value, stored(decided_before), OutboxKind.RELEASE.value,
                  OutboxState.PENDING.value, limit)
        return await self._read(lambda conn: [
            held_from_row(row) for row in conn.execute(query, params)])

    async def set_state(self, hold_id: str, expected_version: int, state: HeldState,
                        actor: str, note: str | None, detail: dict[str, Any],
                        mail: Sequence[NewMail] = ()) -> bool:
        """Move a held message to ``state`` if nobody decided first (optimistic locking).

        The decision, its audit entry and the mail it causes (the release itself, notices)
        are one transaction: a decision is never recorded without its mail, nor the reverse.
        """

        def work(conn: Conn) -> bool:
            cursor = conn.execute(
                "UPDATE held_messages SET state = ?, version = ?, decided_by = ?, "
                "decided_at = ?, decision_note = ? "
                "WHERE id = ? AND version = ? AND state = ?",
                (state.value, expected_version + 1, actor, stored(now()), note, hold_id,
                 expected_version, HeldState.HELD.value))
            if cursor.rowcount != 1:
                return False
            record_audit(conn, actor, state.value, hold_id, {"note": note, **detail})
            enqueue_rows(conn, mail)
            return True

        return await self._write(work)

    async def count_held(self) -> int:
        row = await self._read(lambda conn: conn.execute(
            "SELECT count(*) FROM held_messages WHERE state = ?",
            (HeldState.HELD.value,)).fetchone())
        return int(row[0])

    async def held_backlog(self) -> tuple[int, dt.datetime | None]:
        """How many messages wait for a reviewer, and when the oldest of them was held."""
        row = await self._read(lambda conn: conn.execute(
            "SELECT count(*), min(created_at) FROM held_messages WHERE state = ?",
            (HeldState.HELD.value,)).fetchone())
        return int(row[0]), aware(row[1]) if row[1] is not None else None
