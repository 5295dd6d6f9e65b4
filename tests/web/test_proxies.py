"""Whose address a request has: forwarding headers count only from configured proxies."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.settings import SettingsError, load_settings
from gateway.web.proxies import real_client

PROXY = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/64"))
CLIENT = "198.51.100.7"


def headers(**fields: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in fields.items()]


@pytest.mark.parametrize(("peer", "fields", "expected"), [
    # No proxy configured, or the peer is not one: the headers are ignored.
    ("127.0.0.1", {"x_forwarded_for": "203.0.113.9"}, ("127.0.0.1", None)),
    (CLIENT, {"x_forwarded_for": "10.0.0.5", "x_forwarded_proto": "https"}, (CLIENT, None)),
    (CLIENT, {"forwarded": "for=10.0.0.5;proto=https"}, (CLIENT, None)),
    # From a proxy: the rightmost address that is not a proxy is the client.
    ("10.0.0.2", {"x_forwarded_for": CLIENT}, (CLIENT, None)),
    ("10.0.0.2", {"x_forwarded_for": f"203.0.113.9, {CLIENT}"}, (CLIENT, None)),
    ("10.0.0.2", {"x_forwarded_for": f"203.0.113.9, {CLIENT}, 10.0.0.3"}, (CLIENT, None)),
    ("10.0.0.2", {"x_forwarded_for": CLIENT, "x_forwarded_proto": "https"}, (CLIENT, "https")),
    ("10.0.0.2", {"x_forwarded_for": CLIENT, "x_forwarded_proto": "gopher"}, (CLIENT, None)),
    ("10.0.0.2", {"x_forwarded_for": f"{CLIENT}:5555"}, (CLIENT, None)),
    ("fd00::2", {"x_forwarded_for": "2001:db8::7"}, ("2001:db8::7", None)),
    # RFC 7239, quoted IPv6 with a port, proto from the element.
    ("10.0.0.2", {"forwarded": f'for=203.0.113.9, for={CLIENT};proto=https'},
     (CLIENT, "https")),
    ("10.0.0.2", {"forwarded": 'for="[2001:db8::7]:4711"'}, ("2001:db8::7", None)),
    # Forwarded wins over X-Forwarded-For when both are there.
    ("10.0.0.2", {"forwarded": f"for={CLIENT}", "x_forwarded_for": "203.0.113.9"},
     (CLIENT, None)),
    # Unreadable hops: nothing to their left is believed; the last true address stands.
    ("10.0.0.2", {"x_forwarded_for": "unknown"}, ("10.0.0.2", None)),
    ("10.0.0.2", {"x_forwarded_for": f"{CLIENT}, garbage"}, ("10.0.0.2", None)),
    ("10.0.0.2", {"x_forwarded_for": f"{CLIENT}, garbage, 10.0.0.3"}, ("10.0.0.3", None)),
    ("10.0.0.2", {"forwarded": "for=_hidden"}, ("10.0.0.2", None)),
    ("10.0.0.2", {"forwarded": "proto=https"}, ("10.0.0.2", "https")),
    ("10.0.0.2", {}, ("10.0.0.2", None)),
    ("10.0.0.2", {"x_forwarded_for": ""}, ("10.0.0.2", None)),
])
def test_real_client(peer: str, fields: dict[str, str],
                     expected: tuple[str, str | None]) -> None:
    assert real_client(peer, headers(**fields), PROXY) == expected


def test_no_proxies_means_no_forwarding() -> None:
    assert real_client("10.0.0.2", headers(x_forwarded_for=CLIENT), ()) == ("10.0.0.2", None)


def test_repeated_headers_are_one_list() -> None:
    fields = [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-for", CLIENT.encode())]
    assert real_client("10.0.0.2", fields, PROXY) == (CLIENT, None)


@pytest.mark.parametrize("value", [["10.0.0.0/33"], ["proxy.example.org"], [""]])
def test_a_bad_proxy_setting_names_the_setting(value: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {"web_trusted_proxies": value})
    assert "setting web_trusted_proxies" in str(caught.value)
    assert "is not a network" in str(caught.value)
