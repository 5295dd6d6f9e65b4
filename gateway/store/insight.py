"""What the reviewers' dashboard and ``/metrics`` read of the held table: recent holds.

Written once for both engines: plain comparisons of the stored times, no engine-only date or
JSON functions (the decision's rules are read by the service from the stored JSON).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from gateway.store.db import Database
from gateway.store.records import HeldState, aware, stored


@dataclass(frozen=True, slots=True)
class RecentHold:
    """One hold as the figures need it: when, what stamp, which rules held it, its end."""

    created_at: dt.datetime
    state: HeldState
    stamp: str | None
    rules: tuple[str, ...]  # the rules that held its recipients, each once
    decided_at: dt.datetime | None
    decided_by: str | None


class InsightQueries(Database):
    """Bounded reads for the dashboard: every query has a time window and a row limit."""

    async def recent_holds(self, since: dt.datetime, limit: int) -> list[RecentHold]:
        """Holds created at or after ``since``, newest first, at most ``limit`` (the newest)."""
        query = ("SELECT created_at, state, stamp, decision, decided_at, decided_by "
                 "FROM held_messages WHERE created_at >= ? "
                 "ORDER BY created_at DESC, id DESC LIMIT ?")
        rows = await self._read(lambda conn: conn.execute(
            query, (stored(since), limit)).fetchall())
        return [RecentHold(aware(r["created_at"]), HeldState(r["state"]), r["stamp"],
                           _held_rules(r["decision"]),
                           aware(r["decided_at"]) if r["decided_at"] else None,
                           r["decided_by"]) for r in rows]

    async def held_before(self, before: dt.datetime, limit: int) -> list[tuple[str, dt.datetime]]:
        """Messages still waiting that were held before ``before``, oldest first: (id, when)."""
        query = ("SELECT id, created_at FROM held_messages WHERE state = ? AND created_at < ? "
                 "ORDER BY created_at, id LIMIT ?")
        rows = await self._read(lambda conn: conn.execute(
            query, (HeldState.HELD.value, stored(before), limit)).fetchall())
        return [(str(r["id"]), aware(r["created_at"])) for r in rows]

    async def count_held_before(self, before: dt.datetime) -> int:
        """How many messages still waiting were held before ``before``."""
        row = await self._read(lambda conn: conn.execute(
            "SELECT count(*) FROM held_messages WHERE state = ? AND created_at < ?",
            (HeldState.HELD.value, stored(before))).fetchone())
        return int(row[0])


def _held_rules(decision: str) -> tuple[str, ...]:
    try:
        recipients = json.loads(decision).get("recipients", [])
    except (ValueError, AttributeError):
        return ()
    return tuple(dict.fromkeys(str(r.get("rule", "")) for r in recipients
                               if isinstance(r, dict) and r.get("verdict") == "hold"))
