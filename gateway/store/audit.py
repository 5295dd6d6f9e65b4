"""The append-only audit log: who held, viewed, decided and delivered what, and when."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from gateway.store.db import Database
from gateway.store.records import loaded, now, stored


def record_audit(conn: sqlite3.Connection, actor: str, action: str, held_id: str | None,
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

    async def audit_entries(self, limit: int = 10000,
                            held_id: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE held_id = ? " if held_id is not None else ""
        params = (held_id, limit) if held_id is not None else (limit,)
        query = (f"SELECT id, at, actor, action, held_id, detail FROM audit_log {where}"
                 "ORDER BY id LIMIT ?")
        rows = await self._read(lambda conn: conn.execute(query, params).fetchall())
        return [{"id": r["id"], "at": loaded(r["at"]).isoformat(), "actor": r["actor"],
                 "action": r["action"], "held_id": r["held_id"],
                 "detail": json.loads(r["detail"])}
                for r in rows]
