"""`stampgate milter` with two worker processes on one milter socket, behind Postfix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.milter.conftest import MilterPostfix
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
