"""``stampgate db migrate|status|copy``: the store's schema version, and moving a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.key_files import KEY_DIR
from gateway.adapters.master_key import MasterKeyError
from gateway.cli.common import add_settings_arguments, settings_or_report
from gateway.service import bodies
from gateway.settings import Settings, held_sealer
from gateway.store import migrate
from gateway.store.conn import Conn
from gateway.store.copy import copy_store
from gateway.store.db import engine_of, sqlite_path
from gateway.store.direct import transaction
from gateway.store.postgres import describe
from gateway.store.records import StoreError


def register(sub: Any) -> None:
    db = sub.add_parser(
        "db", help="the store's schema (migrate, status) and copying a store to another",
        description="The store's schema is versioned: `serve` refuses a PostgreSQL store "
                    "whose schema is older or newer than it knows (a SQLite file is migrated "
                    "when it is opened). The store is --store URL or [store] url, default "
                    "the SQLite file in the data directory.")
    actions = db.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    migrating = actions.add_parser("migrate", help="apply every pending migration",
                                   description="Apply the pending migrations in one "
                                               "transaction (an empty database gets the "
                                               "whole schema). Safe to run twice, and from "
                                               "two places at once.")
    add_settings_arguments(migrating)
    migrating.set_defaults(handler=run_migrate)
    status = actions.add_parser("status", help="the schema version and what is pending",
                                description="Exit status 0 when the schema is the one this "
                                            "stampgate needs, 1 when not.")
    add_settings_arguments(status)
    status.set_defaults(handler=run_status)
    copying = actions.add_parser(
        "copy", help="copy every table of a store into a new, empty one",
        description="Move an installation to another store, e.g. from its SQLite file to "
                    "PostgreSQL. Stop the gateways first. The target is migrated and must be "
                    "empty; the copy is one transaction, and it is kept only if every held "
                    "body in it opens with the held-body keys of the data directory.")
    copying.add_argument("--from", dest="source", required=True, metavar="URL",
                         help="the store to copy: sqlite:///PATH or postgresql://...")
    copying.add_argument("--to", dest="target", required=True, metavar="URL",
                         help="the new store: postgresql://USER@HOST/DB or sqlite:///PATH")
    add_settings_arguments(copying)
    copying.set_defaults(handler=run_copy)


def _name(url: str, data: Path) -> str:
    if engine_of(url) == "postgresql":
        return describe(url)
    return str(sqlite_path(url, data))


def _fail(exc: Exception) -> int:
    print(f"stampgate: {exc}", file=sys.stderr)
    return 1


def run_migrate(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    data, url = Path(settings.data), settings.store_url
    try:
        sealer = held_sealer(settings)
        with transaction(url, data, create=True) as conn:
            before = migrate.version(conn)
            applied = migrate.migrate(conn)
            imported = bodies.import_in(conn, sealer)
        bodies.destroy_files(sealer, imported)
    except (StoreError, MasterKeyError, ValueError, OSError) as exc:
        return _fail(exc)
    name = _name(url, data)
    if imported:
        print(f"{name}: {len(imported)} held-body key file(s) of {data / KEY_DIR} moved into "
              "the store")
    if not applied:
        print(f"{name}: schema at version {before}, nothing to do")
        return 0
    print(f"{name}: schema migrated from version {before} to {applied[-1].version}")
    for step in applied:
        print(f"  {step.version:04d}_{step.name}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    data, url = Path(settings.data), settings.store_url
    try:
        with transaction(url, data) as conn:
            state = migrate.status(conn)
    except StoreError as exc:
        return _fail(exc)
    print(f"store: {_name(url, data)} ({state.engine})")
    print(f"schema version: {state.version} (this stampgate needs {state.latest})")
    for step in state.pending:
        print(f"  pending: {step.version:04d}_{step.name}")
    if state.version > state.latest:
        print("  newer than this stampgate: run the version that migrated it")
    return 0 if state.current else 1


def _check_bodies(conn: Conn, settings: Settings) -> int:
    """Open every held body in ``conn`` with its key (the store's, or a key file of this
    data directory's); returns how many opened, raises unless all did."""
    opened, failed = bodies.unopened(conn, held_sealer(settings))
    for held_id in failed:
        print(f"stampgate: held message {held_id} does not open with the keys in the store "
              f"or in {settings.data}", file=sys.stderr)
    if failed:
        raise StoreError(f"{len(failed)} held bodies would be unreadable in the copy; nothing "
                         "was copied (point --data at the source installation's data "
                         "directory)")
    return opened


def run_copy(args: argparse.Namespace) -> int:
    settings = settings_or_report(args)
    if settings is None:
        return 2
    data = Path(settings.data)
    if _name(args.source, data) == _name(args.target, data):
        return _fail(StoreError("--from and --to name the same store"))
    try:
        with transaction(args.source, data) as source, \
                transaction(args.target, data, create=True) as target:
            copied = copy_store(source, target)
            # Keys an older gateway kept in files travel into the copy's table; the
            # files stay with the source installation.
            carried = len(bodies.import_in(target, held_sealer(settings)))
            opened = _check_bodies(target, settings)
    except (StoreError, MasterKeyError, ValueError) as exc:
        return _fail(exc)
    print(f"copied {_name(args.source, data)} to {_name(args.target, data)}:")
    for table, count in copied.rows.items():
        print(f"  {table:<22} {count:>8} rows")
    if carried:
        print(f"  {carried} held-body key file(s) of {data / KEY_DIR} copied into held_keys")
    print(f"{opened} held bodies open with their keys")
    return 0
