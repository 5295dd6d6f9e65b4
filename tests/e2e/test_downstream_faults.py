"""Downstream trouble gives the client a truthful answer and loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.downstream import Downstream, Mode, free_port
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"


def held_ids(process: GatewayProcess) -> list[str]:
    result = process.run_cli("held", "list", "--json", "--data", str(process.data))
    assert result.returncode == 0, result.stderr
    return [h["id"] for h in json.loads(result.stdout)]


def test_downstream_down_gives_451_and_keeps_nothing(tmp_path: Path) -> None:
    process = GatewayProcess(tmp_path, f"smtp://127.0.0.1:{free_port()}").start()
    try:
        code, reply = process.send(ALICE, [BOB], message("Internal\n\nx"))
        assert code == 451, reply
        assert reply.startswith("4.4.1")
        # a partial hold whose relay part failed is withdrawn: the client will retry it all
        code, reply = process.send(ALICE, [BOB, PARTNER], message("Needs adjustment: blur\n\nx"))
        assert code == 451, reply
        assert held_ids(process) == []
    finally:
        process.stop()


def test_downstream_tempfail_gives_451_then_recovers(gateway: GatewayProcess,
                                                     downstream: Downstream) -> None:
    downstream.set(Mode.TEMPFAIL)
    code, reply = gateway.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == 451, reply
    downstream.set(Mode.ACCEPT)
    code, reply = gateway.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == 250, reply
    assert len(downstream.wait_for(1)) == 1


def test_downstream_5xx_is_passed_back(gateway: GatewayProcess, downstream: Downstream) -> None:
    downstream.set(Mode.PERMFAIL)
    code, reply = gateway.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == 554, reply
    assert "Downstream refused" in reply


def test_downstream_refusing_one_recipient_delivers_to_nobody(gateway: GatewayProcess,
                                                              downstream: Downstream) -> None:
    downstream.set(Mode.REFUSE_RCPT, refuse_rcpt=["ghost@example.org"])
    code, reply = gateway.send(ALICE, [BOB, "ghost@example.org"], message("Internal\n\nx"))
    assert code == 550, reply
    assert "ghost@example.org" in reply
    assert downstream.messages == []


def test_downstream_closing_mid_data_gives_451(gateway: GatewayProcess,
                                               downstream: Downstream) -> None:
    downstream.set(Mode.DISCONNECT)
    code, reply = gateway.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == 451, reply
    downstream.set(Mode.ACCEPT)
    code, _ = gateway.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == 250


def test_slow_downstream_past_the_timeout_gives_451(tmp_path: Path,
                                                    downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"downstream_timeout": 1.0}).start()
    try:
        downstream.set(Mode.SLOW, delay=3.0)
        code, reply = process.send(ALICE, [BOB], message("Internal\n\nx"))
        assert code == 451, reply
    finally:
        downstream.set(Mode.ACCEPT)
        process.stop()


def test_hold_survives_a_restart(tmp_path: Path, downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url).start()
    try:
        code, reply = process.send(ALICE, [PARTNER], message("Needs adjustment: blur face\n\nx"))
        assert code == 250
        hold_id = reply.split("held for review as ")[1].split()[0]
        process.stop()
        process.start()
        assert hold_id in held_ids(process)
    finally:
        process.stop()
