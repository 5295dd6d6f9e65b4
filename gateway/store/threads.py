"""Thread memory: look up the thread of a message, remember relayed messages and participants.

This module is the only writer of the thread tables (created by the store's migrations).

Every relayed message is remembered before the client gets ``250``. The writes go through
``Store.write``: on SQLite its group commit lets concurrent sessions (and holds) share one
commit, and keeps one writing connection per process, so nobody waits on SQLite's busy
handler for a lock held by a sibling connection. On PostgreSQL each write first takes an
advisory lock on its thread, so two gateways remembering messages of one thread at the same
moment update it one after the other. Look-ups on SQLite use a reader connection of their
own; on PostgreSQL the store's pool (``Store.read``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gateway.core.decision import Decision, ThreadContext
from gateway.core.model import Stamp
from gateway.store.conn import Conn, lock_key

# Ids per look-up query: well under SQLite's limit on bound parameters.
LOOKUP_CHUNK = 500
_RANK = {s.value: s.rank for s in Stamp}


def _rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{value}' THEN {rank}" for value, rank in _RANK.items())
    return f"(CASE {column} {cases} ELSE 0 END)"


# A thread keeps the strictest stamp it has seen, and stays confidential once it was.
_UPSERT_THREAD = (
    "INSERT INTO threads (thread_id, stamp, confidential, started_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (thread_id) DO UPDATE SET "
    "stamp = CASE WHEN threads.stamp IS NOT NULL AND (excluded.stamp IS NULL OR "
    f"{_rank_sql('threads.stamp')} >= {_rank_sql('excluded.stamp')}) "
    "THEN threads.stamp ELSE excluded.stamp END, "
    "confidential = CASE WHEN threads.confidential = 1 OR excluded.confidential = 1 "
    "THEN 1 ELSE 0 END")
_ADD_PARTICIPANT = ("INSERT INTO thread_participants (thread_id, address, added_at) "
                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
_ADD_PARTICIPANT_IF_CONFIDENTIAL = (
    "INSERT INTO thread_participants (thread_id, address, added_at) SELECT ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM threads WHERE thread_id = ? AND confidential = 1) "
    "ON CONFLICT DO NOTHING")


def _rank(stamp: Stamp | None) -> int:
    return stamp.rank if stamp is not None else 0


@dataclass(frozen=True, slots=True)
class _Record:
    message_id: str
    thread_id: str
    stamp: Stamp | None
    participants: tuple[str, ...]


class Writer(Protocol):
    """The store's ``write``: one transaction, durable unless ``durable`` is false."""

    def __call__(self, work: Callable[[Conn], Any], /,
                 durable: bool = True) -> Awaitable[Any]: ...


Reader = Callable[[Callable[[Conn], ThreadContext | None]], Awaitable[ThreadContext | None]]


def _now() -> str:
    """The store's time format (UTC, naive, always six digits of microseconds)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _lookup(conn: Conn, ids: tuple[str, ...]) -> ThreadContext | None:
    """The strictest known thread among ``ids`` (see ``ThreadMemory.thread_for``)."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start:start + LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update((str(m), str(t)) for m, t in conn.execute(
            f"SELECT message_id, thread_id FROM thread_messages "
            f"WHERE message_id IN ({marks})", chunk))
    if not found:
        return None
    # Each known thread once, in the order its nearest referenced id comes.
    threads = list(dict.fromkeys(found[i] for i in ids if i in found))
    known: dict[str, tuple[Stamp | None, bool]] = {}
    for start in range(0, len(threads), LOOKUP_CHUNK):
        chunk = tuple(threads[start:start + LOOKUP_CHUNK])
        marks = ",".join("?" * len(chunk))
        for thread_id, stamp, confidential in conn.execute(
                f"SELECT thread_id, stamp, confidential FROM threads "
                f"WHERE thread_id IN ({marks})", chunk):
            known[thread_id] = (Stamp(stamp) if stamp else None, bool(confidential))
    # max() keeps the first of equals: the strictest wins, the nearest parent breaks ties.
    thread_id = max(threads, key=lambda t: _rank(known.get(t, (None, False))[0]))
    stamp, confidential = known.get(thread_id, (None, False))
    participants: frozenset[str] | None = None
    if confidential:
        participants = frozenset(a for (a,) in conn.execute(
            "SELECT address FROM thread_participants WHERE thread_id = ?", (thread_id,)))
    return ThreadContext(thread_id=thread_id, stamp=stamp, participants=participants)


class ThreadMemory:
    """Look up the thread of a message; remember relayed messages and chain participants."""

    def __init__(self, path: Path | None, writer: Writer, reader: Reader | None = None) -> None:
        """``path``: the store's SQLite file, read on a connection of its own (or, with
        ``None``, ``reader``: the store's ``Store.read``); ``writer``: its ``Store.write``."""
        if path is None and reader is None:
            raise AssertionError("ThreadMemory needs the SQLite file or the store's reader")
        self.path = path
        self._write = writer
        self._store_read = reader
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="threads-read")
        self._reader: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.path is not None:
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
        unique = tuple(dict.fromkeys(ids))
        if self._reader is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._reader_pool, _lookup, self._reader, unique)
        if self._store_read is None:
            raise AssertionError("ThreadMemory.open() was not called")
        return await self._store_read(lambda conn: _lookup(conn, unique))

    # -- remembering ---------------------------------------------------------------------

    async def remember(self, message_id: str, decision: Decision,
                       delivered_to: Sequence[str], durable: bool = True) -> None:
        """Record a message that goes through, before its ``250``: durably, or (not
        ``durable``) with the durable write the caller makes before its ``250`` (``group.py``).

        A confidential chain's participants are the sender and the recipients it reaches
        (held newcomers join when a reviewer releases to them).
        """
        await self._write(self.remembering(message_id, decision, delivered_to), durable)

    def remembering(self, message_id: str, decision: Decision,
                    delivered_to: Sequence[str]) -> Callable[[Conn], None]:
        """``remember`` as work for a transaction of the caller's (a wholly held message's
        hold, ``HeldTables.claim_and_hold``)."""
        record = _Record(
            message_id=message_id,
            thread_id=decision.thread_id or message_id,
            stamp=decision.stamp,
            participants=tuple(dict.fromkeys(a.lower() for a in (decision.sender, *delivered_to)
                                             if a)),
        )
        return lambda conn: self._write_one(conn, record, _now())

    @staticmethod
    def _write_one(conn: Conn, record: _Record, at: str) -> None:
        """Written without reading first (one upsert, conditional inserts), so that on
        PostgreSQL the statements go in one pipeline with the rest of the transaction."""
        lock_key(conn, "thread:" + record.thread_id)
        stamp = record.stamp.value if record.stamp else None
        confidential = int(record.stamp is Stamp.CONFIDENTIAL)
        conn.execute(_UPSERT_THREAD, (record.thread_id, stamp, confidential, at))
        conn.execute("INSERT INTO thread_messages (message_id, thread_id, stamp, seen_at) "
                     "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     (record.message_id, record.thread_id,
                      record.stamp.value if record.stamp else None, at))
        # Participants count once the thread is confidential (now or before).
        conn.executemany(
            _ADD_PARTICIPANT if confidential else _ADD_PARTICIPANT_IF_CONFIDENTIAL,
            [(record.thread_id, a, at) + (() if confidential else (record.thread_id,))
             for a in record.participants])

    async def add_participants(self, thread_id: str, addresses: Sequence[str]) -> None:
        """Released recipients join a confidential chain (a reviewer let them in)."""
        await self._write(lambda conn: self._add_participants(conn, thread_id, addresses,
                                                              _now()))

    @staticmethod
    def _add_participants(conn: Conn, thread_id: str, addresses: Sequence[str],
                          at: str) -> None:
        conn.executemany(
            "INSERT INTO thread_participants (thread_id, address, added_at) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(thread_id, a, at) for a in dict.fromkeys(a.lower() for a in addresses if a)])
