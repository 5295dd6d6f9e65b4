"""The chunked DATA reader: terminator, dot-unstuffing, limits, no over-reading."""

from __future__ import annotations

import asyncio

import pytest

from gateway.smtp.data_reader import TooBig, read_data


async def feed(chunks: list[bytes], limit: int | None = 1000) -> tuple[bytes, bytes]:
    """Read one payload fed in the given chunks; return it and what is left unread."""
    reader = asyncio.StreamReader(limit=1001)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    data = await read_data(reader, limit)
    return data, await reader.read()


@pytest.mark.parametrize(
    ("stream", "payload"),
    [
        (b".\r\n", b""),
        (b"\r\n.\r\n", b"\r\n"),
        (b"X\r\n.\r\n", b"X\r\n"),
        (b"XY\r\n.\r\n", b"XY\r\n"),
        (b"\r\n\r\n\r\n.\r\n", b"\r\n\r\n\r\n"),
        (b"Subject: a\r\n\r\nbody\r\n.\r\n", b"Subject: a\r\n\r\nbody\r\n"),
        (b"..leading dot\r\n...two\r\n.\r\n", b".leading dot\r\n..two\r\n"),
        (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n"),
        (b"a\r.\rb\r\n.\r\n", b"a\r.\rb\r\n"),
        (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\nb\r\n"),  # the line ".\nb" is unstuffed
    ],
)
async def test_payload_and_terminator(stream: bytes, payload: bytes) -> None:
    for split in range(len(stream) + 1):
        got, rest = await feed([stream[:split], stream[split:], b"QUIT\r\n"])
        assert got == payload, split
        assert rest == b"QUIT\r\n"  # pipelined commands after the dot stay for the session


async def test_too_big_consumes_the_whole_payload_and_leaves_the_next_command() -> None:
    big = b"Subject: x\r\n\r\n" + (b"y" * 998 + b"\r\n") * 50 + b".\r\n"
    reader = asyncio.StreamReader(limit=1001)
    reader.feed_data(big + b"RSET\r\n")
    reader.feed_eof()
    with pytest.raises(TooBig):
        await read_data(reader, 10_000)
    assert await reader.read() == b"RSET\r\n"
    assert reader._limit == 1001


async def test_just_under_the_limit_is_accepted() -> None:
    payload = b"a" * 96 + b"\r\n"
    got, _ = await feed([payload + b".\r\n"], limit=len(payload))
    assert got == payload


async def test_client_going_away_mid_data() -> None:
    reader = asyncio.StreamReader(limit=1001)
    reader.feed_data(b"Subject: x\r\n\r\npartial")
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await read_data(reader, 1000)
