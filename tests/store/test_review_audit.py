"""The store's part of the review desk on both engines: the sealed subject, page views
recorded once per window, the newest checklist and the audit newest first."""

from __future__ import annotations

import dataclasses

from gateway.store.store import Store, new_held, now
from tests.store.test_store import store  # noqa: F401
from tests.store.test_store_sqlite import PARTNER, decision, hold


async def test_the_subject_is_kept_as_given(store: Store) -> None:  # noqa: F811
    record = new_held(queue_id="Q1", sender="alice@example.org", recipients=[PARTNER],
                      held=[PARTNER], decision=decision(), size=4, message_id=None,
                      subject=b"\x00SGHELD1 sealed bytes \xff")
    hold_id = await store.hold(record, b"body")
    stored = await store.get_held(hold_id)
    assert stored is not None and stored.subject == b"\x00SGHELD1 sealed bytes \xff"
    plain = await store.hold(dataclasses.replace(record, id="HPLAIN", subject=None), b"body")
    again = await store.get_held(plain)
    assert again is not None and again.subject is None


async def test_a_view_is_recorded_once_in_its_window(store: Store) -> None:  # noqa: F811
    hold_id = await hold(store)
    since = now()
    view = {"what": "headers and text body"}
    assert await store.audit_once("director@example.org", "view", hold_id, view, since)
    assert not await store.audit_once("director@example.org", "view", hold_id, view, since)
    assert await store.audit_once("legal-lead@example.org", "view", hold_id, view, since)
    assert await store.audit_once("director@example.org", "view", hold_id, {"what": "html body"},
                                  since)
    views = [e for e in await store.audit_entries(held_id=hold_id) if e["action"] == "view"]
    assert len(views) == 3


async def test_the_newest_checklist_and_newest_first(store: Store) -> None:  # noqa: F811
    hold_id = await hold(store)
    assert await store.last_audit(hold_id, "checklist") is None
    await store.audit("director@example.org", "checklist", hold_id, {"adjustments": ["a"]})
    await store.audit("legal-lead@example.org", "checklist", hold_id, {"adjustments": ["b"]})
    latest = await store.last_audit(hold_id, "checklist")
    assert latest is not None and latest["actor"] == "legal-lead@example.org"
    newest = await store.audit_entries(2, newest_first=True)
    assert [e["actor"] for e in newest] == ["legal-lead@example.org", "director@example.org"]
    oldest = await store.audit_entries(1)
    assert oldest[0]["action"] == "hold"
