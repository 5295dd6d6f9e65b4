"""Graceful shutdown: track SMTP sessions so the ones in DATA finish before the gateway exits."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from aiosmtpd.smtp import syntax

from gateway.logs import get_logger
from gateway.smtp.handler import GatewaySMTP

log = get_logger()

# RFC 5321 4.3.2: 421 may be sent at any time when the service is shutting down.
SHUTTING_DOWN = b"421 4.3.2 Service shutting down; try again later\r\n"


class Sessions:
    """The open SMTP sessions of one process, and which of them are inside DATA."""

    def __init__(self) -> None:
        self.open: set[DrainingSMTP] = set()
        self.in_data: set[DrainingSMTP] = set()
        self.draining = False
        self._none_in_data = asyncio.Event()
        self._none_in_data.set()

    def opened(self, session: DrainingSMTP) -> None:
        self.open.add(session)

    def closed(self, session: DrainingSMTP) -> None:
        self.open.discard(session)
        self.left_data(session)

    def entered_data(self, session: DrainingSMTP) -> None:
        self.in_data.add(session)
        self._none_in_data.clear()

    def left_data(self, session: DrainingSMTP) -> None:
        self.in_data.discard(session)
        if not self.in_data:
            self._none_in_data.set()

    async def drain(self, deadline: float) -> int:
        """Say 421 to idle sessions, let DATA finish for up to ``deadline`` seconds.

        Returns how many sessions were still in DATA at the deadline; those are cut off
        without a reply, so their clients keep the message and retry (nothing was
        acknowledged with 250).
        """
        self.draining = True
        for session in list(self.open - self.in_data):
            session.say_goodbye()
        waiting = len(self.in_data)
        if waiting:
            log.info("draining", sessions_in_data=waiting, deadline=deadline)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none_in_data.wait(), deadline)
        cut = len(self.in_data)
        for session in list(self.open):
            session.say_goodbye()
        if cut:
            log.warning("shutdown-deadline", sessions_cut_off=cut)
        # Let the transports flush and report connection_lost before the store closes.
        await asyncio.sleep(0)
        return cut


class DrainingSMTP(GatewaySMTP):
    """The gateway's protocol, registered with ``Sessions`` for the duration of a DATA."""

    def __init__(self, sessions: Sessions, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.sessions.draining:
            self.say_goodbye()
            return
        self.sessions.opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.sessions.closed(self)
        super().connection_lost(error)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self.sessions.entered_data(self)
        try:
            await super().smtp_DATA(arg)
        finally:
            self.sessions.left_data(self)
        if self.sessions.draining:
            self.say_goodbye()

    def say_goodbye(self) -> None:
        """421 and close; the reply already written (such as the 250 to DATA) goes first."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        # cast, not isinstance: uvloop's transports are not registered as asyncio's classes
        cast(asyncio.WriteTransport, transport).write(SHUTTING_DOWN)
        transport.close()
