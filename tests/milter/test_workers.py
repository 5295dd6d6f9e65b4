"""`stampgate milter` with two worker processes on one milter socket, and on a Unix socket,
behind Postfix."""

from __future__ import annotations

import shutil
import stat
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.milter.conftest import MilterPostfix
from tests.ops.test_observability import sample
from tests.support.gateway import message
from tests.support.review_gateway import ADJUST


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilterPostfix]:
    running = MilterPostfix(tmp_path_factory.mktemp("milter-workers"), config={"workers": 2})
    try:
        yield running
    finally:
        running.close()


def test_two_workers_decide_and_stop_cleanly(two_workers: MilterPostfix) -> None:
    listening = two_workers.milter.log_events("listening")
    assert sorted(e["worker"] for e in listening) == [0, 1]
    assert len({e["milter"] for e in listening}) == 1  # one socket, shared
    cases = [("Cleared for publication", ["bob@example.org"], 250),
             (ADJUST, ["partner@outside.test"], 250),
             ("Internal", ["press@example.org"], 550)] * 8
    for stamp, recipients, expected in cases:
        code, reply = two_workers.send("alice@example.org", recipients,
                                       message(f"{stamp}\n\nText.", to=recipients[0]))
        assert code == expected, reply
    outcomes = Counter(e["outcome"] for e in two_workers.milter.log_events("message"))
    assert outcomes == {"relayed": 8, "held": 8, "bounced": 8}
    assert len(two_workers.held()) == 8
    assert len(two_workers.downstream.wait_for(8)) == 8
    assert two_workers.milter.stop() == 0


def metrics(running: MilterPostfix) -> str:
    url = f"http://127.0.0.1:{running.milter.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=15) as answer:
        text: str = answer.read().decode()
    return text


def test_metrics_count_every_workers_messages(tmp_path: Path) -> None:
    """Two workers and no PROMETHEUS_MULTIPROC_DIR: the supervisor makes DATA/metrics, so
    /metrics (served by worker 0) counts the messages every worker decided, once each."""
    running = MilterPostfix(tmp_path, config={"workers": 2})
    directory = running.milter.data / "metrics"
    try:
        assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700
        sent = 0
        # until both workers have decided messages (the kernel picks who accepts), at most 300
        while sent < 12 or len(list(directory.glob("counter_*.db"))) < 2:
            assert sent < 300, "one worker took every connection"
            code, reply = running.send("alice@example.org", ["bob@example.org"],
                                       message("Internal\n\nBudget.", to="bob@example.org"))
            assert code == 250, reply
            sent += 1
        text = metrics(running)
        assert sample(text, "stampgate_messages_total", verdict="allow",
                      stamp="internal") == sent
        assert sample(text, "stampgate_message_outcomes_total", outcome="relayed") == sent
        assert running.milter.stop() == 0
        assert not directory.exists()  # the supervisor's own directory goes with it
    finally:
        running.close()


def test_postfix_reaches_the_milter_on_a_unix_socket(tmp_path: Path) -> None:
    # Postfix's smtpd (user postfix) must reach the socket: a directory it may enter (the
    # test's own tmp_path is private to root).
    where = Path(tempfile.mkdtemp(prefix="milter-socket-"))
    where.chmod(0o755)
    running = MilterPostfix(tmp_path, unix=where / "milter.sock")
    try:
        assert stat.S_IMODE((where / "milter.sock").stat().st_mode) == 0o660
        code, reply = running.send("alice@example.org", ["press@example.org"],
                                   message("Internal\n\nBudget.", to="press@example.org"))
        assert code == 550 and reply.startswith("5.7.1"), reply
        code, reply = running.send("alice@example.org", ["bob@example.org"],
                                   message("Cleared for publication\n\nNews."))
        assert code == 250, reply
        [got] = running.downstream.wait_for(1)
        assert "X-Stamp: cleared" in got.header_text
    finally:
        running.close()
        shutil.rmtree(where, ignore_errors=True)
