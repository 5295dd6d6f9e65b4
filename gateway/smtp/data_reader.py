"""Read an SMTP DATA payload in large chunks instead of line by line."""

from __future__ import annotations

import asyncio

TERMINATOR = b"\r\n.\r\n"


class TooBig(Exception):
    """The payload was larger than the limit; it was read to its end and thrown away."""


def _partial(buf: bytes | bytearray) -> int:
    """How many trailing bytes of ``buf`` could be the start of the terminator."""
    for k in (4, 3, 2, 1):
        if buf.endswith(TERMINATOR[:k]):
            return k
    return 0


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> bytes:
    """The message up to ``CRLF . CRLF``, dot-unstuffed, with its final CRLF.

    Only ``CRLF . CRLF`` ends the data: ``LF . LF``, ``CR . CR`` and other look-alikes are
    message content (and the handler refuses bare line endings), so a smuggled second
    message can never start here.
    Raises ``TooBig`` past ``limit`` (after consuming the whole payload) and
    ``asyncio.IncompleteReadError`` if the client goes away.
    """
    # The CRLF that ended the DATA command starts the payload, so an empty message is ".\r\n".
    buf = bytearray(b"\r\n")
    ceiling = (limit or 2**31) + len(TERMINATOR) + 2
    # StreamReader has no public way to change its limit; it guards lines, not payloads.
    saved: int = getattr(reader, "_limit")  # noqa: B009
    setattr(reader, "_limit", ceiling)  # noqa: B010
    try:
        while not buf.endswith(TERMINATOR):
            k = _partial(buf)
            if k:
                # Complete a possible terminator byte-exactly: never read past it.
                buf += await reader.readexactly(len(TERMINATOR) - k)
            else:
                try:
                    buf += await reader.readuntil(TERMINATOR)
                except asyncio.LimitOverrunError as exc:
                    await _drain(reader, exc.consumed)
                    raise TooBig() from None
        if len(buf) > ceiling:
            raise TooBig()
    finally:
        setattr(reader, "_limit", saved)  # noqa: B010
    # Two passes over the bytes, not four: a large message is copied on the event loop.
    del buf[-3:]  # keep the CRLF that ends the last line; drop ".\r\n"
    body = buf.replace(b"\r\n.", b"\r\n")
    del body[:2]  # the CRLF of the DATA command (a bytearray drops its head in place)
    return bytes(body)


async def _drain(reader: asyncio.StreamReader, consumed: int) -> None:
    """Throw away the rest of an oversized payload, up to its terminator."""
    while True:
        await reader.readexactly(consumed)
        try:
            await reader.readuntil(TERMINATOR)
            return
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
