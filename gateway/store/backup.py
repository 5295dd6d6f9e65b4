"""Online copies of the store with SQLite's backup API, their checks, and the store lock."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.store.store import DB_NAME

LOCK_NAME = "stampgate.lock"
# A store has these tables; a file without them is not a stampgate store.
REQUIRED_TABLES = frozenset({"held_messages", "thread_messages", "audit_log"})


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Copy:
    """What a backup or restore wrote."""

    path: Path
    size: int
    held: int
    audit_entries: int


def store_file(data_dir: Path) -> Path:
    return data_dir / DB_NAME


def timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


class StoreLock:
    """An advisory lock next to the store: running gateways share it, a restore excludes them.

    The kernel drops it when the process dies, so a crashed gateway never blocks a restore.
    """

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)

    def shared(self) -> StoreLock:
        fcntl.flock(self.fd, fcntl.LOCK_SH)
        return self

    def try_exclusive(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@contextlib.contextmanager
def _connect(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def verify(path: Path) -> Copy:
    """Check that ``path`` is a sound stampgate store; raises ``BackupError`` if not."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with _connect(path, read_only=True) as conn:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise BackupError(f"{path}: integrity check failed: {'; '.join(result[:5])}")
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = REQUIRED_TABLES - tables
            if missing:
                raise BackupError(f"{path}: not a stampgate store "
                                  f"(missing tables: {', '.join(sorted(missing))})")
            held = conn.execute(
                "SELECT count(*) FROM held_messages WHERE state = 'held'").fetchone()[0]
            audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({exc})") from None
    return Copy(path, path.stat().st_size, int(held), int(audit))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(data_dir: Path, target: Path) -> Copy:
    """A consistent copy of the live store into the new file ``target``, safe while the
    gateway runs.

    The copy is one self-contained file (no WAL), readable only by its owner, written under
    a temporary name, checked, fsynced, then renamed into place.
    """
    source = store_file(data_dir)
    if not source.is_file():
        raise BackupError(f"{source}: no store here (is --data right?)")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new name")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with _connect(source) as src, _connect(partial) as dst:
            # One step: the whole copy is made inside a single read transaction, so it is
            # a snapshot even while the gateway keeps writing (WAL readers never block).
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        copy = verify(partial)
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        partial.rename(target)
        _fsync_dir(target.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Copy(target, copy.size, copy.held, copy.audit_entries)


def held_contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every held record's id and stored body (sealed or not) in the store file ``path``."""
    with _connect(path, read_only=True) as conn:
        for held_id, content in conn.execute(
                "SELECT id, content FROM held_messages WHERE length(content) > 0 ORDER BY id"):
            yield str(held_id), bytes(content)


def held_key_rows(path: Path) -> dict[bytes, bytes]:
    """The wrapped held-body keys in the store file ``path`` (none in a file from before
    they were kept in the store)."""
    with _connect(path, read_only=True) as conn:
        try:
            rows = conn.execute("SELECT key_id, wrapped FROM held_keys").fetchall()
        except sqlite3.OperationalError:  # no such table: keys were files then
            return {}
    return {bytes.fromhex(str(key_id)): bytes(wrapped) for key_id, wrapped in rows}


def install(source: Path, data_dir: Path) -> Copy:
    """Replace the store under ``data_dir`` with the checked copy ``source``.

    The caller holds the store lock (or was told to restore under a running gateway).
    """
    live = store_file(data_dir)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(live, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with _connect(source, read_only=True) as src, _connect(live) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
    return verify(live)
