"""The review queue: subjects sealed like bodies, search, sort, pages, counts and ages."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from gateway.adapters.crypto import MAGIC, Sealer
from gateway.core.decision import ThreadContext
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.service.bodies import destroy_key, open_subjects
from gateway.service.queue import QueueQuery, age_text, next_held, queue_page
from gateway.store.store import HeldFilter, Store, now
from tests.support.held import hold

EXPIRY = dt.timedelta(days=14)


async def page_of(store: Store, sealer: Sealer, search: str = "", sort: str = "oldest",
                  page: int = 1, per_page: int = 25, at: dt.datetime | None = None):  # type: ignore[no-untyped-def]
    return await queue_page(store, sealer, QueueQuery(HeldFilter(), search, sort, page, per_page),
                            at or now(), EXPIRY)


@pytest.fixture
def master(tmp_path: Path) -> Sealer:
    return Sealer(os.urandom(32), tmp_path / "var" / "held-keys")


async def test_subject_is_sealed_with_the_body_and_goes_with_its_key(
        store: Store, policy: Policy, master: Sealer) -> None:
    hold_id = await hold(store, policy, subject="Amira's story", sealer=master)
    record = await store.get_held(hold_id)
    assert record is not None and record.subject is not None
    assert record.subject.startswith(MAGIC) and b"Amira" not in record.subject
    assert not master.key_dir.exists()  # its key is in the store, beside the body's
    assert await open_subjects(store, master, [record]) == {hold_id: "Amira's story"}
    content = await store.held_content(hold_id)
    assert content is not None and await destroy_key(store, master, content)
    assert await open_subjects(store, master, [record]) == {hold_id: None}


async def test_search_over_subject_sender_recipient_message_id_and_hold_id(
        store: Store, policy: Policy, master: Sealer) -> None:
    story = await hold(store, policy, subject="Amira's story", sealer=master)
    other = await hold(store, policy, subject="Budget", sender="bob@example.org",
                       recipients=("press@example.org",), message_id="<m-42@example.org>",
                       sealer=master)
    for search, found in [("amira", [story]), ("AMIRA'S STORY", [story]), ("bob@", [other]),
                          ("press@example", [other]), ("m-42@", [other]),
                          (story.lower(), [story]), ("  budget ", [other]),
                          ("partner@outside.test", [story]), ("nothing like it", []),
                          ("%", []), ("_", []), ("'; DROP TABLE held_messages; --", [])]:
        shown = await page_of(store, master, search)
        assert [r.hold.id for r in shown.rows] == found, search
    assert len((await page_of(store, master)).rows) == 2


async def test_sort_pages_counts_and_ages(store: Store, policy: Policy, master: Sealer) -> None:
    ids = [await hold(store, policy, subject=f"Story {n:02d}", sealer=master) for n in range(7)]
    thread = ThreadContext("<chain@example.org>", Stamp.CONFIDENTIAL,
                           frozenset({"alice@example.org", "bob@example.org"}))
    newcomer = await hold(store, policy, "Confidential", ("carol@example.org",), thread=thread,
                          subject="A reply", sealer=master)
    newest = await page_of(store, master, sort="newest")
    assert [r.hold.id for r in newest.rows] == [newcomer, *reversed(ids)]
    by_subject = await page_of(store, master, sort="subject")
    assert [r.subject for r in by_subject.rows][:2] == ["A reply", "Story 00"]
    first = await page_of(store, master, per_page=25)
    assert first.pages == 1 and first.total == 8
    assert dict((v, n) for v, _, n in first.by_stamp) == {"needs_adjustment": 7,
                                                          "confidential": 1}
    assert dict(first.by_reason) == {"needs_adjustment.external": 7,
                                     "confidential.organisation": 1}
    later = now() + dt.timedelta(days=12)
    aged = await page_of(store, master, at=later)
    assert {r.age for r in aged.rows} == {"12 d"} and all(r.soon for r in aged.rows)
    fresh = await page_of(store, master)
    assert not any(r.soon for r in fresh.rows)
    assert await next_held(store, ids[0]) == ids[1]
    assert await next_held(store, newcomer) == ids[0]
    assert await next_held(store, "HNOSUCH") == ids[0]


async def test_pages(store: Store, policy: Policy, master: Sealer) -> None:
    ids = [await hold(store, policy, subject=f"n{n}") for n in range(27)]
    pages = [await page_of(store, master, page=n) for n in (1, 2, 3, 0, 99)]
    assert [p.page for p in pages] == [1, 2, 2, 1, 2]
    assert [r.hold.id for r in pages[0].rows + pages[1].rows] == ids
    assert pages[1].pages == 2 and len(pages[1].rows) == 2
    assert [r.subject for r in pages[1].rows] == ["n25", "n26"]
    wide = await page_of(store, master, per_page=50)
    assert wide.pages == 1 and len(wide.rows) == 27
    odd = await page_of(store, master, per_page=7)  # not offered: the default
    assert len(odd.rows) == 25


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 min"), (59, "0 min"), (600, "10 min"),
                                               (3 * 3600 + 5, "3 h"), (47 * 3600, "47 h"),
                                               (49 * 3600, "2 d"), (-30, "0 min")])
def test_age_text(seconds: int, text: str) -> None:
    assert age_text(dt.timedelta(seconds=seconds)) == text
