"""Submission accounts: argon2 password hashes and sender addresses in a users file."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from argon2 import PasswordHasher

USERS_FILE = "users.json"
_FORMAT = 1


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2id, RFC 9106 "low memory" profile: 64 MiB, t=3, p=4. Imported with the first
    password checked or set: a process that serves no login does without it (and cffi)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


class AccountsError(Exception):
    """The users file cannot be read or written; the message names the file."""


@dataclass(frozen=True, slots=True)
class Account:
    """One person who may log in to submit mail, and the addresses they may send as."""

    login: str
    password_hash: str
    addresses: tuple[str, ...]
    disabled: bool = False
    created_at: str = ""

    def owns(self, address: str) -> bool:
        return normalise_address(address) in {normalise_address(a) for a in self.addresses}

    def to_json(self) -> dict[str, Any]:
        return {"password_hash": self.password_hash, "addresses": list(self.addresses),
                "disabled": self.disabled, "created_at": self.created_at}


def normalise_address(address: str) -> str:
    """Addresses compare case-insensitively, without angle brackets or a trailing dot."""
    return address.strip().strip("<>").rstrip(".").lower()


def users_path(data_dir: Path) -> Path:
    return data_dir / USERS_FILE


def hash_password(password: str) -> str:
    return _hasher().hash(password)


class Accounts:
    """The users file, re-read whenever it changes on disk (``users disable`` needs no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._accounts: dict[str, Account] = {}
        self._dummy_hash: str | None = None

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _current(self) -> dict[str, Account]:
        with self._lock:
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._accounts = read_users(self.path) if stamp is not None else {}
                self._stamp = stamp
            return self._accounts

    def get(self, login: str) -> Account | None:
        return self._current().get(login.strip().lower())

    def all(self) -> list[Account]:
        return sorted(self._current().values(), key=lambda a: a.login)

    def verify(self, login: str, password: str) -> Account | None:
        """The enabled account whose password this is; ``None`` otherwise (blocking: argon2)."""
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        account = self.get(login)
        if account is None or account.disabled:
            # Spend the same time as a real check so that logins cannot be enumerated.
            with contextlib.suppress(VerificationError, InvalidHashError):
                _hasher().verify(self._dummy(), password)
            return None
        try:
            _hasher().verify(account.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return account

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = _hasher().hash(os.urandom(16).hex())
        return self._dummy_hash


def read_users(path: Path) -> dict[str, Account]:
    """Parse the users file; a damaged file is an error, never an empty account list."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AccountsError(f"{path}: cannot read the users file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise AccountsError(f"{path}: not a stampgate users file (no 'users' table)")
    accounts: dict[str, Account] = {}
    for login, entry in data["users"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("password_hash"), str):
            raise AccountsError(f"{path}: user {login!r} has no password_hash")
        addresses = entry.get("addresses", [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise AccountsError(f"{path}: user {login!r}: addresses must be a list of strings")
        accounts[login] = Account(
            login=login, password_hash=entry["password_hash"], addresses=tuple(addresses),
            disabled=bool(entry.get("disabled", False)),
            created_at=str(entry.get("created_at", "")))
    return accounts


def write_users(path: Path, accounts: dict[str, Account]) -> None:
    """Replace the users file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": _FORMAT,
               "users": {login: accounts[login].to_json() for login in sorted(accounts)}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def add_user(path: Path, login: str, password: str, addresses: list[str]) -> Account:
    """Create an account (or replace its password and addresses)."""
    key = login.strip().lower()
    owned = tuple(dict.fromkeys(normalise_address(a) for a in addresses or [key]))
    for address in owned:
        if address.count("@") != 1 or not all(address.split("@")):
            raise AccountsError(f"{address!r} is not an email address")
    accounts = read_users(path)
    account = Account(login=key, password_hash=hash_password(password), addresses=owned,
                      created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    accounts[key] = account
    write_users(path, accounts)
    return account


def set_disabled(path: Path, login: str, disabled: bool) -> Account:
    accounts = read_users(path)
    key = login.strip().lower()
    if key not in accounts:
        raise AccountsError(f"{path}: no user {login!r}")
    accounts[key] = replace(accounts[key], disabled=disabled)
    write_users(path, accounts)
    return accounts[key]


class FailedLogins:
    """Failed AUTH attempts per client address in a sliding window (a brute-force brake)."""

    def __init__(self, limit: int, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}

    def _recent(self, host: str, now: float) -> deque[float]:
        events = self._events.setdefault(host, deque())
        while events and events[0] < now - self.window:
            events.popleft()
        return events

    def blocked(self, host: str) -> bool:
        events = self._recent(host, time.monotonic())
        if not events:
            self._events.pop(host, None)
        return len(events) >= self.limit

    def record(self, host: str) -> None:
        now = time.monotonic()
        self._recent(host, now).append(now)
        if len(self._events) > 10000:  # bounded memory under a spray of addresses
            for stale in [h for h, e in self._events.items() if not e or e[-1] < now - self.window]:
                del self._events[stale]
