"""The bounded message reader: inline for small mail, reader processes within a budget."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.policyfiles.load import load_policy
from gateway.service.reader_channel import Channel
from gateway.service.reading import READER_NICENESS, MessageReader, Read, read_now
from tests.support.documents import mail, pdf
from tests.support.loop import ticking

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return load_policy(POLICIES).vocabulary


@pytest.fixture
async def reader() -> AsyncIterator[MessageReader]:
    reader = MessageReader(inline_limit=1024, budget=30.0)
    yield reader
    reader.close()


def message(first_line: str, filler_lines: int = 0) -> bytes:
    body = first_line + "\r\n" + "An ordinary line of the story.\r\n" * filler_lines
    return (b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: case\r\n"
            b"Message-ID: <m1@example.org>\r\n\r\n" + body.encode())


async def test_a_small_message_is_read_as_in_process(reader: MessageReader,
                                                      vocabulary: Vocabulary) -> None:
    data = message("Internal")
    result = await reader.read(data, vocabulary)
    assert result == read_now(data, vocabulary)
    assert result.reading.stamp is Stamp.INTERNAL
    assert reader._workers == []  # no process was needed


async def test_a_large_message_is_read_in_a_reader_process(reader: MessageReader,
                                                           vocabulary: Vocabulary) -> None:
    data = message("Confidential", filler_lines=2000)
    result = await reader.read(data, vocabulary)
    assert result.reading.stamp is Stamp.CONFIDENTIAL
    assert result.facts.message_id == "<m1@example.org>"
    assert len(reader._workers) == 1
    again = await reader.read(message("Internal", filler_lines=2000), vocabulary)
    assert again.reading.stamp is Stamp.INTERNAL  # the same process serves the next one


async def test_reader_processes_yield_the_cpu_to_the_smtp_workers(
        reader: MessageReader, vocabulary: Vocabulary) -> None:
    """A large message's reading runs below the worker in the scheduler, so concurrent
    small mail keeps the CPU; the reading is the same."""
    data = message("Internal", filler_lines=2000)
    assert (await reader.read(data, vocabulary)) == read_now(data, vocabulary)
    [worker] = reader._workers
    pid = worker.process.pid
    assert pid is not None
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + READER_NICENESS)


async def test_a_read_over_budget_is_unreadable_and_the_next_one_is_fine(
        vocabulary: Vocabulary) -> None:
    reader = MessageReader(inline_limit=1024, budget=0.001)
    try:
        slow = await reader.read(message("Cleared for publication", filler_lines=100_000),
                                 vocabulary)
        assert slow.reading.stamp is None
        assert slow.reading.unreadable == ("reading took longer than 0.001 s",)
        assert reader.overruns == 1
        reader.budget = 30.0
        fine = await reader.read(message("Internal", filler_lines=2000), vocabulary)
        assert fine.reading.stamp is Stamp.INTERNAL
        assert len(reader._workers) == 1  # the overrun process was replaced, not leaked
    finally:
        reader.close()


async def test_the_event_loop_runs_while_a_large_message_is_read(
        reader: MessageReader, vocabulary: Vocabulary) -> None:
    await reader.read(message("Internal", filler_lines=2000), vocabulary)  # start the process
    async with ticking(0.005) as ticks:
        result = await reader.read(message("Confidential", filler_lines=60_000), vocabulary)
    assert result.reading.stamp is Stamp.CONFIDENTIAL
    assert ticks.count > 5  # other work went on while the message was being read


async def test_a_cancelled_read_does_not_hand_its_answer_to_the_next_message(
        reader: MessageReader, vocabulary: Vocabulary) -> None:
    first = asyncio.create_task(reader.read(message("Confidential", filler_lines=100_000),
                                            vocabulary))
    await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = await reader.read(message("Internal", filler_lines=2000), vocabulary)
    assert second.reading.stamp is Stamp.INTERNAL


async def test_a_small_message_with_a_document_is_read_in_a_reader_process(
        vocabulary: Vocabulary) -> None:
    data = mail("Cleared for publication", [("a.pdf", pdf([["Internal"]]))])
    small = MessageReader(budget=30.0)
    try:
        assert len(data) < small.inline_limit
        result = await small.read(data, vocabulary)
        assert len(small._workers) == 1  # a parser that may run long runs where it can be stopped
        assert {f.stamp for f in result.reading.embedded} == {Stamp.INTERNAL}
        plain = await small.read(message("Internal"), vocabulary)
        assert plain.reading.stamp is Stamp.INTERNAL and len(small._workers) == 1
    finally:
        small.close()


def stamped_with_document(stamp: str, filler_lines: int = 0) -> bytes:
    filler = "An ordinary line of the story.\n" * filler_lines
    return mail(f"{stamp}\n{filler}", [("a.pdf", pdf([["Confidential"], ["page two"]]))])


@pytest.mark.parametrize("filler_lines", [0, 4000])  # read inline, and in a reader process
async def test_documents_stay_unread_when_the_first_pass_settles(
        vocabulary: Vocabulary, filler_lines: int) -> None:
    data = stamped_with_document("Confidential", filler_lines)
    reader = MessageReader(inline_limit=64 * 1024, budget=30.0)
    asked: list[Read] = []

    def settles(first: Read) -> bool:
        asked.append(first)
        return True

    try:
        result = await reader.read(data, vocabulary, settles)
        assert len(asked) == 1 and result == asked[0]
        assert not result.complete and result.facts.unread == ("a.pdf",)
        assert result.facts.documents == () and result.reading.embedded == ()
        assert result.reading.stamp is Stamp.CONFIDENTIAL
        assert (reader.full_reads, reader.documents_left) == (0, 1)
        # A small message never reached a reader process; a large one only for its first pass.
        assert len(reader._workers) == (1 if filler_lines else 0)
    finally:
        reader.close()


@pytest.mark.parametrize("filler_lines", [0, 4000])
async def test_documents_are_read_when_the_first_pass_does_not_settle(
        vocabulary: Vocabulary, filler_lines: int) -> None:
    data = stamped_with_document("Cleared for publication", filler_lines)
    reader = MessageReader(inline_limit=64 * 1024, budget=30.0)
    try:
        for settles in (None, lambda first: False):
            result = await reader.read(data, vocabulary, settles)
            assert result.complete and result.facts.unread == ()
            assert {f.stamp for f in result.reading.embedded} == {Stamp.CONFIDENTIAL}
        assert (reader.full_reads, reader.documents_left) == (2, 0)
        assert len(reader._workers) == 1  # the document was parsed where it can be stopped
    finally:
        reader.close()


async def test_a_picture_or_a_file_that_is_no_document_is_read_inline(
        vocabulary: Vocabulary) -> None:
    """A part sent as application/* whose first bytes are no document is not handed over."""
    data = mail("Internal", [("photo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64),
                             ("statement.pdf", bytes(range(256)) * 64)])
    reader = MessageReader(budget=30.0)
    try:
        result = await reader.read(data, vocabulary)
        assert result.complete and result == read_now(data, vocabulary)
        assert result.reading.stamp is Stamp.INTERNAL
        assert reader._workers == [] and reader.full_reads == 0
    finally:
        reader.close()


def test_a_reader_process_is_one_process_that_starts_from_the_readers_alone(
        tmp_path: Path) -> None:
    """No resource tracker beside it and no CLI in it: a reader costs one small process."""
    script = tmp_path / "read.py"
    script.write_text(
        "import asyncio, os, sys\n"
        "from pathlib import Path\n"
        "from gateway.policyfiles.load import load_policy\n"
        "from gateway.service.reading import MessageReader\n"
        f"data = {message('Internal', filler_lines=2000)!r}\n"
        "async def main():\n"
        "    reader = MessageReader(inline_limit=1024)\n"
        f"    read = await reader.read(data, load_policy(Path({str(POLICIES)!r})).vocabulary)\n"
        "    assert read.reading.stamp.value == 'internal', read\n"
        "    children = [p for p in os.listdir('/proc') if p.isdigit() and\n"
        "                open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1]\n"
        "                == str(os.getpid())]\n"
        "    for pid in children:\n"
        "        print(open(f'/proc/{pid}/cmdline').read().replace('\\0', ' '))\n"
        "    reader.close()\n"
        "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, check=True)
    [child] = done.stdout.splitlines()
    assert "from gateway.service.reading import serve; serve(" in child


async def test_a_reader_process_that_dies_fails_its_message_closed_and_is_replaced(
        reader: MessageReader, vocabulary: Vocabulary) -> None:
    data = message("Internal", filler_lines=2000)
    assert (await reader.read(data, vocabulary)).reading.stamp is Stamp.INTERNAL
    [worker] = reader._workers
    worker.process.kill()  # killed from outside (the OOM killer, an admin)
    worker.process.wait(5)
    lost = await reader.read(message("Cleared for publication", filler_lines=2000), vocabulary)
    assert lost.reading.stamp is None
    assert lost.reading.unreadable == ("the message reader stopped",)
    again = await reader.read(data, vocabulary)
    assert again.reading.stamp is Stamp.INTERNAL
    [fresh] = reader._workers
    assert fresh is not worker and fresh.process.poll() is None


async def test_an_idle_reader_process_ends_and_the_next_large_message_starts_another(
        vocabulary: Vocabulary) -> None:
    """Its memory goes back to the system between bursts of large mail; nothing is lost."""
    reader = MessageReader(inline_limit=1024, budget=30.0, idle_seconds=0.5)
    try:
        data = message("Internal", filler_lines=2000)
        assert (await reader.read(data, vocabulary)).reading.stamp is Stamp.INTERNAL
        [first] = reader._workers
        # Reads closer together than the idle time keep the same process.
        await asyncio.sleep(0.3)
        assert (await reader.read(data, vocabulary)).reading.stamp is Stamp.INTERNAL
        await asyncio.sleep(0.3)
        assert reader._workers == [first] and first.process.poll() is None
        await asyncio.sleep(0.6)
        assert reader._workers == []
        assert first.process.poll() is not None  # ended and reaped
        later = await reader.read(message("Confidential", filler_lines=2000), vocabulary)
        assert later.reading.stamp is Stamp.CONFIDENTIAL
        [second] = reader._workers
        assert second is not first and second.process.poll() is None
    finally:
        reader.close()


async def test_a_reader_process_is_not_ended_while_it_reads(vocabulary: Vocabulary) -> None:
    reader = MessageReader(inline_limit=1024, budget=30.0, idle_seconds=0.05)
    try:
        data = message("Internal", filler_lines=2000)
        assert (await reader.read(data, vocabulary)).reading.stamp is Stamp.INTERNAL
        # Many reads at once, each waiting for the one process: the idle time never
        # runs out under them.
        results = await asyncio.gather(*(reader.read(data, vocabulary) for _ in range(20)))
        assert all(r.reading.stamp is Stamp.INTERNAL for r in results)
        assert all(r.reading.unreadable == () for r in results)
    finally:
        reader.close()


def test_reader_processes_stay_when_the_idle_time_is_zero() -> None:
    async def go() -> list[object]:
        reader = MessageReader(inline_limit=1024, idle_seconds=0)
        vocabulary = load_policy(POLICIES).vocabulary
        await reader.read(message("Internal", filler_lines=2000), vocabulary)
        await asyncio.sleep(0.2)
        workers = list(reader._workers)
        reader.close()
        return workers

    assert len(asyncio.run(go())) == 1


async def test_a_reader_process_imports_nothing_from_the_working_directory(
        tmp_path: Path, vocabulary: Vocabulary, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``gateway`` package planted where the gateway was started is never the reader."""
    planted = tmp_path / "gateway"
    (planted / "service").mkdir(parents=True)
    (planted / "__init__.py").write_text("raise SystemExit('the planted package ran')\n")
    (planted / "service" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    reader = MessageReader(inline_limit=1024, budget=30.0)
    try:
        read = await reader.read(message("Internal", filler_lines=2000), vocabulary)
        assert read.reading.stamp is Stamp.INTERNAL
    finally:
        reader.close()


def test_the_channel_carries_values_and_large_messages_byte_for_byte() -> None:
    ours, theirs = socket.socketpair()
    sender, receiver = Channel(ours), Channel(theirs)
    big = os.urandom(3 * 1024 * 1024 + 17)  # far more than a socket's buffer holds
    # The receiver reads while the sender writes, as a reader process does.
    writer = threading.Thread(target=lambda: [sender.send(("first", None), big),
                                              sender.send(("full", None)),
                                              sender.send("empty", b"")])
    writer.start()
    assert receiver.recv() == (("first", None), big)
    assert receiver.recv() == (("full", None), None)
    assert receiver.recv() == ("empty", b"")
    writer.join()
    # A sender gone halfway through a message is an end, never a short message.
    sender.sock.sendall(Channel._SIZE.pack(10) + b"\x80\x05")
    sender.close()
    with pytest.raises(EOFError):
        receiver.recv()
    receiver.close()


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_reader_outlives_the_event_loop_that_set_its_idle_timer(loop_name: str) -> None:
    """The timer of the loop a read finished on is called off from the next loop (a CLI
    command runs one loop after another)."""
    import uvloop

    new_loop = uvloop.new_event_loop if loop_name == "uvloop" else asyncio.new_event_loop
    vocabulary = load_policy(POLICIES).vocabulary
    reader = MessageReader(inline_limit=1024, idle_seconds=30)
    data = message("Internal", filler_lines=2000)
    try:
        for _ in range(2):
            loop = new_loop()
            try:
                read = loop.run_until_complete(reader.read(data, vocabulary))
            finally:
                loop.close()
            assert read.reading.stamp is Stamp.INTERNAL
    finally:
        reader.close()


async def test_an_answer_is_read_as_it_arrives_and_a_stalled_one_never_blocks_the_loop(
        ) -> None:
    ours, theirs = socket.socketpair()
    gateway, reader = Channel(ours), Channel(theirs)
    reader.send(("ok", "a reading"))
    assert await gateway.answer(1024) == ("ok", "a reading")
    # Half an answer, then nothing: the loop goes on; the read's budget ends the wait.
    frame = Channel._SIZE.pack(100) + b"\x80\x05" + b"x" * 10
    theirs.sendall(frame)
    async with ticking() as ticks:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await gateway.answer(1024)
    assert ticks.count >= 10
    gateway.close()
    reader.close()


async def test_an_answer_said_to_be_huge_is_an_end_of_channel_not_an_allocation() -> None:
    ours, theirs = socket.socketpair()
    gateway = Channel(ours)
    theirs.sendall(Channel._SIZE.pack(1 << 60))
    with pytest.raises(EOFError, match="over 1024"):
        await gateway.answer(1024)
    theirs.sendall(Channel._SIZE.pack(1 << 20))
    theirs.close()  # gone after its header
    with pytest.raises(EOFError):
        await gateway.answer(1 << 30)
    gateway.close()
