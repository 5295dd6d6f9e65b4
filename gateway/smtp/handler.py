"""The SMTP edge: the aiosmtpd protocol and handler; each message goes to ``service.submit``."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from pathlib import Path
from typing import Any, ClassVar

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from gateway.adapters.space import DiskSpace
from gateway.core.envelope_path import drop_trailing_dot, plain_path
from gateway.core.headers import read_header_block
from gateway.core.recipients import AddressRefused, parse_recipient, refuse_source_route
from gateway.logs import get_logger
from gateway.service.outcome import Incoming, OutcomeKind
from gateway.service.submit import Submitter
from gateway.settings import networks_of
from gateway.smtp import replies
from gateway.smtp.data_reader import TooBig, read_data

log = get_logger()


_HOOK_PREFIXES = ("smtp_", "auth_", "handle_")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_in(peer: object, networks: tuple[Network, ...]) -> bool:
    """Whether the session's peer address is in one of ``networks``."""
    host = peer[0] if isinstance(peer, tuple) else str(peer)
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in networks)


def upstream_vouch(data: bytes, header: str, expected: str | None) -> str | None:
    """Why a verified upstream's header does not vouch for the sender; ``None`` if it does.

    Exactly one field with a value (``expected``, when set): an upstream that adds its own
    copy next to one a user wrote (instead of replacing it) leaves two, and two prove nothing.
    """
    values = read_header_block(data).get_all(header)
    if not values:
        return "absent"
    if len(values) > 1:
        return "repeated"
    value = values[0].strip()
    if not value:
        return "empty"
    if expected is not None and not hmac.compare_digest(
            value.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        return "wrong value"
    return None


class HookNames:
    """``dir()`` lists only the hook methods (``smtp_*``, ``auth_*``, ``handle_*``).

    aiosmtpd builds its command, AUTH and hook tables with ``dir()`` and
    ``inspect.getmembers()`` on the protocol and the handler for every connection, which
    touches every attribute of both; answering from a per-class list takes a third of the time.
    """

    _hook_names: ClassVar[dict[type, list[str]]] = {}

    def __dir__(self) -> list[str]:
        cls = type(self)
        names = HookNames._hook_names.get(cls)
        if names is None:
            names = [n for n in object.__dir__(self) if n.startswith(_HOOK_PREFIXES)]
            HookNames._hook_names[cls] = names
        return list(names)


class GatewaySMTP(HookNames, SMTP):
    """aiosmtpd's protocol with the raw-argument checks and a chunked DATA reader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reply_lines: list[bytes] = []

    async def push(self, status: str | bytes) -> None:
        """Send one reply line; a multi-line reply (EHLO's) goes out in one write.

        Replies may quote outside text (a downstream server's answer): a CR or LF inside a
        line becomes a space, so that one reply is never read as two, and outside a session
        that negotiated SMTPUTF8 a character that is not ASCII becomes ``?``."""
        if isinstance(status, str):
            status = _one_reply(status).encode("utf-8" if self.enable_SMTPUTF8 else "ascii",
                                               "replace")
        if status.rpartition(b"\n")[2][3:4] == b"-":  # "250-...": more lines follow
            self._reply_lines.append(status)
            return
        if self._reply_lines:
            status = b"\r\n".join([*self._reply_lines, status])
            self._reply_lines.clear()
        self._writer.write(status + b"\r\n")
        await self._writer.drain()

    def _end_data(self) -> None:
        self._set_post_data_state()  # type: ignore[no-untyped-call]

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_data(self._reader, self.data_size_limit)
        except TooBig:
            self._end_data()
            await self.push(replies.TOO_BIG.format(limit=self.data_size_limit))
            return
        except asyncio.IncompleteReadError:
            self._end_data()
            return  # the client went away mid-DATA; nothing was accepted
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._end_data()
        await self.push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The plain ``<local@domain>`` path without the header parser; the rest with it.

        ``(None, None)`` (``553 5.1.3 Error: malformed address``) also where the parser
        breaks on a cut-off path (``MAIL FROM:<``), and where it would read an RFC 2047
        encoded word in the local part (``<=?utf-8?q?bob?=@example.org>`` as
        ``bob@example.org``): a path is what it says, character for character."""
        plain = plain_path(arg, self.local_part_limit)
        if plain is not None:
            return plain
        try:
            address, rest = super()._getaddr(arg)
        except Exception:  # the header parser's own errors on truncated input (IndexError)
            return None, None
        if (address and "=?" in arg and "@" in address
                and address.rpartition("@")[0] != _written_local(arg)):
            return None, None  # an encoded word in the local part was decoded
        return address, rest

    async def smtp_RCPT(self, arg: str) -> None:
        if arg:
            try:
                refuse_source_route(arg)
            except AddressRefused as exc:
                await self.push(exc.reply)
                return
            arg = drop_trailing_dot(arg)
        await super().smtp_RCPT(arg)


def _one_reply(status: str) -> str:
    """``status`` with every CR or LF that does not end a line of a multi-line reply made a
    space (the lines of a reply are joined by CRLF)."""
    if "\r" not in status and "\n" not in status:
        return status
    return "\r\n".join(" ".join(line.split()) if ("\r" in line or "\n" in line) else line
                        for line in status.split("\r\n"))


def _written_local(arg: str) -> str:
    """The local part of a path as the client wrote it (inside ``<>`` if there are any)."""
    text = arg.strip()
    path = text[1:].partition(">")[0] if text.startswith("<") else text.partition(" ")[0]
    return path.rpartition("@")[0]


class Handler(HookNames):
    """aiosmtpd hooks: they check the envelope and hand each message to ``Submitter.submit``."""

    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter
        self.settings = submitter.settings
        self.policy = submitter.policy
        self.networks = submitter.settings.networks
        self.space = DiskSpace(Path(self.settings.data), self.settings.min_free_bytes)
        self.upstreams = networks_of(submitter.settings.verified_upstreams)

    def _trusted(self, session: Session) -> bool:
        return peer_in(session.peer, self.networks)

    def _sender_verified(self, session: Session, envelope: Envelope, data: bytes) -> bool:
        """A logged-in user (MAIL FROM is bound to the account), or a verified upstream's
        header; the header from anyone else counts for nothing (and is never relayed)."""
        if session.authenticated:
            return True
        if not self.upstreams or not peer_in(session.peer, self.upstreams):
            return False
        secret = self.settings.upstream_verified_value
        why_not = upstream_vouch(data, self.settings.upstream_verified_header,
                                 secret.get_secret_value() if secret is not None else None)
        if why_not is not None and why_not != "absent":
            peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
            log.warning("upstream-header-ignored", peer=str(peer),
                        sender=envelope.mail_from, why=why_not)
        return why_not is None

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        # Advertise enhanced status codes (RFC 2034): every reply carries one.
        return [*responses[:-1], "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if not self._trusted(session):
            peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
            log.warning("refused-untrusted", peer=str(peer))
            return replies.UNTRUSTED.format(peer=peer)
        refusal = self.space_refusal(session)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        try:
            parse_recipient(address, self.policy().organisation.plus_separator)
        except AddressRefused as exc:
            return exc.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient ok"

    def space_refusal(self, session: Session) -> str | None:
        """``452 4.3.1`` while the disk of the store is below ``min_free_bytes``."""
        if not self.space.low():
            return None
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        log.warning("refused-low-disk", peer=str(peer), free_bytes=self.space.free(),
                    min_free_bytes=self.space.floor)
        return replies.NO_SPACE

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope,
                          clean: bool = False) -> str:
        """``clean``: a subclass already found the data free of NUL and bare line endings."""
        # The disk may have filled while the message came in: nothing is taken then.
        refusal = self.space_refusal(session)
        if refusal is not None:
            return refusal
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        data = envelope.original_content or b""
        outcome = await self.submitter.submit(Incoming(
            sender=envelope.mail_from or "", recipients=tuple(envelope.rcpt_tos),
            data=data, peer=peer, helo=session.host_name,
            sender_verified=self._sender_verified(session, envelope, data), clean=clean))
        if outcome.kind is OutcomeKind.STORE_FAILED and self.space.low(fresh=True):
            return replies.NO_SPACE  # the store failed because the disk filled up
        return replies.for_outcome(outcome)
