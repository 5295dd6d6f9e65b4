"""The reviewers' figures: holds per day by stamp and by rule, time to a decision, holds
about to expire, the rules that hold most. The dashboard draws them; ``/metrics`` exports them.

Bounded: one read of at most ``MAX_ROWS`` holds from the window (plus ``MAX_EXPIRING`` ids),
and ``/metrics`` reuses a result for ``CACHE_SECONDS``, whatever the scrape rate.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.model import Stamp
from gateway.service.queue import SOON
from gateway.store.insight import RecentHold
from gateway.store.records import HeldState
from gateway.store.store import Store

DAYS = 30
MAX_ROWS = 20_000
MAX_EXPIRING = 200
TOP_RULES = 10
RULE_SERIES = 5  # rules drawn per day; the rest are "other rules"
CACHE_SECONDS = 30.0
SYSTEM = "stampgate"  # expiry is no reviewer's decision
DECIDED = (HeldState.RELEASED, HeldState.REJECTED, HeldState.DISCARDED)
OTHER_RULES = "other rules"


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a per-day chart: a key, its label, one count per day."""

    key: str
    label: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Expiring:
    hold_id: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Insight:
    """The figures for the ``DAYS`` days up to ``at`` (UTC days, oldest first)."""

    at: dt.datetime
    days: tuple[dt.date, ...]
    by_stamp: tuple[Series, ...]  # holds made each day, by stamp
    by_rule: tuple[Series, ...]  # holds made each day, by the rules that held them
    held_total: int  # holds made in the window
    decided: int  # reviewers' decisions in the window
    median_decision: dt.timedelta | None  # from hold to a reviewer's decision
    by_stamp_total: tuple[tuple[str, str, int], ...]  # (stamp, label, holds in the window)
    top_rules: tuple[tuple[str, int], ...]  # the TOP_RULES that held most
    rule_totals: tuple[tuple[str, int], ...]  # every rule that held, most first
    rules_today: tuple[tuple[str, int], ...]  # every rule that held today (UTC), most first
    expiring: tuple[Expiring, ...]  # still held, expiring within the queue's warning time
    expiring_total: int
    soon: dt.timedelta  # what "expiring soon" means
    truncated: bool  # more holds than MAX_ROWS in the window: the figures are of the newest


async def insight(store: Store, at: dt.datetime, expiry: dt.timedelta,
                  limit: int = MAX_ROWS) -> Insight:
    """The figures as of ``at``, for holds that expire after ``expiry``, from the newest
    ``limit`` holds of the window."""
    start = (at - dt.timedelta(days=DAYS - 1)).date()
    window = dt.datetime.combine(start, dt.time(), dt.UTC)
    soon = expiry * SOON
    # Holds decided in the window may have been made up to ``expiry`` before it.
    rows = await store.recent_holds(min(window, at - dt.timedelta(days=DAYS)) - expiry,
                                    limit + 1)
    truncated = len(rows) > limit
    rows = rows[:limit]  # the newest
    waiting = await store.held_before(at - (expiry - soon), MAX_EXPIRING)
    expiring_total = await store.count_held_before(at - (expiry - soon))
    days = tuple(start + dt.timedelta(days=n) for n in range(DAYS))
    made = [r for r in rows if r.created_at >= window]
    decided = [r for r in rows if r.state in DECIDED and r.decided_at is not None
               and r.decided_by != SYSTEM and at - r.decided_at <= dt.timedelta(days=DAYS)]
    stamps = Counter(r.stamp or "none" for r in made)
    rules = Counter(rule for r in made for rule in r.rules)
    today = Counter(rule for r in made if r.created_at.astimezone(dt.UTC).date() == days[-1]
                    for rule in r.rules)
    drawn = [rule for rule, _ in _ranked(rules)[:RULE_SERIES]]
    return Insight(
        at=at, days=days,
        by_stamp=tuple(Series(s, _label(s), _per_day(days, made, _stamped(s)))
                       for s in _stamp_order(stamps)),
        by_rule=_rule_series(days, made, drawn),
        held_total=len(made), decided=len(decided),
        median_decision=_median(decided),
        by_stamp_total=tuple((s, _label(s), stamps[s]) for s in _stamp_order(stamps)),
        top_rules=tuple(_ranked(rules)[:TOP_RULES]), rule_totals=tuple(_ranked(rules)),
        rules_today=tuple(_ranked(today)),
        expiring=tuple(Expiring(i, when + expiry) for i, when in waiting),
        expiring_total=expiring_total, soon=soon, truncated=truncated)


_CACHE: dict[int, tuple[float, Insight]] = {}


async def cached_insight(store: Store, expiry: dt.timedelta) -> Insight:
    """``insight`` as of now, computed at most once per ``CACHE_SECONDS`` per store."""
    moment = time.monotonic()
    kept = _CACHE.get(id(store))
    if kept is not None and moment - kept[0] < CACHE_SECONDS:
        return kept[1]
    figures = await insight(store, dt.datetime.now(dt.UTC), expiry)
    _CACHE.clear()  # one store per process: nothing else to keep
    _CACHE[id(store)] = (moment, figures)
    return figures


def duration_text(value: dt.timedelta | None) -> str:
    """A duration as people say it: "42 min", "3.5 h", "2.1 d"; "–" for none."""
    if value is None:
        return "–"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _label(stamp: str) -> str:
    return Stamp(stamp).label if stamp != "none" else "no stamp"


def _stamp_order(stamps: Counter[str]) -> list[str]:
    order = {s.value: n for n, s in enumerate(Stamp)}
    return sorted(stamps, key=lambda s: order.get(s, len(order)))


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _stamped(stamp: str) -> Callable[[RecentHold], bool]:
    return lambda row: (row.stamp or "none") == stamp


def _held_by(rule: str) -> Callable[[RecentHold], bool]:
    return lambda row: rule in row.rules


def _per_day(days: tuple[dt.date, ...], rows: list[RecentHold],
             wanted: Callable[[RecentHold], bool]) -> tuple[int, ...]:
    index = {day: n for n, day in enumerate(days)}
    counts = [0] * len(days)
    for row in rows:
        n = index.get(row.created_at.astimezone(dt.UTC).date())
        if n is not None and wanted(row):
            counts[n] += 1
    return tuple(counts)


def _rule_series(days: tuple[dt.date, ...], rows: list[RecentHold],
                 drawn: list[str]) -> tuple[Series, ...]:
    series = [Series(rule, rule, _per_day(days, rows, _held_by(rule)))
              for rule in drawn]
    shown = set(drawn)
    rest = _per_day(days, rows, lambda r: any(rule not in shown for rule in r.rules))
    if any(rest):
        series.append(Series(OTHER_RULES, OTHER_RULES, rest))
    return tuple(series)


def _median(decided: list[RecentHold]) -> dt.timedelta | None:
    waits = [(r.decided_at - r.created_at).total_seconds() for r in decided
             if r.decided_at is not None]
    return dt.timedelta(seconds=statistics.median(waits)) if waits else None
