"""Who may submit mail on which listener, and as whom: pure decisions, no I/O."""

from __future__ import annotations

import email
import email.policy
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from gateway.adapters.accounts import Account, normalise_address
from gateway.core.message import header_text

AUTH_REQUIRED = ("530 5.7.0 Authentication required: start TLS (STARTTLS) and log in (AUTH) "
                 "before sending mail")
ACCOUNT_DISABLED = "530 5.7.0 Authentication required: the account {login} is disabled"
NULL_SENDER = ("550 5.7.1 Sender address rejected: a logged-in user may not send with an "
               "empty sender (<>); send as {owned}")
SENDER_NOT_OWNED = ("550 5.7.1 Sender address rejected: <{sender}> is not an address of the "
                    "logged-in user {login}; send as {owned}")
HEADER_NOT_OWNED = ("550 5.7.1 Message refused: the {field} header names <{address}>, which is "
                    "not an address of the logged-in user {login}; it must be {owned}")
HEADER_MISSING = ("550 5.7.1 Message refused: the message has no From: header; it must name "
                  "the logged-in user's address ({owned})")
HEADER_REPEATED = ("550 5.7.1 Message refused: the message has {count} From: headers; "
                   "exactly one is allowed")
HEADER_UNREADABLE = ("550 5.7.1 Message refused: the {field} header cannot be read as a plain "
                     "address; write it as Name <address>, with the address {owned}")
HEADER_EMPTY = ("550 5.7.1 Message refused: the {field} header names no address; it must be "
                "{owned}")
TOO_MANY_CONNECTIONS = ("421 4.7.0 {hostname} Too many connections from your network "
                        "({network}); try again later")
SERVER_BUSY = "421 4.7.0 {hostname} Too many connections; try again later"
TIMEOUT = "421 4.4.2 {hostname} Error: timeout exceeded; closing connection"
TOO_MANY_FAILURES = ("454 4.7.0 Too many failed logins from your address; "
                     "try again later")


_ADDRESS_LIKE = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


class TlsMode(enum.Enum):
    """How a listener offers TLS."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


class AuthMode(enum.Enum):
    """Who may submit on a listener: trusted networks, logged-in users, or either."""

    OFF = "off"            # trusted networks only; AUTH is not offered
    OPTIONAL = "optional"  # trusted networks, or anyone who logs in over TLS
    REQUIRED = "required"  # only those who log in over TLS, trusted networks too


@dataclass(frozen=True, slots=True)
class Listener:
    """One SMTP listener and its rules."""

    name: str
    host: str
    port: int
    tls: TlsMode
    auth: AuthMode
    require_tls: bool = False  # STARTTLS before anything but EHLO, NOOP and QUIT

    @property
    def offers_auth(self) -> bool:
        """AUTH is never offered in clear text."""
        return self.tls is not TlsMode.NONE and self.auth is not AuthMode.OFF

    @property
    def trusts_networks(self) -> bool:
        return self.auth is not AuthMode.REQUIRED


def _shown(text: str) -> str:
    """A value safe to echo in a one-line SMTP reply."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "backslashreplace").decode("ascii")[:200]


def _owned(account: Account) -> str:
    return " or ".join(f"<{a}>" for a in account.addresses) or "(no address is registered)"


def mail_refusal(listener: Listener, *, trusted: bool, account: Account | None,
                 authenticated: bool, sender: str, untrusted_reply: str) -> str | None:
    """The reply refusing ``MAIL FROM:<sender>``, or ``None`` when it may proceed."""
    if authenticated:
        if account is None or account.disabled:
            login = account.login if account is not None else "(unknown)"
            return ACCOUNT_DISABLED.format(login=_shown(login))
        if not sender:
            return NULL_SENDER.format(owned=_owned(account))
        if not account.owns(sender):
            return SENDER_NOT_OWNED.format(sender=_shown(sender), login=_shown(account.login),
                                           owned=_owned(account))
        return None
    if trusted and listener.trusts_networks:
        return None
    if listener.offers_auth:
        return AUTH_REQUIRED
    return untrusted_reply


def header_refusal(account: Account, header_block: bytes) -> str | None:
    """The From: (and Sender:, if any) of a logged-in user's message must be their own."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(header_block)
    from_values = headers.get_all("From") or []
    if not from_values:
        return HEADER_MISSING.format(owned=_owned(account))
    if len(from_values) > 1:
        return HEADER_REPEATED.format(count=len(from_values))
    fields: list[tuple[str, list[str]]] = [("From:", [str(v) for v in from_values])]
    sender_values = headers.get_all("Sender") or []
    if sender_values:
        fields.append(("Sender:", [str(v) for v in sender_values]))
    for field, values in fields:
        addresses = _addresses(values)
        if not addresses:
            return HEADER_EMPTY.format(field=field, owned=_owned(account))
        # A mail client parses with the modern parser; where it reads the field differently
        # (or not at all), the reader would not see what was checked: refuse.
        shown = _client_addresses(field, values)
        if shown is None:
            return HEADER_UNREADABLE.format(field=field, owned=_owned(account))
        addresses += shown
        for address in addresses:
            if not account.owns(address):
                return HEADER_NOT_OWNED.format(field=field, address=_shown(address),
                                               login=_shown(account.login),
                                               owned=_owned(account))
    return None


def _client_addresses(field: str, values: list[str]) -> list[str] | None:
    """The field as the stdlib's modern parser reads it; ``None`` if it cannot."""
    raw = b"".join(f"{field} {v}\r\n".encode("utf-8", "surrogateescape") for v in values)
    try:
        header: Any = email.message_from_bytes(raw + b"\r\n", policy=email.policy.default)[
            field.rstrip(":")]
        found = list(header.addresses)
    except Exception:  # the modern parser raises on some malformed fields: fail closed
        return None
    out: list[str] = []
    for address in found:
        local, _, domain = str(address.addr_spec).rpartition("@")
        if not local or not domain or domain.endswith("."):
            return None
        out.append(normalise_address(address.addr_spec))
        out.extend(normalise_address(m) for m in _ADDRESS_LIKE.findall(address.display_name))
    return out


def _addresses(values: Iterable[str]) -> list[str]:
    """Every address in the fields, and every address-like text in a display name.

    ``"ceo@example.org" <alice@example.org>`` shows the reader another person's address, so
    the display name counts too; a name without an address counts as a bad address.
    """
    out: list[str] = []
    for name, address in getaddresses(list(values)):
        if address:
            out.append(normalise_address(address))
        elif name:
            out.append(name)
        shown = header_text(name) if name else ""
        out.extend(normalise_address(m) for m in _ADDRESS_LIKE.findall(shown))
    return out
