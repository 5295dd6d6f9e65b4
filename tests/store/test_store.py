"""The store's contract on both engines: holds, decisions, the outbox and its claims, schema.

Every test runs on SQLite and on PostgreSQL (``store_url`` in ``conftest.py``); the tests of
several gateways open two stores on one PostgreSQL schema and race them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from gateway.store.accepted import AcceptedState, Answer
from gateway.store.conn import POSTGRESQL, Conn, dialect
from gateway.store.direct import transaction
from gateway.store.migrate import SchemaError, migrate
from gateway.store.sessions import Cutoffs, WebSessions
from gateway.store.store import (
    HeldFilter,
    HeldState,
    NewMail,
    OutboxKind,
    OutboxState,
    Store,
    StoreError,
    new_held,
    now,
)
from tests.store.test_store_sqlite import PARTNER, decide, decision, hold, mail
from tests.support.postgres import TestDatabase

LEASE = dt.timedelta(minutes=5)


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def test_concurrent_calls_are_serialized(store: Store) -> None:
    ids = await asyncio.gather(*(hold(store) for _ in range(50)))
    assert len(set(ids)) == 50
    assert await store.count_held() == 50
    assert len(await store.audit_entries()) == 50


async def test_a_failing_decision_rolls_back_everything(store: Store) -> None:
    hold_id = await hold(store)
    record = await store.get_held(hold_id)
    assert record is not None
    broken = NewMail(kind=OutboxKind.NOTICE, purpose="x", sender="s@example.org",
                     recipients=(object(),),  # type: ignore[arg-type]
                     requested_by="director@example.org")
    with pytest.raises(TypeError):
        await store.set_state(hold_id, record.version, HeldState.RELEASED,
                              "director@example.org", None, {}, [broken])
    assert await store.get_held(hold_id) == record
    assert len(await store.audit_entries()) == 1
    assert await store.outbox_entries() == []
    await decide(store, hold_id)


async def test_a_decision_is_taken_once(store: Store) -> None:
    hold_id = await hold(store)
    record = await store.get_held(hold_id)
    assert record is not None
    first = store.set_state(hold_id, record.version, HeldState.RELEASED, "a@example.org", None,
                            {}, [mail(OutboxKind.RELEASE, hold_id)])
    second = store.set_state(hold_id, record.version, HeldState.REJECTED, "b@example.org",
                             "no", {}, [])
    assert sorted(await asyncio.gather(first, second)) == [False, True]
    decided = await store.get_held(hold_id)
    assert decided is not None and decided.version == record.version + 1
    assert decided.decided_at is not None and decided.decided_at.tzinfo is dt.UTC


async def test_released_unerased(store: Store) -> None:
    waiting = await hold(store)
    rejected = await hold(store)
    delivered = await hold(store)
    pending = await hold(store)
    notice_only = await hold(store)
    erased = await hold(store)
    failed = await hold(store)
    late = await hold(store)
    # decided in another order than held: the oldest decision comes first
    await decide(store, notice_only, mails=(mail(OutboxKind.NOTICE, notice_only),))
    await decide(store, delivered, mails=(mail(OutboxKind.RELEASE, delivered),))
    await decide(store, rejected, HeldState.REJECTED)
    await decide(store, pending, mails=(mail(OutboxKind.RELEASE, pending),))
    await decide(store, erased)
    await decide(store, failed, mails=(mail(OutboxKind.RELEASE, failed),))
    cutoff = now()
    await asyncio.sleep(0.002)
    await decide(store, late)
    for item in await store.outbox_entries(OutboxState.PENDING):
        if item.held_id == delivered and item.kind is OutboxKind.RELEASE:
            await store.outbox_sent(item, {"to": [PARTNER]})
        if item.held_id == failed:
            await store.outbox_failed(item, "550 no", None, [])
    await store.erase_content(erased)

    found = await store.released_unerased(cutoff)
    assert [h.id for h in found] == [notice_only, delivered, failed]
    assert all(h.state is HeldState.RELEASED for h in found)
    assert [h.id for h in await store.released_unerased(cutoff, limit=2)] == [
        notice_only, delivered]
    assert await store.released_unerased(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == []
    later = await store.released_unerased(now() + dt.timedelta(seconds=1))
    assert [h.id for h in later] == [notice_only, delivered, failed, late]
    assert waiting not in {h.id for h in later}

    # once the pending release is delivered its content may go too
    [release] = [i for i in await store.outbox_for(pending) if i.kind is OutboxKind.RELEASE]
    await store.outbox_sent(release, None)
    assert pending in {h.id for h in await store.released_unerased(cutoff)}
    for record in await store.released_unerased(cutoff):
        await store.erase_content(record.id)
    assert await store.released_unerased(cutoff) == []

async def test_a_failing_write_among_concurrent_ones_fails_alone(store: Store) -> None:
    def failing(conn: Conn) -> None:
        conn.execute("INSERT INTO audit_log (at, actor, action, held_id, detail) "
                     "VALUES ('2026-01-01 00:00:00.000000', 'x', 'doomed', NULL, '{}')")
        raise ValueError("this write fails after its insert")

    results = await asyncio.gather(*(hold(store) for _ in range(20)), store.write(failing),
                                   *(hold(store) for _ in range(20)), return_exceptions=True)
    assert [type(r) for r in results].count(ValueError) == 1
    assert isinstance(results[20], ValueError)
    assert await store.count_held() == 40
    assert "doomed" not in {e["action"] for e in await store.audit_entries()}


async def test_find_by_rule_stamp_and_time(store: Store) -> None:
    first = await hold(store)
    before = now()
    await asyncio.sleep(0.002)
    second = await hold(store)
    every = HeldFilter(state=None)
    assert [h.id for h in await store.find_held(every)] == [first, second]
    rule = HeldFilter(state=None, reason="NEEDS_ADJUSTMENT.EXT")
    assert [h.id for h in await store.find_held(rule)] == [first, second]
    assert await store.find_held(HeldFilter(state=None, reason="50%_off")) == []
    assert await store.find_held(HeldFilter(state=None, stamp="none")) == []
    assert [h.id for h in await store.find_held(
        HeldFilter(state=None, stamp="needs_adjustment", created_after=before))] == [second]
    assert [h.id for h in await store.find_held(
        HeldFilter(state=None, created_before=before))] == [first]
    count, oldest = await store.held_backlog()
    record = await store.get_held(first)
    assert record is not None and (count, oldest) == (2, record.created_at)
    assert oldest is not None and oldest.tzinfo is dt.UTC
    assert await store.held_content(first) == b"Subject: x\r\n\r\nA client's story.\r\n"
    [entry, _] = await store.audit_entries()
    assert entry["held_id"] == first and entry["detail"]["queue_id"] == "Q1"


async def test_notices_are_queued_once_and_the_digest_empties(store: Store) -> None:
    hold_id = await hold(store)
    assert [h.id for h in await store.holds_without_notice(now())] == [hold_id]
    notice = mail(OutboxKind.NOTICE, hold_id)
    assert await store.record_hold_notices(hold_id, [notice], True)
    assert not await store.record_hold_notices(hold_id, [notice], True)
    assert await store.holds_without_notice(now()) == []
    assert [h.id for h in await store.digest_pending()] == [hold_id]
    await store.digest_sent([hold_id, hold_id], [notice])
    assert await store.digest_pending() == []
    assert len(await store.outbox_entries(OutboxState.PENDING)) == 2


async def test_an_outbox_entry_is_claimed_once_until_its_lease_ends(store: Store) -> None:
    hold_id = await hold(store)
    await store.enqueue([mail(OutboxKind.NOTICE, hold_id)])
    at = now()
    [claimed] = await store.claim_outbox(at, "gateway-a", LEASE)
    assert claimed.data == b"notice" and claimed.recipients == (PARTNER,)
    assert await store.claim_outbox(at, "gateway-b", LEASE) == []
    # gateway-a died: once its lease has ended, gateway-b takes the entry
    [again] = await store.claim_outbox(at + LEASE, "gateway-b", LEASE)
    assert again.id == claimed.id
    await store.outbox_retry(again, at + dt.timedelta(seconds=1), "451 later")
    assert await store.claim_outbox(at, "gateway-a", LEASE) == []  # not due yet
    [retried] = await store.claim_outbox(at + dt.timedelta(seconds=2), "gateway-a", LEASE)
    assert retried.attempts == 1 and retried.last_error == "451 later"
    await store.outbox_sent(retried, None)
    assert await store.claim_outbox(at + 2 * LEASE, "gateway-b", LEASE) == []
    [sent] = await store.outbox_entries()
    assert sent.state is OutboxState.SENT and sent.attempts == 2


async def test_a_stopping_gateway_gives_its_claims_back(store: Store) -> None:
    hold_id = await hold(store)
    await store.enqueue([mail(OutboxKind.NOTICE, hold_id) for _ in range(3)])
    at = now()
    first, second, third = await store.claim_outbox(at, "gateway-a", LEASE)
    await store.outbox_sent(first, None)
    assert await store.claim_outbox(at, "gateway-b", LEASE) == []  # gateway-a's, leased
    assert await store.release_outbox_claims("gateway-a") == 2  # not the sent one
    taken = await store.claim_outbox(at, "gateway-b", LEASE)
    assert [item.id for item in taken] == [second.id, third.id]
    assert await store.release_outbox_claims("gateway-a") == 0  # gateway-b's stay its own
    assert await store.claim_outbox(at, "gateway-c", LEASE) == []
    states = {item.id: item.state for item in await store.outbox_entries()}
    assert states == {first.id: OutboxState.SENT, second.id: OutboxState.PENDING,
                      third.id: OutboxState.PENDING}


async def test_a_store_with_an_unknown_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="sqlite:///PATH or postgresql://"):
        await Store.open(tmp_path, "mysql://root@127.0.0.1/stampgate")


# -- several gateways on one PostgreSQL store ----------------------------------------------

@pytest.fixture
async def two_gateways(postgres: TestDatabase) -> tuple[Store, Store]:
    url = postgres.new_schema()
    first = await Store.open(Path("unused"), url)
    second = await Store.open(Path("unused"), url)
    yield first, second  # type: ignore[misc]
    await first.close()
    await second.close()


async def test_two_gateways_claim_disjoint_outbox_entries(
        two_gateways: tuple[Store, Store]) -> None:
    first, second = two_gateways
    hold_id = await hold(first)
    await first.enqueue([mail(OutboxKind.NOTICE, hold_id) for _ in range(40)])
    at = now()
    claims = await asyncio.gather(*(
        store.claim_outbox(at, f"gateway-{n}-{i}", LEASE, limit=3)
        for i in range(10) for n, store in enumerate((first, second))))
    ids = [item.id for claim in claims for item in claim]
    assert len(ids) == len(set(ids)) == 40
    assert await second.claim_outbox(at, "late", LEASE) == []


async def test_two_reviewers_on_two_gateways_one_wins(two_gateways: tuple[Store, Store]) -> None:
    first, second = two_gateways
    hold_id = await hold(first)
    record = await second.get_held(hold_id)
    assert record is not None
    release = first.set_state(hold_id, record.version, HeldState.RELEASED, "a@example.org",
                              None, {}, [mail(OutboxKind.RELEASE, hold_id)])
    reject = second.set_state(hold_id, record.version, HeldState.REJECTED, "b@example.org",
                              "no", {}, [mail(OutboxKind.NOTICE, hold_id)])
    results = await asyncio.gather(release, reject)
    assert sorted(results) == [False, True]
    decided = await second.get_held(hold_id)
    assert decided is not None and decided.state is (
        HeldState.RELEASED if results[0] else HeldState.REJECTED)
    # only the winner's mail and audit entry were written
    assert len(await first.outbox_for(hold_id)) == 1
    assert [e["action"] for e in await second.audit_entries(held_id=hold_id)] == [
        "hold", decided.state.value]


async def test_a_decision_on_one_gateway_is_seen_by_the_other_at_once(
        two_gateways: tuple[Store, Store]) -> None:
    first, second = two_gateways
    hold_id = await hold(first)
    await decide(first, hold_id, HeldState.REJECTED)
    seen = await second.get_held(hold_id)
    assert seen is not None and seen.state is HeldState.REJECTED
    assert await second.held() == []


# -- schema versions -----------------------------------------------------------------------

async def test_an_empty_postgresql_schema_is_refused_until_migrated(
        postgres: TestDatabase) -> None:
    url = postgres.new_schema(migrated=False)
    with pytest.raises(SchemaError, match=r"empty.*stampgate db migrate"):
        await Store.open(Path("unused"), url)


def one_version_back(conn: Conn) -> None:
    """Undo the latest migration (the copies a given-up claim delivered, and the index of
    holds by time), as if an older release had made the store."""
    conn.execute("DROP INDEX ix_held_messages_created_at")
    conn.execute("ALTER TABLE accepted DROP COLUMN delivered_to")
    conn.execute("DELETE FROM schema_version WHERE version = 8")


@pytest.mark.parametrize("change", ["older", "newer"])
async def test_an_older_or_newer_schema_is_refused(store_url: str, tmp_path: Path,
                                                   change: str) -> None:
    store = await Store.open(tmp_path, store_url)
    await store.enqueue([mail(OutboxKind.NOTICE, "H1")])
    if change == "older":
        await store.write(one_version_back)
    else:
        await store.write(lambda conn: conn.execute(
            "INSERT INTO schema_version VALUES (99, 'future', '2031-01-01T00:00:00+00:00')"))
    await store.close()
    if change == "older" and not store_url:  # SQLite migrates an older file when it opens it
        store = await Store.open(tmp_path, store_url)
        try:
            await store.write(lambda conn: conn.execute("SELECT delivered_to FROM accepted"))
            [entry] = await store.claim_outbox(now(), "gateway-a", LEASE)
            assert entry.held_id == "H1"
        finally:
            await store.close()
        return
    expected = ("at version 7, this stampgate needs version 8.*stampgate db migrate"
                if change == "older" else "version 99, newer than this stampgate knows")
    with pytest.raises(SchemaError, match=expected):
        await Store.open(tmp_path, store_url)


async def test_two_gateways_sweeping_queue_a_holds_notices_once(
        two_gateways: tuple[Store, Store]) -> None:
    first, second = two_gateways
    hold_id = await hold(first)
    notice = mail(OutboxKind.NOTICE, hold_id)
    results = await asyncio.gather(*(store.record_hold_notices(hold_id, [notice], False)
                                     for _ in range(5) for store in (first, second)))
    assert sorted(results) == [False] * 9 + [True]
    assert len(await second.outbox_entries()) == 1


async def test_claims_and_answers_of_acceptance(store: Store) -> None:
    first = await store.claim("k1", "gateway-a:1", "Q1", stale=lambda row: False)
    assert first.won and first.before is None
    live = await store.claim("k1", "gateway-b:2", "Q2", stale=lambda row: False)
    assert not live.won and live.before is not None and live.before.owner == "gateway-a:1"
    await store.abandon_claim("k1", "gateway-a:1", maybe_delivered=True, hold_gone=True)
    taken = await store.claim("k1", "gateway-b:2", "Q2", stale=lambda row: row.owner is None)
    assert taken.won and taken.before is not None and taken.before.maybe_delivered
    answer = Answer(outcome="relayed", queue_id="Q1", hold_id=None, held=0, delivered=1,
                    decision=decision())
    await store.answer("k1", answer)
    row = await store.accepted("k1")
    assert row is not None and row.state is AcceptedState.ANSWERED and row.answer == answer
    assert not (await store.claim("k1", "c:3", "Q3", stale=lambda row: True)).won
    await store.claim("k2", "gateway-a:1", "Q4", stale=lambda row: False)
    await store.release_claim("k2", "gateway-a:1")
    assert await store.accepted("k2") is None
    assert await store.count_accepted() == 1
    assert await store.prune_accepted(now() + dt.timedelta(seconds=1)) == 1
    assert await store.count_accepted() == 0


async def test_a_given_up_claim_keeps_whose_copies_the_downstream_took(store: Store) -> None:
    never = lambda row: False  # noqa: E731
    gone = lambda row: row.owner is None  # noqa: E731
    await store.claim("k1", "gateway-a:1", "Q1", stale=never)
    await store.abandon_claim("k1", "gateway-a:1", maybe_delivered=False, hold_gone=True,
                              delivered_to=["Bob@example.org"])
    taken = await store.claim("k1", "gateway-b:2", "Q2", stale=gone)
    assert taken.won and taken.before is not None
    assert taken.before.delivered_to == {"Bob@example.org"}
    assert not taken.before.maybe_delivered and taken.before.queue_id == "Q1"
    # the next attempt delivers another copy before giving up: both are named, in one write
    await store.abandon_claim("k1", "gateway-b:2", maybe_delivered=True, hold_gone=True,
                              delivered_to={"ana@unhcr.test"})
    row = await store.accepted("k1")
    assert row is not None and row.owner is None and row.maybe_delivered
    assert row.delivered_to == {"Bob@example.org", "ana@unhcr.test"}
    # an attempt that delivered nothing more keeps what the claim says
    await store.claim("k1", "gateway-c:3", "Q3", stale=gone)
    await store.abandon_claim("k1", "gateway-c:3", maybe_delivered=False, hold_gone=True)
    # and an attempt whose claim was taken over writes nothing
    await store.claim("k1", "gateway-d:4", "Q4", stale=gone)
    await store.abandon_claim("k1", "gateway-c:3", maybe_delivered=False, hold_gone=True,
                              delivered_to=["eve@example.org"])
    row = await store.accepted("k1")
    assert row is not None and row.owner == "gateway-d:4"
    assert row.delivered_to == {"Bob@example.org", "ana@unhcr.test"}
    # a claim nobody delivered anything for names nobody
    await store.claim("k2", "gateway-a:1", "Q5", stale=never)
    await store.abandon_claim("k2", "gateway-a:1", maybe_delivered=True, hold_gone=False)
    fresh = await store.accepted("k2")
    assert fresh is not None and fresh.delivered_to == frozenset()


async def test_migration_8_keeps_older_claims_and_indexes_holds_by_time(
        store_url: str, tmp_path: Path) -> None:
    """A store an older release made (version 7) with a claim its attempt gave up: migrated,
    the claim reads as naming nobody and takes the recipients of a given-up attempt."""
    store = await Store.open(tmp_path, store_url)
    await store.claim("k1", "gateway-a:1", "Q1", stale=lambda row: False)
    await store.write(one_version_back)
    await store.close()
    if store_url:  # PostgreSQL: `stampgate db migrate`; a SQLite file migrates when opened
        with transaction(store_url, tmp_path) as conn:
            assert [m.version for m in migrate(conn)] == [8]
    store = await Store.open(tmp_path, store_url)
    try:
        row = await store.accepted("k1")
        assert row is not None and row.owner == "gateway-a:1"
        assert row.delivered_to == frozenset()
        await store.abandon_claim("k1", "gateway-a:1", maybe_delivered=False, hold_gone=False,
                                  delivered_to=["bob@example.org"])
        row = await store.accepted("k1")
        assert row is not None and row.delivered_to == {"bob@example.org"}
        for _ in range(3):
            await hold(store)
        assert len(await store.recent_holds(now() - dt.timedelta(hours=1), 10)) == 3
        assert "ix_held_messages_created_at" in await store.write(_plan_of_recent_holds)
    finally:
        await store.close()


def _plan_of_recent_holds(conn: Conn) -> str:
    """The plan of the review figures' query of recent holds (a sequential scan ruled out
    on PostgreSQL, whose planner prefers one on a small table)."""
    query = ("SELECT created_at, state FROM held_messages WHERE created_at >= ? "
             "ORDER BY created_at DESC, id DESC LIMIT ?")
    at = "2026-01-01 00:00:00.000000"
    if dialect(conn) == POSTGRESQL:
        conn.execute("SET LOCAL enable_seqscan = off")
        return " ".join(str(r[0]) for r in conn.execute("EXPLAIN " + query, (at, 10)))
    return " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + query, (at, 10)))


async def test_review_ui_sessions(store: Store) -> None:
    sessions = WebSessions(store.read, store.write)
    at = now()
    cutoffs = Cutoffs(idle=at - dt.timedelta(minutes=30), born=at - dt.timedelta(hours=8))
    await sessions.start("h1", "director@example.org", {"csrf": "x"}, at, cutoffs)
    found = await sessions.find("h1", cutoffs)
    assert found is not None and found.login == "director@example.org"
    assert found.data == {"csrf": "x"}
    assert await sessions.save("h1", {"csrf": "y"}, at + dt.timedelta(seconds=1))
    later = Cutoffs(idle=at + dt.timedelta(minutes=31), born=cutoffs.born)
    assert await sessions.find("h1", later) is None  # idle too long: ended
    assert not await sessions.save("h1", {}, at)


async def test_a_held_subject_is_kept_as_bytes(store: Store) -> None:
    record = new_held(queue_id="Q1", sender="alice@example.org", recipients=[PARTNER],
                      held=[PARTNER], decision=decision(), size=4, message_id=None,
                      subject=b"\x00SGHELD1 sealed subject \xff")
    await store.hold(record, b"body")
    found = await store.get_held(record.id)
    assert found is not None and found.subject == b"\x00SGHELD1 sealed subject \xff"


async def test_the_acceptance_look_up_sees_what_another_gateway_process_committed(
        tmp_path: Path) -> None:
    """Two worker processes share the SQLite file: the look-up every message starts with
    (on a connection of its own) sees the other's answer as soon as it is committed."""
    first, second = await Store.open(tmp_path, ""), await Store.open(tmp_path, "")
    try:
        assert await first.accepted("k1") is None
        assert (await second.claim("k1", "gateway-b:2", "Q1", stale=lambda row: False)).won
        claimed = await first.accepted("k1")
        assert claimed is not None and claimed.state is AcceptedState.CLAIMED
        answer = Answer(outcome="relayed", queue_id="Q1", hold_id=None, held=0, delivered=1,
                        decision=decision())
        await second.answer("k1", answer)
        row = await first.accepted("k1")
        assert row is not None and row.answer == answer
    finally:
        await first.close()
        await second.close()
    reopened = await Store.open(tmp_path, "")
    try:
        row = await reopened.accepted("k1")
        assert row is not None and row.state is AcceptedState.ANSWERED
    finally:
        await reopened.close()
