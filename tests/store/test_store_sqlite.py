"""The store on the standard library's sqlite3: old files, formats, transactions, retention."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.core.decision import Decision, RecipientDecision
from gateway.core.model import Location, Stamp, Verdict
from gateway.store.store import (
    DB_NAME,
    HeldFilter,
    HeldState,
    NewMail,
    OutboxKind,
    OutboxState,
    Store,
    StoreError,
    new_held,
)

PARTNER = "partner@outside.test"
STORED_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")

# A store file as the SQLAlchemy-based store wrote it: its DDL, and its value formats
# (naive UTC datetimes with microseconds, JSON text from json.dumps, content as BLOB).
OLD_STORE = """
CREATE TABLE held_messages (
    id VARCHAR(32) NOT NULL, queue_id VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL, version INTEGER NOT NULL, sender TEXT NOT NULL,
    recipients JSON NOT NULL, held_recipients JSON NOT NULL, stamp VARCHAR(32),
    reason TEXT NOT NULL, decision JSON NOT NULL, message_id TEXT, thread_id TEXT,
    size INTEGER NOT NULL, content BLOB NOT NULL, decided_by TEXT, decided_at DATETIME,
    decision_note TEXT, PRIMARY KEY (id));
CREATE INDEX ix_held_messages_state ON held_messages (state);
CREATE TABLE thread_messages (
    message_id TEXT NOT NULL, thread_id TEXT NOT NULL, stamp VARCHAR(32),
    seen_at DATETIME NOT NULL, PRIMARY KEY (message_id));
CREATE INDEX ix_thread_messages_thread_id ON thread_messages (thread_id);
CREATE TABLE threads (
    thread_id TEXT NOT NULL, stamp VARCHAR(32), confidential INTEGER NOT NULL,
    started_at DATETIME NOT NULL, PRIMARY KEY (thread_id));
CREATE TABLE thread_participants (
    thread_id TEXT NOT NULL, address TEXT NOT NULL, added_at DATETIME NOT NULL,
    PRIMARY KEY (thread_id, address));
CREATE TABLE audit_log (
    id INTEGER NOT NULL, at DATETIME NOT NULL, actor TEXT NOT NULL,
    action VARCHAR(32) NOT NULL, held_id VARCHAR(32), detail JSON NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_audit_held ON audit_log (held_id);
CREATE TABLE outbox (
    id INTEGER NOT NULL, kind VARCHAR(16) NOT NULL, purpose VARCHAR(32) NOT NULL,
    held_id VARCHAR(32), sender TEXT NOT NULL, recipients JSON NOT NULL, data BLOB,
    requested_by TEXT NOT NULL, created_at DATETIME NOT NULL, state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL, next_attempt_at DATETIME NOT NULL, last_error TEXT,
    done_at DATETIME, PRIMARY KEY (id));
CREATE INDEX ix_outbox_held_id ON outbox (held_id);
CREATE INDEX ix_outbox_state ON outbox (state);
CREATE TABLE hold_notices (
    held_id VARCHAR(32) NOT NULL, noticed_at DATETIME NOT NULL,
    digest_pending INTEGER NOT NULL, PRIMARY KEY (held_id));
INSERT INTO held_messages VALUES (
  'H0123456789AB', 'Q1', '2025-03-01 09:15:00.000000', 'released', 2, 'alice@example.org',
  '["bob@example.org", "partner@outside.test"]', '["partner@outside.test"]',
  'needs_adjustment', 'Needs adjustment may not go out yet',
  '{"verdict": "hold", "stamp": "needs_adjustment", "rules": ["needs_adjustment.external"], '
  || '"adjustments": ["blur face"], "newcomers": [], "downgrade": null}',
  '<m1@example.org>', '<m1@example.org>', 21, X'5375626A6563743A20780D0A0D0A626F647900FF',
  'director@example.org', '2025-03-02 17:45:30.250000', 'fine now');
INSERT INTO held_messages VALUES (
  'HBA9876543210', 'Q2', '2025-03-03 08:00:00.000001', 'held', 1, 'alice@example.org',
  '["partner@outside.test"]', '["partner@outside.test"]', NULL, 'Unstamped',
  '{"verdict": "hold", "stamp": null, "rules": []}', NULL, NULL, 4, X'626F6479',
  NULL, NULL, NULL);
INSERT INTO outbox VALUES (
  1, 'release', 'release', 'H0123456789AB', 'alice@example.org', '["partner@outside.test"]',
  NULL, 'director@example.org', '2025-03-02 17:45:30.250000', 'sent', 1,
  '2025-03-02 17:45:30.250000', NULL, '2025-03-02 17:45:31.000000');
INSERT INTO audit_log VALUES (
  1, '2025-03-01 09:15:00.000000', 'stampgate', 'hold', 'H0123456789AB',
  '{"queue_id": "Q1", "held_recipients": ["partner@outside.test"]}');
INSERT INTO hold_notices VALUES ('HBA9876543210', '2025-03-03 08:00:01.000000', 1);
"""


def decision(stamp: Stamp | None = Stamp.NEEDS_ADJUSTMENT) -> Decision:
    return Decision(
        stamp=stamp, found_in=(Location.BODY,),
        recipients=(RecipientDecision(PARTNER, PARTNER, "external", (), Verdict.HOLD,
                                      "needs_adjustment.external", "may not go out yet"),),
        rules=("needs_adjustment.external",), reasons=(), policy_version="v1",
        adjustments=("blur face",), sender="alice@example.org")


def mail(kind: OutboxKind, hold_id: str) -> NewMail:
    return NewMail(kind=kind, purpose=kind.value, sender="alice@example.org",
                   recipients=(PARTNER,), requested_by="director@example.org", held_id=hold_id,
                   data=b"notice" if kind is OutboxKind.NOTICE else None)


async def hold(store: Store, content: bytes = b"Subject: x\r\n\r\nA client's story.\r\n") -> str:
    record = new_held(queue_id="Q1", sender="alice@example.org", recipients=[PARTNER],
                      held=[PARTNER], decision=decision(), size=len(content),
                      message_id="<m@example.org>")
    return await store.hold(record, content)


async def decide(store: Store, hold_id: str, state: HeldState = HeldState.RELEASED,
                 mails: tuple[NewMail, ...] = ()) -> None:
    record = await store.get_held(hold_id)
    assert record is not None
    assert await store.set_state(hold_id, record.version, state, "director@example.org", None,
                                 {}, mails)


def raw(path: Path, query: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path / DB_NAME)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path)
    yield opened
    await opened.close()


# -- files written by the SQLAlchemy-based store --------------------------------------------

async def test_reads_a_store_written_in_the_old_format(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript(OLD_STORE)
    conn.close()
    store = await Store.open(tmp_path)
    try:
        record = await store.get_held("H0123456789AB")
        assert record is not None
        assert record.created_at == dt.datetime(2025, 3, 1, 9, 15, tzinfo=dt.UTC)
        assert record.decided_at == dt.datetime(2025, 3, 2, 17, 45, 30, 250000, tzinfo=dt.UTC)
        assert record.created_at.utcoffset() == dt.timedelta(0)
        assert record.state is HeldState.RELEASED and record.version == 2
        assert record.recipients == ("bob@example.org", PARTNER)
        assert record.held_recipients == (PARTNER,)
        assert record.stamp == "needs_adjustment"
        assert record.adjustments == ("blur face",)
        assert record.decision.rules == ("needs_adjustment.external",)
        assert (record.decided_by, record.decision_note) == ("director@example.org", "fine now")
        assert record.summary()["created_at"] == "2025-03-01T09:15:00+00:00"
        assert await store.held_content("H0123456789AB") == b"Subject: x\r\n\r\nbody\x00\xff"

        waiting = await store.held()
        assert [h.id for h in waiting] == ["HBA9876543210"]
        assert waiting[0].stamp is None and waiting[0].decided_at is None
        assert await store.count_held() == 1
        assert await store.held_backlog() == (
            1, dt.datetime(2025, 3, 3, 8, 0, 0, 1, tzinfo=dt.UTC))
        assert [h.id for h in await store.digest_pending()] == ["HBA9876543210"]

        # comparisons against the stored text still hold, whatever the caller's time zone
        cest = dt.timezone(dt.timedelta(hours=2))
        found = await store.find_held(HeldFilter(
            state=None, created_before=dt.datetime(2025, 3, 3, 10, 0, 0, 1, tzinfo=cest)))
        assert [h.id for h in found] == ["H0123456789AB"]
        found = await store.find_held(HeldFilter(
            state=None, created_after=dt.datetime(2025, 3, 1, 9, 15, tzinfo=dt.UTC)))
        assert [h.id for h in found] == ["H0123456789AB", "HBA9876543210"]
        found = await store.find_held(HeldFilter(state=None, reason="NEEDS_ADJUSTMENT.ext"))
        assert [h.id for h in found] == ["H0123456789AB"]

        [item] = await store.outbox_for("H0123456789AB")
        assert item.kind is OutboxKind.RELEASE and item.state is OutboxState.SENT
        assert item.data is None and item.recipients == (PARTNER,)
        assert item.done_at == dt.datetime(2025, 3, 2, 17, 45, 31, tzinfo=dt.UTC)
        [entry] = await store.audit_entries()
        assert entry["at"] == "2025-03-01T09:15:00"
        assert entry["detail"] == {"queue_id": "Q1", "held_recipients": [PARTNER]}

        # new rows go in beside the old ones in the same formats, and sort with them
        hold_id = await hold(store)
        assert [h.id for h in await store.held()] == ["HBA9876543210", hold_id]
    finally:
        await store.close()
    [(created_at, recipients, decided, kind)] = raw(
        tmp_path, "SELECT created_at, recipients, typeof(decision), typeof(content) "
        "FROM held_messages WHERE id = ?", hold_id)
    assert isinstance(created_at, str) and STORED_TIME.match(created_at), created_at
    assert recipients == '["partner@outside.test"]'
    assert (decided, kind) == ("text", "blob")
    [(at, detail)] = raw(tmp_path, "SELECT at, detail FROM audit_log WHERE held_id = ?", hold_id)
    assert isinstance(at, str) and STORED_TIME.match(at), at
    assert isinstance(detail, str) and json.loads(detail)["queue_id"] == "Q1"


async def test_an_old_store_is_the_baseline_and_migrates_to_a_new_stores_schema(
        tmp_path: Path) -> None:
    await (await Store.open(tmp_path)).close()
    old = tmp_path / "old"
    old.mkdir()
    conn = sqlite3.connect(old / DB_NAME)
    conn.executescript(OLD_STORE)
    conn.close()
    query = "SELECT type, name, tbl_name FROM sqlite_master ORDER BY name"
    before = set(raw(old, query))
    columns = "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)"
    old_columns = {table: raw(old, columns, table) for (_, table, _) in before}
    await (await Store.open(old)).close()
    assert raw(tmp_path, query) == raw(old, query)
    assert before <= set(raw(old, query))
    for (table,) in raw(tmp_path, "SELECT name FROM sqlite_master WHERE type = 'table'"):
        assert raw(tmp_path, columns, table) == raw(old, columns, table), table
        # every old column is still there, as it was
        assert raw(old, columns, table)[:len(old_columns.get(table, []))] == \
            old_columns.get(table, []), table
    for table in ("accepted", "web_sessions"):  # tables added since, in old files too
        assert ("table", table, table) in set(raw(old, query))
    assert ("subject", "BLOB", 0, 0) in raw(old, columns, "held_messages")
    versions = "SELECT version, name FROM schema_version ORDER BY version"
    assert raw(old, versions) == raw(tmp_path, versions) == [
        (1, "baseline"), (2, "outbox_lease"), (3, "accepted"), (4, "web_sessions"),
        (5, "held_subject"), (6, "held_keys"), (7, "digest_periods"),
        (8, "delivered_copies")]
    store = await Store.open(old)  # its holds have no subject
    try:
        assert [h.subject for h in await store.held(None)] == [None, None]
    finally:
        await store.close()


async def test_a_file_from_before_migrations_with_later_tables_is_migrated(
        tmp_path: Path) -> None:
    """A file that releases before versioned migrations gave the accepted table and the
    subject column (when they opened it) is at the baseline too: nothing is added twice."""
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript(OLD_STORE)
    conn.execute("ALTER TABLE held_messages ADD COLUMN subject BLOB")
    conn.execute("CREATE TABLE accepted (key VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, "
                 "owner TEXT, queue_id VARCHAR(32) NOT NULL, hold_id VARCHAR(32), "
                 "outcome VARCHAR(16), held INTEGER NOT NULL, delivered INTEGER NOT NULL, "
                 "decision JSON, maybe_delivered INTEGER NOT NULL DEFAULT 0, "
                 "created_at DATETIME NOT NULL, claimed_at DATETIME NOT NULL, "
                 "answered_at DATETIME, PRIMARY KEY (key))")
    conn.commit()
    conn.close()
    store = await Store.open(tmp_path)
    try:
        assert len(await store.held(None)) == 2
        await hold(store)
    finally:
        await store.close()
    assert raw(tmp_path, "SELECT max(version) FROM schema_version") == [(8,)]


async def test_stored_times_are_utc_text_with_microseconds(store: Store) -> None:
    hold_id = await hold(store)
    await store.enqueue([mail(OutboxKind.NOTICE, hold_id)])
    [entry] = await store.outbox_for(hold_id)
    whole_second = dt.datetime(2030, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    await store.outbox_retry(entry, whole_second, "451 later")
    [(next_at,)] = raw(store.path.parent, "SELECT next_attempt_at FROM outbox")
    assert next_at == "2030-01-02 03:04:05.000000"
    [entry] = await store.outbox_for(hold_id)
    assert entry.next_attempt_at == whole_second
    assert entry.next_attempt_at.tzinfo is dt.UTC


# -- the connection ---------------------------------------------------------------------

async def test_connection_settings(store: Store) -> None:
    def settings(conn: sqlite3.Connection) -> dict[str, object]:
        names = ["journal_mode", "synchronous", "busy_timeout", "foreign_keys",
                 "secure_delete"]
        found: dict[str, object] = {n: conn.execute(f"PRAGMA {n}").fetchone()[0] for n in names}
        found["thread"] = threading.current_thread().name
        return found

    found = await store._read(settings)
    assert found.pop("thread") != threading.current_thread().name
    assert found == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 5000,
                     "foreign_keys": 1, "secure_delete": 1}


async def test_work_runs_in_the_store_thread(store: Store) -> None:
    name = await store._read(lambda conn: threading.current_thread().name)
    assert name.startswith("store")


async def test_close_closes_the_connection_and_the_executor(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    await hold(store)
    thread = await store._read(lambda conn: threading.current_thread())
    await store.close()
    await store.close()
    assert not thread.is_alive()
    with pytest.raises(sqlite3.ProgrammingError):
        store._engine._conn.execute("SELECT 1")  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        await store.count_held()


async def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    first, second = await Store.open(tmp_path), await Store.open(tmp_path)
    try:
        hold_id = await hold(first)
        assert [h.id for h in await second.held()] == [hold_id]
        await decide(second, hold_id, HeldState.REJECTED)
        record = await first.get_held(hold_id)
        assert record is not None and record.state is HeldState.REJECTED
    finally:
        await first.close()
        await second.close()


async def test_open_failure_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"not a database, not at all" * 200)
    with pytest.raises(StoreError, match="cannot open the store") as raised:
        await Store.open(tmp_path)
    assert str(raised.value).endswith(
        "DatabaseError (SQLITE_NOTADB): the file is not a stampgate store, or it is damaged")


async def test_a_store_whose_write_lock_is_held_says_so(tmp_path: Path) -> None:
    """Opening migrates, which writes: another process's write lock outlasts the wait."""
    await (await Store.open(tmp_path)).close()  # the file, made and migrated
    holder = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError) as raised:
            await Store.open(tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(raised.value).endswith(
        "OperationalError (SQLITE_BUSY): another process holds its write lock; try again")


# -- transactions ---------------------------------------------------------------------------

async def test_hold_on_a_locked_store_is_a_store_error_and_leaves_nothing(store: Store) -> None:
    await store._read(lambda conn: conn.execute("PRAGMA busy_timeout=50"))
    locker = sqlite3.connect(store.path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="cannot store held message"):
            await hold(store)
        locker.execute("ROLLBACK")
    finally:
        locker.close()
    assert await store.held(None) == []
    assert await store.audit_entries() == []
    hold_id = await hold(store)  # no transaction was left open
    assert [h.id for h in await store.held()] == [hold_id]


# -- retention ------------------------------------------------------------------------------

async def test_erase_content_keeps_the_record(store: Store) -> None:
    hold_id = await hold(store, b"Subject: x\r\n\r\n" + b"ERASE-ME-7f3a " * 2000)
    other = await hold(store)
    await decide(store, hold_id)
    before = await store.get_held(hold_id)
    await store.erase_content(hold_id)
    assert await store.held_content(hold_id) == b""
    assert await store.get_held(hold_id) == before
    assert before is not None and before.size > 28000
    assert (await store.held_content(other) or b"").endswith(b"story.\r\n")
    await store.erase_content(hold_id)
    await store.erase_content("HNOSUCHHOLD")
    assert await store.held_content(hold_id) == b""
    assert raw(store.path.parent, "SELECT typeof(content), length(content) FROM held_messages "
               "WHERE id = ?", hold_id) == [("blob", 0)]
    # freed pages are zeroed: once the WAL is checkpointed the body is nowhere in the file
    checkpoint = sqlite3.connect(store.path, isolation_level=None)
    try:
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        checkpoint.close()
    assert b"ERASE-ME-7f3a" not in store.path.read_bytes()


async def test_concurrent_writes_share_commits_and_fail_alone(store: Store) -> None:
    """Group commit: many holds in few transactions; a failing write takes only itself down."""
    commits = 0

    def statements(sql: str) -> None:
        nonlocal commits
        if sql.strip().upper() == "COMMIT":
            commits += 1

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO audit_log (at, actor, action, held_id, detail) "
                     "VALUES ('2026-01-01 00:00:00.000000', 'x', 'doomed', NULL, '{}')")
        raise ValueError("this write fails after its insert")

    await store._read(lambda conn: conn.set_trace_callback(statements))
    commits = 0
    results = await asyncio.gather(*(hold(store) for _ in range(30)), store._write(failing),
                                   *(hold(store) for _ in range(30)), return_exceptions=True)
    await store._read(lambda conn: conn.set_trace_callback(None))
    assert isinstance(results[30], ValueError)
    assert all(isinstance(r, str) for r in results[:30] + results[31:])
    assert await store.count_held() == 60
    assert [e for e in await store.audit_entries() if e["action"] == "doomed"] == []
    assert commits <= 5, commits  # 61 writes: the first alone, the rest together
