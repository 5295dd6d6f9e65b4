"""Reading a message off the event loop, within a time budget; an overrun fails closed.

The readers in ``gateway.core`` are linear in the size of the message, so a small message is
read where it arrives: that costs less than handing it to another process. A message that may
carry an attached document goes to a reader process whatever its size. A large one goes to
a pool of reader processes; a read that overruns its budget has its process killed and the
message counts as unreadable (without a readable *Cleared* stamp it reaches neither
communications nor outside), so a hostile message can neither stall the other connections nor
slip through. Processes, not threads: a pure-Python or regex loop in a thread holds the
interpreter lock, and no thread can be stopped from outside.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from gateway.core.documents import DEFAULT_LIMITS, DocumentLimits
from gateway.core.message import MessageFacts, read_message
from gateway.core.stamps import StampReading, Vocabulary, read_stamps
from gateway.logs import quiet_libraries

INLINE_LIMIT = 128 * 1024
BUDGET_SECONDS = 10.0
# A message that may carry a document (a PDF, an Office file, a zip) is read in a reader
# process whatever its size: a crafted file can make a parser work far longer than its size
# suggests, and only a process can be stopped. A false match only costs a hand-over.
_MAY_CARRY_DOCUMENTS = re.compile(rb"application/|attachment|\{\\rtf", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Read:
    """What the decision needs of one message: its facts and every stamp in it."""

    facts: MessageFacts
    reading: StampReading


def read_now(data: bytes, vocabulary: Vocabulary,
             limits: DocumentLimits = DEFAULT_LIMITS) -> Read:
    """Read a message in this process."""
    facts = read_message(data, limits)
    return Read(facts, read_stamps(facts, vocabulary))


def unreadable(why: str) -> Read:
    """The reading of a message that could not be read at all: it fails closed."""
    return Read(MessageFacts(unreadable=(why,)), StampReading((), (), (why,)))


def _serve(conn: Connection, limits: DocumentLimits) -> None:
    """A reader process: vocabulary updates and messages in, pickled readings out."""
    quiet_libraries()
    vocabulary: Vocabulary | None = None
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "vocabulary":
            vocabulary = payload
            continue
        assert vocabulary is not None, "the vocabulary is always sent before a message"
        try:
            result: tuple[str, Any] = ("ok", read_now(payload, vocabulary, limits))
        except Exception as exc:  # fail closed in the parent, keep serving
            result = ("error", type(exc).__name__)
        conn.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


class _Worker:
    """One reader process and the pipe to it."""

    def __init__(self, limits: DocumentLimits) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(target=_serve, args=(child, limits),
                                                    daemon=True, name="stampgate-reader")
        self.process.start()
        child.close()
        self.vocabulary: Vocabulary | None = None

    async def read(self, data: bytes, vocabulary: Vocabulary) -> Read:
        messages: list[tuple[str, object]] = []
        if self.vocabulary is not vocabulary:
            messages.append(("vocabulary", vocabulary))
        messages.append(("message", data))
        # A pipe holds 64 KiB: writing a large message waits for the reader process, so the
        # write happens off the event loop.
        await asyncio.to_thread(self._send, messages)
        self.vocabulary = vocabulary
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        kind, value = pickle.loads(self.conn.recv_bytes())
        if kind == "ok":
            assert isinstance(value, Read)
            return value
        return unreadable(f"message could not be read ({value})")

    def _send(self, messages: list[tuple[str, object]]) -> None:
        for message in messages:
            self.conn.send(message)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(1)
        self.conn.close()


class MessageReader:
    """Reads messages: small ones inline, large ones in reader processes within a budget."""

    def __init__(self, *, inline_limit: int = INLINE_LIMIT, budget: float = BUDGET_SECONDS,
                 processes: int = 1,
                 read_inline: Callable[[bytes, Vocabulary], Read] | None = None,
                 limits: DocumentLimits = DEFAULT_LIMITS) -> None:
        if processes < 1:
            raise ValueError("a message reader needs at least one process")
        self.limits = limits
        self.inline_limit = inline_limit
        self.budget = budget
        self.processes = processes
        self._read_inline = read_inline or (lambda data, vocabulary:
                                            read_now(data, vocabulary, limits))
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []
        self.overruns = 0

    async def read(self, data: bytes, vocabulary: Vocabulary) -> Read:
        """The reading of ``data``; a read over budget is ``unreadable``, never a guess."""
        if len(data) <= self.inline_limit and not _MAY_CARRY_DOCUMENTS.search(data):
            return self._read_inline(data, vocabulary)
        idle = self._pool()
        worker = await idle.get()
        try:
            return await asyncio.wait_for(worker.read(data, vocabulary), self.budget)
        except TimeoutError:
            worker = self._replace(worker)
            self.overruns += 1
            return unreadable(f"reading took longer than {self.budget:g} s")
        except (OSError, EOFError):
            worker = self._replace(worker)
            return unreadable("the message reader stopped")
        except BaseException:
            # Cancelled mid-read: its answer would reach the next message, so start afresh.
            worker = self._replace(worker)
            raise
        finally:
            idle.put_nowait(worker)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        self._workers.remove(worker)
        return self._spawn()

    def _pool(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.processes):
                self._idle.put_nowait(self._spawn())
        return self._idle

    def _spawn(self) -> _Worker:
        worker = _Worker(self.limits)
        self._workers.append(worker)
        return worker

    def close(self) -> None:
        """Stop the reader processes (a read in progress ends as unreadable)."""
        for worker in self._workers:
            worker.kill()
        self._workers.clear()
        self._idle = None
