"""``stampgate backup PATH`` and ``stampgate restore PATH``: copies of the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.cli.serve import add_settings_arguments, settings_or_report
from gateway.store.backup import BackupError, backup, restore


def register(sub: Any) -> None:
    saving = sub.add_parser(
        "backup", help="copy the store while the gateway runs",
        description="Write a consistent copy of the store (held messages, thread memory, "
                    "audit log) to PATH, a new file or a directory. Safe while the gateway "
                    "runs; the copy holds message content, so it is readable only by you.",
    )
    saving.add_argument("path", type=Path, metavar="PATH", help="new file, or a directory")
    add_settings_arguments(saving)
    saving.set_defaults(handler=run_backup)

    putting_back = sub.add_parser(
        "restore", help="replace the store with a backup",
        description="Check the backup (integrity and tables), keep a copy of the current "
                    "store next to it, then replace the store with the backup. Refuses "
                    "while a gateway runs on the store, unless --force.",
    )
    putting_back.add_argument("path", type=Path, metavar="PATH", help="a file made by backup")
    putting_back.add_argument("--force", action="store_true",
                              help="restore even though a gateway is running on the store")
    add_settings_arguments(putting_back)
    putting_back.set_defaults(handler=run_restore)


def _data_dir(args: argparse.Namespace) -> Path | None:
    settings = settings_or_report(args)
    return Path(settings.data) if settings is not None else None


def run_backup(args: argparse.Namespace) -> int:
    data = _data_dir(args)
    if data is None:
        return 2
    try:
        copy = backup(data, args.path)
    except (BackupError, OSError) as exc:
        print(f"stampgate: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {data} to {copy.path} ({copy.size} bytes, {copy.held} held message(s), "
          f"{copy.audit_entries} audit entries; integrity ok)")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    data = _data_dir(args)
    if data is None:
        return 2
    try:
        restored, safety = restore(args.path, data, force=args.force)
    except (BackupError, OSError) as exc:
        print(f"stampgate: restore refused: {exc}", file=sys.stderr)
        return 1
    if safety is not None:
        print(f"the previous store is kept as {safety}")
    print(f"restored {args.path} into {restored.path} ({restored.held} held message(s), "
          f"{restored.audit_entries} audit entries; integrity ok)")
    return 0
