"""``stampgate held ...``: the held-message queue from a terminal (the web UI's use cases)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.adapters.crypto import BodySealer
from gateway.cli.common import (
    add_settings_arguments,
    policy_or_report,
    print_json,
    settings_or_report,
)
from gateway.core.model import Stamp
from gateway.service.bodies import open_subjects
from gateway.service.review import Desk, ReviewError
from gateway.settings import held_sealer
from gateway.store.store import HeldFilter, HeldMessage, HeldState, Store
from gateway.web import render

STAMP_CHOICES = [s.value for s in Stamp] + ["none"]


def register(sub: Any) -> None:
    held = sub.add_parser("held", help="work the held-message queue")
    held_sub = held.add_subparsers(dest="held_command", metavar="ACTION")
    held_sub.required = True

    listing = held_sub.add_parser("list", help="list held messages")
    add_settings_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--state", choices=[s.value for s in HeldState] + ["all"],
                         default="held", help="which messages (default held)")
    listing.add_argument("--stamp", choices=STAMP_CHOICES, help="only this stamp")
    listing.add_argument("--reason", metavar="TEXT", help="only reasons or rules containing TEXT")
    listing.set_defaults(handler=run_list)

    show = held_sub.add_parser("show", help="show one held message, its decision and history")
    _common(show, by_required=False)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--content", action="store_true",
                      help="also print the headers and the text body (recorded in the audit log)")
    show.set_defaults(handler=run_show)

    release = held_sub.add_parser("release", help="release to every held recipient or some")
    _common(release)
    release.add_argument("--to", action="append", metavar="ADDRESS",
                         help="release only to this held recipient (repeatable)")
    release.add_argument("--adjustments-done", action="store_true",
                         help="confirm that every adjustment the stamp lists was made")
    release.add_argument("--note", metavar="TEXT", help="a note for the audit log")
    release.add_argument("--override", metavar="TEXT",
                         help="release photos whose faces still look sharp, saying why "
                              "(recorded in the audit log)")
    release.set_defaults(handler=run_release)

    reject = held_sub.add_parser("reject", help="refuse it; the sender is told the reason")
    _common(reject)
    reject.add_argument("--reason", required=True, metavar="TEXT",
                        help="why, in words for the sender")
    reject.set_defaults(handler=run_reject)

    discard = held_sub.add_parser("discard", help="drop it without telling the sender")
    _common(discard)
    discard.add_argument("--note", metavar="TEXT", help="a note for the audit log")
    discard.set_defaults(handler=run_discard)


def _common(parser: argparse.ArgumentParser, by_required: bool = True) -> None:
    add_settings_arguments(parser)
    parser.add_argument("hold_id", metavar="ID", help="the hold id (H...)")
    who = parser.add_mutually_exclusive_group(required=by_required)
    who.add_argument("--by", metavar="REVIEWER",
                     help="the enabled reviewer account that decides (stampgate reviewers "
                          "list); recorded in the audit log")
    who.add_argument("--as-admin", metavar="NOTE",
                     help="decide as the administrator at this terminal, not as a reviewer; "
                          "NOTE says why and is recorded in the audit log")


def _with_desk(args: argparse.Namespace, work: Callable[[Desk], Awaitable[int]]) -> int:
    """Open the store, build the desk the web UI uses too, run ``work``."""
    settings = settings_or_report(args)
    if settings is None:
        return 2
    policy = policy_or_report(settings)
    if policy is None:
        return 2
    by, note = getattr(args, "by", None), getattr(args, "as_admin", None)
    if by is not None and not by.strip():
        print("stampgate: --by needs the login of a reviewer account (stampgate reviewers "
              "list)", file=sys.stderr)
        return 2
    if note is not None and not note.strip():
        print("stampgate: --as-admin needs a note saying why (it is recorded in the audit log)",
              file=sys.stderr)
        return 2
    sealer = held_sealer(settings)

    async def run() -> int:
        store = await Store.open(Path(settings.data), settings.store_url)
        threads = store.thread_memory()
        try:
            await threads.open()
            desk = Desk(store, settings, lambda: policy, sealer, threads)
            # Who decides: a reviewer account that exists and is enabled, or the admin.
            args.actor = desk.reviewer(by).login if by is not None else (
                f"admin:{getpass.getuser()}" if note is not None else None)
            args.admin_note = " ".join(note.split()) if note is not None else None
            return await work(desk)
        except ReviewError as exc:
            print(f"stampgate: {exc}", file=sys.stderr)
            return 1
        finally:
            await threads.close()
            await store.close()

    return asyncio.run(run())


def run_list(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    state = None if args.state == "all" else HeldState(args.state)
    which = HeldFilter(state=state, stamp=args.stamp, reason=args.reason)
    rows = asyncio.run(_list(Path(settings.data), settings.store_url, which, held_sealer(settings)))
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no held messages")
        return 0
    for row in rows:
        print(f"{row['id']}  {row['created_at'][:19]}  {row['state']:<9}  "
              f"stamp={row['stamp'] or 'none'}  from={row['sender'] or '<>'}")
        print(f"    subject:  {row['subject'] if row['subject'] is not None else '-'}")
        print(f"    held for: {', '.join(row['held_recipients'])}")
        if row["thread_id"]:
            print(f"    thread: {row['thread_id']}")
        if row["newcomers"]:
            print(f"    new to the thread: {', '.join(row['newcomers'])}")
        if row["downgrade"]:
            print(f"    {row['downgrade']}")
        print(f"    why: {row['reason']}")
    return 0


async def _list(data: Path, url: str, which: HeldFilter,
                sealer: BodySealer) -> list[dict[str, Any]]:
    store = await Store.open(data, url)
    try:
        holds = await store.find_held(which)
        subjects = await open_subjects(store, sealer, holds)
    finally:
        await store.close()
    return [{**h.summary(), "subject": subjects[h.id]} for h in holds]


def run_show(args: argparse.Namespace) -> int:
    async def work(desk: Desk) -> int:
        hold = await desk.get(args.hold_id)
        history = await desk.store.audit_entries(held_id=hold.id)
        outbox = [o.summary() for o in await desk.store.outbox_for(hold.id)]
        content = None
        if args.content:
            by = args.actor or f"{getpass.getuser()} (terminal)"
            content = render.render(await desk.content(hold.id, by, "headers and text body"))
        if args.json:
            out = {**hold.summary(), "decision": hold.decision.to_dict(), "version": hold.version,
                   "history": history, "outbox": outbox}
            if content is not None:
                out["headers"] = [list(h) for h in content.headers]
                out["text"] = content.text
                out["attachments"] = [a.filename for a in content.attachments]
            print_json(out)
            return 0
        _print_hold(hold, history, outbox, content)
        return 0

    return _with_desk(args, work)


def _print_hold(hold: HeldMessage, history: list[dict[str, Any]], outbox: list[dict[str, Any]],
                content: render.Rendered | None) -> None:
    d = hold.decision
    print(f"{hold.id}  {hold.state.value}  (held {hold.created_at:%Y-%m-%d %H:%M:%S} UTC)")
    found_in = ", ".join(loc.value for loc in d.found_in) or "-"
    print(f"  stamp:     {hold.stamp_label} (found in: {found_in})")
    print(f"  from:      {hold.sender or '<>'}")
    print(f"  held for:  {', '.join(hold.held_recipients)}")
    print(f"  rules:     {', '.join(d.rules)}")
    for r in d.recipients:
        print(f"  {r.verdict.value:<6}    {r.reason} [rule {r.rule}]")
    for reason in d.reasons:
        print(f"  note:      {reason}")
    for source in d.sources:  # which file or label carried a stamp
        print(f"  read from: {source}")
    if hold.adjustments:
        print(f"  adjustments required: {'; '.join(hold.adjustments)}")
    if hold.thread_id:
        print(f"  thread:    {hold.thread_id}")
    if d.newcomers:
        print(f"  new to the confidential thread: {', '.join(d.newcomers)}")
    for finding in d.register:  # field, pseudonym and where; the value is never kept
        print(f"  protected client: {finding}")
    for photo in d.photos:  # which kinds of field and how many faces, never a value
        print(f"  {photo.text}")
    if hold.decided_by:
        note = f": {hold.decision_note}" if hold.decision_note else ""
        print(f"  decided:   {hold.state.value} by {hold.decided_by}{note}")
    print("  history:")
    for entry in history:
        print(f"    {entry['at'][:19]}  {entry['actor']}  {entry['action']}")
    for item in outbox:
        print(f"  outgoing:  {item['purpose']} to {', '.join(item['recipients'])}: "
              f"{item['state']} ({item['attempts']} attempt(s))"
              + (f" {item['last_error']}" if item["last_error"] else ""))
    if content is not None:
        print("\n".join(f"{name}: {value}" for name, value in content.headers))
        print()
        print(content.text if content.text is not None else "(no plain-text part)")
        for attachment in content.attachments:
            print(f"[attachment {attachment.index}: {attachment.filename}, "
                  f"{attachment.content_type}, {attachment.size} bytes]")


def run_release(args: argparse.Namespace) -> int:
    async def work(desk: Desk) -> int:
        hold = await desk.get(args.hold_id)
        done = hold.adjustments if args.adjustments_done else ()
        decided = await desk.release(hold.id, args.actor, to=args.to, adjustments_done=done,
                                     note=args.note, override=args.override,
                                     as_admin=args.admin_note)
        print(f"{decided.hold_id}: released to {', '.join(decided.recipients)} "
              "(delivered through the outbox by the running gateway)")
        return 0

    return _with_desk(args, work)


def run_reject(args: argparse.Namespace) -> int:
    async def work(desk: Desk) -> int:
        decided = await desk.reject(args.hold_id, args.actor, args.reason,
                                    as_admin=args.admin_note)
        print(f"{decided.hold_id}: rejected; the sender is told the reason")
        return 0

    return _with_desk(args, work)


def run_discard(args: argparse.Namespace) -> int:
    async def work(desk: Desk) -> int:
        decided = await desk.discard(args.hold_id, args.actor, args.note,
                                     as_admin=args.admin_note)
        print(f"{decided.hold_id}: discarded")
        return 0

    return _with_desk(args, work)
