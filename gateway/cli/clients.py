"""``stampgate clients ...``: the protected-client register (values never on the command line)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.register_key import RegisterKeyError
from gateway.cli.common import add_settings_arguments, print_json, settings_or_report
from gateway.core.register import PROTECTED_FIELDS, ClientField, ClientRecord
from gateway.service.register import ClientRegister, ClientsError, parse_csv, split_values

VALUES_HELP = ("values come from a prompt that does not echo, or with --stdin / --file as "
               "lines 'FIELD: value; value' (FIELD: names, hometown, job, origin, withhold), "
               "so they stay out of the shell history")


def register(sub: Any) -> None:
    clients = sub.add_parser("clients", help="the protected-client register",
                             description="Protected clients: a pseudonym in clear, every other "
                                         "value stored only as keyed hashes.")
    clients_sub = clients.add_subparsers(dest="clients_command", metavar="ACTION")
    clients_sub.required = True
    for name, text, handler in (("add", "register a client", run_add),
                                ("update", "change a client (fields left empty stay as they "
                                           "are)", run_update)):
        cmd = clients_sub.add_parser(name, help=text, description=VALUES_HELP)
        add_settings_arguments(cmd)
        cmd.add_argument("pseudonym", help="the client's public handle (stored in clear)")
        source = cmd.add_mutually_exclusive_group()
        source.add_argument("--stdin", action="store_true", help="read the values from stdin")
        source.add_argument("--file", type=Path, metavar="FILE", help="read the values from FILE")
        cmd.add_argument("--resettled", choices=("yes", "no"))
        cmd.add_argument("--share-only-after-resettlement", choices=("yes", "no"))
        cmd.set_defaults(handler=handler)
    remove = clients_sub.add_parser("remove", help="remove a client and all its hashes")
    add_settings_arguments(remove)
    remove.add_argument("pseudonym")
    remove.set_defaults(handler=run_remove)
    listing = clients_sub.add_parser("list", help="pseudonyms, the fields set, the statuses")
    add_settings_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)
    imported = clients_sub.add_parser(
        "import", help="add or update clients from a CSV file ('-': stdin)",
        description="Columns: pseudonym,names,hometown,job,origin,withhold,resettled,"
                    "share_only_after_resettlement; several values in a cell separated by ';'.")
    add_settings_arguments(imported)
    imported.add_argument("file", help="the CSV file, or - for standard input")
    imported.set_defaults(handler=run_import)


def _register(args: argparse.Namespace) -> ClientRegister | None:
    settings = settings_or_report(args)
    return None if settings is None else ClientRegister(Path(settings.data), settings.store_url)


def parse_values(text: str) -> dict[ClientField, tuple[str, ...]]:
    """``FIELD: value; value`` lines; errors name the line and field, never a value."""
    fields = {f.value: f for f in PROTECTED_FIELDS}
    values: dict[ClientField, tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, rest = line.partition(":")
        field = fields.get(name.strip().lower())
        if not colon or field is None:
            raise ClientsError(f"line {number}: expected 'FIELD: values' with FIELD one of "
                               f"{', '.join(fields)}")
        values[field] = (*values.get(field, ()), *split_values(rest))
    return values


def _values(args: argparse.Namespace) -> dict[ClientField, tuple[str, ...]]:
    if args.stdin:
        return parse_values(sys.stdin.read())
    if args.file is not None:
        return parse_values(args.file.read_text(encoding="utf-8"))
    return {field: split_values(getpass.getpass(f"{field.value} (several: separate with ;): "))
            for field in PROTECTED_FIELDS}


def _record(args: argparse.Namespace, resettled: bool, share_only: bool) -> ClientRecord:
    return ClientRecord(
        args.pseudonym.strip(), _values(args),
        resettled if args.resettled is None else args.resettled == "yes",
        share_only if args.share_only_after_resettlement is None
        else args.share_only_after_resettlement == "yes")


def _fail(exc: Exception) -> int:
    print(f"stampgate: {exc}", file=sys.stderr)
    return 2


def run_add(args: argparse.Namespace) -> int:
    clients = _register(args)
    if clients is None:
        return 2
    try:
        if clients.get(args.pseudonym.strip()) is not None:
            return _fail(ClientsError(f"client {args.pseudonym} exists; use clients update"))
        record = _record(args, False, False)
        if not record.pseudonym:
            return _fail(ClientsError("the pseudonym is empty"))
        clients.put([record])
    except (ClientsError, RegisterKeyError, OSError) as exc:
        return _fail(exc)
    print(f"{record.pseudonym}: added ({_fields(record)})")
    return 0


def run_update(args: argparse.Namespace) -> int:
    clients = _register(args)
    if clients is None:
        return 2
    try:
        old = clients.get(args.pseudonym.strip())
        if old is None:
            return _fail(ClientsError(f"no client {args.pseudonym}; use clients add"))
        record = _record(args, old.resettled, old.share_only_after_resettlement)
        clients.update(record)
    except (ClientsError, RegisterKeyError, OSError) as exc:
        return _fail(exc)
    print(f"{record.pseudonym}: updated ({_fields(record) or 'statuses only'})")
    return 0


def _fields(record: ClientRecord) -> str:
    return ", ".join(f.value for f in PROTECTED_FIELDS if record.values.get(f))


def run_remove(args: argparse.Namespace) -> int:
    clients = _register(args)
    if clients is None:
        return 2
    if not clients.remove(args.pseudonym):
        return _fail(ClientsError(f"no client {args.pseudonym}"))
    print(f"{args.pseudonym}: removed")
    return 0


def run_list(args: argparse.Namespace) -> int:
    clients = _register(args)
    if clients is None:
        return 2
    rows = clients.clients()
    if args.json:  # the pseudonym, the names of the fields set, the statuses; never a value
        print_json([{"pseudonym": c.pseudonym,
                     "fields": [f.value for f in PROTECTED_FIELDS if f in c.fields],
                     "resettled": c.resettled,
                     "share_only_after_resettlement": c.share_only_after_resettlement}
                    for c in rows])
        return 0
    if not rows:
        print("no clients registered")
    for client in rows:
        fields = ", ".join(f.value for f in PROTECTED_FIELDS if f in client.fields) or "none"
        print(f"{client.pseudonym}: fields set: {fields}; "
              f"resettled: {'yes' if client.resettled else 'no'}; "
              f"share only after resettlement: "
              f"{'yes' if client.share_only_after_resettlement else 'no'}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    clients = _register(args)
    if clients is None:
        return 2
    try:
        text = (sys.stdin.read() if args.file == "-"
                else Path(args.file).read_text(encoding="utf-8-sig"))
        added, updated = clients.put(parse_csv(text))
    except (ClientsError, RegisterKeyError, OSError, UnicodeDecodeError) as exc:
        return _fail(exc if not isinstance(exc, UnicodeDecodeError)
                     else ClientsError(f"{args.file}: not UTF-8 text"))
    print(f"imported: {added} added, {updated} updated")
    return 0
