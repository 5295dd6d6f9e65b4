"""``stampgate keys rotate`` and ``stampgate keys status``: the master key of held bodies."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gateway.adapters import crypto, key_files
from gateway.cli.common import add_settings_arguments, settings_or_report
from gateway.service import bodies
from gateway.settings import Settings, master_sealer
from gateway.store.records import StoreError
from gateway.store.store import Store

STEPS = """\
rotating the master key:
  1. stampgate keygen                      (prints a new key)
  2. set held_encryption_key to the new key and add the old one to
     held_encryption_old_keys, then restart the gateway
  3. stampgate keys rotate                 (re-wraps every held-body key; safe to re-run)
  4. stampgate keys status                 (every key under the current master key?)
  5. remove the old key from held_encryption_old_keys and restart
"""


def register(sub: Any) -> None:
    keys = sub.add_parser(
        "keys", help="rotate the master key of held message bodies",
        description="Each held body has its own key, wrapped by the master key\n"
                    "(held_encryption_key) and kept in the store. Old master keys listed in\n"
                    "held_encryption_old_keys still open what they wrapped; 'rotate' moves\n"
                    "every key to the current master key.",
        epilog=STEPS, formatter_class=argparse.RawDescriptionHelpFormatter)
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys_sub.required = True

    rotate = keys_sub.add_parser(
        "rotate", help="re-wrap every held-body key under the current master key",
        description="Re-wrap every held-body key in the store under held_encryption_key, "
                    "unwrapping with held_encryption_old_keys (key files an older gateway "
                    "left in DATA/held-keys/ are moved into the store first). Each key is "
                    "replaced in its own transaction, so this is safe while the gateways run "
                    "(restart them with the new settings first) and safe to run again after "
                    "an interruption; keys already under the current key are left alone. A "
                    "key that cannot be unwrapped (its master key is not configured, or it "
                    "is damaged) is left as it was and reported. Exit 0 if every key is now "
                    "under the current key, 1 if some could not be re-wrapped, 2 on a "
                    "configuration error.")
    add_settings_arguments(rotate)
    rotate.set_defaults(handler=run_rotate)

    status = keys_sub.add_parser(
        "status", help="count held-body keys per master key (current, old, not configured)",
        description="Count the held-body keys in the store (and key files an older gateway "
                    "left in DATA/held-keys/) per master-key fingerprint and say which is the "
                    "current key (held_encryption_key) and which are old "
                    "(held_encryption_old_keys, by entry number). An old key that wraps no "
                    "held-body key any more can be removed from the settings.")
    add_settings_arguments(status)
    status.set_defaults(handler=run_status)


def run_rotate(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    sealer = master_sealer(settings)
    if sealer is None:
        print("stampgate: keys rotate needs held_encryption_key (the new master key; "
              "make one with: stampgate keygen)", file=sys.stderr)
        return 2
    try:
        outcomes, unreadable, where = asyncio.run(_rotate(settings, sealer))
    except StoreError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 1
    for name, reason in unreadable:
        print(f"unreadable {name}: {reason}")
    gone = f", destroyed meanwhile {outcomes['gone']}" if outcomes["gone"] else ""
    print(f"re-wrapped {outcomes['rewrapped']}, already current {outcomes['current']}, "
          f"unreadable {len(unreadable)}{gone} (in {where}, current master key "
          f"{sealer.fingerprint.hex()})")
    if unreadable:
        print(f"stampgate: {len(unreadable)} key(s) could not be re-wrapped and were left "
              "as they were", file=sys.stderr)
        return 1
    return 0


async def _rotate(settings: Settings, sealer: crypto.Sealer
                  ) -> tuple[Counter[str], list[tuple[str, str]], str]:
    outcomes: Counter[str] = Counter()
    unreadable: list[tuple[str, str]] = []
    store = await Store.open(Path(settings.data), settings.store_url)
    try:
        await bodies.import_key_files(store, sealer)
        for key_id, wrapped in await store.all_held_keys():
            try:
                new = sealer.rewrapped(key_id, wrapped)
            except crypto.SealError as exc:
                unreadable.append((key_id.hex(), str(exc)))
                continue
            if new is None:
                outcomes["current"] += 1
            elif await store.replace_held_key(key_id, wrapped, new):
                outcomes["rewrapped"] += 1
            else:
                outcomes["gone"] += 1
        return outcomes, unreadable, store.description
    finally:
        await store.close()


def run_status(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    sealer = master_sealer(settings)
    key_dir = Path(settings.data) / key_files.KEY_DIR
    counts: Counter[bytes | None] = Counter()  # None: damaged, or not a key file name
    failures: list[str] = []
    try:
        stored = asyncio.run(_stored_keys(settings))
    except StoreError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 1
    for _, wrapped in stored[0]:
        counts[crypto.wrapped_fingerprint(wrapped)] += 1
    files = 0
    for path, key_id in key_files.listing(key_dir):
        try:
            in_file = key_files.read_key_file(path)
        except OSError as exc:
            failures.append(f"cannot read {path.name}: {exc.strerror or exc}")
            continue
        if in_file is not None:  # None: destroyed meanwhile
            files += 1
            counts[crypto.wrapped_fingerprint(in_file) if key_id is not None else None] += 1

    roles: dict[bytes, str] = {}
    if sealer is not None:
        for number, key in reversed(list(enumerate(sealer.old_keys, 1))):
            role = f"old (held_encryption_old_keys, entry {number})"
            roles[crypto.master_key_fingerprint(key)] = role
        roles[sealer.fingerprint] = "current (held_encryption_key)"
    for failure in failures:
        print(failure)
    print(f"held-body keys in {stored[1]}: {len(stored[0])}")
    if files or failures:
        print(f"key files of an older gateway in {key_dir}: {files + len(failures)} "
              "(moved into the store when the gateway starts)")
    print(f"  {'master key':<16}  {'keys':>7}  role")
    for fingerprint, role in roles.items():
        print(f"  {fingerprint.hex():<16}  {counts[fingerprint]:>7}  {role}")
    for found, count in sorted(counts.items(), key=lambda item: item[0] or b""):
        if found is not None and found not in roles:
            print(f"  {found.hex():<16}  {count:>7}  not configured: cannot be read")
    if counts[None]:
        print(f"  {'(damaged)':<16}  {counts[None]:>7}  not a key file stampgate can read")
    if failures:
        print(f"  {'(no access)':<16}  {len(failures):>7}  cannot be read by this user")

    if sealer is None:
        print("no held_encryption_key is configured: held bodies are stored as they are")
        return 0
    needed = {crypto.master_key_fingerprint(key) for key in sealer.old_keys} - {sealer.fingerprint}
    lost = sum(count for found, count in counts.items() if found is None or found not in roles)
    if any(counts[fingerprint] for fingerprint in needed):
        print("some keys are still under an old master key: run stampgate keys rotate")
    elif failures:
        print(f"{len(failures)} key file(s) could not be read: run this as the gateway's user "
              "to know whether the old master keys are still needed")
    elif sealer.old_keys:
        print("no key needs an old master key: held_encryption_old_keys can be emptied")
    if lost:
        print(f"{lost} key(s) cannot be opened with the configured master keys")
    return 0


async def _stored_keys(settings: Settings) -> tuple[list[tuple[bytes, bytes]], str]:
    store = await Store.open(Path(settings.data), settings.store_url)
    try:
        return await store.all_held_keys(), store.description
    finally:
        await store.close()
