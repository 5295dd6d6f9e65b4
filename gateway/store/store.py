"""The durable store (SQLite): held messages, the release outbox, thread memory, the audit log.

One ``sqlite3`` connection per ``Store``, used only from its own single-thread executor: calls
are serialized, each public method is one transaction, and the event loop never blocks.
Values are kept in the formats SQLAlchemy wrote (UTC datetimes as naive text with
microseconds, JSON as text, content as BLOB), so existing store files keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gateway.core.decision import Decision
from gateway.core.model import Stamp
from gateway.logs import get_logger

DB_NAME = "stampgate.sqlite3"
T = TypeVar("T")
log = get_logger()


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


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS held_messages (
    id VARCHAR(32) NOT NULL,
    queue_id VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL,
    version INTEGER NOT NULL,
    sender TEXT NOT NULL,
    recipients JSON NOT NULL,
    held_recipients JSON NOT NULL,
    stamp VARCHAR(32),
    reason TEXT NOT NULL,
    decision JSON NOT NULL,
    message_id TEXT,
    thread_id TEXT,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    decided_by TEXT,
    decided_at DATETIME,
    decision_note TEXT,
    PRIMARY KEY (id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_held_messages_state ON held_messages (state)",
    """CREATE TABLE IF NOT EXISTS thread_messages (
    message_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    stamp VARCHAR(32),
    seen_at DATETIME NOT NULL,
    PRIMARY KEY (message_id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_thread_messages_thread_id ON thread_messages (thread_id)",
    """CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT NOT NULL,
    stamp VARCHAR(32),
    confidential INTEGER NOT NULL,
    started_at DATETIME NOT NULL,
    PRIMARY KEY (thread_id)
)""",
    """CREATE TABLE IF NOT EXISTS thread_participants (
    thread_id TEXT NOT NULL,
    address TEXT NOT NULL,
    added_at DATETIME NOT NULL,
    PRIMARY KEY (thread_id, address)
)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER NOT NULL,
    at DATETIME NOT NULL,
    actor TEXT NOT NULL,
    action VARCHAR(32) NOT NULL,
    held_id VARCHAR(32),
    detail JSON NOT NULL,
    PRIMARY KEY (id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_audit_held ON audit_log (held_id)",
    # Mail waiting to go downstream: released messages and notices; survives a restart.
    # ``data`` is for notices only; a release is built from the held content.
    """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL,
    purpose VARCHAR(32) NOT NULL,
    held_id VARCHAR(32),
    sender TEXT NOT NULL,
    recipients JSON NOT NULL,
    data BLOB,
    requested_by TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at DATETIME NOT NULL,
    last_error TEXT,
    done_at DATETIME,
    PRIMARY KEY (id)
)""",
    "CREATE INDEX IF NOT EXISTS ix_outbox_held_id ON outbox (held_id)",
    "CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox (state)",
    # Which holds reviewers and sender were told about; a pending digest line per hold.
    """CREATE TABLE IF NOT EXISTS hold_notices (
    held_id VARCHAR(32) NOT NULL,
    noticed_at DATETIME NOT NULL,
    digest_pending INTEGER NOT NULL,
    PRIMARY KEY (held_id)
)""",
)
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
)
# Every column of held_messages but the content, which is loaded only when needed.
_HELD_COLUMNS = ("id, queue_id, created_at, state, version, sender, recipients, "
                 "held_recipients, stamp, reason, decision, message_id, thread_id, size, "
                 "decided_by, decided_at, decision_note")
_OUTBOX_COLUMNS = ("id, kind, purpose, held_id, sender, recipients, data, requested_by, "
                   "created_at, state, attempts, next_attempt_at, last_error, done_at")


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


# Makes a new hold's notices from its stored record: the mail, and whether it waits for
# the reviewers' digest (gateway.service.notify.hold_notices with the settings and policy bound).
NoticeMaker = Callable[["HeldMessage"], tuple[Sequence["NewMail"], bool]]


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


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        _transaction(conn, True, _create_schema)
    except BaseException:
        conn.close()
        raise
    return conn


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        conn.execute(statement)


def _checkpoint(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


Work = Callable[[sqlite3.Connection], Any]


def _transaction(conn: sqlite3.Connection, write: bool,
                 work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one transaction: committed if it returns, rolled back if it raises."""
    return _committed(conn, "BEGIN IMMEDIATE" if write else "BEGIN", lambda: work(conn))


def _group_transaction(conn: sqlite3.Connection, works: Sequence[Work]) -> list[tuple[bool, Any]]:
    """Run each of ``works`` in its own savepoint of one write transaction, then commit."""

    def each() -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        for work in works:
            conn.execute("SAVEPOINT work")
            try:
                outcomes.append((True, work(conn)))
            except Exception as exc:
                conn.execute("ROLLBACK TO work")
                outcomes.append((False, exc))
            conn.execute("RELEASE work")
        return outcomes

    return _committed(conn, "BEGIN IMMEDIATE", each)


def _committed(conn: sqlite3.Connection, begin: str, body: Callable[[], T]) -> T:
    conn.execute(begin)
    try:
        result = body()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return result


class Store:
    """Async access to the SQLite store under the data directory."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor,
                 path: Path) -> None:
        self._conn = conn
        self._executor = executor
        self._closed = False
        self.path = path
        # Group commit: writes that arrive while a commit is running share the next one.
        self._batch: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except sqlite3.Error as exc:
            executor.shutdown(wait=False)
            raise StoreError(f"cannot open the store at {path}: {exc.__class__.__name__}") from exc
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, path)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, _transaction, self._conn, False, work)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A write of another module's tables in this store (the thread memory), on the
        store's connection and in its group commits; returns once it is durable."""
        return await self._write(work)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction; returns once it is committed (durable).

        Writes that arrive while another commit is in progress are committed together in
        the next transaction, each in its own savepoint: one fsync for many holds, and a
        write that fails is rolled back alone.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._batch.append((work, done))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                try:
                    outcomes = await loop.run_in_executor(
                        self._executor, _group_transaction, self._conn, [w for w, _ in batch])
                except BaseException as exc:  # BEGIN or COMMIT failed: nothing was written
                    outcomes = [(False, exc)] * len(batch)
                for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            self._flusher = None

    # -- held messages -------------------------------------------------------------------

    async def hold(self, *, queue_id: str, sender: str, recipients: Sequence[str],
                   held: Sequence[str], decision: Decision, content: bytes,
                   message_id: str | None, notices: NoticeMaker | None = None) -> str:
        """Durably store a held message and its decision; returns the hold id.

        ``notices`` (when nothing can withdraw the hold any more): make its notices from the
        stored record and queue them in the same transaction, one commit instead of two.
        A failure there leaves the notices to the housekeeping sweep, never fails the hold.
        """
        hold_id = new_hold_id()
        reasons = [r.reason for r in decision.recipients if r.address in held]
        stamp = decision.stamp.value if decision.stamp else None
        created = now()
        reason = "; ".join(reasons + list(decision.reasons))[:2000]
        decision_json = json.dumps(decision.to_dict())
        record = (
            hold_id, queue_id, _stored(created), HeldState.HELD.value, 1, sender,
            json.dumps(list(recipients)), json.dumps(list(held)), stamp, reason,
            decision_json, message_id, decision.thread_id, len(content), content,
        )
        queued: tuple[Sequence[NewMail], bool] | None = None
        if notices is not None:  # written here, not while the transaction holds the lock
            try:
                queued = notices(HeldMessage(
                    id=hold_id, queue_id=queue_id, created_at=created, state=HeldState.HELD,
                    version=1, sender=sender, recipients=tuple(recipients),
                    held_recipients=tuple(held), stamp=stamp, reason=reason,
                    decision=json.loads(decision_json), message_id=message_id,
                    thread_id=decision.thread_id, size=len(content), decided_by=None,
                    decided_at=None, decision_note=None))
            except Exception:
                log.exception("notice-failed", hold_id=hold_id)
        detail = {
            "queue_id": queue_id, "sender": sender, "held_recipients": list(held),
            "stamp": stamp, "rules": list(decision.rules),
            "downgrade": decision.downgrade, "newcomers": list(decision.newcomers),
            "thread_id": decision.thread_id,
        }

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO held_messages (id, queue_id, created_at, state, version, sender, "
                "recipients, held_recipients, stamp, reason, decision, message_id, thread_id, "
                "size, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", record)
            _audit(conn, "stampgate", "hold", hold_id, detail)
            if queued is not None:
                mail, digest_pending = queued
                conn.execute("INSERT INTO hold_notices (held_id, noticed_at, digest_pending) "
                             "VALUES (?, ?, ?)", (hold_id, _stored(created), int(digest_pending)))
                _enqueue(conn, mail)

        try:
            await self._write(work)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store held message: {exc.__class__.__name__}") from exc
        return hold_id

    async def forget_hold(self, hold_id: str, why: str) -> None:
        """Undo a hold whose message was refused before the client got 250."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM held_messages WHERE id = ?", (hold_id,))
            _audit(conn, "stampgate", "hold-withdrawn", hold_id, {"why": why})

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
            where.append("(lower(reason) LIKE lower(?) ESCAPE '\\' OR "
                         "lower(json_extract(decision, '$.rules')) LIKE lower(?) ESCAPE '\\')")
            params += [pattern, pattern]
        if which.created_before is not None:
            where.append("created_at < ?")
            params.append(_stored(which.created_before))
        if which.created_after is not None:
            where.append("created_at >= ?")
            params.append(_stored(which.created_after))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        query = (f"SELECT {_HELD_COLUMNS} FROM held_messages {clause}"
                 "ORDER BY created_at, id LIMIT ?")
        return await self._read(lambda conn: [
            _held(row) for row in conn.execute(query, (*params, limit))])

    async def get_held(self, hold_id: str) -> HeldMessage | None:
        row = await self._read(lambda conn: conn.execute(
            f"SELECT {_HELD_COLUMNS} FROM held_messages WHERE id = ?", (hold_id,)).fetchone())
        return _held(row) if row else None

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
        await asyncio.get_running_loop().run_in_executor(self._executor, _checkpoint,
                                                         self._conn)

    async def released_unerased(self, decided_before: dt.datetime,
                                limit: int = 1000) -> list[HeldMessage]:
        """Released before ``decided_before``, content still stored, no release pending.

        Oldest decided first: the holds whose content retention may erase.
        """
        query = (f"SELECT {_HELD_COLUMNS} FROM held_messages AS h "
                 "WHERE state = ? AND decided_at < ? AND length(content) > 0 "
                 "AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.held_id = h.id "
                 "AND o.kind = ? AND o.state = ?) "
                 "ORDER BY decided_at, id LIMIT ?")
        params = (HeldState.RELEASED.value, _stored(decided_before), OutboxKind.RELEASE.value,
                  OutboxState.PENDING.value, limit)
        return await self._read(lambda conn: [
            _held(row) for row in conn.execute(query, params)])

    async def set_state(self, hold_id: str, expected_version: int, state: HeldState,
                        actor: str, note: str | None, detail: dict[str, Any],
                        mail: Sequence[NewMail] = ()) -> bool:
        """Move a held message to ``state`` if nobody decided first (optimistic locking).

        The decision, its audit entry and the mail it causes (the release itself, notices)
        are one transaction: a decision is never recorded without its mail, nor the reverse.
        """

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE held_messages SET state = ?, version = ?, decided_by = ?, "
                "decided_at = ?, decision_note = ? "
                "WHERE id = ? AND version = ? AND state = ?",
                (state.value, expected_version + 1, actor, _stored(now()), note, hold_id,
                 expected_version, HeldState.HELD.value))
            if cursor.rowcount != 1:
                return False
            _audit(conn, actor, state.value, hold_id, {"note": note, **detail})
            _enqueue(conn, mail)
            return True

        return await self._write(work)

    # -- notices of holds ----------------------------------------------------------------

    async def record_hold_notices(self, hold_id: str, mail: Sequence[NewMail],
                                  digest_pending: bool) -> bool:
        """Queue the notices of a hold once; ``False`` if they were queued already."""

        def work(conn: sqlite3.Connection) -> bool:
            known = conn.execute("SELECT held_id FROM hold_notices WHERE held_id = ?",
                                 (hold_id,)).fetchone()
            if known is not None:
                return False
            conn.execute("INSERT INTO hold_notices (held_id, noticed_at, digest_pending) "
                         "VALUES (?, ?, ?)", (hold_id, _stored(now()), int(digest_pending)))
            _enqueue(conn, mail)
            return True

        return await self._write(work)

    async def holds_without_notice(self, created_before: dt.datetime) -> list[HeldMessage]:
        """Holds still waiting for review whose notices were never queued (a crash between)."""
        query = (f"SELECT {_HELD_COLUMNS} FROM held_messages "
                 "WHERE state = ? AND created_at < ? "
                 "AND id NOT IN (SELECT held_id FROM hold_notices) "
                 "ORDER BY created_at LIMIT 1000")
        params = (HeldState.HELD.value, _stored(created_before))
        return await self._read(lambda conn: [
            _held(row) for row in conn.execute(query, params)])

    async def digest_pending(self) -> list[HeldMessage]:
        query = (f"SELECT {_HELD_COLUMNS} FROM held_messages "
                 "WHERE id IN (SELECT held_id FROM hold_notices WHERE digest_pending = 1) "
                 "ORDER BY created_at")
        return await self._read(lambda conn: [_held(row) for row in conn.execute(query)])

    async def digest_sent(self, hold_ids: Sequence[str], mail: Sequence[NewMail]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE hold_notices SET digest_pending = 0 WHERE held_id = ?",
                             [(hold_id,) for hold_id in dict.fromkeys(hold_ids)])
            _enqueue(conn, mail)

        await self._write(work)

    # -- the outbox ----------------------------------------------------------------------

    async def enqueue(self, mail: Sequence[NewMail]) -> None:
        await self._write(lambda conn: _enqueue(conn, mail))

    async def due_outbox(self, at: dt.datetime, limit: int = 50) -> list[OutboxItem]:
        """Pending entries whose next attempt is due, oldest first."""
        query = (f"SELECT {_OUTBOX_COLUMNS} FROM outbox "
                 "WHERE state = ? AND next_attempt_at <= ? "
                 "ORDER BY next_attempt_at, id LIMIT ?")
        params = (OutboxState.PENDING.value, _stored(at), limit)
        return await self._read(lambda conn: [
            _outbox_item(row) for row in conn.execute(query, params)])

    async def outbox_for(self, hold_id: str) -> list[OutboxItem]:
        query = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE held_id = ? ORDER BY id"
        return await self._read(lambda conn: [
            _outbox_item(row) for row in conn.execute(query, (hold_id,))])

    async def outbox_entries(self, state: OutboxState | None = None,
                             limit: int = 1000) -> list[OutboxItem]:
        where = "WHERE state = ? " if state is not None else ""
        params = (state.value, limit) if state is not None else (limit,)
        query = f"SELECT {_OUTBOX_COLUMNS} FROM outbox {where}ORDER BY id LIMIT ?"
        return await self._read(lambda conn: [
            _outbox_item(row) for row in conn.execute(query, params)])

    async def outbox_sent(self, item: OutboxItem, audit: dict[str, Any] | None) -> None:
        """Mark an entry delivered; ``audit`` (a release) is recorded with it."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE outbox SET state = ?, attempts = ?, done_at = ?, "
                         "last_error = NULL WHERE id = ?",
                         (OutboxState.SENT.value, item.attempts + 1, _stored(now()), item.id))
            if audit is not None:
                _audit(conn, "stampgate", "release-delivered", item.held_id, audit)

        await self._write(work)

    async def outbox_retry(self, item: OutboxItem, next_at: dt.datetime, error: str) -> None:
        await self._write(lambda conn: conn.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
            (item.attempts + 1, _stored(next_at), error[:1000], item.id)))

    async def outbox_failed(self, item: OutboxItem, error: str, audit: dict[str, Any] | None,
                            mail: Sequence[NewMail]) -> None:
        """Give up on an entry for good; the failure notices go in the same transaction."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE outbox SET state = ?, attempts = ?, done_at = ?, "
                         "last_error = ? WHERE id = ?",
                         (OutboxState.FAILED.value, item.attempts + 1, _stored(now()),
                          error[:1000], item.id))
            if audit is not None:
                _audit(conn, "stampgate", "release-failed", item.held_id, audit)
            _enqueue(conn, mail)

        await self._write(work)

    # -- thread memory -------------------------------------------------------------------

    async def add_participants(self, thread_id: str, addresses: Sequence[str]) -> None:
        await self._write(lambda conn: self._add_participants(conn, thread_id, addresses))

    @staticmethod
    def _add_participants(conn: sqlite3.Connection, thread_id: str,
                          addresses: Sequence[str]) -> None:
        known = {row[0] for row in conn.execute(
            "SELECT address FROM thread_participants WHERE thread_id = ?", (thread_id,))}
        at = _stored(now())
        for address in dict.fromkeys(a.lower() for a in addresses if a):
            if address not in known:
                conn.execute("INSERT INTO thread_participants (thread_id, address, added_at) "
                             "VALUES (?, ?, ?)", (thread_id, address, at))

    # -- audit ---------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, held_id: str | None,
                    detail: dict[str, Any]) -> None:
        await self._write(lambda conn: _audit(conn, actor, action, held_id, detail))

    async def audit_entries(self, limit: int = 10000,
                            held_id: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE held_id = ? " if held_id is not None else ""
        params = (held_id, limit) if held_id is not None else (limit,)
        query = (f"SELECT id, at, actor, action, held_id, detail FROM audit_log {where}"
                 "ORDER BY id LIMIT ?")
        rows = await self._read(lambda conn: conn.execute(query, params).fetchall())
        return [{"id": r["id"], "at": _loaded(r["at"]).isoformat(), "actor": r["actor"],
                 "action": r["action"], "held_id": r["held_id"],
                 "detail": json.loads(r["detail"])}
                for r in rows]

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
        return int(row[0]), _aware(row[1]) if row[1] is not None else None


def _audit(conn: sqlite3.Connection, actor: str, action: str, held_id: str | None,
           detail: dict[str, Any]) -> None:
    conn.execute("INSERT INTO audit_log (at, actor, action, held_id, detail) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (_stored(now()), actor, action, held_id,
                  json.dumps(json.loads(json.dumps(detail, default=str)))))


def _enqueue(conn: sqlite3.Connection, mail: Sequence[NewMail]) -> None:
    at = _stored(now())
    conn.executemany(
        "INSERT INTO outbox (kind, purpose, held_id, sender, recipients, data, requested_by, "
        "created_at, state, attempts, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [(item.kind.value, item.purpose, item.held_id, item.sender,
          json.dumps(list(item.recipients)), item.data, item.requested_by, at,
          OutboxState.PENDING.value, at) for item in mail])


def _outbox_item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"], kind=OutboxKind(row["kind"]), purpose=row["purpose"],
        held_id=row["held_id"], sender=row["sender"],
        recipients=tuple(json.loads(row["recipients"])),
        data=bytes(row["data"]) if row["data"] is not None else None,
        requested_by=row["requested_by"], created_at=_aware(row["created_at"]),
        state=OutboxState(row["state"]), attempts=row["attempts"],
        next_attempt_at=_aware(row["next_attempt_at"]), last_error=row["last_error"],
        done_at=_aware(row["done_at"]) if row["done_at"] else None,
    )


def _held(row: sqlite3.Row) -> HeldMessage:
    return HeldMessage(
        id=row["id"], queue_id=row["queue_id"], created_at=_aware(row["created_at"]),
        state=HeldState(row["state"]), version=row["version"], sender=row["sender"],
        recipients=tuple(json.loads(row["recipients"])),
        held_recipients=tuple(json.loads(row["held_recipients"])),
        stamp=row["stamp"], reason=row["reason"], decision=json.loads(row["decision"]),
        message_id=row["message_id"], thread_id=row["thread_id"], size=row["size"],
        decided_by=row["decided_by"],
        decided_at=_aware(row["decided_at"]) if row["decided_at"] else None,
        decision_note=row["decision_note"],
    )


def _naive(value: dt.datetime) -> dt.datetime:
    """UTC without tzinfo (a naive value is taken as UTC already)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _stored(value: dt.datetime) -> str:
    """A datetime as the store keeps it: naive UTC text, microseconds always.

    The text SQLAlchemy wrote for ``DateTime`` on SQLite; fixed width, so comparing the
    text compares the times.
    """
    v = _naive(value)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
            f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}")


def _loaded(text: str) -> dt.datetime:
    """A stored datetime as it was written (naive UTC)."""
    return dt.datetime.fromisoformat(text)


def _aware(text: str) -> dt.datetime:
    value = _loaded(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
