"""The milter socket (``inet:HOST:PORT`` or ``unix:PATH``) and the submit it calls."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import socket
import stat
from pathlib import Path

from gateway.milter.handover import MtaDelivers
from gateway.milter.session import MilterSession
from gateway.service.outcome import Incoming, Outcome
from gateway.service.submit import Submitter
from gateway.settings import split_milter_socket


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
        if outcome.repeated:  # the MTA delivers what it is handed, so it gets the copy again
            return outcome, submitter.relayed_again(incoming, outcome)
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
                                self.settings.max_message_size, self.settings.session_timeout,
                                postfix_hold=self.settings.milter.held == "postfix-hold")
        self.sessions += 1
        try:
            await session.serve(reader, writer)
        finally:
            self.sessions -= 1

    async def start(self, sock: socket.socket | None = None) -> asyncio.Server:
        """Serve on ``sock`` (a worker's, inherited) or on a socket bound here."""
        if sock is None:
            sock = bind(self.settings.milter.listen)
        if sock.family == socket.AF_UNIX:
            return await asyncio.start_unix_server(self._connection, sock=sock)
        return await asyncio.start_server(self._connection, sock=sock)


def bind(listen: str) -> socket.socket:
    """The listening milter socket, inheritable by worker processes."""
    family, where, port = split_milter_socket(listen)
    if family == "unix":
        path = Path(where)
        # A socket left by a process that died is replaced; any other file is not.
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        # The MTA runs as its own user: it connects through the socket's group.
        os.chmod(path, 0o660)
    else:
        kind = socket.AF_INET6 if ":" in where else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets it knows are TCP.
        sock = socket.socket(kind, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((where, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def bound_address(server: asyncio.Server) -> str:
    """``inet:HOST:PORT`` or ``unix:PATH`` of a started server (the port picked when 0)."""
    name = server.sockets[0].getsockname()
    if isinstance(name, tuple):
        return f"inet:{name[0]}:{name[1]}"
    return f"unix:{name}"
