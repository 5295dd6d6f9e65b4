"""``stampgate reviewers ...``: the accounts that may log in to the review UI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.accounts import AccountsError, add_user
from gateway.adapters.reviewers import reviewers_path
from gateway.cli.common import add_settings_arguments
from gateway.cli.users import _password as read_password
from gateway.cli.users import account_file, list_accounts, switch_account


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
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    for name, disabled, text in (("disable", True, "refuse logins from a reviewer"),
                                 ("enable", False, "allow logins from a reviewer again")):
        cmd = reviewers_sub.add_parser(name, help=text)
        add_settings_arguments(cmd)
        cmd.add_argument("login")
        cmd.set_defaults(handler=run_set_disabled, disabled=disabled)


def _path(args: argparse.Namespace) -> Path | None:
    return account_file(args, reviewers_path)


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
    return list_accounts(path, f"no reviewers (file: {path})", "notices to", args.json)


def run_set_disabled(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    return switch_account(path, args.login, args.disabled)
