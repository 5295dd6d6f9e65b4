"""Onward delivery: a local maildir outbox or an SMTP downstream (pooled connections)."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiosmtplib.protocol

from gateway.adapters.smtp_client import ClientError, Closed, Connection
from gateway.logs import get_logger

SCHEMES = ("maildir", "smtp", "smtp+starttls", "smtps")
log = get_logger()


_normalize_line_endings = aiosmtplib.protocol.normalize_message_line_endings


def crlf_line_endings(message: bytes) -> bytes:
    """aiosmtplib's DATA line-ending normalisation (lone CR and LF become CRLF; the message
    ends in CRLF), without its regex pass when every line already ends in CRLF (the gateway
    refuses bare CR and LF, so every message it relays)."""
    crlf = message.count(b"\r\n")
    if message.count(b"\r") != crlf or message.count(b"\n") != crlf:
        return _normalize_line_endings(message)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


class DeliveryError(Exception):
    """The downstream did not take the message. ``temporary`` tells the client to retry.

    ``uncertain``: the message was sent but its answer never came (a timeout or a closed
    connection after DATA), so the downstream may have accepted it after all.
    """

    def __init__(self, temporary: bool, detail: str, code: int | None = None,
                 uncertain: bool = False) -> None:
        self.temporary = temporary
        self.detail = detail
        self.code = code
        self.uncertain = uncertain
        super().__init__(detail)


class Downstream(Protocol):
    """Where allowed and released messages go."""

    description: str

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DownstreamAddress:
    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""


def parse_downstream(url: str) -> DownstreamAddress:
    """``maildir:PATH``, ``smtp://host:port``, ``smtp+starttls://host:port``, ``smtps://...``."""
    if url.startswith("maildir:"):
        path = url.removeprefix("maildir:").removeprefix("//")
        if not path:
            raise ValueError("maildir downstream needs a path (maildir:./var/outbox)")
        return DownstreamAddress("maildir", path=path)
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"downstream {url!r}: scheme must be one of {', '.join(SCHEMES)}")
    if not parts.hostname:
        raise ValueError(f"downstream {url!r} has no host (write smtp://host:port)")
    default = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[parts.scheme]
    try:
        port = parts.port or default
    except ValueError:
        raise ValueError(f"downstream {url!r}: the port is not a number from 0 to 65535") from None
    return DownstreamAddress(parts.scheme, host=parts.hostname, port=port)


def make_downstream(url: str, hostname: str, timeout: float = 60.0,
                    tls_context: ssl.SSLContext | None = None) -> Downstream:
    address = parse_downstream(url)
    if address.scheme == "maildir":
        return MaildirDownstream(Path(address.path))
    return SmtpDownstream(address, hostname, timeout, tls_context)


class MaildirDownstream:
    """Local delivery: one file per message in a Maildir, fsynced before it counts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"maildir:{root}"
        self._counter = 0
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        envelope = (f"Return-Path: <{sender}>\r\nX-Envelope-To: {', '.join(recipients)}\r\n"
                    .encode())
        self._counter += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._counter}.{socket.gethostname()}"
        try:
            await asyncio.to_thread(self._write, name, envelope + data)
        except OSError as exc:
            raise DeliveryError(True, f"local outbox not writable: {exc.strerror}") from exc

    def _write(self, name: str, data: bytes) -> None:
        tmp = self.root / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.root / "new" / name)
        fd = os.open(self.root / "new", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def close(self) -> None:
        return None


class SmtpDownstream:
    """SMTP to the next hop; idle connections are kept for reuse, and a transaction is
    pipelined (MAIL, RCPT..., DATA in one write) when the next hop offers PIPELINING."""

    def __init__(self, address: DownstreamAddress, hostname: str, timeout: float,
                 tls_context: ssl.SSLContext | None, pool_size: int = 16) -> None:
        self.address = address
        self.hostname = hostname
        self.timeout = timeout
        self.tls_context = tls_context
        self.pool_size = pool_size
        self.description = f"{address.scheme}://{address.host}:{address.port}"
        self._idle: list[Connection] = []
        self.opened = 0  # connections opened
        self.reused = 0  # transactions on a pooled connection

    async def _connect(self) -> Connection:
        scheme = self.address.scheme
        context = None
        if scheme != "smtp":
            context = self.tls_context or ssl.create_default_context()
        connection = await Connection.open(
            self.address.host, self.address.port, self.hostname, self.timeout,
            implicit_tls=context if scheme == "smtps" else None,
            starttls=context if scheme == "smtp+starttls" else None)
        self.opened += 1
        return connection

    async def _acquire(self) -> tuple[Connection, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                self.reused += 1
                return connection, True
        return await self._connect(), False

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        try:
            connection, reused = await self._acquire()
        except (ClientError, OSError) as exc:
            raise DeliveryError(True, f"downstream {self.description} unreachable: "
                                      f"{_describe(exc)}") from exc
        try:
            await self._transaction(connection, sender, recipients, data)
        except DeliveryError:
            raise
        except Closed as exc:
            connection.abort()
            if reused:  # a pooled connection the server had closed: try once on a fresh one
                return await self._fresh(sender, recipients, data)
            raise DeliveryError(True, f"downstream {self.description} closed the connection: "
                                      f"{_describe(exc)}") from exc
        except (ClientError, OSError) as exc:
            connection.abort()
            raise DeliveryError(True, f"downstream {self.description} failed: "
                                      f"{_describe(exc)}") from exc
        self._release(connection)

    def _release(self, connection: Connection) -> None:
        if len(self._idle) < self.pool_size and connection.usable:
            self._idle.append(connection)
        else:
            asyncio.get_running_loop().create_task(connection.quit())

    async def _fresh(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        try:
            connection = await self._connect()
        except (ClientError, OSError) as exc:
            raise DeliveryError(True, f"downstream {self.description} failed: "
                                      f"{_describe(exc)}") from exc
        try:
            await self._transaction(connection, sender, recipients, data)
        except DeliveryError:
            raise
        except (ClientError, OSError) as exc:
            connection.abort()
            raise DeliveryError(True, f"downstream {self.description} failed: "
                                      f"{_describe(exc)}") from exc
        self._release(connection)

    async def _transaction(self, connection: Connection, sender: str,
                           recipients: Sequence[str], data: bytes) -> None:
        """MAIL, every RCPT, then the message only if every recipient was accepted.

        A refusal leaves the connection reusable (RSET), except when DATA, pipelined, got
        its 354 all the same: the connection is then closed, which abandons the
        transaction without sending anything."""
        envelope = await connection.envelope(sender, recipients)
        refusal: DeliveryError | None = None
        if not envelope.mail.ok:
            refusal = _refused(envelope.mail.code, f"sender <{sender}>: {envelope.mail.text}")
        else:
            refusals = [(r.code, f"<{rcpt}>: {r.code} {r.text}")
                        for rcpt, r in zip(recipients, envelope.rcpts, strict=True) if not r.ok]
            if refusals:
                temporary = any(code < 500 for code, _ in refusals)
                code = max(code for code, _ in refusals) if not temporary else 451
                refusal = DeliveryError(temporary, "downstream refused " +
                                        "; ".join(text for _, text in refusals), code)
            elif envelope.data is not None and envelope.data.code != 354:
                refusal = _refused(envelope.data.code, f"message: {envelope.data.text}")
        if refusal is not None:
            if envelope.data is not None and envelope.data.code == 354:
                connection.abort()
            else:
                await _reset(connection)
            raise refusal
        try:
            reply = await connection.content(crlf_line_endings(data))
        except (ClientError, OSError) as exc:
            connection.abort()
            # Not tried again on a fresh connection: the first copy may have arrived.
            raise DeliveryError(True, f"downstream {self.description} gave no answer to the "
                                      f"message: {_describe(exc)}", uncertain=True) from exc
        if not reply.ok:
            raise _refused(reply.code, f"message: {reply.text}")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.quit()
        if self.opened:
            log.info("downstream-pool", downstream=self.description, opened=self.opened,
                     reused=self.reused)


def _refused(code: int, detail: str) -> DeliveryError:
    return DeliveryError(code < 500, f"downstream answered {code}: {detail}", code)


async def _reset(connection: Connection) -> None:
    try:
        reply = await connection.command(b"RSET")
    except (ClientError, OSError):
        connection.abort()
        return
    if not reply.ok:
        connection.abort()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
