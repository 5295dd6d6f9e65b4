"""``stampgate held ...``: the held-message queue from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from gateway.serve_cli import add_settings_arguments, settings_from
from gateway.settings import SettingsError
from gateway.store import HeldState, Store


def register(sub: Any) -> None:
    held = sub.add_parser("held", help="work the held-message queue")
    held_sub = held.add_subparsers(dest="held_command", metavar="ACTION")
    held_sub.required = True
    listing = held_sub.add_parser("list", help="list held messages")
    add_settings_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--state", choices=[s.value for s in HeldState] + ["all"],
                         default="held", help="which messages (default held)")
    listing.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 2
    state = None if args.state == "all" else HeldState(args.state)
    rows = asyncio.run(_list(Path(settings.data), state))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no held messages")
        return 0
    for row in rows:
        print(f"{row['id']}  {row['created_at'][:19]}  {row['state']:<9}  "
              f"stamp={row['stamp'] or 'none'}  from={row['sender'] or '<>'}")
        print(f"    held for: {', '.join(row['held_recipients'])}")
        if row["thread_id"]:
            print(f"    thread: {row['thread_id']}")
        if row["newcomers"]:
            print(f"    new to the thread: {', '.join(row['newcomers'])}")
        if row["downgrade"]:
            print(f"    {row['downgrade']}")
        print(f"    why: {row['reason']}")
    return 0


async def _list(data: Path, state: HeldState | None) -> list[dict[str, Any]]:
    store = await Store.open(data)
    try:
        return [h.summary() for h in await store.held(state)]
    finally:
        await store.close()
