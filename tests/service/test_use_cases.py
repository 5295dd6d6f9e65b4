"""The state machine and the review use cases, table-driven over a real store."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway.adapters import crypto
from gateway.adapters.key_files import KEY_DIR
from gateway.core.decision import ThreadContext
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.service.review import (
    Action,
    AlreadyDecided,
    ContentGone,
    Desk,
    NotFound,
    Refused,
    ReviewError,
    next_state,
)
from gateway.settings import Settings
from gateway.store.store import HeldState, OutboxKind, Store, now
from gateway.store.threads import ThreadMemory
from tests.support.held import ADJUST, hold

TARGETS = {Action.RELEASE: HeldState.RELEASED, Action.REJECT: HeldState.REJECTED,
           Action.DISCARD: HeldState.DISCARDED, Action.EXPIRE: HeldState.EXPIRED}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", list(HeldState))
def test_state_machine(state: HeldState, action: Action) -> None:
    if state is HeldState.HELD:
        assert next_state(state, action) is TARGETS[action]
    else:
        with pytest.raises(ReviewError, match=f"a {state.value} message cannot be"):
            next_state(state, action)


@dataclass(frozen=True)
class Case:
    name: str
    action: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    recipients: tuple[str, ...] = ("partner@outside.test",)
    first_line: str = ADJUST
    state: HeldState | None = None  # None: refused, nothing changes
    error: type[ReviewError] | None = None
    match: str = ""
    purposes: tuple[str, ...] = ()
    released_to: tuple[str, ...] = ()


BOTH = ("partner@outside.test", "press@example.org")
TICKED = {"adjustments_done": ["blur face", "change name"]}
CASES = [
    Case("release to every held recipient", "release", TICKED, state=HeldState.RELEASED,
         purposes=("release", "sender-released"), released_to=("partner@outside.test",)),
    Case("release to a chosen subset", "release", {**TICKED, "to": ["PRESS@example.org"]},
         recipients=BOTH, state=HeldState.RELEASED, purposes=("release", "sender-released"),
         released_to=("press@example.org",)),
    Case("release adds no recipient the message did not have", "release",
         {**TICKED, "to": ["partner@outside.test", "eve@evil.test"]},
         error=Refused, match="'eve@evil.test' is not a held recipient"),
    Case("release to nobody", "release", {**TICKED, "to": []}, error=Refused,
         match="at least one recipient"),
    Case("release with an adjustment left unticked", "release",
         {"adjustments_done": ["blur face"]}, error=Refused, match="change name"),
    Case("release with no adjustments ticked", "release", {}, error=Refused,
         match="blur face; change name"),
    Case("release of a message that needs no adjustment", "release", {},
         first_line="Strictly confidential",
         recipients=("carol@example.org",), state=HeldState.RELEASED,
         purposes=("release", "sender-released"), released_to=("carol@example.org",)),
    Case("reject with a reason", "reject", {"reason": "  Not for the press  yet "},
         state=HeldState.REJECTED, purposes=("sender-rejected",)),
    Case("reject without a reason", "reject", {"reason": " \t "}, error=Refused,
         match="needs a reason"),
    Case("reject with an endless reason", "reject", {"reason": "x" * 3000}, error=Refused,
         match="longer than"),
    Case("discard tells nobody", "discard", {}, state=HeldState.DISCARDED),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_use_case(case: Case, desk: Desk, store: Store, policy: Policy) -> None:
    thread = None
    if case.first_line == "Strictly confidential":  # carol is new to a confidential chain
        thread = ThreadContext("<chain@example.org>", Stamp.CONFIDENTIAL,
                               frozenset({"alice@example.org", "bob@example.org"}))
    hold_id = await hold(store, policy, case.first_line, case.recipients, thread=thread)
    method = getattr(desk, case.action)
    if case.error is not None:
        with pytest.raises(case.error, match=case.match):
            await method(hold_id, "director@example.org", **case.kwargs)
        record = await store.get_held(hold_id)
        assert record is not None and record.state is HeldState.HELD
        assert await store.outbox_entries() == []
        return
    decided = await method(hold_id, "director@example.org", **case.kwargs)
    assert decided.state is case.state
    record = await store.get_held(hold_id)
    assert record is not None and record.state is case.state
    assert record.decided_by == "director@example.org" and record.version == 2
    entries = await store.outbox_entries()
    assert tuple(e.purpose for e in entries) == case.purposes
    for entry in entries:
        assert entry.held_id == hold_id
        if entry.kind is OutboxKind.RELEASE:
            assert entry.recipients == case.released_to
            assert entry.sender == "alice@example.org"
        else:
            assert entry.recipients == ("alice@example.org",) and entry.sender == ""
    audit = await store.audit_entries(held_id=hold_id)
    assert [a["action"] for a in audit] == ["hold", case.state.value]
    assert audit[-1]["actor"] == "director@example.org"


@pytest.mark.parametrize("first", ["release", "reject", "discard"])
@pytest.mark.parametrize("second", ["release", "reject", "discard"])
async def test_second_decision_is_already_decided(first: str, second: str, desk: Desk,
                                                  store: Store, policy: Policy) -> None:
    hold_id = await hold(store, policy)
    args = {"release": TICKED, "reject": {"reason": "no"}, "discard": {}}
    await getattr(desk, first)(hold_id, "director@example.org", **args[first])
    with pytest.raises(AlreadyDecided, match=f"already decided: {TARGETS[Action(first)].value} "
                                             "by director@example.org"):
        await getattr(desk, second)(hold_id, "legal-lead@example.org", **args[second])
    audit = await store.audit_entries(held_id=hold_id)
    assert [a["actor"] for a in audit] == ["stampgate", "director@example.org"]


async def test_concurrent_decisions_first_wins(desk: Desk, store: Store,
                                               policy: Policy) -> None:
    for _ in range(5):
        hold_id = await hold(store, policy)
        results = await asyncio.gather(
            desk.release(hold_id, "director@example.org", **TICKED),
            desk.reject(hold_id, "legal-lead@example.org", "not this one"),
            desk.discard(hold_id, "legal-lead@example.org"),
            return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1 and len(losers) == 2
        assert all(isinstance(r, AlreadyDecided) for r in losers)
        record = await store.get_held(hold_id)
        assert record is not None and record.state is winners[0].state


async def test_stale_version_is_already_decided(desk: Desk, store: Store,
                                                policy: Policy) -> None:
    hold_id = await hold(store, policy)
    with pytest.raises(AlreadyDecided):
        await desk.discard(hold_id, "director@example.org", expected_version=7)
    await desk.discard(hold_id, "director@example.org", expected_version=1)


@pytest.mark.parametrize("hold_id", ["HNOSUCH", "", "' OR 1=1 --", "H" + "0" * 400])
async def test_unknown_hold(hold_id: str, desk: Desk) -> None:
    with pytest.raises(NotFound):
        await desk.discard(hold_id, "director@example.org")
    with pytest.raises(NotFound):
        await desk.content(hold_id, "director@example.org", "headers")


@pytest.mark.parametrize(("age_days", "expired"), [(13.9, False), (14.1, True)])
async def test_expiry(age_days: float, expired: bool, desk: Desk, store: Store,
                      policy: Policy) -> None:
    hold_id = await hold(store, policy)
    done = await desk.expire_due(now() + dt.timedelta(days=age_days))
    record = await store.get_held(hold_id)
    assert record is not None
    if not expired:
        assert done == [] and record.state is HeldState.HELD
        return
    assert [d.hold_id for d in done] == [hold_id] and record.state is HeldState.EXPIRED
    assert record.decided_by == "stampgate"
    [notice] = await store.outbox_entries()
    assert notice.purpose == "sender-expired" and notice.recipients == ("alice@example.org",)
    assert notice.data is not None and b"has expired" in notice.data
    assert [a["action"] for a in await store.audit_entries(held_id=hold_id)] == [
        "hold", "expired"]


async def test_release_joins_the_confidential_thread(desk: Desk, store: Store,
                                                     policy: Policy, settings: Settings) -> None:
    thread = ThreadContext("<chain@example.org>", Stamp.CONFIDENTIAL,
                           frozenset({"alice@example.org", "bob@example.org"}))
    hold_id = await hold(store, policy, "Confidential", ("Carol+cases@Example.org",),
                         thread=thread)
    await desk.release(hold_id, "director@example.org")
    with sqlite3.connect(Path(settings.data) / "stampgate.sqlite3") as conn:
        rows = conn.execute("SELECT address FROM thread_participants WHERE thread_id = ?",
                            ("<chain@example.org>",)).fetchall()
    assert ("carol@example.org",) in rows


async def test_viewing_content_is_audited(desk: Desk, store: Store, policy: Policy) -> None:
    hold_id = await hold(store, policy)
    data = await desk.content(hold_id, "director@example.org", "text body")
    assert b"A client's story." in data
    [_, view] = await store.audit_entries(held_id=hold_id)
    assert view["action"] == "view" and view["actor"] == "director@example.org"
    assert view["detail"] == {"what": "text body"}


@pytest.mark.parametrize("action", ["reject", "discard"])
async def test_refused_content_is_destroyed_when_sealed(action: str, store: Store,
                                                        policy: Policy, settings: Settings,
                                                        threads: ThreadMemory) -> None:
    sealer = crypto.Sealer(base64.b64decode(base64.b64encode(os.urandom(32))),
                           Path(settings.data) / KEY_DIR)
    desk = Desk(store, settings, lambda: policy, sealer, threads)
    hold_id = await hold(store, policy, sealer=sealer)
    blob = await store.held_content(hold_id)
    assert blob is not None and blob.startswith(crypto.MAGIC)
    assert b"A client's story." in await desk.content(hold_id, "director@example.org", "body")
    kwargs = {"reason": "no"} if action == "reject" else {}
    await getattr(desk, action)(hold_id, "director@example.org", **kwargs)
    assert await store.all_held_keys() == []  # crypto-shredded
    with pytest.raises(ContentGone):
        await desk.content(hold_id, "director@example.org", "body")


async def newcomer_hold(store: Store, policy: Policy) -> str:
    """A hold with no checklist: a confidential reply to someone new to the chain."""
    thread = ThreadContext("<chain@example.org>", Stamp.CONFIDENTIAL,
                           frozenset({"alice@example.org", "bob@example.org"}))
    return await hold(store, policy, "Confidential", ("carol@example.org",), thread=thread)


async def test_bulk_reports_each_message(desk: Desk, store: Store, policy: Policy) -> None:
    first = await newcomer_hold(store, policy)
    second = await hold(store, policy)
    await desk.discard(second, "legal-lead@example.org")
    results = await desk.bulk(Action.RELEASE, [first, second, "HNOSUCH", first],
                              "director@example.org")
    assert [r.hold_id for r in results] == [first, second, "HNOSUCH"]
    assert results[0].decided is not None and results[0].decided.state is HeldState.RELEASED
    assert results[1].error is not None and "already decided" in results[1].error
    assert results[2].error == "no held message 'HNOSUCH'"
    rejected = await desk.bulk(Action.REJECT, [await hold(store, policy)], "director@example.org")
    assert rejected[0].error is not None and "needs a reason" in rejected[0].error


async def test_bulk_release_skips_unticked_checklists(desk: Desk, store: Store,
                                                     policy: Policy) -> None:
    unticked, ticked, internal = (await hold(store, policy), await hold(store, policy),
                                  await newcomer_hold(store, policy))
    with pytest.raises(Refused, match="confirm each required adjustment"):
        await desk.confirm_checklist(ticked, "legal-lead@example.org", ["blur face"])
    await desk.confirm_checklist(ticked, "legal-lead@example.org", ["Blur  face", "change name"])
    results = {r.hold_id: r for r in await desk.bulk(
        Action.RELEASE, [unticked, ticked, internal], "director@example.org")}
    assert results[unticked].skipped and results[unticked].decided is None
    assert results[unticked].error == ("not released: its adjustments (blur face; change name) "
                                       "were not ticked on its own page")
    assert results[ticked].decided is not None and results[internal].decided is not None
    assert (await desk.get(unticked)).state is HeldState.HELD
    checklist = [e for e in await store.audit_entries(held_id=ticked)
                 if e["action"] == "checklist"]
    assert [e["actor"] for e in checklist] == ["legal-lead@example.org"]


@pytest.mark.parametrize("by", ["alice@example.org", "ALICE@example.org.", "<alice@example.org>",
                                "alice-desk"])
async def test_nobody_releases_their_own_message(desk: Desk, store: Store, policy: Policy,
                                                 settings: Settings, by: str) -> None:
    from gateway.adapters.accounts import add_user
    from gateway.adapters.reviewers import reviewers_path

    add_user(reviewers_path(Path(settings.data)), "alice-desk", "a long enough password",
             ["alice@example.org"])
    hold_id = await newcomer_hold(store, policy)
    with pytest.raises(Refused, match="another reviewer must release it"):
        await desk.release(hold_id, by)
    assert (await desk.get(hold_id)).state is HeldState.HELD
    # rejecting or discarding one's own message stops it; only a release needs four eyes
    decided = await desk.release(hold_id, "director@example.org")
    assert decided.state is HeldState.RELEASED


async def test_four_eyes_can_be_turned_off(store: Store, policy: Policy, tmp_path: Path,
                                           sealer: crypto.BodySealer) -> None:
    from tests.support.held import desk_for, settings_for

    relaxed = desk_for(store, settings_for(tmp_path / "var", review_four_eyes=False), policy)
    hold_id = await newcomer_hold(store, policy)
    assert (await relaxed.release(hold_id, "alice@example.org")).state is HeldState.RELEASED


async def test_page_views_are_recorded_once_an_hour(desk: Desk, store: Store,
                                                    policy: Policy) -> None:
    hold_id = await hold(store, policy)
    for _ in range(3):
        await desk.content(hold_id, "director@example.org", "headers and text body", once=True)
    await desk.content(hold_id, "legal-lead@example.org", "headers and text body", once=True)
    await desk.content(hold_id, "director@example.org", "html body", once=True)
    for _ in range(2):
        await desk.content(hold_id, "director@example.org", "attachment 2")
    views = [(e["actor"], e["detail"]["what"]) for e in await store.audit_entries(held_id=hold_id)
             if e["action"] == "view"]
    assert sorted(views) == [("director@example.org", "attachment 2"),
                             ("director@example.org", "attachment 2"),
                             ("director@example.org", "headers and text body"),
                             ("director@example.org", "html body"),
                             ("legal-lead@example.org", "headers and text body")]
