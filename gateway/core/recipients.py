"""Envelope addresses: refuse the dangerous forms, fold the rest to one comparable form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import email_validator
from email_validator import EmailNotValidError, validate_email

_SOURCE_ROUTE = re.compile(r"^\s*<?\s*@")

# The ``.test`` names (RFC 6761) are where partner and test domains live in the example
# policy and the test suite; the downstream decides deliverability, not the gateway.
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


@dataclass(frozen=True, slots=True)
class Recipient:
    """An envelope recipient as given, and the form policy compares (``key``)."""

    address: str
    key: str
    domain: str


class AddressRefused(ValueError):
    """An envelope address the gateway will not accept, with the SMTP reply to give."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        super().__init__(reply)


def refuse_source_route(raw_argument: str) -> None:
    """``RCPT TO:<@a:b@c>``: a source route names another relay; refuse it."""
    arg = raw_argument.split(":", 1)[1] if raw_argument.upper().startswith("TO:") else raw_argument
    if _SOURCE_ROUTE.match(arg):
        raise AddressRefused("553 5.7.1 Source routes (<@host:user@domain>) are refused; "
                             "give the plain address")


@lru_cache(maxsize=65536)
def parse_recipient(address: str, plus_separator: str = "+") -> Recipient:
    """Validate an envelope recipient and fold it: case, trailing dot, plus-addressing, IDNA."""
    if "%" in address or "!" in address:
        raise AddressRefused(f"553 5.7.1 <{address}>: the percent hack and bang paths "
                             "(user%host@domain, host!user) are refused; give the plain address")
    if address in ("", "<>"):  # the null reverse-path: a sender's, never a recipient's
        raise AddressRefused("553 5.1.3 <>: the null path is no recipient; give an address "
                             "(user@domain)")
    if address.count("@") != 1:
        raise AddressRefused(f"553 5.1.3 <{address}>: not a valid address (user@domain)")
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".")
    try:
        valid = validate_email(
            f"{local}@{domain}",
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            globally_deliverable=False,
        )
    except EmailNotValidError as exc:
        raise AddressRefused(f"553 5.1.3 <{address}>: not a valid address: {exc}") from None
    ascii_domain = (valid.ascii_domain or valid.domain).lower()
    if "." not in ascii_domain:
        raise AddressRefused(f"553 5.1.3 <{address}>: not a valid address: "
                             "the domain needs a dot (user@example.org)")
    local_key = valid.local_part.lower()
    if plus_separator and plus_separator in local_key:
        base = local_key.split(plus_separator, 1)[0]
        local_key = base or local_key
    return Recipient(address=f"{valid.local_part}@{ascii_domain}",
                     key=f"{local_key}@{ascii_domain}", domain=ascii_domain)
