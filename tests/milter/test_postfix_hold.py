"""``[milter] held = "postfix-hold"`` with a real Postfix: a wholly held message is in
Postfix's hold queue and in stampgate's held store; stampgate's release delivers it once,
and the copy on hold is deleted, never released, by the operator."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.milter.conftest import MilterPostfix
from tests.milter.test_postfix import ALICE, BOB, PARTNER, quiet, release
from tests.support.gateway import message
from tests.support.review_gateway import ADJUST, wait_for


@pytest.fixture(scope="module")
def holding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilterPostfix]:
    running = MilterPostfix(tmp_path_factory.mktemp("milter-hold"),
                            milter={"held": "postfix-hold"})
    try:
        yield running
    finally:
        running.close()


def recipients(entry: dict[str, object]) -> list[str]:
    listed = entry["recipients"]
    assert isinstance(listed, list)
    return [str(r["address"]) for r in listed]


def test_wholly_held_message_is_on_postfix_hold_and_in_the_held_store(
        holding: MilterPostfix) -> None:
    holding.downstream.clear()
    code, reply = holding.send(ALICE, [PARTNER], message(f"{ADJUST}\n\nA story.", to=PARTNER))
    assert code == 250, reply
    [entry] = holding.on_hold()
    assert recipients(entry) == [PARTNER]
    [record] = holding.held()
    assert record["held_recipients"] == [PARTNER]
    assert f"{entry['queue_id']}: milter-hold" in holding.postfix.log.read_text()
    # stampgate's log ties Postfix's queue id to the hold id, for the operator's postsuper -d
    answers = holding.milter.log_events("milter-answer")
    assert {"mta_queue_id": entry["queue_id"], "hold_id": record["id"], "mta_hold": True,
            "outcome": "held"}.items() <= answers[-1].items()
    assert quiet(holding) == []  # on hold: Postfix delivers nothing

    # the release is stampgate's: it delivers once, through the outbox; the copy on hold
    # stays there (not delivered a second time) until the operator deletes it
    release(holding, str(record["id"]))
    [got] = wait_for(holding.downstream, PARTNER, timeout=20)
    assert b"A story." in got.data
    time.sleep(1.5)
    assert [m for m in holding.downstream.messages if PARTNER in m.recipients] == [got]
    assert [e["queue_id"] for e in holding.on_hold()] == [entry["queue_id"]]
    deleted = subprocess.run(["postsuper", "-c", str(holding.postfix.config), "-d",
                              str(entry["queue_id"]), "hold"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert deleted.returncode == 0, deleted.stderr
    assert holding.on_hold() == []


def test_partial_hold_is_not_put_on_postfix_hold(holding: MilterPostfix) -> None:
    holding.downstream.clear()
    code, reply = holding.send(ALICE, [BOB, PARTNER],
                               message(f"{ADJUST}\n\nAmira's story.", to=f"{BOB}, {PARTNER}"))
    assert code == 250, reply
    [now] = holding.downstream.wait_for(1)
    assert now.recipients == [BOB]
    assert holding.on_hold() == []
