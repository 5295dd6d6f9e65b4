"""The answers given to accepted messages, by acceptance key: a retry gets the same one.

A row is first a **claim** (an attempt is at work on the message: reading is done, it is
about to hold or relay), then the **answer** that attempt gave (``250``, with its queue and
hold id). A claim whose attempt is gone (its process died, or the client hung up) is
*stale*: the next attempt takes it over, reusing its queue id and its hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from gateway.core.decision import Decision
from gateway.store.conn import Conn, Cursor, check_at_commit
from gateway.store.db import Database
from gateway.store.records import StoreError, aware, now, stored


class AcceptedState(enum.Enum):
    """Where an accepted message's row is."""

    CLAIMED = "claimed"
    ANSWERED = "answered"


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer a message got: what became of it, its queue id and hold id."""

    outcome: str
    queue_id: str
    hold_id: str | None
    held: int
    delivered: int
    decision: Decision


@dataclass(frozen=True, slots=True)
class Accepted:
    """One row: a claim, or an answer given."""

    key: str
    state: AcceptedState
    owner: str | None
    queue_id: str
    hold_id: str | None
    claimed_at: dt.datetime
    answer: Answer | None
    # An attempt that gave up may have left a copy at the downstream (its answer never came).
    maybe_delivered: bool = False
    # The recipients whose copies the downstream took before an attempt gave up (a later
    # copy failed): the attempt that takes the claim over does not send them again.
    delivered_to: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of claiming a key: ``won`` (this attempt works on it), and the row that
    was there before (an answer, someone else's live claim, or a stale claim taken over)."""

    won: bool
    before: Accepted | None


@dataclass(frozen=True, slots=True)
class AcceptanceUpdate:
    """Written in the transaction that stores a hold: the hold id on the claim, or (when
    nothing can withdraw the hold any more) the final answer."""

    key: str
    answer: Answer | None = None


_COLUMNS = ("key, state, owner, queue_id, hold_id, outcome, held, delivered, decision, "
            "maybe_delivered, delivered_to, claimed_at")


def _from_row(row: Any) -> Accepted:
    state = AcceptedState(row["state"])
    answer = None
    if state is AcceptedState.ANSWERED:
        answer = Answer(outcome=row["outcome"], queue_id=row["queue_id"],
                        hold_id=row["hold_id"], held=int(row["held"]),
                        delivered=int(row["delivered"]),
                        decision=Decision.from_dict(json.loads(row["decision"])))
    return Accepted(key=row["key"], state=state, owner=row["owner"],
                    queue_id=row["queue_id"], hold_id=row["hold_id"],
                    claimed_at=aware(row["claimed_at"]), answer=answer,
                    maybe_delivered=bool(row["maybe_delivered"]),
                    delivered_to=_addresses(row["delivered_to"]))


def _addresses(text: str | None) -> frozenset[str]:
    return frozenset(json.loads(text)) if text else frozenset()


def _select(conn: Conn, key: str) -> Accepted | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM accepted WHERE key = ?", (key,)).fetchone()
    return _from_row(row) if row is not None else None


def record_answer(conn: Conn, key: str, answer: Answer) -> None:
    """The answer a message got, inside the caller's transaction."""
    at = stored(now())
    conn.execute(
        "INSERT INTO accepted (key, state, owner, queue_id, hold_id, outcome, held, delivered, "
        "decision, created_at, claimed_at, answered_at) "
        "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET state = excluded.state, owner = NULL, "
        "queue_id = excluded.queue_id, hold_id = excluded.hold_id, "
        "outcome = excluded.outcome, held = excluded.held, delivered = excluded.delivered, "
        "decision = excluded.decision, answered_at = excluded.answered_at",
        (key, AcceptedState.ANSWERED.value, answer.queue_id, answer.hold_id, answer.outcome,
         answer.held, answer.delivered, json.dumps(answer.decision.to_dict()), at, at, at))


class ClaimTaken(Exception):
    """A fresh claim found the key claimed or answered already (``claim_fresh``)."""


def _insert_claim(conn: Conn, key: str, owner: str, queue_id: str) -> Cursor:
    """The claim's row, unless ``key`` has one already (``rowcount`` 0 then)."""
    at = stored(now())
    return conn.execute(
        "INSERT INTO accepted (key, state, owner, queue_id, held, delivered, created_at, "
        "claimed_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, AcceptedState.CLAIMED.value, owner, queue_id, at, at))


def claim_fresh(conn: Conn, key: str, owner: str, queue_id: str) -> None:
    """Claim ``key`` inside the caller's transaction, assuming nobody has: without waiting
    for the server (the check is made before the commit), ``ClaimTaken`` rolls the
    transaction back if the key had a row already."""
    cursor = _insert_claim(conn, key, owner, queue_id)

    def check() -> None:
        if cursor.rowcount != 1:
            raise ClaimTaken(key)

    check_at_commit(conn, check)


def claim_if_new(conn: Conn, key: str, owner: str, queue_id: str) -> Callable[[], bool]:
    """Claim ``key`` if no row has it yet, waiting for nothing; returns a function that
    tells, once the transaction is committed, whether the claim was made. (On PostgreSQL
    the claim's transaction is then one round trip: nothing is read before its commit.)"""
    cursor = _insert_claim(conn, key, owner, queue_id)
    return lambda: cursor.rowcount == 1


def claim_in(conn: Conn, key: str, owner: str, queue_id: str,
             stale: Callable[[Accepted], bool]) -> Claim:
    """``AcceptedTables.claim`` inside the caller's transaction."""
    before = _select(conn, key)
    at = stored(now())
    if before is None:
        conn.execute(
            "INSERT INTO accepted (key, state, owner, queue_id, held, delivered, "
            "created_at, claimed_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?)",
            (key, AcceptedState.CLAIMED.value, owner, queue_id, at, at))
        return Claim(True, None)
    if before.state is AcceptedState.ANSWERED or not stale(before):
        return Claim(False, before)
    conn.execute("UPDATE accepted SET owner = ?, claimed_at = ? WHERE key = ?",
                 (owner, at, key))
    return Claim(True, before)


def apply_update(conn: Conn, update: AcceptanceUpdate, hold_id: str) -> None:
    """Inside the hold's transaction: the answer, or the hold id on the claim."""
    if update.answer is not None:
        record_answer(conn, update.key, update.answer)
        return
    conn.execute("UPDATE accepted SET hold_id = ? WHERE key = ? AND state = ?",
                 (hold_id, update.key, AcceptedState.CLAIMED.value))


class AcceptedTables(Database):
    """Claims and answers of idempotent acceptance."""

    _look_up: sqlite3.Connection | None = None

    async def accepted(self, key: str) -> Accepted | None:
        """The row of ``key``: its answer, or the claim of an attempt at work on it.

        Every message asks this first. On SQLite it is one primary-key read on a connection
        of the caller's thread: a WAL reader never waits for the writer, and the store's own
        thread may be busy with a commit's fsync (a hand-over to it costs more than the
        read). Should the file be busy all the same (a checkpoint resetting the WAL), the
        read goes to the store's thread."""
        try:
            quick = self._quick_reader()
            if quick is not None:
                try:
                    return _select(quick, key)
                except sqlite3.OperationalError:  # busy: read where the writes are
                    pass
            return await self._read(lambda conn: _select(conn, key))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read accepted messages: {exc.__class__.__name__}") from exc

    def _quick_reader(self) -> sqlite3.Connection | None:
        path = self.path
        if path is None:
            return None
        if self._look_up is None:
            conn = sqlite3.connect(path, timeout=0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only=ON")
            self._look_up = conn
        return self._look_up

    async def close(self) -> None:
        if self._look_up is not None:
            self._look_up.close()
            self._look_up = None
        await super().close()

    async def claim(self, key: str, owner: str, queue_id: str,
                    stale: Callable[[Accepted], bool]) -> Claim:
        """Claim ``key`` for an attempt, unless it was answered or another live attempt
        has it; a claim that ``stale`` says is abandoned is taken over.

        Visible to every gateway once this returns, but not waited onto the disk: the
        answer or the hold that follows before any ``250`` is durable and carries it there.
        A power cut in between loses the claim, and with it only the retry's warning that it
        may deliver a second copy (the retry delivers again either way)."""
        try:
            # Almost always the key is new: one statement. If a row has it, read that row.
            made = await self._write(lambda conn: claim_if_new(conn, key, owner, queue_id),
                                     durable=False)
            if made():
                return Claim(True, None)
            return await self._write(lambda conn: claim_in(conn, key, owner, queue_id, stale),
                                     durable=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot claim the message: {exc.__class__.__name__}") from exc

    async def claim_remembering(self, key: str, owner: str, queue_id: str,
                                stale: Callable[[Accepted], bool],
                                remembering: Callable[[Conn], None],
                                ) -> tuple[Claim | BaseException, BaseException | None]:
        """``claim`` and a thread memory write (``ThreadMemory.remembering``) in one commit,
        not waited onto the disk; each one's failure is returned, not raised.

        On SQLite, when its write lock is free and no other write is queued, both are written
        at once on this thread (``SqliteEngine.write_now``); otherwise they go to the store's
        thread together."""
        def both(conn: Conn) -> Claim:
            remembering(conn)
            return claim_in(conn, key, owner, queue_id, stale)

        done = self._write_now(both)
        if done is not None:
            return done[0], None
        claim, remembered = await asyncio.gather(
            self.claim(key, owner, queue_id, stale),
            self._write(remembering, durable=False), return_exceptions=True)
        return claim, remembered if isinstance(remembered, BaseException) else None

    async def answer(self, key: str, answer: Answer) -> None:
        """Record the answer a relayed message got (after the downstream accepted it)."""
        try:
            await self._write(lambda conn: record_answer(conn, key, answer))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot record the answer: {exc.__class__.__name__}") from exc

    async def release_claim(self, key: str, owner: str) -> None:
        """An attempt that did nothing lets go of its claim: the retry starts afresh."""
        await self._write(lambda conn: conn.execute(
            "DELETE FROM accepted WHERE key = ? AND state = ? AND owner = ?",
            (key, AcceptedState.CLAIMED.value, owner)))

    async def abandon_claim(self, key: str, owner: str, *, maybe_delivered: bool,
                            hold_gone: bool, delivered_to: Collection[str] = ()) -> None:
        """An attempt that may have left something behind gives up its claim; the retry
        takes it over. ``maybe_delivered``: a copy may be at the downstream (the retry's
        delivery is then a possible duplicate); ``hold_gone``: its hold was withdrawn;
        ``delivered_to``: recipients whose copies the downstream took, added to those the
        claim names already, in the same write."""

        def work(conn: Conn) -> None:
            selected = "WHERE key = ? AND state = ? AND owner = ?"
            mine = (key, AcceptedState.CLAIMED.value, owner)
            written = None
            if delivered_to:
                row = conn.execute(f"SELECT delivered_to FROM accepted {selected}",
                                   mine).fetchone()
                if row is None:  # no longer this attempt's claim
                    return
                written = json.dumps(sorted(_addresses(row[0]) | set(delivered_to)))
            conn.execute(
                "UPDATE accepted SET owner = NULL, "
                "maybe_delivered = CASE WHEN ? = 1 THEN 1 ELSE maybe_delivered END, "
                "hold_id = CASE WHEN ? = 1 THEN NULL ELSE hold_id END, "
                f"delivered_to = COALESCE(?, delivered_to) {selected}",
                (int(maybe_delivered), int(hold_gone), written, *mine))

        await self._write(work)

    async def prune_accepted(self, before: dt.datetime, limit: int = 1000) -> int:
        """Forget up to ``limit`` rows first claimed before ``before``; how many went."""

        def work(conn: Conn) -> int:
            cursor = conn.execute(
                "DELETE FROM accepted WHERE key IN (SELECT key FROM accepted "
                "WHERE created_at < ? ORDER BY created_at LIMIT ?)", (stored(before), limit))
            return cursor.rowcount

        return await self._write(work)

    async def count_accepted(self) -> int:
        row = await self._read(lambda conn: conn.execute(
            "SELECT count(*) FROM accepted").fetchone())
        return int(row[0])
