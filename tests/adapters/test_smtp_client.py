"""The downstream client reads replies however a server splits or joins them, and says
clearly when a server answers with something that is not SMTP or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.adapters.smtp_client import ClientError, Closed, Connection

GREETING = b"220 sink.test ESMTP\r\n"
EHLO = b"250-sink.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
ENVELOPE = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n"


async def _serve(script: Callable[..., object]) -> AsyncIterator[int]:
    server = await asyncio.start_server(script, "127.0.0.1", 0)  # type: ignore[arg-type]
    async with server:
        yield server.sockets[0].getsockname()[1]


async def _dribble(writer: asyncio.StreamWriter, data: bytes, step: int) -> None:
    for i in range(0, len(data), step):
        writer.write(data[i:i + step])
        await writer.drain()
        await asyncio.sleep(0)


@pytest.mark.parametrize("step", [1, 3, 1000])
async def test_replies_split_or_joined_are_read_in_order(step: int) -> None:
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _dribble(writer, GREETING, step)
        seen.append(await reader.readline())
        await _dribble(writer, EHLO, step)
        batch = b""
        while not batch.endswith(b"DATA\r\n"):
            batch += await reader.read(1000)
        seen.append(batch)
        await _dribble(writer, ENVELOPE, step)  # all four replies, maybe in one packet
        writer.close()

    async for port in _serve(script):
        connection = await Connection.open("127.0.0.1", port, "relay.test", 5)
        assert connection.pipelining
        envelope = await connection.envelope("a@example.org", ["b@example.org", "x@example.org"])
        assert envelope.mail.code == 250
        assert [r.code for r in envelope.rcpts] == [250, 550]
        assert envelope.rcpts[1].text == "5.1.1 no such user"
        assert envelope.data is not None and envelope.data.code == 354
        connection.abort()
    assert seen == [b"EHLO relay.test\r\n",
                    b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                    b"RCPT TO:<x@example.org>\r\nDATA\r\n"]


async def test_a_reply_that_is_not_smtp_is_an_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n")
        await reader.read(100)

    async for port in _serve(script):
        with pytest.raises(ClientError, match="not an SMTP reply"):
            await Connection.open("127.0.0.1", port, "relay.test", 5)


async def test_a_server_that_hangs_up_or_stays_silent() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async for port in _serve(hang_up):
        with pytest.raises(Closed):
            await Connection.open("127.0.0.1", port, "relay.test", 5)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)

    async for port in _serve(silent):
        with pytest.raises(ClientError, match=r"no reply within 0\.3 s"):
            await Connection.open("127.0.0.1", port, "relay.test", 0.3)


async def test_dots_at_line_starts_are_doubled() -> None:
    got: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(GREETING)
        await reader.readline()
        writer.write(b"250 sink.test\r\n")
        for _ in range(3):  # MAIL, RCPT, DATA one at a time: no PIPELINING offered
            await reader.readline()
            writer.write(b"250 ok\r\n" if _ < 2 else b"354 go\r\n")
        got.append(await reader.readuntil(b"\r\n.\r\n"))
        writer.write(b"250 queued\r\n")
        await reader.read(100)

    async for port in _serve(script):
        connection = await Connection.open("127.0.0.1", port, "relay.test", 5)
        assert not connection.pipelining
        envelope = await connection.envelope("", ["b@example.org"])
        assert envelope.data is not None and envelope.data.code == 354
        reply = await connection.content(b".first\r\nmiddle\r\n..two\r\n")
        assert reply.code == 250
        connection.abort()
    assert got == [b"..first\r\nmiddle\r\n...two\r\n.\r\n"]
