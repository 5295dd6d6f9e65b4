"""A small SMTP client for the downstream: one connection, pipelined when it may be.

With PIPELINING advertised (RFC 2920), MAIL, every RCPT and DATA go out in one write and
their replies are read in order, so a message costs two writes and two round trips
instead of one per command; without it, one command at a time. Replies are parsed as they
arrive, however the server splits or joins them, so none is lost between commands.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from aiosmtplib.email import quote_address

MAX_REPLY = 64 * 1024  # one reply's bytes, all its lines


class ClientError(Exception):
    """The connection failed: closed, timed out, or a reply that is not SMTP."""


class Closed(ClientError):
    """The server closed the connection (or it broke)."""


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


class _Protocol(asyncio.Protocol):
    """Collects complete replies in order; ``next`` waits for the next one."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._replies: deque[Reply] = deque()
        self._lines: list[str] = []
        self._waiter: asyncio.Future[None] | None = None
        self.error: ClientError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            line = bytes(buffer[start:end + 1])
            start = end + 1
            code = line[:3]
            if not code.isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                self._fail(ClientError(f"not an SMTP reply: {line[:80]!r}"))
                return
            self._lines.append(line[4:].strip().decode("utf-8", "replace"))
            if line[3:4] != b"-":
                self._replies.append(Reply(int(code), "\n".join(self._lines)))
                self._lines = []
        del buffer[:start]
        if len(buffer) + sum(map(len, self._lines)) > MAX_REPLY:
            self._fail(ClientError("reply too long"))
            return
        if self._replies:
            self._wake()

    def eof_received(self) -> bool:
        self._fail(Closed("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(Closed(f"connection lost: {exc}" if exc else "the connection was closed"))

    def _fail(self, error: ClientError) -> None:
        if self.error is None:
            self.error = error
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, timeout: float) -> Reply:
        while not self._replies:
            if self.error is not None:
                raise self.error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                self._fail(ClientError(f"no reply within {timeout:g} s"))
                raise ClientError(f"no reply within {timeout:g} s") from None
            finally:
                self._waiter = None
        return self._replies.popleft()


@dataclass(frozen=True, slots=True)
class Envelope:
    """The replies to one transaction's MAIL, RCPTs and DATA (``data`` is None when
    DATA was not sent: the sender or every recipient was refused, unpipelined)."""

    mail: Reply
    rcpts: tuple[Reply, ...]
    data: Reply | None


class Connection:
    """One SMTP connection, greeted and EHLO'd (and TLS, if asked)."""

    def __init__(self, protocol: _Protocol, timeout: float) -> None:
        self._protocol = protocol
        self.timeout = timeout
        self.extensions: set[str] = set()

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.extensions

    @property
    def usable(self) -> bool:
        transport = self._protocol.transport
        return (self._protocol.error is None and transport is not None
                and not transport.is_closing())

    @classmethod
    async def open(cls, host: str, port: int, local_hostname: str, timeout: float, *,
                   implicit_tls: ssl.SSLContext | None = None,
                   starttls: ssl.SSLContext | None = None) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, protocol = await loop.create_connection(
                    _Protocol, host, port, ssl=implicit_tls,
                    server_hostname=host if implicit_tls is not None else None)
        except TimeoutError:
            raise ClientError(f"no connection within {timeout:g} s") from None
        connection = cls(protocol, timeout)
        try:
            greeting = await protocol.next(timeout)
            if greeting.code != 220:
                raise Refused(greeting, "greeting")
            await connection._hello(local_hostname)
            if starttls is not None:
                await connection._starttls(starttls, host, local_hostname)
        except BaseException:
            connection.abort()
            raise
        return connection

    async def _hello(self, name: str) -> None:
        reply = await self.command(f"EHLO {name}".encode("ascii"))
        if reply.ok:
            self.extensions = {line.split(" ", 1)[0].upper()
                               for line in reply.text.split("\n")[1:] if line}
            return
        reply = await self.command(f"HELO {name}".encode("ascii"))
        if not reply.ok:
            raise Refused(reply, "HELO")
        self.extensions = set()

    async def _starttls(self, context: ssl.SSLContext, host: str, name: str) -> None:
        if "STARTTLS" not in self.extensions:
            raise ClientError("the server does not offer STARTTLS")
        reply = await self.command(b"STARTTLS")
        if reply.code != 220:
            raise Refused(reply, "STARTTLS")
        protocol = self._protocol
        assert protocol.transport is not None
        try:
            async with asyncio.timeout(self.timeout):
                transport = await asyncio.get_running_loop().start_tls(
                    protocol.transport, protocol, context, server_hostname=host)
        except TimeoutError:
            raise ClientError("TLS handshake timed out") from None
        protocol.transport = cast(asyncio.Transport, transport)
        await self._hello(name)

    def _write(self, data: bytes) -> None:
        protocol = self._protocol
        if protocol.error is not None:
            raise protocol.error
        assert protocol.transport is not None
        protocol.transport.write(data)

    async def command(self, line: bytes) -> Reply:
        self._write(line + b"\r\n")
        return await self._protocol.next(self.timeout)

    async def envelope(self, sender: str, recipients: Sequence[str]) -> Envelope:
        """MAIL, RCPT for each recipient, then DATA only if they all were accepted
        (pipelined, DATA is sent anyway: its reply is then not 354)."""
        mail = b"MAIL FROM:" + quote_address(sender).encode("ascii") + b"\r\n"
        rcpts = [b"RCPT TO:" + quote_address(r).encode("ascii") + b"\r\n" for r in recipients]
        if self.pipelining:
            self._write(b"".join([mail, *rcpts, b"DATA\r\n"]))
            replies = [await self._protocol.next(self.timeout) for _ in range(len(rcpts) + 2)]
            return Envelope(replies[0], tuple(replies[1:-1]), replies[-1])
        first = await self.command(mail[:-2])
        if not first.ok:
            return Envelope(first, (), None)
        answers = tuple([await self.command(r[:-2]) for r in rcpts])
        if not all(a.ok for a in answers):
            return Envelope(first, answers, None)
        return Envelope(first, answers, await self.command(b"DATA"))

    async def content(self, data: bytes) -> Reply:
        """The message after a 354, dot-stuffed, and the server's reply to its end."""
        stuffed = data.replace(b"\r\n.", b"\r\n..")
        if stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        self._write(stuffed + b".\r\n")
        return await self._protocol.next(self.timeout)

    async def quit(self) -> None:
        """QUIT politely (briefly), then close."""
        try:
            if self.usable:
                self._write(b"QUIT\r\n")
                await self._protocol.next(min(self.timeout, 2.0))
        except ClientError:
            pass
        finally:
            self.abort()

    def abort(self) -> None:
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()


class Refused(ClientError):
    """A reply that ends the connection's set-up (greeting, HELO, STARTTLS)."""

    def __init__(self, reply: Reply, step: str) -> None:
        self.reply = reply
        super().__init__(f"{step}: {reply.code} {reply.text}")
