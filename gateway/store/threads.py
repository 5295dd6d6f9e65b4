"""Thread memory: look-ups on a reader connection of its own, writes through the store's writer.

This module is the only writer of the thread tables (``THREAD_SCHEMA``).

Every relayed message is remembered before the client gets ``250``. The writes go through
``Store.write``, whose group commit lets concurrent sessions (and holds) share one commit,
and keeps one writing connection per process, so nobody waits on SQLite's busy handler for
a lock held by a sibling connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gateway.core.decision import Decision, ThreadContext
from gateway.core.model import Stamp

# The thread memory's tables; the store creates them with its own when it opens a file.
THREAD_SCHEMA = (
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
)
# Ids per look-up query: well under SQLite's limit on bound parameters.
LOOKUP_CHUNK = 500
_RANK = {s.value: s.rank for s in Stamp}


def _rank(stamp: Stamp | None) -> int:
    return stamp.rank if stamp is not None else 0


@dataclass(frozen=True, slots=True)
class _Record:
    message_id: str
    thread_id: str
    stamp: Stamp | None
    participants: tuple[str, ...]


Writer = Callable[[Callable[[sqlite3.Connection], None]], Awaitable[None]]


def _now() -> str:
    """The store's time format (UTC, naive, always six digits of microseconds)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in THREAD_SCHEMA:
        conn.execute(statement)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class ThreadMemory:
    """Look up the thread of a message; remember relayed messages and chain participants."""

    def __init__(self, path: Path, writer: Writer) -> None:
        """``path``: the store's database; ``writer``: its ``Store.write``."""
        self.path = path
        self._write = writer
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="threads-read")
        self._reader: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._write(_create_schema)
        loop = asyncio.get_running_loop()
        self._reader = await loop.run_in_executor(self._reader_pool, _connect, self.path)

    async def close(self) -> None:
        if self._reader is not None:
            await asyncio.get_running_loop().run_in_executor(self._reader_pool,
                                                             self._reader.close)
        self._reader_pool.shutdown()

    # -- look-up -------------------------------------------------------------------------

    async def thread_for(self, ids: Sequence[str]) -> ThreadContext | None:
        """The strictest known thread among every referenced id (tie: the nearest parent).

        ``ids`` come nearest parent first. Every id is looked up, however many there are, so
        no padding of unknown ids can hide a stricter parent further down the list.
        """
        if not ids:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._lookup,
                                          tuple(dict.fromkeys(ids)))

    def _lookup(self, ids: tuple[str, ...]) -> ThreadContext | None:
        assert self._reader is not None
        found: dict[str, str] = {}
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start:start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(self._reader.execute(
                f"SELECT message_id, thread_id FROM thread_messages "
                f"WHERE message_id IN ({marks})", chunk).fetchall())
        if not found:
            return None
        # Each known thread once, in the order its nearest referenced id comes.
        threads = list(dict.fromkeys(found[i] for i in ids if i in found))
        known: dict[str, tuple[Stamp | None, bool]] = {}
        for start in range(0, len(threads), LOOKUP_CHUNK):
            chunk = tuple(threads[start:start + LOOKUP_CHUNK])
            marks = ",".join("?" * len(chunk))
            for thread_id, stamp, confidential in self._reader.execute(
                    f"SELECT thread_id, stamp, confidential FROM threads "
                    f"WHERE thread_id IN ({marks})", chunk):
                known[thread_id] = (Stamp(stamp) if stamp else None, bool(confidential))
        # max() keeps the first of equals: the strictest wins, the nearest parent breaks ties.
        thread_id = max(threads, key=lambda t: _rank(known.get(t, (None, False))[0]))
        stamp, confidential = known.get(thread_id, (None, False))
        participants: frozenset[str] | None = None
        if confidential:
            participants = frozenset(a for (a,) in self._reader.execute(
                "SELECT address FROM thread_participants WHERE thread_id = ?", (thread_id,)))
        return ThreadContext(thread_id=thread_id, stamp=stamp, participants=participants)

    # -- remembering ---------------------------------------------------------------------

    async def remember(self, message_id: str, decision: Decision,
                       delivered_to: Sequence[str]) -> None:
        """Durably record a message that goes through, before its ``250``.

        A confidential chain's participants are the sender and the recipients it reaches
        (held newcomers join when a reviewer releases to them).
        """
        record = _Record(
            message_id=message_id,
            thread_id=decision.thread_id or message_id,
            stamp=decision.stamp,
            participants=tuple(dict.fromkeys(a.lower() for a in (decision.sender, *delivered_to)
                                             if a)),
        )
        await self._write(lambda conn: self._write_one(conn, record, _now()))

    @staticmethod
    def _write_one(conn: sqlite3.Connection, record: _Record, at: str) -> None:
        stamp = record.stamp.value if record.stamp else None
        confidential = int(record.stamp is Stamp.CONFIDENTIAL)
        row = conn.execute("SELECT stamp, confidential FROM threads WHERE thread_id = ?",
                           (record.thread_id,)).fetchone()
        if row is None:
            conn.execute("INSERT INTO threads (thread_id, stamp, confidential, started_at) "
                         "VALUES (?, ?, ?, ?)", (record.thread_id, stamp, confidential, at))
        else:
            old, was_confidential = row
            if old and (stamp is None or _RANK[old] >= _RANK[stamp]):
                stamp = old
            confidential = confidential or was_confidential
            conn.execute("UPDATE threads SET stamp = ?, confidential = ? WHERE thread_id = ?",
                         (stamp, confidential, record.thread_id))
        conn.execute("INSERT OR IGNORE INTO thread_messages (message_id, thread_id, stamp, "
                     "seen_at) VALUES (?, ?, ?, ?)",
                     (record.message_id, record.thread_id,
                      record.stamp.value if record.stamp else None, at))
        if confidential:
            conn.executemany(
                "INSERT OR IGNORE INTO thread_participants (thread_id, address, added_at) "
                "VALUES (?, ?, ?)", [(record.thread_id, a, at) for a in record.participants])

    async def add_participants(self, thread_id: str, addresses: Sequence[str]) -> None:
        """Released recipients join a confidential chain (a reviewer let them in)."""
        await self._write(lambda conn: self._add_participants(conn, thread_id, addresses,
                                                              _now()))

    @staticmethod
    def _add_participants(conn: sqlite3.Connection, thread_id: str, addresses: Sequence[str],
                          at: str) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO thread_participants (thread_id, address, added_at) "
            "VALUES (?, ?, ?)",
            [(thread_id, a, at) for a in dict.fromkeys(a.lower() for a in addresses if a)])
