"""Reading a message off the event loop, within a time budget; an overrun fails closed.

A message is read in two phases (docs/reading.md, section 9). The first pass reads all but
the attached documents, which it only tells apart by their first bytes; the full read also
parses the documents (PDF, Office, RTF, zip). The caller says whether the first pass already
decides every recipient (``settles``): then the documents stay unread.

The readers in ``gateway.core`` are linear in the size of the message, so a small message's
first pass is made where it arrives: that costs less than handing it to another process. A
document's parser is another matter (a crafted file can make it work far longer than its
size suggests), so documents are only ever parsed in a reader process, as is every message
over the inline limit. A read that overruns its budget has its process killed and the
message counts as unreadable (without a readable *Cleared* stamp it reaches neither
communications nor outside), so a hostile message can neither stall the other connections nor
slip through. Processes, not threads: a pure-Python or regex loop in a thread holds the
interpreter lock, and no thread can be stopped from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.adapters import interpreter
from gateway.core.documents import DEFAULT_LIMITS, DocumentLimits
from gateway.core.message import MessageFacts, read_message
from gateway.core.stamps import StampReading, Vocabulary, read_stamps
from gateway.logs import quiet_libraries
from gateway.service.reader_channel import MAX_ANSWER, Channel

INLINE_LIMIT = 128 * 1024
BUDGET_SECONDS = 10.0
# A reader process idle this long ends (the next large message starts another): its memory,
# some 70 MB after a message with documents, goes back to the system between bursts.
IDLE_SECONDS = 300.0
READER_NICENESS = 10  # added to the reader processes' niceness
# What a reader process is asked: the first pass of a message, or its full read (of the
# message it was last sent, when no bytes come with the request).
FIRST, FULL = "first", "full"


@dataclass(frozen=True, slots=True)
class Read:
    """What the decision needs of one message: its facts and every stamp in it."""

    facts: MessageFacts
    reading: StampReading

    @property
    def complete(self) -> bool:
        """Every part was read: no attached document was left for the full read."""
        return not self.facts.unread


# Whether a first pass already decides every recipient, so its documents can stay unread.
Settles = Callable[[Read], bool]


def read_now(data: bytes, vocabulary: Vocabulary,
             limits: DocumentLimits = DEFAULT_LIMITS, *, first_pass: bool = False) -> Read:
    """Read a message in this process: in full, or its first pass."""
    facts = read_message(data, limits, defer_documents=first_pass)
    return Read(facts, read_stamps(facts, vocabulary))


def unreadable(why: str) -> Read:
    """The reading of a message that could not be read at all: it fails closed."""
    return Read(MessageFacts(unreadable=(why,)), StampReading((), (), (why,)))


# A reader process starts as ``python -P -c READER_MAIN FD`` (adapters/interpreter.py): it
# imports the readers and no more (multiprocessing's spawn would also import the parent's
# main module, the CLI, and start a resource tracker process beside it).
READER_MAIN = "import sys; from gateway.service.reading import serve; serve(int(sys.argv[1]))"


def serve(fd: int) -> None:
    """A reader process's main: its limits, then requests, on the socket ``fd``."""
    channel = Channel(socket.socket(fileno=fd))
    limits, _ = channel.recv()
    assert isinstance(limits, DocumentLimits)
    _serve(channel, limits)


def _serve(channel: Channel, limits: DocumentLimits) -> None:
    """A reader process: vocabulary updates and messages in, readings out."""
    quiet_libraries()
    # Below the SMTP workers in the scheduler: a large message's documents take their CPU
    # only when the small messages leave it (their budget is wall time, far above a read).
    with contextlib.suppress(OSError):
        os.nice(READER_NICENESS)
    vocabulary: Vocabulary | None = None
    last = b""
    while True:
        try:
            (kind, value), data = channel.recv()
        except (EOFError, OSError):
            return
        if kind == "vocabulary":
            vocabulary = value
            continue
        assert vocabulary is not None, "the vocabulary is always sent before a message"
        if data is not None:
            last = data
        try:
            read = read_now(last, vocabulary, limits, first_pass=kind == FIRST)
            result: tuple[str, Any] = ("ok", read)
            if read.complete:
                last = b""  # nothing more will be asked of it
        except Exception as exc:  # fail closed in the parent, keep serving
            result = ("error", type(exc).__name__)
        channel.send(result)


class _Worker:
    """One reader process and the socket to it."""

    def __init__(self, limits: DocumentLimits) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            # Its standard streams are the gateway's: a crash's traceback reaches the log.
            self.process = subprocess.Popen(
                interpreter.command("-c", READER_MAIN, str(theirs.fileno())),
                env=interpreter.environment(), pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL)
        self.channel = Channel(ours)
        self.channel.send(limits)  # a few bytes: the socket's buffer takes them at once
        self.vocabulary: Vocabulary | None = None

    async def read(self, kind: str, data: bytes | None, vocabulary: Vocabulary) -> Read:
        """The first pass or the full read of ``data`` (None: of the message sent last)."""
        messages: list[tuple[tuple[str, object], bytes | None]] = []
        if self.vocabulary is not vocabulary:
            messages.append((("vocabulary", vocabulary), None))
        messages.append(((kind, None), data))
        # A socket holds some hundred KiB: writing a large message waits for the reader
        # process, so the write happens off the event loop.
        await asyncio.to_thread(self._send, messages)
        self.vocabulary = vocabulary
        kind, value = await self.channel.answer(MAX_ANSWER)
        if kind == "ok":
            assert isinstance(value, Read)
            return value
        return unreadable(f"message could not be read ({value})")

    def _send(self, messages: list[tuple[tuple[str, object], bytes | None]]) -> None:
        for message, data in messages:
            self.channel.send(message, data)

    def kill(self) -> None:
        self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1)
        self.channel.close()


class MessageReader:
    """Reads messages: small ones inline, large ones and documents in reader processes,
    within a budget."""

    def __init__(self, *, inline_limit: int = INLINE_LIMIT, budget: float = BUDGET_SECONDS,
                 processes: int = 1,
                 read_inline: Callable[[bytes, Vocabulary], Read] | None = None,
                 limits: DocumentLimits = DEFAULT_LIMITS,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        if processes < 1:
            raise ValueError("a message reader needs at least one process")
        self.limits = limits
        self.inline_limit = inline_limit
        self.budget = budget
        self.processes = processes
        # 0: the reader processes stay until the gateway stops.
        self.idle_seconds = idle_seconds
        self._busy = 0  # reads waiting for a reader process or in one
        self._retiring: asyncio.TimerHandle | None = None
        # The first pass of a small message, made where it arrives.
        self._read_inline = read_inline or (lambda data, vocabulary:
                                            read_now(data, vocabulary, limits, first_pass=True))
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []
        self.overruns = 0
        # Messages whose documents were read (full reads), and those whose first pass
        # decided every recipient, so their documents stayed unread.
        self.full_reads = 0
        self.documents_left = 0

    async def read(self, data: bytes, vocabulary: Vocabulary,
                   settles: Settles | None = None) -> Read:
        """The reading of ``data``; a read over budget is ``unreadable``, never a guess.

        Attached documents are read unless ``settles`` says the first pass decides every
        recipient without them; then the reading is the first pass's (``complete`` false).
        """
        if len(data) <= self.inline_limit:
            first = self._read_inline(data, vocabulary)
            if first.complete or self._settled(first, settles):
                return first
            return await self._in_process([(FULL, data)], vocabulary, settles)
        return await self._in_process([(FIRST, data), (FULL, None)], vocabulary, settles)

    async def _in_process(self, steps: list[tuple[str, bytes | None]], vocabulary: Vocabulary,
                          settles: Settles | None) -> Read:
        """The steps in one reader process, within one budget: a first pass is followed by
        the full read only while the reading is incomplete and not settled."""
        self._keep()
        self._busy += 1
        try:
            return await self._steps(steps, vocabulary, settles)
        finally:
            self._busy -= 1
            if not self._busy and self._workers and self.idle_seconds > 0:
                self._retiring = asyncio.get_running_loop().call_later(
                    self.idle_seconds, self._retire)

    def _retire(self) -> None:
        """End the reader processes, all idle since ``idle_seconds``."""
        self._retiring = None
        if not self._busy:
            self.close()

    def _keep(self) -> None:
        """Call off the end of idle reader processes (a handle of a closed loop cancels
        quietly, with asyncio's loop and uvloop alike)."""
        if self._retiring is not None:
            self._retiring.cancel()
            self._retiring = None

    async def _steps(self, steps: list[tuple[str, bytes | None]], vocabulary: Vocabulary,
                     settles: Settles | None) -> Read:
        idle = self._pool()
        worker = await idle.get()
        try:
            async with asyncio.timeout(self.budget):
                read = await self._step(worker, *steps[0], vocabulary)
                for kind, data in steps[1:]:
                    if read.complete or self._settled(read, settles):
                        break
                    read = await self._step(worker, kind, data, vocabulary)
                return read
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

    async def _step(self, worker: _Worker, kind: str, data: bytes | None,
                    vocabulary: Vocabulary) -> Read:
        if kind == FULL:
            self.full_reads += 1
        return await worker.read(kind, data, vocabulary)

    def _settled(self, first: Read, settles: Settles | None) -> bool:
        if settles is None or not settles(first):
            return False
        self.documents_left += 1
        return True

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
        self._keep()
        for worker in self._workers:
            worker.kill()
        self._workers.clear()
        self._idle = None
