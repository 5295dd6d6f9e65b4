"""The dashboard's figures from the store, on both engines."""

from __future__ import annotations

import datetime as dt

from gateway.service.insight import DAYS, duration_text, insight
from gateway.store.store import Store, now
from tests.store.test_store import store  # noqa: F401
from tests.support import insight_seed as seeded

EXPIRY = dt.timedelta(days=14)


async def test_the_figures_of_a_seeded_store(store: Store) -> None:  # noqa: F811
    at = now()
    await seeded.seed(store, at)
    figures = await insight(store, at, EXPIRY)
    assert len(figures.days) == DAYS and figures.days[-1] == at.date()
    assert figures.held_total == seeded.HELD_TOTAL
    assert {label: n for _, label, n in figures.by_stamp_total} == seeded.BY_STAMP
    assert dict(figures.top_rules) == seeded.TOP_RULES
    assert figures.top_rules[0] == (seeded.EXT, 5)
    assert figures.decided == seeded.DECIDED
    assert duration_text(figures.median_decision) == seeded.MEDIAN
    assert figures.expiring_total == seeded.EXPIRING == len(figures.expiring)
    by_stamp = {s.key: s for s in figures.by_stamp}
    two_days_ago = figures.days.index(at.date() - dt.timedelta(days=2))
    assert by_stamp["needs_adjustment"].counts[two_days_ago] == 3
    assert by_stamp["internal"].counts[two_days_ago] == 1
    assert by_stamp["confidential"].counts[-1] == 1 and by_stamp["none"].counts[-1] == 1
    by_rule = {s.key: s for s in figures.by_rule}
    assert by_rule[seeded.EXT].total == 5 and by_rule["photo-faces"].counts[two_days_ago] == 1
    assert sum(s.total for s in figures.by_stamp) == seeded.HELD_TOTAL


async def test_an_empty_store_has_no_median_and_nothing_expiring(
        store: Store) -> None:  # noqa: F811
    figures = await insight(store, now(), EXPIRY)
    assert figures.held_total == 0 and figures.median_decision is None
    assert duration_text(figures.median_decision) == "–"
    assert figures.by_stamp == () and figures.top_rules == () and figures.expiring == ()


async def test_over_the_row_limit_the_newest_days_are_counted(
        store: Store) -> None:  # noqa: F811
    at = now()
    await seeded.seed(store, at)
    figures = await insight(store, at, EXPIRY, limit=4)
    assert figures.truncated
    # The four newest holds: two of today, the Internal one of two days ago at 13:00 and
    # one of the three held at noon that day; nothing older.
    assert figures.by_stamp_total == (("needs_adjustment", "Needs adjustment", 1),
                                      ("internal", "Internal", 1),
                                      ("confidential", "Confidential", 1),
                                      ("none", "no stamp", 1))
    assert figures.held_total == 4
    assert not (await insight(store, at, EXPIRY, limit=100)).truncated
