"""``stampgate users ...``: the accounts that may log in (SMTP AUTH) to submit mail."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.adapters.accounts import AccountsError, add_user, read_users, set_disabled, users_path
from gateway.cli.common import add_settings_arguments, ask_secret, print_json, settings_or_report

MIN_PASSWORD = 12


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="manage the accounts that may log in to submit mail")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION")
    users_sub.required = True

    add = users_sub.add_parser("add", help="add an account, or set its password and addresses")
    add_settings_arguments(add)
    add.add_argument("login", help="the login name, usually the person's address")
    add.add_argument("--address", action="append", default=[], metavar="ADDRESS",
                     help="an address this account may send as (repeatable; default: the "
                          "login itself)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(handler=run_add)

    listing = users_sub.add_parser("list", help="list the accounts")
    add_settings_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    for name, disabled, text in (("disable", True, "refuse logins from an account"),
                                 ("enable", False, "allow logins from an account again")):
        cmd = users_sub.add_parser(name, help=text)
        add_settings_arguments(cmd)
        cmd.add_argument("login")
        cmd.set_defaults(handler=run_set_disabled, disabled=disabled)


def account_file(args: argparse.Namespace, path_of: Callable[[Path], Path]) -> Path | None:
    """The account file under the data directory the settings name; ``None`` after an error."""
    settings = settings_or_report(args)
    return path_of(Path(settings.data)) if settings is not None else None


def _path(args: argparse.Namespace) -> Path | None:
    return account_file(args, users_path)


def _password(args: argparse.Namespace) -> str | None:
    password = ask_secret("Password", args.password_stdin)
    if password is None:
        return None
    if len(password) < MIN_PASSWORD:
        print(f"stampgate: the password must be at least {MIN_PASSWORD} characters",
              file=sys.stderr)
        return None
    return password


def run_add(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    password = _password(args)
    if password is None:
        return 2
    try:
        account = add_user(path, args.login, password, args.address)
    except AccountsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 2
    print(f"{account.login}: may send as {', '.join(account.addresses)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    return list_accounts(path, f"no accounts (users file: {path})", "sends as", args.json)


def run_set_disabled(args: argparse.Namespace) -> int:
    path = _path(args)
    if path is None:
        return 2
    return switch_account(path, args.login, args.disabled)


def list_accounts(path: Path, nobody: str, addresses_are: str, as_json: bool = False) -> int:
    """Print the accounts of an account file, one per line (or as JSON)."""
    try:
        accounts = read_users(path)
    except AccountsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print_json([{"login": login, "disabled": accounts[login].disabled,
                     "addresses": list(accounts[login].addresses),
                     "created_at": accounts[login].created_at or None}
                    for login in sorted(accounts)])
        return 0
    if not accounts:
        print(nobody)
        return 0
    for login in sorted(accounts):
        account = accounts[login]
        state = "disabled" if account.disabled else "enabled"
        print(f"{login}  {state}  {addresses_are}: {', '.join(account.addresses)}  "
              f"created: {account.created_at or '-'}")
    return 0


def switch_account(path: Path, login: str, disabled: bool) -> int:
    """Disable or enable one account of an account file."""
    try:
        account = set_disabled(path, login, disabled)
    except AccountsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return 1
    print(f"{account.login}: {'disabled' if account.disabled else 'enabled'}")
    return 0
