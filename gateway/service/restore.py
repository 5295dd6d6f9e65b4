"""``stampgate restore``: check a whole backup first, then put every part of it back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.adapters.crypto import KeyDestroyed, Sealer, SealError, sealed_key_id
from gateway.adapters.key_files import KEY_DIR
from gateway.adapters.master_key import (
    MasterKeyError,
    master_key_path,
    read_master_key,
)
from gateway.adapters.private import private_dir, write_private
from gateway.service.backups import (
    FORMAT,
    MANIFEST,
    PLAIN_FILES,
    digest,
    make_backup,
    refuse_postgresql,
)
from gateway.settings import Settings, master_sealer
from gateway.store.backup import (
    LOCK_NAME,
    BackupError,
    StoreLock,
    held_contents,
    held_key_rows,
    install,
    store_file,
    timestamp,
    verify,
)
from gateway.store.store import DB_NAME

KEY_MISSING = "key missing from this backup"


@dataclass(frozen=True, slots=True)
class Opened:
    """Every sealed body of a store tried with a set of keys."""

    bodies: int
    sealed: int
    key_missing: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore put back, and what it checked."""

    held: int
    audit_entries: int
    opened: Opened
    # Keys destroyed while the backup was made: those held messages cannot be read.
    keys_missing: tuple[str, ...]
    files: tuple[str, ...]
    safety: Path | None
    master_key: Path | None


def read_manifest(bundle: Path) -> dict[str, Any]:
    """The manifest of a complete, intact backup; ``BackupError`` saying what is wrong."""
    if bundle.is_file():
        raise BackupError(f"{bundle} is a file, not a backup: a backup is the directory "
                          "stampgate backup made (with a manifest.json)")
    if not bundle.is_dir():
        raise BackupError(f"{bundle}: no such backup directory")
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{bundle}: partial or not a backup (no {MANIFEST})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"{bundle / MANIFEST}: damaged manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{bundle / MANIFEST}: not a stampgate backup manifest "
                          f"(format {FORMAT} with a table of files)")
    files: dict[str, Any] = manifest["files"]
    if DB_NAME not in files:
        raise BackupError(f"{bundle}: partial backup ({MANIFEST} lists no {DB_NAME})")
    for name, entry in files.items():
        if Path(name).is_absolute() or ".." in Path(name).parts or not isinstance(entry, dict):
            raise BackupError(f"{bundle / MANIFEST}: bad entry {name!r}")
        path = bundle / name
        if not path.is_file():
            why = f": {KEY_MISSING}" if name.startswith(f"{KEY_DIR}/") else ""
            raise BackupError(f"{bundle}: partial backup ({name} is listed in {MANIFEST} "
                              f"but not there{why})")
        if digest(path) != entry.get("sha256"):
            raise BackupError(f"{bundle}: corrupt backup ({name} does not match its "
                              f"checksum in {MANIFEST})")
    verify(bundle / DB_NAME)
    return manifest


def open_all(store: Path, sealer: Sealer | None) -> Opened:
    """Open every sealed body in ``store`` with ``sealer`` and its key (in the store, or
    a key file in ``sealer.key_dir``); what opened and what did not."""
    bodies = sealed = 0
    missing: list[str] = []
    failed: list[tuple[str, str]] = []
    keys = held_key_rows(store)
    for held_id, blob in held_contents(store):
        bodies += 1
        key_id = sealed_key_id(blob)
        if key_id is None:
            continue
        sealed += 1
        if sealer is None:
            failed.append((held_id, "encrypted, and no master key is configured"))
            continue
        try:
            sealer.open(blob, keys.get(key_id))
        except KeyDestroyed:
            missing.append(held_id)
        except SealError as exc:
            failed.append((held_id, str(exc)))
    return Opened(bodies, sealed, tuple(missing), tuple(failed))


def _master_key(settings: Settings, given: Path | None) -> bytes | None:
    """The master key the restored data will use: the settings, ``--master-key`` or DATA's."""
    data = Path(settings.data)
    live = read_master_key(master_key_path(data))
    key = read_master_key(given) if given is not None else None
    if given is not None and key is None:
        raise BackupError(f"{given}: no such master key file")
    if key is not None and (settings.held_encryption_key is not None):
        raise BackupError("--master-key is for the generated key (DATA/master.key); "
                          "held_encryption_key is set in the settings and is used instead")
    if key is not None and live is not None and key != live:
        raise BackupError(f"{master_key_path(data)} holds another master key; move it away "
                          "first (it may be the only key to the current held messages)")
    sealer = master_sealer(settings)
    return key if key is not None else (sealer.master_key if sealer is not None else None)


def restore(settings: Settings, bundle: Path, *, master_key: Path | None = None,
            force: bool = False) -> Restored:
    """Check ``bundle`` completely, then restore it into ``settings.data``.

    Nothing is changed unless the backup is complete and intact, and every sealed body in
    it opens with its keys (or its key was already destroyed when the backup was made).
    """
    refuse_postgresql(settings, "restore")
    manifest = read_manifest(bundle)
    try:
        key = _master_key(settings, master_key)
        configured = master_sealer(settings)
    except MasterKeyError as exc:
        raise BackupError(str(exc)) from None
    old = configured.old_keys if configured is not None else ()
    in_backup = Sealer(key, bundle / KEY_DIR, old) if key is not None else None
    opened = open_all(bundle / DB_NAME, in_backup)
    destroyed = set(manifest.get("keys_missing") or ())
    lost = [held_id for held_id in opened.key_missing if held_id not in destroyed]
    if lost:
        raise BackupError(f"{bundle}: partial backup: {KEY_MISSING} for held message(s) "
                          f"{', '.join(lost)}; nothing was changed")
    if opened.failed:
        shown = "; ".join(f"{held_id}: {why}" for held_id, why in opened.failed[:5])
        hint = ("" if key is not None else " (pass --master-key FILE, the file written by "
                "backup --include-master-key, or set held_encryption_key)")
        raise BackupError(f"{len(opened.failed)} held message(s) in {bundle} cannot be "
                          f"opened{hint}: {shown}; nothing was changed")
    return _put_back(settings, bundle, manifest, opened, master_key, force=force)


def _put_back(settings: Settings, bundle: Path, manifest: dict[str, Any], opened: Opened,
              master_key: Path | None, *, force: bool) -> Restored:
    data = Path(settings.data)
    lock = StoreLock(data)
    try:
        if not lock.try_exclusive() and not force:
            raise BackupError(
                f"a gateway is running on {data} (it holds {data / LOCK_NAME}); "
                "stop it first, or use --force to restore under it")
        safety = None
        if store_file(data).is_file():
            safety = make_backup(settings, data / f"before-restore-{timestamp()}").path
        restored = install(bundle / DB_NAME, data)
        files: list[str] = [DB_NAME]
        for name in manifest["files"]:
            if name.startswith(f"{KEY_DIR}/") or name in PLAIN_FILES:
                private_dir((data / name).parent)
                write_private(data / name, (bundle / name).read_bytes())
                files.append(name)
        installed = None
        if master_key is not None and read_master_key(master_key_path(data)) is None:
            installed = master_key_path(data)
            write_private(installed, master_key.read_bytes(), exclusive=True)
    finally:
        lock.release()
    after = open_all(store_file(data), master_sealer(settings))
    return Restored(restored.held, restored.audit_entries, after,
                    tuple(manifest.get("keys_missing") or ()), tuple(files), safety, installed)
