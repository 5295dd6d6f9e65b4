"""Group commit: writes that arrive while a commit is running share the next transaction.

Each write runs in its own savepoint of the shared transaction, so one that fails is rolled
back alone; every write's caller hears back once the transaction is committed (durable). One
fsync then serves many holds, on SQLite and on PostgreSQL alike.

A write may be marked not ``durable``: it must be visible to every gateway once it returns,
but may wait for the next durable commit to reach the disk (an acceptance claim, which an
answer or a hold always follows before any ``250``). A batch is committed durably as soon as
one of its writes asks for it; one made only of such writes skips the wait for the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from gateway.store.conn import Conn, Work

T = TypeVar("T")
Outcome = tuple[bool, Any]


def in_savepoints(conn: Conn, works: Sequence[Work],
                  failed: Callable[[Exception], Exception] = lambda exc: exc) -> list[Outcome]:
    """Run each of ``works`` in a savepoint of ``conn``'s transaction: (ok, result or error).

    ``failed`` turns a work's error into the one its caller gets. A batch of one needs no
    savepoint: if it fails the whole transaction is rolled back, which is the same.
    """
    if len(works) == 1:
        return [(True, works[0](conn))]
    outcomes: list[Outcome] = []
    for work in works:
        conn.execute("SAVEPOINT work")
        try:
            outcomes.append((True, work(conn)))
        except Exception as exc:
            conn.execute("ROLLBACK TO SAVEPOINT work")
            outcomes.append((False, failed(exc)))
        conn.execute("RELEASE SAVEPOINT work")
    return outcomes


class GroupCommit:
    """Queue writes; one batch at a time is handed to ``commit`` (which runs them in
    savepoints of one transaction and commits it)."""

    def __init__(self, commit: Callable[[list[Work], bool], Awaitable[list[Outcome]]]) -> None:
        self._commit = commit
        self._batch: list[tuple[Work, asyncio.Future[Any], bool]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, work: Callable[[Conn], T], durable: bool = True) -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._batch.append((work, done, durable))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await done

    @property
    def idle(self) -> bool:
        """No write is queued or being committed."""
        return self._flusher is None

    async def drain(self) -> None:
        """Wait for the writes already queued."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                try:
                    outcomes = await self._commit([w for w, _, _ in batch],
                                                  any(d for _, _, d in batch))
                except BaseException as exc:  # BEGIN or COMMIT failed: nothing was written
                    outcomes = [(False, exc)] * len(batch)
                for (_, done, _), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            self._flusher = None
