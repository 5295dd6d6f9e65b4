"""A recording downstream SMTP server on loopback that can be told to fail: always (``set``),
or transaction by transaction (``script``: the first transaction's mode, the second's, ...).
"""

from __future__ import annotations

import collections
import enum
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Mode(enum.Enum):
    ACCEPT = "accept"
    TEMPFAIL = "tempfail"        # 451 at end of DATA
    PERMFAIL = "permfail"        # 554 at end of DATA
    REFUSE_RCPT = "refuse-rcpt"  # 550 for addresses in refuse_rcpt
    DISCONNECT = "disconnect"    # drop the connection at end of DATA
    SLOW = "slow"                # sleep `delay` seconds before answering DATA
    LATE = "late"                # record the message, then sleep `delay` seconds before 250


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def header_text(self) -> str:
        return self.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


@dataclass
class _State:
    mode: Mode = Mode.ACCEPT
    refuse_rcpt: set[str] = field(default_factory=set)
    delay: float = 0.0
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Modes for the next transactions, one each in the order they begin (MAIL FROM); when
    # they run out, ``mode`` again.
    script: collections.deque[Mode] = field(default_factory=collections.deque)


_SCRIPTED = "stampgate_test_mode"  # the attribute of an envelope its scripted mode is kept in


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state

    def _mode(self, envelope: Envelope) -> Mode:
        mode: Mode = getattr(envelope, _SCRIPTED, self.state.mode)
        return mode

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        with self.state.lock:
            if self.state.script:
                setattr(envelope, _SCRIPTED, self.state.script.popleft())
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if self._mode(envelope) is Mode.REFUSE_RCPT and address.lower() in self.state.refuse_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        import asyncio

        mode = self._mode(envelope)
        if mode is Mode.TEMPFAIL:
            return "451 4.3.0 Try again later"
        if mode is Mode.PERMFAIL:
            return "554 5.6.0 Message rejected by downstream"
        if mode is Mode.DISCONNECT:
            assert server.transport is not None
            server.transport.close()
            return "421 closing"
        if mode is Mode.SLOW:
            await asyncio.sleep(self.state.delay)
        with self.state.lock:
            self.state.messages.append(Received(
                envelope.mail_from or "", list(envelope.rcpt_tos),
                envelope.original_content or b""))
        if mode is Mode.LATE:  # taken (and kept, as a real server would): the answer is late
            await asyncio.sleep(self.state.delay)
        return "250 2.0.0 Ok: recorded"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Downstream:
    """Runs in a background thread; tests read ``messages`` and set ``mode``."""

    def __init__(self, port: int | None = None) -> None:
        self.state = _State()
        self.port = port or free_port()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Downstream:
        self.controller = Controller(_Handler(self.state), hostname="127.0.0.1", port=self.port,
                                     server_hostname="downstream.test", ready_timeout=10)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def set(self, mode: Mode, **kwargs: Any) -> None:
        self.state.mode = mode
        if "refuse_rcpt" in kwargs:
            self.state.refuse_rcpt = {a.lower() for a in kwargs["refuse_rcpt"]}
        if "delay" in kwargs:
            self.state.delay = kwargs["delay"]

    def script(self, *modes: Mode, **kwargs: Any) -> None:
        """The next transactions' modes, in order; then the mode set before. ``kwargs`` as
        for ``set`` (``refuse_rcpt``, ``delay``)."""
        self.set(self.state.mode, **kwargs)
        with self.state.lock:
            self.state.script = collections.deque(modes)

    @property
    def messages(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.messages)

    def clear(self) -> None:
        with self.state.lock:
            self.state.messages.clear()
            self.state.script.clear()
        self.state.mode = Mode.ACCEPT

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.02)
        return self.messages

    def delivered_to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]
