"""``stampgate reviewers ...``: the accounts that may log in to the review UI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.auth import AccountsError, add_user, read_users, set_disabled
from gateway.reviewers import reviewers_path
from gateway.serve_cli import add_settings_arguments, settings_from
from gateway.settings import SettingsError
from gateway.users_cli import _password as read_password


def register(sub: Any) -> None:
    reviewers = sub.add_parser("reviewers", help="manage the review UI's accounts")
    reviewers_sub = reviewers.add_subparsers(dest="reviewers_command", metavar="ACTION")
    reviewers_sub.required = True

    add = reviewers_sub.add_parser("add", help="add a reviewer, or set their password")
    add_settings_arguments(add)
    add.add_argument("login", help="the login name, usually the reviewer's address")
    add.add_argument("--address", action="append", default=[], metavar="ADDRESS",
                     help="where the reviewer's own notices go (default: the login)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(handler=run_add)

    listing = reviewers_sub.add_parser("list", help="list the reviewers")
    add_settings_arguments(listing)
    listing.set_defaults(handler=run_list)

    for name, disabled, text in (("disable", True, "refuse logins from a reviewer"),
                                 ("enable", False, "allow logins from a reviewer again")):
        cmd = reviewers_sub.add_parser(name, help=text)
        add_settings_arguments(cmd)
        cmd.add_argument("login")
        cmd.set_defaults(handler=run_set_disabled, disabled=disabled)


def _path(args: argparse.Namespace) -> Path | None:
    try:
        return reviewers_path(Path(settings_from(args).data))
    except SettingsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return None


def run_add(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    password = read_password(args)
    if password is None:
        return 2
    try:
        account = add_user(path, args.login, password, args.address)
    except AccountsError as exc:
        print(f"stampgate: {exc} (give --address for a login that is not an address)",
              file=sys.stderr)
        return 2
    print(f"{account.login}: reviewer; notices go to {account.addresses[0]}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    try:
        accounts = read_users(path)
    except AccountsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 2
    if not accounts:
        print(f"no reviewers (file: {path})")
        return 0
    for login in sorted(accounts):
        account = accounts[login]
        state = "disabled" if account.disabled else "enabled"
        print(f"{login}  {state}  notices to: {', '.join(account.addresses)}  "
              f"created: {account.created_at or '-'}")
    return 0


def run_set_disabled(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    try:
        account = set_disabled(path, args.login, args.disabled)
    except AccountsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 1
    print(f"{account.login}: {'disabled' if account.disabled else 'enabled'}")
    return 0
