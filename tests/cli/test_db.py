"""``stampgate db migrate|status|copy`` and ``serve --store`` on SQLite files and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from gateway.adapters import key_files
from gateway.adapters.crypto import Sealer
from gateway.adapters.key_files import KEY_DIR
from gateway.adapters.master_key import create_master_key, master_key_path, read_master_key
from gateway.service.bodies import open_body
from gateway.store.keys import insert_key
from gateway.store.migrate import latest
from gateway.store.store import DB_NAME, HeldState, Store
from tests.store.test_store import one_version_back
from tests.store.test_store_sqlite import OLD_STORE, hold
from tests.support.postgres import TestDatabase

ROOT = Path(__file__).resolve().parents[2]
LATEST = latest("sqlite")


def stampgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_migrate_and_status_of_an_empty_postgresql_database(postgres: TestDatabase,
                                                            tmp_path: Path) -> None:
    url = postgres.new_schema(migrated=False)
    status = stampgate("db", "status", "--store", url, cwd=tmp_path)
    assert status.returncode == 1, status.stderr
    assert f"schema version: 0 (this stampgate needs {LATEST})" in status.stdout
    assert "pending: 0001_baseline" in status.stdout
    assert "pending: 0002_outbox_lease" in status.stdout
    # serve refuses it, saying what to do, before it listens
    serve = stampgate("serve", "--store", url, "--policies", str(ROOT / "policies"),
                      "--data", str(tmp_path / "var"), "--workers", "1", cwd=tmp_path)
    assert serve.returncode == 1
    assert "cannot start: the postgresql store is empty" in serve.stderr
    assert "stampgate db migrate" in serve.stderr
    milter = stampgate("milter", "--store", url, "--listen", "inet:127.0.0.1:0",
                       "--policies", str(ROOT / "policies"), "--data", str(tmp_path / "var"),
                       "--workers", "1", cwd=tmp_path)
    assert milter.returncode == 1
    assert "cannot start: the postgresql store is empty" in milter.stderr, milter.stderr
    first = stampgate("db", "migrate", "--store", url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"schema migrated from version 0 to {LATEST}" in first.stdout
    again = stampgate("db", "migrate", "--store", url, cwd=tmp_path)
    assert f"schema at version {LATEST}, nothing to do" in again.stdout
    assert stampgate("db", "status", "--store", url, cwd=tmp_path).returncode == 0


def test_an_old_sqlite_file_is_migrated_not_refused(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir()
    conn = sqlite3.connect(data / DB_NAME)
    conn.executescript(OLD_STORE)
    conn.close()
    status = stampgate("db", "status", "--data", str(data), cwd=tmp_path)
    assert status.returncode == 1
    assert f"schema version: 1 (this stampgate needs {LATEST})" in status.stdout
    migrated = stampgate("db", "migrate", "--data", str(data), cwd=tmp_path)
    assert f"schema migrated from version 1 to {LATEST}" in migrated.stdout, migrated.stderr
    assert stampgate("db", "status", "--data", str(data), cwd=tmp_path).returncode == 0


def test_bad_store_urls_get_a_clear_error(tmp_path: Path) -> None:
    mysql = stampgate("db", "status", "--store", "mysql://root:s3cret@127.0.0.1/x", cwd=tmp_path)
    assert mysql.returncode == 2
    assert "setting store_url: store URL 'mysql'... is not understood" in mysql.stderr
    assert "s3cret" not in mysql.stderr
    elsewhere = stampgate("db", "status", "--store", "sqlite:////tmp/other.sqlite3",
                          "--data", str(tmp_path), cwd=tmp_path)
    assert elsewhere.returncode == 2 and "set data to move it" in elsewhere.stderr
    closed = stampgate("db", "status", "--store", "postgresql://postgres:pw@127.0.0.1:9/x",
                       cwd=tmp_path)
    assert closed.returncode == 1
    assert "cannot reach PostgreSQL at postgresql://postgres:***@127.0.0.1:9/x" in closed.stderr
    missing = stampgate("db", "status", "--data", str(tmp_path / "none"), cwd=tmp_path)
    assert missing.returncode == 1 and "no store at" in missing.stderr


async def _sqlite_installation(data: Path) -> list[str]:
    """A one-machine store with encrypted holds, one of them decided; the last one's key is
    a file of DATA/held-keys, as an older gateway kept it."""
    create_master_key(data)
    key = read_master_key(master_key_path(data))
    assert key is not None
    sealer = Sealer(key, data / KEY_DIR)
    store = await Store.open(data)
    try:
        ids = []
        for n in range(3):
            sealed = sealer.seal(f"Subject: {n}\r\n\r\nstory {n}\r\n".encode())
            assert sealed.key is not None
            hold_id = await hold(store, sealed.body)
            if n < 2:
                await store.write(lambda conn, k=sealed.key: insert_key(conn, k.key_id,
                                                                        k.wrapped))
            else:
                key_files.write(data / KEY_DIR, sealed.key.key_id, sealed.key.wrapped)
            ids.append(hold_id)
        record = await store.get_held(ids[0])
        assert record is not None
        await store.set_state(ids[0], record.version, HeldState.REJECTED, "d@example.org",
                              "no", {}, [])
    finally:
        await store.close()
    return ids


def test_copy_a_sqlite_installation_to_postgresql(postgres: TestDatabase, tmp_path: Path) -> None:
    data = tmp_path / "var"
    ids = asyncio.run(_sqlite_installation(data))
    url = postgres.new_schema(migrated=False)
    source = f"sqlite:///{data / DB_NAME}"
    # without the installation's held-body keys the copy is refused and nothing is written
    elsewhere = tmp_path / "elsewhere"
    create_master_key(elsewhere)
    refused = stampgate("db", "copy", "--from", source, "--to", url, "--data", str(elsewhere),
                        cwd=tmp_path)
    assert refused.returncode == 1
    assert "3 held bodies would be unreadable in the copy; nothing was copied" in refused.stderr
    assert "version: 0" in stampgate("db", "status", "--store", url, cwd=tmp_path).stdout

    copied = stampgate("db", "copy", "--from", source, "--to", url, "--data", str(data),
                       cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert "held_messages" in copied.stdout and "3 held bodies open" in copied.stdout
    again = stampgate("db", "copy", "--from", source, "--to", url, "--data", str(data),
                      cwd=tmp_path)
    assert again.returncode == 1 and "the target store is not empty" in again.stderr

    assert "1 held-body key file(s)" in copied.stdout
    assert len(list((data / KEY_DIR).glob("*.key"))) == 1  # the source keeps its file

    async def read_back() -> None:
        key = read_master_key(master_key_path(data))
        assert key is not None
        # Another node: the same master key, a data directory of its own.
        sealer = Sealer(key, tmp_path / "node-b" / KEY_DIR)
        store = await Store.open(tmp_path / "node-b", url)
        try:
            waiting = await store.held()
            assert sorted(h.id for h in waiting) == sorted(ids[1:])
            for n, hold_id in enumerate(ids):
                body = await open_body(store, sealer, await store.held_content(hold_id) or b"")
                assert body == f"Subject: {n}\r\n\r\nstory {n}\r\n".encode()
            assert [e["action"] for e in await store.audit_entries(held_id=ids[0])] == [
                "hold", "rejected"]
            # new rows continue after the copied ids
            await store.audit("stampgate", "copied", None, {})
            entries = await store.audit_entries()
            assert entries[-1]["id"] == len(entries)
        finally:
            await store.close()

    asyncio.run(read_back())


def test_migrate_and_copy_carry_whose_copies_a_given_up_claim_delivered(
        postgres: TestDatabase, tmp_path: Path) -> None:
    """A PostgreSQL store an older release made (version 7) with a claim at work: `db
    migrate` adds the column, and `db copy` carries what a given-up claim names both ways."""
    url = postgres.new_schema()

    async def older() -> None:
        store = await Store.open(tmp_path / "a", url)
        try:
            await store.claim("k1", "gateway-a:1", "Q1", stale=lambda row: False)
            await store.write(one_version_back)
        finally:
            await store.close()

    asyncio.run(older())
    status = stampgate("db", "status", "--store", url, cwd=tmp_path)
    assert status.returncode == 1
    assert f"schema version: {LATEST - 1} (this stampgate needs {LATEST})" in status.stdout
    assert "pending: 0008_delivered_copies" in status.stdout
    migrated = stampgate("db", "migrate", "--store", url, cwd=tmp_path)
    assert f"schema migrated from version {LATEST - 1} to {LATEST}" in migrated.stdout, (
        migrated.stderr)

    async def give_up() -> None:
        store = await Store.open(tmp_path / "a", url)
        try:
            await store.abandon_claim("k1", "gateway-a:1", maybe_delivered=False,
                                      hold_gone=True, delivered_to=["bob@example.org"])
        finally:
            await store.close()

    async def names(data: Path, store_url: str = "") -> frozenset[str]:
        store = await Store.open(data, store_url)
        try:
            row = await store.accepted("k1")
            assert row is not None and row.owner is None
            return row.delivered_to
        finally:
            await store.close()

    asyncio.run(give_up())
    # to SQLite, and from there into another PostgreSQL database
    sqlite_data = tmp_path / "b"
    create_master_key(sqlite_data)
    to_sqlite = stampgate("db", "copy", "--from", url, "--to",
                          f"sqlite:///{sqlite_data / DB_NAME}", "--data", str(sqlite_data),
                          cwd=tmp_path)
    assert to_sqlite.returncode == 0, to_sqlite.stderr
    assert asyncio.run(names(sqlite_data)) == {"bob@example.org"}
    back = postgres.new_schema(migrated=False)
    to_postgresql = stampgate("db", "copy", "--from", f"sqlite:///{sqlite_data / DB_NAME}",
                              "--to", back, "--data", str(sqlite_data), cwd=tmp_path)
    assert to_postgresql.returncode == 0, to_postgresql.stderr
    assert asyncio.run(names(tmp_path / "c", back)) == {"bob@example.org"}


def test_backup_and_restore_send_a_postgresql_store_to_its_own_tools(
        postgres: TestDatabase, tmp_path: Path) -> None:
    url = postgres.new_schema()
    for command in ("backup", "restore"):
        result = stampgate(command, str(tmp_path / "bundle"), "--store", url,
                           "--data", str(tmp_path / "var"), cwd=tmp_path)
        assert result.returncode == 1
        assert f"the store is on PostgreSQL: `stampgate {command}` works on the SQLite" in (
            result.stderr)
        assert "pg_dump" in result.stderr
    assert not (tmp_path / "bundle").exists()
