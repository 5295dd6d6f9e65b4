"""Several worker processes serving one listening socket (``stampgate serve --workers N``,
``stampgate milter --workers N``)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from gateway.adapters import interpreter
from gateway.adapters.listen import bound
from gateway.core.policy import Policy
from gateway.logs import get_logger
from gateway.runtime.app import Gateway
from gateway.runtime.loop import run as run_loop
from gateway.service.metrics import MULTIPROCESS_ENV
from gateway.settings import Settings
from gateway.smtp.connections import ConnectionTable

log = get_logger()
_PR_SET_PDEATHSIG = 1
METRICS_DIR = "metrics"  # under the data directory: the workers' shared metric files
OWNED_ENV = "STAMPGATE_OWNS_METRICS_DIR"  # set when the supervisor made that directory


def shared_metrics_dir(settings: Settings) -> Path | None:
    """Several workers and no ``PROMETHEUS_MULTIPROC_DIR``: a fresh DATA/metrics for them.

    prometheus-client picks its multiprocess mode when it is imported, so the caller
    restarts the process (``exec``) with the environment this sets.
    """
    if settings.workers < 2 or os.environ.get(MULTIPROCESS_ENV):
        return None
    directory = Path(settings.data) / METRICS_DIR
    shutil.rmtree(directory, ignore_errors=True)  # an earlier run's counters
    directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    os.environ[OWNED_ENV] = str(directory)
    return directory


def remove_shared_metrics_dir() -> None:
    """The supervisor's own metrics directory goes when it stops (a directory set by the
    admin in ``PROMETHEUS_MULTIPROC_DIR`` is left alone)."""
    owned = os.environ.get(OWNED_ENV)
    if owned and owned == os.environ.get(MULTIPROCESS_ENV):
        shutil.rmtree(owned, ignore_errors=True)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on."""
    sock = bound(host, port, "SMTP address", "--listen")
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def die_with_parent() -> None:
    """Linux: a worker whose supervisor dies is killed too, so it never holds the port."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Supervisor:
    """Worker 0 runs in this process; workers 1..N-1 are child processes it restarts."""

    def __init__(self, settings: Settings, policy: Policy, sock: socket.socket,
                 argv: Sequence[str], command: str = "serve",
                 gateway: type[Gateway] = Gateway) -> None:
        self.command = command  # the sub-command a worker runs: serve, or milter
        self.gateway = gateway
        self.settings = settings
        self.policy = policy
        self.sock = sock
        self.argv = list(argv)
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.connections = ConnectionTable.create(
            settings.workers, settings.max_connections, settings.connection_prefix_v4,
            settings.connection_prefix_v6)
        self.stopping = False

    def _spawn(self, index: int) -> None:
        # A new worker starts with no connections: the old one's are closed with it.
        self.connections.clear_worker(index)
        command = interpreter.command(
            "-m", "gateway", self.command, *self.argv, "--listen-fd", str(self.sock.fileno()),
            "--worker-index", str(index), "--connections-fd", str(self.connections.fd))
        self.children[index] = subprocess.Popen(
            command, env=interpreter.environment(),
            pass_fds=(self.sock.fileno(), self.connections.fd))

    async def _watch(self) -> None:
        while not self.stopping:
            await asyncio.sleep(0.5)
            for index, child in list(self.children.items()):
                code = child.poll()
                if code is not None and not self.stopping:
                    log.error("worker-exited", worker=index, code=code)
                    self._spawn(index)

    def _forward(self, sig: int) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(sig)

    async def run(self) -> None:
        """Worker 0 first; the others once it is up, so that a start-up failure (the web
        port in use, say) stops the gateway before any worker took a message."""
        gateway = self.gateway(self.settings, self.policy, sock=self.sock, worker=0,
                               connections=self.connections)
        serving = asyncio.create_task(gateway.serve(on_signal=self._signal))
        ready = asyncio.create_task(gateway.ready.wait())
        await asyncio.wait((serving, ready), return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if gateway.ready.is_set() and not self.stopping:
            for index in range(1, self.settings.workers):
                self._spawn(index)
        watcher = asyncio.create_task(self._watch())
        try:
            await serving
        finally:
            # Worker 0 stopped (a signal, forwarded already, or an error): the others drain
            # their sessions and stop too, instead of serving on until they are killed.
            stopped_by_signal = self.stopping
            self.stopping = True
            if not stopped_by_signal:
                self._forward(signal.SIGTERM)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(self._wait_children)

    def _signal(self, sig: int) -> None:
        if sig != signal.SIGHUP:
            self.stopping = True
            sig = signal.SIGTERM
        self._forward(sig)

    def _wait_children(self) -> None:
        deadline = self.settings.shutdown_deadline + 5
        for child in self.children.values():
            try:
                child.wait(deadline)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def run_supervisor(settings: Settings, policy: Policy, argv: Sequence[str],
                   sock: socket.socket | None = None, command: str = "serve",
                   gateway: type[Gateway] = Gateway) -> None:
    """Bind (unless given the socket: the milter's), then run worker 0 and the others."""
    if sock is None:
        host, port = settings.listen_address
        sock = bind(host, port)
    run_loop(Supervisor(settings, policy, sock, argv, command, gateway).run(),
             settings.event_loop)


def run_worker(settings: Settings, policy: Policy, fd: int, index: int,
               connections_fd: int | None = None, gateway: type[Gateway] = Gateway) -> None:
    die_with_parent()
    if os.getppid() == 1:
        return  # the supervisor is already gone
    sock = socket.socket(fileno=fd)
    connections = ConnectionTable(connections_fd) if connections_fd is not None else None
    run_loop(gateway(settings, policy, sock=sock, worker=index,
                     connections=connections).serve(), settings.event_loop)
