"""Serve an ASGI app (health, metrics, the review UI) on the gateway's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from gateway.adapters.listen import bound


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The gateway owns SIGTERM, SIGINT and SIGHUP; uvicorn must not take them over.
        yield


def bind(host: str, port: int) -> socket.socket:
    """Bind here, so a port in use is an ``OSError`` at start-up, not uvicorn's exit."""
    return bound(host, port, "web address", "web_listen")


class HttpServer:
    """uvicorn on an already bound socket, started and stopped with the gateway."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.sock = bind(host, port)
        # proxy_headers off: uvicorn would believe X-Forwarded-For from any loopback client;
        # the app reads forwarding headers from the configured proxies only (proxies.py).
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, proxy_headers=False)
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    async def start(self, timeout: float = 10.0) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise OSError(f"web server on {self.address} stopped during start-up")
            if loop.time() > deadline:
                raise OSError(f"web server on {self.address} did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.sock.close()
