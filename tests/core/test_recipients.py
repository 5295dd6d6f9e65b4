"""Envelope recipients: folding to the form policy compares, refusing the dangerous forms."""

from __future__ import annotations

import pytest

from gateway.core.policy import Policy
from gateway.core.recipients import AddressRefused, parse_recipient, refuse_source_route

FOLDED = [
    ("press@example.org", "press@example.org", "example.org"),
    ("Press@Example.ORG", "press@example.org", "example.org"),
    ("PRESS@EXAMPLE.ORG", "press@example.org", "example.org"),
    ("press@example.org.", "press@example.org", "example.org"),  # trailing dot
    ("press+x@example.org", "press@example.org", "example.org"),  # plus-addressing
    ("Press+Campaign-2024@Example.org.", "press@example.org", "example.org"),
    ("press+@example.org", "press@example.org", "example.org"),
    ("+x@example.org", "+x@example.org", "example.org"),  # nothing before the separator
    ("alice@example.org", "alice@example.org", "example.org"),
    ("press@sub.example.org", "press@sub.example.org", "sub.example.org"),
    ("partner@outside.test", "partner@outside.test", "outside.test"),
    # look-alikes keep their own (punycode) domain
    ("press@ex\u0430mple.org", "press@xn--exmple-4nf.org", "xn--exmple-4nf.org"),
    ("press@xn--exmple-cua.org", "press@xn--exmple-cua.org", "xn--exmple-cua.org"),
    ("press@example.org.evil.test", "press@example.org.evil.test", "example.org.evil.test"),
    ("press@evil-example.org", "press@evil-example.org", "evil-example.org"),
]


@pytest.mark.parametrize(("address", "key", "domain"), FOLDED, ids=[a for a, _, _ in FOLDED])
def test_folding(address: str, key: str, domain: str) -> None:
    recipient = parse_recipient(address)
    assert (recipient.key, recipient.domain) == (key, domain)


def test_the_address_keeps_its_local_part_as_given() -> None:
    recipient = parse_recipient("Press+X@Example.ORG.")
    assert recipient.address == "Press+X@example.org"


def test_another_plus_separator() -> None:
    assert parse_recipient("press-x@example.org", plus_separator="-").key == "press@example.org"
    assert parse_recipient("press+x@example.org", plus_separator="-").key == "press+x@example.org"


@pytest.mark.parametrize(("address", "organisation", "groups"), [
    ("press@example.org", True, {"communications"}),
    ("press+x@example.org", True, {"communications"}),
    ("COMMS@example.org.", True, {"communications"}),
    ("director@example.org", True, {"management"}),
    ("alice@example.org", True, set()),
    ("press@ex\u0430mple.org", False, set()),  # Cyrillic a
    ("press@xn--exmple-cua.org", False, set()),
    ("press@example.org.evil.test", False, set()),
    ("press@sub.example.org", False, set()),  # subdomains only if listed
    ("partner@outside.test", False, set()),
])
def test_groups_and_organisation(address: str, organisation: bool, groups: set[str],
                                 policy: Policy) -> None:
    recipient = parse_recipient(address, policy.organisation.plus_separator)
    assert policy.is_organisation(recipient.domain) is organisation
    assert policy.groups_of(recipient.key, recipient.domain) == groups


REFUSED = [
    ("x%y@example.org", "5.7.1"),  # percent hack
    ("press%outside.test@example.org", "5.7.1"),
    ("host!press@example.org", "5.7.1"),  # bang path
    ("outside.test!press", "5.7.1"),
    ("@relay.test:press@example.org", "5.1.3"),
    ("press", "5.1.3"),
    ("", "5.1.3"),
    ("a@b@example.org", "5.1.3"),
    ("press@example", "5.1.3"),
    ("press@[192.0.2.1]", "5.1.3"),
    ('"press"@example.org', "5.1.3"),
    ("pr\u0435ss@example.org", "5.1.3"),  # Cyrillic e in the local part
    ("a..b@example.org", "5.1.3"),
    ("pr ess@example.org", "5.1.3"),
]


@pytest.mark.parametrize(("address", "code"), REFUSED, ids=[repr(a) for a, _ in REFUSED])
def test_refused_addresses(address: str, code: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        parse_recipient(address)
    assert refused.value.reply.startswith(f"553 {code} ")
    assert address in refused.value.reply


@pytest.mark.parametrize("argument", [
    "TO:<@relay.test:press@example.org>",
    "to:<@a,@b:press@example.org>",
    "TO: <@relay.test:press@example.org>",
    "<@relay.test:press@example.org>",
])
def test_source_routes_are_refused(argument: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        refuse_source_route(argument)
    assert refused.value.reply.startswith("553 5.7.1 ")


@pytest.mark.parametrize("argument", ["TO:<press@example.org>", "TO:<a@b.test> NOTIFY=NEVER"])
def test_plain_addresses_are_not_source_routes(argument: str) -> None:
    refuse_source_route(argument)
