"""The login brake counts per account and per address, forgets after its window, stays small."""

from __future__ import annotations

from gateway.web import throttle
from gateway.web.login import address_key
from gateway.web.throttle import Blocked, Failures, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_is_braked_alone() -> None:
    clock = Clock()
    brake = LoginThrottle(per_account=3, per_address=100, clock=clock)
    for _ in range(3):
        assert brake.blocked("director", "192.0.2.1") is None
        brake.failed("director", "192.0.2.1")
    assert brake.blocked("director", "192.0.2.1") is Blocked.ACCOUNT
    assert brake.blocked("director", "192.0.2.99") is Blocked.ACCOUNT  # from anywhere
    assert brake.blocked("legal-lead", "192.0.2.1") is None  # same NAT, other reviewer
    clock.now += throttle.WINDOW
    assert brake.blocked("director", "192.0.2.1") is None


def test_an_address_spraying_accounts_is_braked() -> None:
    brake = LoginThrottle(per_account=3, per_address=5, clock=Clock())
    for number in range(5):
        brake.failed(f"guess{number}", "192.0.2.1")
    assert brake.blocked("someone-else", "192.0.2.1") is Blocked.ADDRESS
    assert brake.blocked("someone-else", "192.0.2.2") is None


def test_the_tables_stay_bounded() -> None:
    clock = Clock()
    failures = Failures(limit=3, window=60, clock=clock)
    for number in range(throttle.MAX_KEYS + 500):
        failures.record(f"key{number}")
    assert len(failures._events) <= throttle.MAX_KEYS
    assert failures.over("key0") is False  # the oldest went first
    for _ in range(3):
        failures.record("last")
    assert failures.over("last")


def test_ipv6_is_counted_per_64() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("unknown") == "unknown"
