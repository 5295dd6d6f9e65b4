"""The login brake: failed logins counted per account and per client address.

An account that keeps failing is refused for a while, whoever tries it; other reviewers
behind the same address (one office NAT) are not. The per-address limit is much higher:
it stops a guesser who sprays many accounts, not a busy office. Keys are digests of the
typed login, never the text, and both tables are bounded.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

WINDOW = 900.0  # seconds a failure counts
MAX_KEYS = 10_000  # per table: memory stays bounded under a spray of logins or addresses


class Blocked(enum.Enum):
    """Why a login attempt is refused before its password is checked."""

    ACCOUNT = "account"
    ADDRESS = "address"


class Failures:
    """Failure times per key in a sliding window, for at most ``MAX_KEYS`` keys."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def over(self, key: str) -> bool:
        events = self._recent(key, self.clock())
        return events is not None and len(events) >= self.limit

    def record(self, key: str) -> None:
        now = self.clock()
        events = self._recent(key, now)
        if events is None:
            if len(self._events) >= MAX_KEYS:
                self._evict(now)
            events = self._events[key] = deque(maxlen=self.limit)
        events.append(now)

    def _evict(self, now: float) -> None:
        for key in [k for k, e in self._events.items() if e[-1] <= now - self.window]:
            del self._events[key]
        while len(self._events) >= MAX_KEYS:  # still full: the oldest key goes first
            del self._events[next(iter(self._events))]


class LoginThrottle:
    """Per-account and per-address failure counts for the review UI's login form."""

    def __init__(self, per_account: int, per_address: int, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = Failures(per_account, window, clock)
        self.addresses = Failures(per_address, window, clock)

    def blocked(self, account_key: str, address: str) -> Blocked | None:
        if self.accounts.over(account_key):
            return Blocked.ACCOUNT
        if self.addresses.over(address):
            return Blocked.ADDRESS
        return None

    def failed(self, account_key: str, address: str) -> None:
        self.accounts.record(account_key)
        self.addresses.record(address)
