"""The running gateway: owns the listener, the store, the downstream and the live policy."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.adapters.accounts import Accounts, users_path
from gateway.adapters.crypto import BodySealer
from gateway.adapters.delivery import Downstream, make_downstream
from gateway.core.policy import Policy
from gateway.logs import get_logger
from gateway.policyfiles.load import policy_fingerprint, reload_policy
from gateway.runtime.loop import loop_name
from gateway.service.bodies import import_key_files
from gateway.service.reading import MessageReader
from gateway.service.register import ClientRegister, LiveRegister
from gateway.service.submit import Submitter
from gateway.settings import Settings, document_limits, held_sealer, split_host_port
from gateway.smtp.connections import ConnectionTable
from gateway.smtp.listener import Submission
from gateway.smtp.sessions import DrainingSMTP, Sessions
from gateway.smtp.submission import SubmissionHandler
from gateway.store.backup import StoreLock
from gateway.store.store import Store, StoreError
from gateway.store.threads import ThreadMemory

if TYPE_CHECKING:
    from gateway.service.housekeeping import ReviewTasks
    from gateway.web.server import HttpServer

log = get_logger()


class LivePolicy:
    """The policy in force; a new version replaces it only if it loads cleanly."""

    def __init__(self, directory: Path, policy: Policy) -> None:
        self.directory = directory
        self.current = policy
        self.last_error: str | None = None
        self._stamp = policy_fingerprint(directory)

    def __call__(self) -> Policy:
        return self.current

    def changed(self) -> bool:
        return policy_fingerprint(self.directory) != self._stamp

    def reload(self, reason: str) -> bool:
        """Load the files again; keep the last good policy if the new one is broken."""
        self._stamp = policy_fingerprint(self.directory)
        policy, error = reload_policy(self.directory, self.current)
        if error is not None:
            self.last_error = str(error)
            log.error("policy-refused", reason=reason, kept_version=self.current.version,
                      problems=[str(p) for p in error.problems])
            return False
        self.last_error = None
        if policy.version != self.current.version:
            log.info("policy-loaded", reason=reason, version=policy.version,
                     previous=self.current.version)
        self.current = policy
        return True


class Gateway:
    """Start, serve and stop; ``ready`` is set once the listener accepts connections."""

    def __init__(self, settings: Settings, policy: Policy, sock: socket.socket | None = None,
                 worker: int = 0, connections: ConnectionTable | None = None) -> None:
        self.settings = settings
        # Shared with the other workers so the connection limits hold for the whole gateway.
        self.connections = connections
        self._own_table = False
        # With --workers N, every worker serves SMTP on the shared socket; only worker 0
        # (the primary) also runs the single-instance parts: web UI, outbox, expiry.
        self.sock = sock
        self.worker = worker
        self.primary = worker == 0
        self.policy = LivePolicy(Path(settings.policies), policy)
        self.store: Store | None = None
        self.threads: ThreadMemory | None = None
        self.downstream: Downstream | None = None
        self.sealer: BodySealer | None = None
        self.reader: MessageReader | None = None
        self.server: asyncio.base_events.Server | None = None
        self.extra_servers: list[asyncio.Server] = []
        self.sessions = Sessions()
        self.store_lock: StoreLock | None = None
        self.web: HttpServer | None = None
        self.review: ReviewTasks | None = None
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        settings = self.settings
        submitter = await self._open_submitter()
        accounts = Accounts(users_path(Path(settings.data)))
        handler = SubmissionHandler(submitter, accounts=accounts)
        if self.connections is None:  # one process: a table of its own
            self.connections = ConnectionTable.create(
                1, settings.max_connections, settings.connection_prefix_v4,
                settings.connection_prefix_v6)
            self._own_table = True
        guard = self.connections.for_worker(self.worker, settings.max_connections_per_ip,
                                            settings.max_connections, settings.networks,
                                            settings.reserved_connections)
        submission = Submission(settings, accounts, self.sessions, guard)
        loop = asyncio.get_running_loop()
        host, port = settings.listen_address

        def factory() -> DrainingSMTP:
            return submission.protocol(handler, submission.main, loop)

        if self.sock is not None:
            self.server = await loop.create_server(factory, sock=self.sock,
                                                   start_serving=False)
        else:
            self.server = await loop.create_server(factory, host=host, port=port,
                                                   reuse_address=True, start_serving=False)
        bound = self.server.sockets[0].getsockname()
        assert self.downstream is not None
        log.info("listening", address=f"{bound[0]}:{bound[1]}", worker=self.worker,
                 downstream=self.downstream.description,
                 policy_version=self.policy.current.version, data=str(settings.data),
                 event_loop=loop_name(loop))
        if self.primary:  # the submission listener is served by the primary process only
            self.extra_servers = await submission.serve_extra(handler, loop)
        if self.primary:
            await self._start_primary_parts()
        # Mail is taken only once everything this process serves is up: the web port's health
        # and readiness answer from the first accepted message on.
        await self.server.start_serving()
        self.ready.set()

    async def _open_submitter(self) -> Submitter:
        """The store, thread memory, downstream, sealer, reader and register, opened."""
        settings = self.settings
        # Shared by every running gateway process; ``stampgate restore`` needs it exclusively.
        self.store_lock = StoreLock(Path(settings.data)).shared()
        self.store = await Store.open(Path(settings.data), settings.store_url)
        self.threads = self.store.thread_memory()
        await self.threads.open()
        self.downstream = make_downstream(settings.downstream, settings.hostname,
                                          settings.downstream_timeout)
        # Built once here and handed to everything that reads or writes held bodies.
        self.sealer = held_sealer(settings)
        self.reader = MessageReader(budget=settings.read_budget,
                                    limits=document_limits(settings),
                                    idle_seconds=settings.reader_idle_seconds)
        # Loaded now so that the first message does not wait for the register's hashes.
        register = LiveRegister(ClientRegister(Path(settings.data), settings.store_url))
        await register.index()
        return Submitter(settings, self.policy, self.store, self.threads, self.downstream,
                         self.sealer, self.reader, register)

    async def _start_primary_parts(self) -> None:
        """The release outbox, hold expiry and notices (docs/review.md), and the web port.

        Imported here: the other workers never load the web stack, which keeps them small.
        """
        from gateway.adapters.reviewers import reviewer_accounts
        from gateway.service.housekeeping import ReviewTasks
        from gateway.service.metrics import prune_dead_processes
        from gateway.web import health
        from gateway.web.app import create_app
        from gateway.web.server import HttpServer

        settings = self.settings
        assert self.store is not None and self.downstream is not None
        assert self.threads is not None and self.sealer is not None
        try:  # key files an older gateway kept in DATA/held-keys: into the shared store
            await import_key_files(self.store, self.sealer)
        except (StoreError, OSError):  # still read from their files meanwhile
            log.exception("held-keys-not-imported")
        self.review = ReviewTasks(self.store, self.downstream, settings, self.policy,
                                  self.sealer, self.threads)
        self.review.start()
        if settings.web_listen:
            # The review UI, health, readiness and metrics (web/health.py).
            prune_dead_processes()
            web_app = create_app(self.review.desk, reviewer_accounts(Path(settings.data)),
                                 health.routes(self))
            self.web = HttpServer(web_app, *split_host_port(settings.web_listen))
            await self.web.start()

    async def serve(self, on_signal: Callable[[int], None] | None = None) -> None:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads the policy. ``on_signal`` sees both."""
        loop = asyncio.get_running_loop()

        def stop(sig: int) -> None:
            self.stopping.set()
            if on_signal is not None:
                on_signal(sig)

        def hang_up() -> None:
            self.policy.reload("SIGHUP")
            if on_signal is not None:
                on_signal(signal.SIGHUP)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, sig)
        loop.add_signal_handler(signal.SIGHUP, hang_up)
        # Handlers first: a SIGTERM that arrives while starting still stops cleanly.
        await self.start()
        watcher = asyncio.create_task(self._watch_policy())
        try:
            await self.stopping.wait()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self.stop()

    async def _watch_policy(self) -> None:
        interval = self.settings.policy_poll_seconds
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            if self.policy.changed():
                self.policy.reload("files changed")

    async def stop(self) -> None:
        log.info("stopping", deadline=self.settings.shutdown_deadline)
        if self.server is not None:
            self.server.close()
        for server in self.extra_servers:
            server.close()
        # Stop accepting, then let the sessions in DATA finish (up to the deadline).
        await self.sessions.drain(self.settings.shutdown_deadline)
        if self.web is not None:
            await self.web.stop()
        if self.review is not None:
            await self.review.stop()
        if self.downstream is not None:
            await self.downstream.close()
        if self.reader is not None:
            self.reader.close()
        if self.threads is not None:
            await self.threads.close()
        if self.store is not None:
            await self.store.close()
        if self.store_lock is not None:
            self.store_lock.release()
        if self._own_table and self.connections is not None:
            self.connections.close()
        log.info("stopped")
