"""The milter edge in-process, spoken to packet by packet: the answers an MTA gets, and what
bad packets get (the connection closed, nothing decided, the edge still serving)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from kilter.protocol.buffer import SimpleBuffer
from kilter.protocol.messages import (
    ActionFlags,
    Body,
    ChangeHeader,
    Connect,
    Continue,
    Discard,
    EndOfHeaders,
    EndOfMessage,
    EnvelopeFrom,
    EnvelopeRecipient,
    Header,
    Helo,
    InsertHeader,
    Macro,
    Message,
    Negotiate,
    ProtocolFlags,
    RemoveRecipient,
    ReplyCode,
)

from gateway.adapters.crypto import NullSealer
from gateway.milter.listener import MilterEdge
from gateway.policyfiles.load import load_policy
from gateway.service.submit import Submitter
from gateway.settings import Settings
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory
from tests.support.gateway import EXAMPLE_POLICIES
from tests.support.review_gateway import ADJUST

OFFERED = Negotiate(6, ActionFlags(0x1FF), ProtocolFlags(0x1FFFFF))


class Mta:
    """The MTA's side of one milter connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, message: Message) -> None:
        buffer = SimpleBuffer(1 << 17)
        message.pack(buffer)
        self.writer.write(buffer[:].tobytes())
        await self.writer.drain()

    async def answer(self) -> Message:
        size = struct.unpack("!L", await asyncio.wait_for(self.reader.readexactly(4), 10))[0]
        packet = struct.pack("!L", size) + await self.reader.readexactly(size)
        buffer = SimpleBuffer(len(packet) + 16)
        buffer[:] = packet
        message, _ = Message.unpack(buffer)
        message.freeze()
        return message

    async def ask(self, message: Message) -> Message:
        await self.send(message)
        return await self.answer()

    async def until_final(self) -> list[Message]:
        """The answers to an end of message: edits, then the final response."""
        answers = [await self.answer()]
        while isinstance(answers[-1], ChangeHeader | RemoveRecipient):  # InsertHeader too
            answers.append(await self.answer())
        return answers


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[tuple[MilterEdge, int, Store]]:
    policy = load_policy(EXAMPLE_POLICIES)
    settings = Settings(data=tmp_path, policies=EXAMPLE_POLICIES, workers=1,
                        milter={"listen": "inet:127.0.0.1:0"}, session_timeout=2)
    store = await Store.open(tmp_path)
    threads = ThreadMemory(store.path, store.write)
    await threads.open()
    submitter = Submitter(settings, lambda: policy, store, threads, NoDelivery(), NullSealer())
    milter = MilterEdge(submitter)
    server = await milter.start()
    port = server.sockets[0].getsockname()[1]
    yield milter, port, store
    server.close()
    for writer in OPEN:  # the MTA hangs up; each session ends on its own
        writer.close()
    OPEN.clear()
    deadline = asyncio.get_running_loop().time() + 5
    while milter.sessions and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    await threads.close()
    await store.close()


class NoDelivery:
    """The SMTP downstream; in milter mode the MTA delivers, so nothing may call it."""

    description = "unused"

    async def deliver(self, *args: object) -> None:
        raise AssertionError("the milter must not deliver itself")

    async def close(self) -> None:
        return None


OPEN: list[asyncio.StreamWriter] = []


async def connect(port: int) -> Mta:
    mta = Mta(*await asyncio.open_connection("127.0.0.1", port))
    OPEN.append(mta.writer)
    negotiated = await mta.ask(OFFERED)
    assert isinstance(negotiated, Negotiate)
    assert ActionFlags.DELETE_RECIPIENT in negotiated.action_flags
    assert ActionFlags.CHANGE_HEADERS in negotiated.action_flags
    assert ProtocolFlags.HEADER_LEADING_SPACE in negotiated.protocol_flags
    assert isinstance(await mta.ask(Connect("client.test", IPv4Address("127.0.0.1"), 4000)),
                      Continue)
    assert isinstance(await mta.ask(Helo("client.test")), Continue)
    return mta


async def envelope(mta: Mta, *recipients: str) -> None:
    assert isinstance(await mta.ask(EnvelopeFrom(b"<alice@example.org>")), Continue)
    for rcpt in recipients:
        assert isinstance(await mta.ask(EnvelopeRecipient(f"<{rcpt}>".encode())), Continue)


async def content(mta: Mta, headers: list[tuple[str, bytes]], body: bytes) -> list[Message]:
    for name, value in headers:
        assert isinstance(await mta.ask(Header(name, value)), Continue)
    assert isinstance(await mta.ask(EndOfHeaders()), Continue)
    assert isinstance(await mta.ask(Body(body)), Continue)
    await mta.send(EndOfMessage(b""))
    return await mta.until_final()


async def test_partial_hold_removes_held_recipients_and_edits_headers(
        edge: tuple[MilterEdge, int, Store]) -> None:
    _, port, store = edge
    mta = await connect(port)
    await envelope(mta, "bob@example.org", "partner@outside.test")
    answers = await content(mta, [
        ("From", b" alice@example.org"), ("X-Stamp", b" cleared"),
        ("Subject", b" Case\n\tupdate"), ("x-stampgate-signature", b" forged")],
        f"{ADJUST}\r\n\r\nA story.\r\n".encode())
    assert answers[0] == RemoveRecipient("<partner@outside.test>")
    # the client's own copies of the gateway's fields, last first
    assert answers[1] == ChangeHeader(1, "x-stampgate-signature", b"")
    assert answers[2] == ChangeHeader(1, "X-Stamp", b"")
    inserted = [a for a in answers if isinstance(a, InsertHeader)]
    # the relay's fields, in its order (a Message-ID too: the client gave none)
    assert [(a.index, a.name) for a in inserted] == [(0, "Received"), (1, "X-Stamp"),
                                                      (2, "Message-ID")]
    assert inserted[1].value == b" needs_adjustment"
    assert b"\r" not in inserted[0].value and b"\n\t" in inserted[0].value  # folded with LF
    assert isinstance(answers[-1], Continue)
    [held] = await store.held()
    assert held.held_recipients == ("partner@outside.test",)


async def test_a_clients_partner_label_headers_are_removed(
        edge: tuple[MilterEdge, int, Store]) -> None:
    _, port, _ = edge
    mta = await connect(port)
    await envelope(mta, "bob@example.org")
    answers = await content(mta, [
        ("From", b" alice@example.org"), ("Subject", b" Case"),
        ("X-Protective-Marking", b" VER=2018.4, NS=gov.au, SEC=PROTECTED"),
        ("X-TLP", b" CLEAR"), ("SIO-Label", b" marking=\"X\""),
        ("SIO-Label-History", b" old")], b"The story.\r\n")
    removed = [a for a in answers if type(a) is ChangeHeader]
    assert removed == [ChangeHeader(1, "SIO-Label-History", b""),
                       ChangeHeader(1, "SIO-Label", b""), ChangeHeader(1, "X-TLP", b""),
                       ChangeHeader(1, "X-Protective-Marking", b"")]
    inserted = [a for a in answers if isinstance(a, InsertHeader)]
    # PROTECTED is Confidential: the header restricted the verdict it cannot loosen
    assert [a.value for a in inserted if a.name == "X-Stamp"] == [b" confidential"]
    assert isinstance(answers[-1], Continue)


async def test_each_final_answer(edge: tuple[MilterEdge, int, Store]) -> None:
    _, port, _ = edge
    mta = await connect(port)
    cases = [
        (("partner@outside.test",), ADJUST, Discard),
        (("press@example.org",), "Internal", ReplyCode),
        (("bob@example.org",), "Cleared for publication", Continue),
    ]
    for recipients, stamp, expected in cases:  # one connection, one message after another
        await envelope(mta, *recipients)
        answers = await content(mta, [("From", b" alice@example.org")],
                                f"{stamp}\r\n\r\nText.\r\n".encode())
        assert isinstance(answers[-1], expected), (stamp, answers)
    bounce = answers_text(await bounce_answer(mta))
    assert bounce.startswith("550-5.7.1 Message refused") and bounce.endswith("\0")
    assert "\r\n550 5.7.1 What to do" in bounce


async def bounce_answer(mta: Mta) -> Message:
    await envelope(mta, "press@example.org")
    return (await content(mta, [], b"Internal\r\n\r\n100% sure.\r\n"))[-1]


def answers_text(message: Message) -> str:
    assert isinstance(message, ReplyCode)
    return bytes(message.content).decode()


async def test_refused_recipient_and_message_without_recipients(
        edge: tuple[MilterEdge, int, Store]) -> None:
    _, port, _ = edge
    mta = await connect(port)
    assert isinstance(await mta.ask(EnvelopeFrom(b"<alice@example.org>")), Continue)
    refused = await mta.ask(EnvelopeRecipient(b"<x%y@example.org>"))
    assert answers_text(refused).startswith("553 5.7.1 <x%%y@example.org>: the percent hack")
    final = await content(mta, [("From", b" a@example.org")], b"Cleared for publication\r\n")
    assert answers_text(final[-1]).startswith("503 5.5.1")


async def test_too_big_is_refused_and_nothing_is_held(tmp_path: Path,
                                                      edge: tuple[MilterEdge, int, Store]) -> None:
    milter, port, store = edge
    milter.settings = milter.settings.model_copy(update={"max_message_size": 1000})
    mta = await connect(port)
    await envelope(mta, "partner@outside.test")
    final = await content(mta, [], f"{ADJUST}\r\n".encode() + b"x" * 2000)
    assert answers_text(final[-1]).startswith("552 5.3.4")
    assert await store.held() == []


@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x01",                      # a packet with no command byte
    b"\x00\x00\x00\x05Zjunk" + b"\x00" * 64,  # an unknown command, then zeros
    b"\xff\xff\xff\xffB" + b"x" * (1 << 20),  # a length beyond any packet an MTA sends
])
async def test_bad_packets_close_the_connection_and_the_edge_keeps_serving(
        edge: tuple[MilterEdge, int, Store], garbage: bytes) -> None:
    _, port, _ = edge
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(garbage)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the milter
    writer.close()
    mta = await connect(port)  # a new connection is served as before
    await envelope(mta, "bob@example.org")
    final = await content(mta, [], b"Cleared for publication\r\n")
    assert isinstance(final[-1], Continue)


@pytest.mark.parametrize(("login", "verified"), [
    ("director@example.org", True), ("Director@Example.org", True),
    (None, False), ("alice@example.org", False), ("director", False)])
async def test_only_a_login_as_the_sender_gives_managements_right_to_downgrade(
        edge: tuple[MilterEdge, int, Store], login: str | None, verified: bool) -> None:
    """Postfix reports the SASL login with MAIL FROM ({auth_authen}); a management sender is
    trusted to clear quoted material only when it logged in as that address."""
    _, port, store = edge
    mta = await connect(port)
    await mta.send(Macro(ord("M"), {"{auth_authen}": login} if login else {}))
    assert isinstance(await mta.ask(EnvelopeFrom(b"<director@example.org>")), Continue)
    assert isinstance(await mta.ask(EnvelopeRecipient(b"<press@example.org>")), Continue)
    answers = await content(mta, [("From", b" director@example.org")],
                            b"Cleared for publication\r\n\r\n> Needs adjustment: blur face\r\n"
                            b"> story\r\n")
    assert isinstance(answers[-1], Continue if verified else Discard), answers
    assert len(await store.held()) == (0 if verified else 1)
