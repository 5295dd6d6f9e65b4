"""One MTA connection: milter packets in, the envelope and message gathered, answers out.

kilter.protocol reads and writes the packets and checks that every answer is one the MTA
may get at that point; this module keeps the state of the message and, at its end, asks the
submit use case (``Submitter.submit``), as the SMTP edge does at the end of DATA.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv6Address
from typing import cast

from kilter.protocol.buffer import SimpleBuffer
from kilter.protocol.core import FilterMessage, FilterProtocol
from kilter.protocol.exceptions import InvalidMessage, UnexpectedMessage
from kilter.protocol.messages import (
    Abort,
    ActionFlags,
    Body,
    Close,
    Connect,
    Continue,
    Data,
    EndOfHeaders,
    EndOfMessage,
    EnvelopeFrom,
    EnvelopeRecipient,
    Header,
    Helo,
    Macro,
    Negotiate,
    ProtocolFlags,
    Quarantine,
    Unknown,
)

from gateway.core.recipients import AddressRefused, parse_recipient, refuse_source_route
from gateway.logs import get_logger
from gateway.milter.answer import Envelope, answer, reply
from gateway.milter.message import assemble
from gateway.service.outcome import Incoming, Outcome
from gateway.smtp import replies

MAIL_STAGE = ord("M")  # the stage of the macros sent before MAIL FROM
log = get_logger()

# A body chunk is at most 64 KiB; the largest packet an MTA sends fits with room to spare.
BUFFER = 1 << 20
# Header edits, recipient removal, the body (a photo stripped of its metadata): what the
# gateway may do at the end of a message.
ACTIONS = (ActionFlags.ADD_HEADERS | ActionFlags.CHANGE_HEADERS | ActionFlags.DELETE_RECIPIENT
           | ActionFlags.CHANGE_BODY)
# With ``[milter] held = "postfix-hold"``: a wholly held message into the MTA's hold queue.
QUARANTINE = ActionFlags.QUARANTINE
# Header values with their leading space, so the bytes read are the bytes the client sent.
OPTIONS = ProtocolFlags.HEADER_LEADING_SPACE

# An end of message with no recipient accepted: an MTA never sends one; nothing to decide.
NO_RECIPIENTS = "503 5.5.1 Error: need RCPT command"

Submit = Callable[[Incoming], Awaitable[tuple[Outcome, bytes | None]]]
# What the milter sends. kilter's FilterMessage union leaves out Quarantine, which its
# protocol checks as an end-of-message edit like the others (allowed once negotiated).
Outgoing = FilterMessage | Quarantine


def _unbracket(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").strip().removeprefix("<").removesuffix(">")


class MilterSession:
    """The state of one connection and of the message in it."""

    def __init__(self, submit: Submit, plus_separator: Callable[[], str],
                 max_size: int, idle_timeout: float, postfix_hold: bool = False) -> None:
        self.submit = submit
        # A wholly held message is quarantined in the MTA's hold queue (when the MTA offers
        # it: one that does not gets a discard, and the held store keeps the message).
        self.postfix_hold = postfix_hold
        self.quarantine = False
        self.plus_separator = plus_separator
        self.max_size = max_size
        self.idle_timeout = idle_timeout
        self.protocol = FilterProtocol(abort_on_unknown=True)
        self.peer = "unknown"
        self.helo: str | None = None
        self.queue_id = ""
        # The SASL login Postfix reports with MAIL FROM ({auth_authen}), if the client logged in.
        self.login: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.sender = ""
        self.recipients: list[tuple[str, str]] = []
        self.headers: list[tuple[str, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.refused: str | None = None  # a reply already owed for this message

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer, outgoing = SimpleBuffer(BUFFER), SimpleBuffer(BUFFER)
        try:
            while True:
                if buffer.available == 0:
                    log.warning("milter-protocol-error", error="packet larger than 1 MiB")
                    return
                async with asyncio.timeout(self.idle_timeout):  # cheaper than wait_for
                    chunk = await reader.read(buffer.available)
                if not chunk:
                    return
                buffer[:] = chunk
                for message in self.protocol.read_from(buffer):
                    if isinstance(message, Close):
                        return
                    for out in await self.handle(message):
                        self.protocol.write_to(outgoing, cast(FilterMessage, out))
                        writer.write(outgoing[:].tobytes())
                        del outgoing[:]
                    await writer.drain()
        except (InvalidMessage, UnexpectedMessage, ValueError) as exc:
            log.warning("milter-protocol-error", error=type(exc).__name__, detail=str(exc)[:200])
        except (ConnectionError, TimeoutError):
            pass  # the MTA went away, or sent nothing for session_timeout seconds
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def handle(self, message: object) -> list[Outgoing]:
        """The packets that answer one packet from the MTA (none for those that want none)."""
        match message:
            case Negotiate():
                return [self._negotiate(message)]
            case Macro():
                if "i" in message.macros:
                    self.queue_id = message.macros["i"]
                if message.stage == MAIL_STAGE:  # sent afresh before every MAIL FROM
                    self.login = message.macros.get("{auth_authen}") or None
                return []
            case Connect():
                address = message.address
                self.peer = (str(address) if isinstance(address, IPv4Address | IPv6Address)
                             else message.hostname)
                return [Continue()]
            case Helo():
                self.helo = message.hostname
                return [Continue()]
            case EnvelopeFrom():
                self._reset()
                self.sender = _unbracket(bytes(message.sender))
                return [Continue()]
            case EnvelopeRecipient():
                return [self._recipient(bytes(message.recipient))]
            case Header():
                self._grow(len(message.name) + len(message.value) + 3)
                if self.refused is None:  # past the size limit nothing more is kept
                    self.headers.append((message.name, bytes(message.value)))
                return [Continue()]
            case Body():
                self._grow(len(message.content))
                if self.refused is None:
                    self.body.append(bytes(message.content))
                return [Continue()]
            case EndOfMessage():
                if message.content:
                    self._grow(len(message.content))
                    self.body.append(bytes(message.content))
                return await self._end_of_message()
            case Abort():
                self._reset()
                return []
            case Data() | EndOfHeaders() | Unknown():
                return [Continue()]
        raise AssertionError(f"unexpected milter packet {type(message).__name__}")

    def _negotiate(self, offer: Negotiate) -> Negotiate:
        wanted = ACTIONS | QUARANTINE if self.postfix_hold else ACTIONS
        actions = wanted & offer.action_flags
        self.quarantine = QUARANTINE in actions
        if self.postfix_hold and not self.quarantine:
            log.warning("milter-quarantine-not-offered",
                        detail="the MTA does not offer its hold queue; wholly held messages "
                               "are discarded from its queue and kept in the held store")
        return Negotiate(6, actions, OPTIONS & offer.protocol_flags)

    def _sender_verified(self) -> bool:
        """The MTA vouches for the sender: the client logged in as the MAIL FROM address
        (docs/deploy.md: logins that are not mail addresses vouch for no one)."""
        return self.login is not None and self.login.lower() == self.sender.lower()

    def _recipient(self, raw: bytes) -> Outgoing:
        argument = raw.decode("utf-8", "surrogateescape")
        address = _unbracket(raw)
        try:
            refuse_source_route(address)
            parse_recipient(address, self.plus_separator())
        except AddressRefused as exc:
            return reply(exc.reply)
        self.recipients.append((argument, address))
        return Continue()

    def _grow(self, size: int) -> None:
        self.size += size
        if self.size > self.max_size and self.refused is None:
            self.refused = replies.TOO_BIG.format(limit=self.max_size)
            self.headers.clear()
            self.body.clear()

    async def _end_of_message(self) -> list[Outgoing]:
        if self.refused is None and not self.recipients:
            self.refused = NO_RECIPIENTS
        if self.refused is not None:
            refused = self.refused
            self._reset()
            return [reply(refused)]
        data = assemble(self.headers, b"".join(self.body))
        envelope = Envelope(tuple(self.recipients), tuple(self.headers), data)
        outcome, relayed = await self.submit(Incoming(
            sender=self.sender, recipients=tuple(a for _, a in self.recipients), data=data,
            peer=self.peer, helo=self.helo, sender_verified=self._sender_verified()))
        edits, response = answer(outcome, envelope, relayed, self.quarantine)
        log.info("milter-answer", queue_id=outcome.queue_id, mta_queue_id=self.queue_id,
                 outcome=outcome.kind.value, edits=len(edits), hold_id=outcome.hold_id,
                 mta_hold=any(isinstance(edit, Quarantine) for edit in edits))
        self._reset()
        return [*edits, response]
