"""The review UI's sessions, kept in the store: revocable, with idle and absolute expiry.

This module is the only user of the ``web_sessions`` table (made by the store's migrations,
``0004_web_sessions.sql``). A row is keyed by a digest of the session id, so the store (or a
backup of it) holds no cookie that would work. Reads and writes go through the store's
connection (``Database.read`` and ``Database.write``, its group commit).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.store.conn import Conn
from gateway.store.records import loaded, stored

Run = Callable[[Callable[[Conn], Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class WebSession:
    """One live session: whose it is, what it carries, when it began and was last used."""

    id_hash: str
    login: str
    data: dict[str, Any]
    created_at: dt.datetime  # naive UTC, as stored
    last_seen: dt.datetime


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """A session last used before ``idle`` or begun before ``born`` has expired."""

    idle: dt.datetime
    born: dt.datetime

    def sql(self) -> tuple[str, str]:
        return stored(self.idle), stored(self.born)


_EXPIRED = "last_seen < ? OR created_at < ?"


class WebSessions:
    """Start, find, save and end sessions; expired rows are deleted when they are met."""

    def __init__(self, read: Run, write: Run) -> None:
        self._read = read
        self._write = write

    async def start(self, id_hash: str, login: str, data: dict[str, Any], at: dt.datetime,
                    cutoffs: Cutoffs) -> None:
        """A new session row; the expired rows of everyone go in the same commit."""
        text = json.dumps(data)

        def work(conn: Conn) -> None:
            conn.execute(f"DELETE FROM web_sessions WHERE {_EXPIRED}", cutoffs.sql())
            conn.execute("INSERT INTO web_sessions (id_hash, login, data, created_at, last_seen)"
                         " VALUES (?, ?, ?, ?, ?)", (id_hash, login, text, stored(at), stored(at)))

        await self._write(work)

    async def find(self, id_hash: str, cutoffs: Cutoffs) -> WebSession | None:
        """The live session with this id; an expired one is ended and not returned."""

        def look(conn: Conn) -> Any:
            return conn.execute(
                "SELECT id_hash, login, data, created_at, last_seen FROM web_sessions "
                "WHERE id_hash = ?", (id_hash,)).fetchone()

        row = await self._read(look)
        if row is None:
            return None
        session = WebSession(row["id_hash"], row["login"], json.loads(row["data"]),
                             loaded(row["created_at"]), loaded(row["last_seen"]))
        if session.last_seen < _naive(cutoffs.idle) or session.created_at < _naive(cutoffs.born):
            await self.end(id_hash)
            return None
        return session

    async def save(self, id_hash: str, data: dict[str, Any], at: dt.datetime) -> bool:
        """Store the session's data and mark it used now; ``False`` if it was ended meanwhile."""
        text = json.dumps(data)

        def work(conn: Conn) -> bool:
            return conn.execute("UPDATE web_sessions SET data = ?, last_seen = ? "
                                "WHERE id_hash = ?", (text, stored(at), id_hash)).rowcount > 0

        return bool(await self._write(work))

    async def end(self, id_hash: str) -> None:
        await self._write(lambda conn: conn.execute(
            "DELETE FROM web_sessions WHERE id_hash = ?", (id_hash,)))


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
