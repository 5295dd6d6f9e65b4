"""``stampgate backup DIR`` and ``stampgate restore DIR``: everything needed to run, restorable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.master_key import MasterKeyError
from gateway.cli.common import add_settings_arguments, settings_or_report
from gateway.service.backups import make_backup
from gateway.service.restore import KEY_MISSING, restore
from gateway.store.backup import BackupError

BACKUP_HELP = """\
A backup is one directory (mode 0700, files 0600) holding:
  stampgate.sqlite3   the store (held messages and their wrapped keys, thread memory,
                      outbox, audit log)
  held-keys/          keys an older gateway kept in files, of bodies in that store
  reviewers.json      reviewer accounts          users.json  submission accounts
  web-session.key     the review UI's key for login digests in the log
  manifest.json       what is in it, with a SHA-256 checksum per file
The master key is never in it: --include-master-key FILE writes it to a separate file.
"""


def register(sub: Any) -> None:
    saving = sub.add_parser(
        "backup", help="back up the store, held-body keys and accounts while the gateway runs",
        description="Write a backup of the data directory to DIR/stampgate-<UTC time>/ (or to "
                    "DIR itself if it does not exist yet). Safe while the gateway runs; the "
                    "backup holds message content and keys, so it is readable only by you.",
        epilog=BACKUP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    saving.add_argument("path", type=Path, metavar="DIR",
                        help="a directory to put the backup in, or a new directory")
    saving.add_argument("--include-master-key", type=Path, metavar="FILE",
                        help="also write the master key of held bodies to FILE (new, mode "
                             "0600); keep it apart from the backups")
    add_settings_arguments(saving)
    saving.set_defaults(handler=run_backup)

    putting_back = sub.add_parser(
        "restore", help="put a backup back into the data directory",
        description="Check the backup first (manifest, checksums, store integrity, every "
                    "encrypted held body opens with its keys), keep a backup of the current "
                    "data in DATA/before-restore-<time>/, then put the store, keys, accounts "
                    "and session key back. A corrupt or partial backup is refused and "
                    "nothing is changed. Refuses while a gateway runs on the data, unless "
                    "--force.")
    putting_back.add_argument("path", type=Path, metavar="DIR", help="a directory made by backup")
    putting_back.add_argument("--master-key", type=Path, metavar="FILE",
                              help="the file written by backup --include-master-key; installed "
                                   "as DATA/master.key when none is configured")
    putting_back.add_argument("--force", action="store_true",
                              help="restore even though a gateway is running on the data")
    add_settings_arguments(putting_back)
    putting_back.set_defaults(handler=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    try:
        made = make_backup(settings, args.path, args.include_master_key)
    except (BackupError, MasterKeyError, OSError) as exc:
        print(f"stampgate: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {settings.data} to {made.path}: {made.held} held message(s), "
          f"{made.audit_entries} audit entries, {made.keys} held-body key(s), "
          f"{len(made.files)} file(s) with checksums in manifest.json; integrity ok")
    for held_id in made.keys_missing:
        print(f"held message {held_id}: its key was destroyed while the backup was made")
    if made.master_key is not None:
        print(f"master key written to {made.master_key}: keep it apart from the backups")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    try:
        done = restore(settings, args.path, master_key=args.master_key, force=args.force)
    except (BackupError, MasterKeyError, OSError) as exc:
        print(f"stampgate: restore refused: {exc}", file=sys.stderr)
        return 1
    if done.safety is not None:
        print(f"the previous data is kept as {done.safety}")
    if done.master_key is not None:
        print(f"master key installed as {done.master_key}")
    for held_id in done.keys_missing:
        print(f"held message {held_id}: {KEY_MISSING} (destroyed while it was made)")
    opened = done.opened
    print(f"restored {args.path} into {settings.data}: {done.held} held message(s), "
          f"{done.audit_entries} audit entries, {len(done.files)} file(s); "
          f"{opened.sealed - len(opened.key_missing) - len(opened.failed)} of "
          f"{opened.sealed} encrypted bodies open with the restored keys; integrity ok")
    for held_id, why in opened.failed:
        print(f"held message {held_id} cannot be opened: {why}", file=sys.stderr)
    return 1 if opened.failed else 0
