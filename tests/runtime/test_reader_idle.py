"""A running gateway's reader processes end after ``reader_idle_seconds`` without a read."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from tests.perf.procs import ProcessTree
from tests.security.support import wait_until
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

# Over the inline limit (128 KB): read in a reader process.
LARGE = "Internal\n" + "An ordinary line of the case file, nothing more.\n" * 4000
MARK = b"gateway.service.reading import serve"  # a reader process's command line


def readers_of(root: int) -> list[int]:
    """The reader processes below the process ``root``."""
    found = []
    for pid in ProcessTree(root).pids():
        with contextlib.suppress(OSError):
            if MARK in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def test_the_setting_ends_an_idle_reader_and_the_next_large_message_starts_another(
        tmp_path: Path, downstream: Downstream) -> None:
    gateway = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "reader_idle_seconds": 1}).start()
    try:
        assert gateway.proc is not None
        root = gateway.proc.pid
        code, reply = gateway.send("alice@example.org", ["bob@example.org"], message(LARGE))
        assert code == 250, reply
        first = readers_of(root)
        assert len(first) == 1
        assert wait_until(lambda: not readers_of(root), 10), "the idle reader did not end"
        code, reply = gateway.send("alice@example.org", ["bob@example.org"], message(LARGE))
        assert code == 250, reply
        second = readers_of(root)
        assert len(second) == 1 and second != first
    finally:
        gateway.stop()
    assert [m.recipients for m in downstream.messages] == [["bob@example.org"]] * 2


def test_without_the_setting_a_reader_stays_between_messages(
        tmp_path: Path, downstream: Downstream) -> None:
    gateway = GatewayProcess(tmp_path, downstream.url, config={"workers": 1}).start()
    try:
        assert gateway.proc is not None
        code, reply = gateway.send("alice@example.org", ["bob@example.org"], message(LARGE))
        assert code == 250, reply
        first = readers_of(gateway.proc.pid)
        time.sleep(2)
        assert readers_of(gateway.proc.pid) == first and len(first) == 1
    finally:
        gateway.stop()
