"""The answer of a relayed message is committed after its 250, in the background: a stop
right after the 250 still commits it, so the client's retry gets the same answer."""

from __future__ import annotations

from pathlib import Path

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"


def test_a_stop_right_after_the_250_keeps_the_answer(tmp_path: Path,
                                                     downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 1}).start()
    data = message("Cleared for publication\n\nx", message_id="<stop-now@client.test>")
    try:
        first = process.send(ALICE, [BOB], data)
        assert first[0] == 250, first
        assert process.stop() == 0  # SIGTERM at once
        process.start()
        again = process.send(ALICE, [BOB], data)
    finally:
        process.stop()
    assert again == first
    assert len(downstream.wait_for(1)) == 1
    assert [e["answer"] for e in process.log_events("message-repeated")] == ["relayed"]
