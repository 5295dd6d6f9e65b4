"""The append-only audit log: who held, viewed, decided and delivered what, and when."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from gateway.store.conn import Conn
from gateway.store.db import Database
from gateway.store.records import loaded, now, stored

_ENTRY = "SELECT id, at, actor, action, held_id, detail FROM audit_log "


def record_audit(conn: Conn, actor: str, action: str, held_id: str | None,
                 detail: dict[str, Any]) -> None:
    """One audit entry, inside the caller's transaction."""
    conn.execute("INSERT INTO audit_log (at, actor, action, held_id, detail) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (stored(now()), actor, action, held_id,
                  json.dumps(json.loads(json.dumps(detail, default=str)))))


class AuditLog(Database):
    """Append to the audit log and read it back."""

    async def audit(self, actor: str, action: str, held_id: str | None,
                    detail: dict[str, Any]) -> None:
        await self._write(lambda conn: record_audit(conn, actor, action, held_id, detail))

    async def audit_once(self, actor: str, action: str, held_id: str,
                         detail: dict[str, Any], since: dt.datetime) -> bool:
        """Append the entry unless the same one (actor, action, message, detail) was
        appended at or after ``since``; ``True`` if it was appended now."""
        text = json.dumps(json.loads(json.dumps(detail, default=str)))

        def work(conn: Conn) -> bool:
            seen = conn.execute(
                "SELECT 1 FROM audit_log WHERE held_id = ? AND actor = ? AND action = ? "
                "AND detail = ? AND at >= ? LIMIT 1",
                (held_id, actor, action, text, stored(since))).fetchone()
            if seen is None:
                record_audit(conn, actor, action, held_id, detail)
            return seen is None

        return await self._write(work)

    async def audit_entries(self, limit: int = 10000, held_id: str | None = None,
                            newest_first: bool = False) -> list[dict[str, Any]]:
        where = "WHERE held_id = ? " if held_id is not None else ""
        params = (held_id, limit) if held_id is not None else (limit,)
        query = f"{_ENTRY}{where}ORDER BY id {'DESC' if newest_first else ''} LIMIT ?"
        rows = await self._read(lambda conn: conn.execute(query, params).fetchall())
        return [_entry(r) for r in rows]

    async def last_audit(self, held_id: str, action: str) -> dict[str, Any] | None:
        """The newest entry of ``action`` for one held message, if any."""
        row = await self._read(lambda conn: conn.execute(
            f"{_ENTRY}WHERE held_id = ? AND action = ? ORDER BY id DESC LIMIT 1",
            (held_id, action)).fetchone())
        return _entry(row) if row is not None else None


def _entry(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "at": loaded(row["at"]).isoformat(), "actor": row["actor"],
            "action": row["action"], "held_id": row["held_id"],
            "detail": json.loads(row["detail"])}
