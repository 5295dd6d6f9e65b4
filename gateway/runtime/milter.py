"""The running milter: the gateway's store, policy and review queue behind a milter socket."""

from __future__ import annotations

from gateway.logs import get_logger
from gateway.milter.listener import MilterEdge, bound_address
from gateway.runtime.app import Gateway

log = get_logger()


class MilterGateway(Gateway):
    """``stampgate milter``: the MTA connects, asks and delivers.

    The same parts as ``serve`` (store, thread memory, register, sealer; in worker 0 the
    release outbox, expiry, notices and the web port) with a milter socket instead of the
    SMTP listener; with ``--workers N`` every worker accepts on the one milter socket.
    """

    edge: MilterEdge | None = None

    async def start(self) -> None:
        submitter = await self._open_submitter()
        self.edge = MilterEdge(submitter)
        self.server = await self.edge.start(self.sock)
        assert self.downstream is not None
        log.info("listening", milter=bound_address(self.server), worker=self.worker,
                 downstream=self.downstream.description, held=self.settings.milter.held,
                 policy_version=self.policy.current.version, data=str(self.settings.data))
        if self.primary:  # one outbox, expiry and web port, in worker 0
            await self._start_primary_parts()
        self.ready.set()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.edge is not None:
            left = await self.edge.drain(self.settings.shutdown_deadline)
            if left:
                log.warning("milter-cut-off", messages=left)
        await super().stop()
