"""The milter socket (``inet:HOST:PORT`` or ``unix:PATH``) and the submit it calls."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import stat
from pathlib import Path

from gateway.logs import get_logger
from gateway.milter.handover import MtaDelivers
from gateway.milter.session import MilterSession
from gateway.service.submit import Incoming, Outcome, Submitter
from gateway.settings import split_milter_socket

log = get_logger()


class MilterEdge:
    """Starts the milter socket; each connection is a ``MilterSession``."""

    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter
        self.settings = submitter.settings
        self.deciding = 0  # messages between end of message and the answer
        self.sessions = 0  # open MTA connections

    async def submit(self, incoming: Incoming) -> tuple[Outcome, bytes | None]:
        """The submit use case, with the MTA as the downstream of the allowed part."""
        handover = MtaDelivers()
        submitter = copy.copy(self.submitter)
        submitter.downstream = handover
        self.deciding += 1
        try:
            outcome = await submitter.submit(incoming)
        finally:
            self.deciding -= 1
        return outcome, handover.data

    async def drain(self, deadline: float) -> int:
        """Wait (up to ``deadline`` seconds) for the messages being decided; how many were
        left. A message cut off gets no answer, and the MTA applies its default action."""
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        while self.deciding and loop.time() < until:
            await asyncio.sleep(0.05)
        return self.deciding

    def _plus_separator(self) -> str:
        return self.submitter.policy().organisation.plus_separator

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        session = MilterSession(self.submit, self._plus_separator,
                                self.settings.max_message_size, self.settings.session_timeout)
        self.sessions += 1
        try:
            await session.serve(reader, writer)
        finally:
            self.sessions -= 1

    async def start(self) -> asyncio.Server:
        family, where, port = split_milter_socket(self.settings.milter.listen)
        if family == "unix":
            path = Path(where)
            # A socket left by a process that died is replaced; any other file is not.
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
            server = await asyncio.start_unix_server(self._connection, path=str(path))
            # The MTA runs as its own user: it connects through the socket's group.
            os.chmod(path, 0o660)
        else:
            server = await asyncio.start_server(self._connection, host=where, port=port,
                                                reuse_address=True)
        return server


def bound_address(server: asyncio.Server) -> str:
    """``inet:HOST:PORT`` or ``unix:PATH`` of a started server (the port picked when 0)."""
    name = server.sockets[0].getsockname()
    if isinstance(name, tuple):
        return f"inet:{name[0]}:{name[1]}"
    return f"unix:{name}"
