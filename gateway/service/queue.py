"""The held-message queue as reviewers see it: search, sort, pages, counts, ages, checklists.

Subjects are stored sealed under their message's key (``BodySealer.seal``); they are
opened here, only for the page shown unless a search or a sort needs them all, and a
subject whose key was destroyed (a rejected or discarded message) reads as ``None``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from gateway.adapters.crypto import BodySealer
from gateway.core.model import Stamp, Verdict
from gateway.service.bodies import open_subjects
from gateway.store.records import HeldFilter, HeldMessage
from gateway.store.store import Store

CHECKLIST = "checklist"  # the audit action of adjustments ticked on a message's own page
MAX_SCAN = 5000  # holds a search or a sort looks through at most
PER_PAGE = (25, 50, 100)
SORTS = {"oldest": "oldest first", "newest": "newest first", "sender": "sender",
         "subject": "subject", "stamp": "restriction"}
SOON = 0.2  # the part of the expiry period left when the queue shows an age as urgent


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """One look at the queue: the store filter, free-text search, sort and page."""

    which: HeldFilter
    search: str = ""
    sort: str = "oldest"
    page: int = 1
    per_page: int = PER_PAGE[0]


@dataclass(frozen=True, slots=True)
class QueueRow:
    hold: HeldMessage
    subject: str | None
    age: str  # "3 h"
    expires_in: dt.timedelta
    soon: bool  # expiry is near: shown in a warning colour


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    total: int
    page: int
    pages: int
    by_stamp: tuple[tuple[str, str, int], ...]  # (filter value, label, count)
    by_reason: tuple[tuple[str, int], ...]  # (rule, count)
    truncated: bool  # more than MAX_SCAN holds matched the filter


async def queue_page(store: Store, sealer: BodySealer, query: QueueQuery, at: dt.datetime,
                     expiry: dt.timedelta) -> QueuePage:
    holds = await store.find_held(query.which, limit=MAX_SCAN + 1)
    truncated = len(holds) > MAX_SCAN
    holds = holds[:MAX_SCAN]
    needle = " ".join(query.search.split()).casefold()
    subjects: dict[str, str | None] = {}
    if needle or query.sort == "subject":
        subjects = await open_subjects(store, sealer, holds)
    if needle:
        holds = [h for h in holds if needle in _haystack(h, subjects.get(h.id))]
    holds = _sorted(holds, query.sort, subjects)
    per_page = query.per_page if query.per_page in PER_PAGE else PER_PAGE[0]
    pages = max(1, -(-len(holds) // per_page))
    page = min(max(1, query.page), pages)
    shown = holds[(page - 1) * per_page:page * per_page]
    if not subjects:
        subjects = await open_subjects(store, sealer, shown)
    rows = tuple(_row(h, subjects.get(h.id), at, expiry) for h in shown)
    stamps = Counter(h.stamp or "none" for h in holds)
    reasons = Counter(rule for h in holds for rule in held_rules(h))
    by_stamp = tuple((value, Stamp(value).label if value != "none" else "no stamp", n)
                     for value, n in sorted(stamps.items(), key=lambda i: (-i[1], i[0])))
    return QueuePage(rows, len(holds), page, pages, by_stamp,
                     tuple(sorted(reasons.items(), key=lambda i: (-i[1], i[0]))), truncated)


def held_rules(hold: HeldMessage) -> list[str]:
    """The rules that held this message's recipients, each once."""
    return list(dict.fromkeys(r.rule for r in hold.decision.recipients
                              if r.verdict is Verdict.HOLD))


def age_text(age: dt.timedelta) -> str:
    """An age as people say it: "12 min", "3 h", "5 d"."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


async def checklist_ticked(store: Store, hold: HeldMessage) -> bool:
    """No checklist to tick, or every adjustment was ticked on the message's own page."""
    if hold.stamp != Stamp.NEEDS_ADJUSTMENT.value or not hold.adjustments:
        return True
    entry = await store.last_audit(hold.id, CHECKLIST)
    if entry is None:
        return False
    done = {" ".join(str(a).split()).lower() for a in entry["detail"].get("adjustments", ())}
    return all(" ".join(a.split()).lower() in done for a in hold.adjustments)


async def next_held(store: Store, after: str) -> str | None:
    """The held message to show after ``after``: the next in the queue, else the first."""
    waiting = [h.id for h in await store.find_held(HeldFilter(), limit=MAX_SCAN)]
    if after in waiting:
        later = waiting[waiting.index(after) + 1:]
        if later:
            return later[0]
    return next((h for h in waiting if h != after), None)


def _row(hold: HeldMessage, subject: str | None, at: dt.datetime,
         expiry: dt.timedelta) -> QueueRow:
    age = at - hold.created_at
    left = expiry - age
    return QueueRow(hold, subject, age_text(age), left, left <= expiry * SOON)


def _haystack(hold: HeldMessage, subject: str | None) -> str:
    return " ".join([hold.id, hold.sender, *hold.recipients, hold.message_id or "",
                     subject or ""]).casefold()


def _sorted(holds: list[HeldMessage], sort: str,
            subjects: dict[str, str | None]) -> list[HeldMessage]:
    match sort:
        case "newest":
            return sorted(holds, key=lambda h: (h.created_at, h.id), reverse=True)
        case "sender":
            return sorted(holds, key=lambda h: (h.sender.lower(), h.created_at))
        case "subject":
            return sorted(holds, key=lambda h: ((subjects.get(h.id) or "").casefold(),
                                                h.created_at))
        case "stamp":
            order = {s.value: n for n, s in enumerate(Stamp)}
            return sorted(holds, key=lambda h: (order.get(h.stamp or "", -1), h.created_at))
        case _:
            return holds  # the store's order: oldest first
