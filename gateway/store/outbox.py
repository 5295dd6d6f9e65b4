"""The outbox tables: mail waiting to go downstream, and which holds were noticed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from gateway.store.audit import record_audit
from gateway.store.conn import POSTGRESQL, Conn
from gateway.store.db import Database
from gateway.store.records import (
    HELD_COLUMNS,
    OUTBOX_COLUMNS,
    HeldMessage,
    HeldState,
    NewMail,
    OutboxItem,
    OutboxState,
    held_from_row,
    now,
    outbox_item_from_row,
    stored,
)

# Claimed digest periods are forgotten after this: only the recent ones can be claimed again.
DIGEST_PERIODS_KEPT = dt.timedelta(days=30)


def enqueue_rows(conn: Conn, mail: Sequence[NewMail]) -> None:
    """Put ``mail`` in the outbox, inside the caller's transaction."""
    at = stored(now())
    conn.executemany(
        "INSERT INTO outbox (kind, purpose, held_id, sender, recipients, data, requested_by, "
        "created_at, state, attempts, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [(item.kind.value, item.purpose, item.held_id, item.sender,
          json.dumps(list(item.recipients)), item.data, item.requested_by, at,
          OutboxState.PENDING.value, at) for item in mail])


def record_notices(conn: Conn, hold_id: str, mail: Sequence[NewMail],
                   digest_pending: bool, at: dt.datetime) -> None:
    """Mark a hold as noticed and queue its notices, inside the caller's transaction."""
    conn.execute("INSERT INTO hold_notices (held_id, noticed_at, digest_pending) "
                 "VALUES (?, ?, ?)", (hold_id, stored(at), int(digest_pending)))
    enqueue_rows(conn, mail)


def check_lease(seconds: float, downstream_timeout: float) -> float:
    """A claim's lease must outlast a delivery with time to spare; ``ValueError`` if not."""
    if seconds <= 2 * downstream_timeout:
        raise ValueError("must be more than twice downstream_timeout (a delivery still "
                         "running when the lease ends could be sent twice)")
    return seconds


class OutboxTables(Database):
    """Queue mail, hand out what is due, record how each delivery went."""

    # -- notices of holds ----------------------------------------------------------------

    async def record_hold_notices(self, hold_id: str, mail: Sequence[NewMail],
                                  digest_pending: bool) -> bool:
        """Queue the notices of a hold once; ``False`` if they were queued already.

        Two gateways sweeping at once: the second insert waits for the first and does nothing.
        """

        def work(conn: Conn) -> bool:
            added = conn.execute(
                "INSERT INTO hold_notices (held_id, noticed_at, digest_pending) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (hold_id, stored(now()), int(digest_pending))).rowcount
            if added != 1:
                return False
            enqueue_rows(conn, mail)
            return True

        return await self._write(work)

    async def holds_without_notice(self, created_before: dt.datetime) -> list[HeldMessage]:
        """Holds still waiting for review whose notices were never queued (a crash between)."""
        query = (f"SELECT {HELD_COLUMNS} FROM held_messages "
                 "WHERE state = ? AND created_at < ? "
                 "AND id NOT IN (SELECT held_id FROM hold_notices) "
                 "ORDER BY created_at LIMIT 1000")
        params = (HeldState.HELD.value, stored(created_before))
        return await self._read(lambda conn: [
            held_from_row(row) for row in conn.execute(query, params)])

    async def digest_pending(self) -> list[HeldMessage]:
        query = (f"SELECT {HELD_COLUMNS} FROM held_messages "
                 "WHERE id IN (SELECT held_id FROM hold_notices WHERE digest_pending = 1) "
                 "ORDER BY created_at")
        return await self._read(lambda conn: [held_from_row(row)
                                              for row in conn.execute(query)])

    async def digest_sent(self, hold_ids: Sequence[str], mail: Sequence[NewMail]) -> None:
        def work(conn: Conn) -> None:
            conn.executemany("UPDATE hold_notices SET digest_pending = 0 WHERE held_id = ?",
                             [(hold_id,) for hold_id in dict.fromkeys(hold_ids)])
            enqueue_rows(conn, mail)

        await self._write(work)

    async def claim_digest(self, period: str, at: dt.datetime,
                           compose: Callable[[list[HeldMessage]], Sequence[NewMail]]
                           ) -> int | None:
        """Send the reviewers' digest of ``period`` unless another gateway did: one
        transaction claims the period (a row in ``digest_periods``), takes the holds waiting
        for a digest and queues what ``compose`` makes of them. ``None`` if the period was
        claimed already; else how many holds the digest lists (0: none waited, nothing sent).
        """

        def work(conn: Conn) -> int | None:
            if conn.execute("INSERT INTO digest_periods (period, claimed_at) VALUES (?, ?) "
                            "ON CONFLICT (period) DO NOTHING",
                            (period, stored(at))).rowcount != 1:
                return None
            conn.execute("DELETE FROM digest_periods WHERE claimed_at < ?",
                         (stored(at - DIGEST_PERIODS_KEPT),))
            # Taken, not only read: a row another transaction took meanwhile is not listed.
            taken = [str(row[0]) for row in conn.execute(
                "UPDATE hold_notices SET digest_pending = 0 WHERE digest_pending = 1 "
                "RETURNING held_id")]
            if not taken:
                return 0
            marks = ", ".join("?" * len(taken))
            holds = [held_from_row(row) for row in conn.execute(
                f"SELECT {HELD_COLUMNS} FROM held_messages WHERE id IN ({marks}) "
                "ORDER BY created_at, id", taken)]
            enqueue_rows(conn, compose(holds))
            return len(holds)

        return await self._write(work)

    # -- the outbox ----------------------------------------------------------------------

    async def enqueue(self, mail: Sequence[NewMail]) -> None:
        await self._write(lambda conn: enqueue_rows(conn, mail))

    async def due_outbox(self, at: dt.datetime, limit: int = 50) -> list[OutboxItem]:
        """Pending entries whose next attempt is due, oldest first."""
        query = (f"SELECT {OUTBOX_COLUMNS} FROM outbox "
                 "WHERE state = ? AND next_attempt_at <= ? "
                 "ORDER BY next_attempt_at, id LIMIT ?")
        params = (OutboxState.PENDING.value, stored(at), limit)
        return await self._read(lambda conn: [
            outbox_item_from_row(row) for row in conn.execute(query, params)])

    async def claim_outbox(self, at: dt.datetime, owner: str, lease: dt.timedelta,
                           limit: int = 50) -> list[OutboxItem]:
        """Claim due entries for ``owner`` until ``at + lease``, oldest first.

        An entry claimed by a gateway whose lease has not ended is left alone; when the
        claimer dies its lease ends and another gateway takes the entry. On PostgreSQL rows
        another gateway is claiming right now are skipped (``FOR UPDATE SKIP LOCKED``).
        """
        skip = " FOR UPDATE SKIP LOCKED" if self.dialect == POSTGRESQL else ""
        query = ("SELECT id FROM outbox WHERE state = ? AND next_attempt_at <= ? "
                 "AND (claimed_until IS NULL OR claimed_until <= ?) "
                 f"ORDER BY next_attempt_at, id LIMIT ?{skip}")
        params = (OutboxState.PENDING.value, stored(at), stored(at), limit)
        until = stored(at + lease)

        def work(conn: Conn) -> list[OutboxItem]:
            ids = [int(row[0]) for row in conn.execute(query, params)]
            if not ids:
                return []
            conn.executemany("UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                             [(owner, until, i) for i in ids])
            marks = ",".join("?" * len(ids))
            return [outbox_item_from_row(row) for row in conn.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id IN ({marks}) "
                "ORDER BY next_attempt_at, id", ids)]

        return await self._write(work)

    async def release_outbox_claims(self, owner: str) -> int:
        """End ``owner``'s claims on entries still pending (a gateway that stops); how many.

        A stopped gateway's entries are due again at once instead of when their lease ends,
        so a restart does not leave a release waiting for the lease (eleven minutes by
        default). An entry whose try was cut short may have reached the downstream: sending
        it again is a duplicate, never a loss, as after a crash.
        """
        query = ("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                 "WHERE claimed_by = ? AND state = ?")
        params = (owner, OutboxState.PENDING.value)
        return await self._write(lambda conn: conn.execute(query, params).rowcount)

    async def outbox_for(self, hold_id: str) -> list[OutboxItem]:
        query = f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE held_id = ? ORDER BY id"
        return await self._read(lambda conn: [
            outbox_item_from_row(row) for row in conn.execute(query, (hold_id,))])

    async def outbox_entries(self, state: OutboxState | None = None,
                             limit: int = 1000) -> list[OutboxItem]:
        where = "WHERE state = ? " if state is not None else ""
        params = (state.value, limit) if state is not None else (limit,)
        query = f"SELECT {OUTBOX_COLUMNS} FROM outbox {where}ORDER BY id LIMIT ?"
        return await self._read(lambda conn: [
            outbox_item_from_row(row) for row in conn.execute(query, params)])

    async def outbox_sent(self, item: OutboxItem, audit: dict[str, Any] | None) -> None:
        """Mark an entry delivered; ``audit`` (a release) is recorded with it."""

        def work(conn: Conn) -> None:
            conn.execute("UPDATE outbox SET state = ?, attempts = ?, done_at = ?, "
                         "last_error = NULL, claimed_by = NULL, claimed_until = NULL "
                         "WHERE id = ?",
                         (OutboxState.SENT.value, item.attempts + 1, stored(now()), item.id))
            if audit is not None:
                record_audit(conn, "stampgate", "release-delivered", item.held_id, audit)

        await self._write(work)

    async def outbox_retry(self, item: OutboxItem, next_at: dt.datetime, error: str) -> None:
        await self._write(lambda conn: conn.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            (item.attempts + 1, stored(next_at), error[:1000], item.id)))

    async def outbox_failed(self, item: OutboxItem, error: str, audit: dict[str, Any] | None,
                            mail: Sequence[NewMail]) -> None:
        """Give up on an entry for good; the failure notices go in the same transaction."""

        def work(conn: Conn) -> None:
            conn.execute("UPDATE outbox SET state = ?, attempts = ?, done_at = ?, "
                         "last_error = ?, claimed_by = NULL, claimed_until = NULL "
                         "WHERE id = ?",
                         (OutboxState.FAILED.value, item.attempts + 1, stored(now()),
                          error[:1000], item.id))
            if audit is not None:
                record_audit(conn, "stampgate", "release-failed", item.held_id, audit)
            enqueue_rows(conn, mail)

        await self._write(work)
