"""Downstream timing the e2e fault tests leave out: slow but in time, a client that gives up,
a downstream that comes back. The client always gets a truthful answer or none at all."""

from __future__ import annotations

import json
import smtplib
import time
from pathlib import Path

from tests.support.downstream import Downstream, Mode, free_port
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"


def test_slow_downstream_within_the_timeout_is_still_250(tmp_path: Path,
                                                         downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"downstream_timeout": 5, "workers": 1}).start()
    try:
        downstream.set(Mode.SLOW, delay=1.5)
        code, reply = process.send(ALICE, [BOB], message("Internal\n\nslow"))
        assert code == 250, reply
        assert len(downstream.wait_for(1)) == 1
    finally:
        downstream.set(Mode.ACCEPT)
        process.stop()


def test_client_that_gives_up_first_gets_no_250_and_the_gateway_carries_on(
        tmp_path: Path, downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"downstream_timeout": 10, "workers": 1}).start()
    try:
        downstream.set(Mode.SLOW, delay=3.0)
        impatient = smtplib.SMTP("127.0.0.1", process.port, local_hostname="client.test",
                                 timeout=1)
        impatient.ehlo()
        impatient.mail(ALICE)
        impatient.rcpt(BOB)
        impatient.rcpt(PARTNER)
        try:
            answer: tuple[int, bytes] | None = impatient.data(
                message("Needs adjustment: blur face\n\nimpatient", to=PARTNER))
        except (TimeoutError, smtplib.SMTPServerDisconnected):
            answer = None
        finally:
            impatient.close()
        assert answer is None, answer  # it left before any answer: it will send again
        time.sleep(3.5)
        downstream.set(Mode.ACCEPT)
        assert process.proc is not None and process.proc.poll() is None
        code, reply = process.send(ALICE, [BOB], message("Internal\n\nnext"))
        assert code == 250, reply
        assert not process.log_events("internal-error"), process.log()
    finally:
        downstream.set(Mode.ACCEPT)
        process.stop()


def test_downstream_that_comes_back_takes_the_retry(tmp_path: Path) -> None:
    port = free_port()
    process = GatewayProcess(tmp_path, f"smtp://127.0.0.1:{port}", config={"workers": 1}).start()
    later = Downstream(port)
    try:
        code, reply = process.send(ALICE, [BOB, PARTNER], message("Needs adjustment: blur\n\nx"))
        assert code == 451, reply
        held = process.run_cli("held", "list", "--json", "--data", str(process.data))
        assert json.loads(held.stdout) == []
        later.start()
        code, reply = process.send(ALICE, [BOB, PARTNER], message("Needs adjustment: blur\n\nx"))
        assert code == 250 and "held for review" in reply, reply
        later.wait_for(1)
        assert [m.recipients for m in later.delivered_to(BOB)] == [[BOB]]
    finally:
        later.stop()
        process.stop()
