"""``stampgate audit``: print the append-only audit log (holds, views, decisions, deliveries)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import add_settings_arguments, print_json, settings_or_report
from gateway.store.store import Store


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="print the audit log: who did what, when and why")
    add_settings_arguments(audit)
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.add_argument("--held", metavar="ID", help="only the entries of one held message")
    audit.add_argument("--limit", type=int, default=10000, metavar="N",
                       help="the N newest entries (default 10000)")
    audit.add_argument("--oldest-first", action="store_true",
                       help="print in the order they happened (default: newest first)")
    audit.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    if args.limit < 1:
        print(f"stampgate: --limit must be at least 1, not {args.limit}", file=sys.stderr)
        return 2
    held = args.held.strip().upper() if args.held else None
    entries = asyncio.run(_entries(Path(settings.data), settings.store_url, args.limit, held))
    if args.oldest_first:
        entries.reverse()
    if args.json:
        print_json(entries)
        return 0
    if not entries:
        print("the audit log is empty")
        return 0
    for entry in entries:
        detail = " ".join(f"{k}={_short(v)}" for k, v in entry["detail"].items()
                          if v not in (None, [], ""))
        print(f"{entry['at'][:19]}  {entry['actor']:<24}  {entry['action']:<18}  "
              f"{entry['held_id'] or '-':<14}  {detail}")
    return 0


def _short(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return json.dumps(value) if not isinstance(value, str) else value


async def _entries(data: Path, url: str, limit: int,
                   held: str | None) -> list[dict[str, Any]]:
    store = await Store.open(data, url)
    try:
        return await store.audit_entries(limit, held_id=held, newest_first=True)
    finally:
        await store.close()
