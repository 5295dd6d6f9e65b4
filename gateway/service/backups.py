"""``stampgate backup``: one directory per backup with the store, keys, accounts, a manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.adapters.accounts import USERS_FILE
from gateway.adapters.crypto import sealed_key_id
from gateway.adapters.key_files import KEY_DIR, KEY_SUFFIX, read_key_file
from gateway.adapters.master_key import export_master_key
from gateway.adapters.private import fsync_dir, private_dir, write_private
from gateway.adapters.register_key import KEY_NAME as REGISTER_KEY_NAME
from gateway.adapters.reviewers import REVIEWERS_FILE
from gateway.service.datadir import SESSION_KEY_FILE
from gateway.settings import Settings, encryption_off, master_sealer
from gateway.store.backup import (
    BackupError,
    held_contents,
    held_key_rows,
    store_file,
    timestamp,
)
from gateway.store.backup import backup as copy_store
from gateway.store.conn import POSTGRESQL
from gateway.store.db import engine_of
from gateway.store.store import DB_NAME

MANIFEST = "manifest.json"
FORMAT = 1
# Copied as they are when present: who may log in, the key that signs review sessions, and
# the register's key (without it the register's hashes match nothing after a restore).
PLAIN_FILES = (REVIEWERS_FILE, USERS_FILE, SESSION_KEY_FILE, f"{KEY_DIR}/{REGISTER_KEY_NAME}")


@dataclass(frozen=True, slots=True)
class Made:
    """What a backup holds."""

    path: Path
    held: int
    audit_entries: int
    # Sealed bodies whose key is in the backup (in its store copy, or a key file).
    keys: int
    # Held records whose key was destroyed (a reject, say) between the copy and its keys.
    keys_missing: tuple[str, ...]
    files: tuple[str, ...]
    master_key: Path | None


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _bundle_path(target: Path) -> Path:
    if target.is_dir():
        return target / f"stampgate-{timestamp()}"
    if target.exists():
        raise BackupError(f"{target} exists and is not a directory; name a directory")
    return target


def refuse_postgresql(settings: Settings, command: str) -> None:
    """``backup`` and ``restore`` copy the SQLite store file; PostgreSQL has its own tools."""
    if engine_of(settings.store_url) == POSTGRESQL:
        raise BackupError(
            f"the store is on PostgreSQL: `stampgate {command}` works on the SQLite store "
            "file only. Use PostgreSQL's tools for the database (pg_dump, base backups) and "
            "copy the data directory (master key, accounts) with the files' "
            "tools; see docs/deploy.md, Several instances")


def make_backup(settings: Settings, target: Path, master_key_to: Path | None = None) -> Made:
    """Back up ``settings.data`` into a new directory (``target``, or a new one inside it).

    Safe while the gateway runs: the store is copied in one read transaction, with the key
    of every sealed body (written in its hold's transaction); a key an older gateway left in
    a file is copied from there (each one is there unless its message was destroyed
    meanwhile). Written under
    ``<name>.partial`` and renamed when complete; the manifest is written last.
    """
    data = Path(settings.data)
    refuse_postgresql(settings, "backup")
    if not store_file(data).is_file():
        raise BackupError(f"{store_file(data)}: no store here (is --data right?)")
    sealer = master_sealer(settings)
    if master_key_to is not None:
        if sealer is None:
            why = ("held_encryption_key is \"\" (encryption off)" if encryption_off(settings)
                   else f"no master key was generated in {data} yet (start the gateway once)")
            raise BackupError(f"there is no master key to include: {why}")
        if master_key_to.exists():
            raise BackupError(f"{master_key_to} exists already; choose a new name")
    bundle = _bundle_path(target)
    if bundle.exists():
        raise BackupError(f"{bundle} exists already; choose a new name")
    partial = bundle.with_name(bundle.name + ".partial")
    if partial.exists():  # left by an interrupted backup: ours by its name
        shutil.rmtree(partial)
    private_dir(partial)
    try:
        made = _fill(data, partial, bundle, sealer.fingerprint.hex() if sealer else None)
        partial.rename(bundle)
        fsync_dir(bundle.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if master_key_to is not None and sealer is not None:
        export_master_key(sealer.master_key, master_key_to)
    return Made(bundle, made.held, made.audit_entries, made.keys, made.keys_missing,
                made.files, master_key_to)


def _fill(data: Path, partial: Path, bundle: Path, fingerprint: str | None) -> Made:
    copy = copy_store(data, partial / DB_NAME)
    files = [DB_NAME]
    missing: list[str] = []
    keys = 0
    in_store = held_key_rows(partial / DB_NAME)
    for held_id, blob in held_contents(partial / DB_NAME):
        key_id = sealed_key_id(blob)
        if key_id is None:
            continue
        if key_id in in_store:  # its key is in the copy of the store
            keys += 1
            continue
        name = f"{KEY_DIR}/{key_id.hex()}{KEY_SUFFIX}"
        wrapped = read_key_file(data / name)
        if wrapped is None:
            missing.append(held_id)
            continue
        private_dir(partial / KEY_DIR)
        write_private(partial / name, wrapped)
        files.append(name)
        keys += 1
    for name in PLAIN_FILES:
        try:
            content = (data / name).read_bytes()
        except FileNotFoundError:
            continue
        private_dir((partial / name).parent)
        write_private(partial / name, content)
        files.append(name)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": str(data.resolve()),
        "held": copy.held,
        "audit_entries": copy.audit_entries,
        "master_key_fingerprint": fingerprint,
        "keys_missing": missing,
        "files": {name: {"sha256": digest(partial / name), "size": (partial / name).stat().st_size}
                  for name in files},
    }
    write_private(partial / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return Made(bundle, copy.held, copy.audit_entries, keys, tuple(missing), tuple(files), None)
