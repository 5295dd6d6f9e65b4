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

import aiosmtplib
import aiosmtplib.protocol

from gateway.core.headers import has_bare_line_ending

SCHEMES = ("maildir", "smtp", "smtp+starttls", "smtps")


_normalize_line_endings = aiosmtplib.protocol.normalize_message_line_endings


class CrlfLines(bytes):
    """A message every line of which ends in CRLF, the last one too, known from how it was
    made (``rewrite.outgoing`` of a message whose line endings the gateway checked): DATA
    sends it without another pass over its line endings."""


def crlf_line_endings(message: bytes) -> bytes:
    """aiosmtplib's DATA line-ending normalisation, without its regex pass when every line
    already ends in CRLF (the gateway refuses bare CR and LF, so every message it relays),
    and without any pass over a ``CrlfLines``."""
    if type(message) is CrlfLines:
        return message
    if has_bare_line_ending(message):
        return _normalize_line_endings(message)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


# aiosmtplib looks the function up on every DATA; same result, a fraction of the cost.
aiosmtplib.protocol.normalize_message_line_endings = crlf_line_endings


class DotStuffing:
    """aiosmtplib's dot-stuffing, ``PERIOD_REGEX.sub(b"..", message)`` with ``(?m)^\\.``: a
    second dot before every line that starts with one. Two bytes operations give the same
    result; the regex takes about 5 ms per MB, as long again as the rest of DATA's work."""

    pattern = aiosmtplib.protocol.PERIOD_REGEX.pattern

    def sub(self, repl: bytes, message: bytes) -> bytes:
        if repl != b"..":
            raise ValueError("DotStuffing only doubles a line's leading dot")
        stuffed = message.replace(b"\n.", b"\n..")
        return b"." + stuffed if stuffed.startswith(b".") else stuffed


# Looked up on every DATA too (aiosmtplib.protocol.SMTPProtocol.execute_data_command).
aiosmtplib.protocol.PERIOD_REGEX = DotStuffing()  # type: ignore[assignment]


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
    """SMTP to the next hop; idle connections are kept for reuse."""

    def __init__(self, address: DownstreamAddress, hostname: str, timeout: float,
                 tls_context: ssl.SSLContext | None, pool_size: int = 16) -> None:
        self.address = address
        self.hostname = hostname
        self.timeout = timeout
        self.tls_context = tls_context
        self.pool_size = pool_size
        self.description = f"{address.scheme}://{address.host}:{address.port}"
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.address.host,
            port=self.address.port,
            local_hostname=self.hostname,
            timeout=self.timeout,
            use_tls=self.address.scheme == "smtps",
            start_tls=self.address.scheme == "smtp+starttls",
            tls_context=self.tls_context,
        )
        await client.connect()
        return client

    async def _acquire(self) -> tuple[aiosmtplib.SMTP, bool]:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
        return await self._connect(), False

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        try:
            client, reused = await self._acquire()
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(True, f"downstream {self.description} unreachable: "
                                      f"{_describe(exc)}") from exc
        try:
            await self._transaction(client, sender, recipients, data)
        except DeliveryError:
            await _quietly_close(client)
            raise
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError) as exc:
            await _quietly_close(client)
            if reused:  # a pooled connection the server had closed: try once on a fresh one
                return await self._fresh(sender, recipients, data)
            raise DeliveryError(True, f"downstream {self.description} closed the connection: "
                                      f"{_describe(exc)}") from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await _quietly_close(client)
            raise DeliveryError(True, f"downstream {self.description} failed: "
                                      f"{_describe(exc)}") from exc
        if len(self._idle) < self.pool_size:
            self._idle.append(client)
        else:
            await _quietly_close(client)

    async def _fresh(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        try:
            client = await self._connect()
            await self._transaction(client, sender, recipients, data)
        except DeliveryError:
            raise
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(True, f"downstream {self.description} failed: "
                                      f"{_describe(exc)}") from exc
        if len(self._idle) < self.pool_size:
            self._idle.append(client)

    async def _transaction(self, client: aiosmtplib.SMTP, sender: str,
                           recipients: Sequence[str], data: bytes) -> None:
        """MAIL, every RCPT, then DATA only if every recipient was accepted."""
        try:
            await client.mail(sender)
        except aiosmtplib.SMTPResponseException as exc:
            await _reset(client)
            raise _refused(exc.code, f"sender <{sender}>: {exc.message}") from exc
        refusals: list[tuple[int, str]] = []
        for rcpt in recipients:
            try:
                await client.rcpt(rcpt)
            except aiosmtplib.SMTPResponseException as exc:
                refusals.append((exc.code, f"<{rcpt}>: {exc.code} {exc.message}"))
        if refusals:
            await _reset(client)
            temporary = any(code < 500 for code, _ in refusals)
            code = max(code for code, _ in refusals) if not temporary else 451
            raise DeliveryError(temporary, "downstream refused " +
                                "; ".join(text for _, text in refusals), code)
        try:
            await client.data(data)
        except aiosmtplib.SMTPResponseException as exc:
            raise _refused(exc.code, f"message: {exc.message}") from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # Not tried again on a fresh connection: the first copy may have arrived.
            raise DeliveryError(True, f"downstream {self.description} gave no answer to the "
                                      f"message: {_describe(exc)}", uncertain=True) from exc

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _quietly_close(client)


def _refused(code: int, detail: str) -> DeliveryError:
    return DeliveryError(code < 500, f"downstream answered {code}: {detail}", code)


async def _reset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        await _quietly_close(client)


async def _quietly_close(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), 2)
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
