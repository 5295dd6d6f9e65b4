"""A client's retry over real SMTP on loopback: the same answer, nothing stored or delivered
twice; the one case SMTP cannot close (the downstream's answer came too late) is counted."""

from __future__ import annotations

import json
import re
import smtplib
import socket
import time
import urllib.request
from pathlib import Path

from tests.support.downstream import Downstream, Mode
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
PARTNER = "partner@outside.test"
ADJUST = "Needs adjustment: blur face\n\nA client's story."
HOLD_ID = re.compile(r"held for review as (H[0-9A-F]+)")
QUEUE_ID = re.compile(r"queued as ([0-9A-F]+)")


def held(process: GatewayProcess) -> list[dict[str, object]]:
    result = process.run_cli("held", "list", "--json", "--data", str(process.data))
    assert result.returncode == 0, result.stderr
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def mine(items: list[dict[str, object]], hold_id: str) -> list[dict[str, object]]:
    return [h for h in items if h["id"] == hold_id]


def test_the_same_message_sent_twice_is_held_once_with_one_answer(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    data = message(ADJUST, to=f"{BOB}, {PARTNER}", message_id="<twice@client.test>")
    first = gateway.send(ALICE, [BOB, PARTNER], data)
    second = gateway.send(ALICE, [BOB, PARTNER], data)
    assert first[0] == 250 and second == first, (first, second)
    found = HOLD_ID.search(first[1])
    assert found is not None
    assert len(mine(held(gateway), found.group(1))) == 1
    time.sleep(0.3)
    assert len(downstream.messages) == 1  # BOB's copy, once
    queue_id = QUEUE_ID.search(first[1])
    assert queue_id is not None
    assert [e["queue_id"] for e in gateway.log_events("message-repeated")
            if e.get("hold_id") == found.group(1)] == [queue_id.group(1)]


def test_another_recipient_makes_another_message(gateway: GatewayProcess,
                                                 downstream: Downstream) -> None:
    data = message("Internal\n\nThe plan.", to=BOB, message_id="<same-id@client.test>")
    first = gateway.send(ALICE, [BOB], data)
    other = gateway.send(ALICE, [BOB, CAROL], data)
    assert first[0] == other[0] == 250
    assert first[1] != other[1]  # another queue id: a message of its own
    got = downstream.wait_for(2)
    assert sorted(len(m.recipients) for m in got) == [1, 2]


def _send_and_hang_up(port: int, recipients: list[str], data: bytes) -> None:
    """The whole transaction, then the connection is reset right after the final dot."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def expect(prefix: bytes) -> None:
            line = reader.readline()
            while line[3:4] == b"-":
                line = reader.readline()
            assert line.startswith(prefix), line

        expect(b"220")
        sock.sendall(b"EHLO client.test\r\n")
        expect(b"250")
        sock.sendall(f"MAIL FROM:<{ALICE}>\r\n".encode())
        expect(b"250")
        for rcpt in recipients:
            sock.sendall(f"RCPT TO:<{rcpt}>\r\n".encode())
            expect(b"250")
        sock.sendall(b"DATA\r\n")
        expect(b"354")
        sock.sendall(data + b".\r\n")
        # SO_LINGER 0: the close is a reset, as when a client's process dies
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def _retry_until_answered(process: GatewayProcess, recipients: list[str],
                          data: bytes) -> tuple[int, str, int]:
    """Send as a client's queue does until a final answer; (code, text, 451s seen)."""
    for busy in range(100):
        code, text = process.send(ALICE, recipients, data)
        if code != 451:
            return code, text, busy
        assert "already being processed" in text, text
        time.sleep(0.05)
    raise AssertionError("the retry never got a final answer")


def test_a_client_that_hangs_up_after_the_dot_gets_its_hold_on_the_retry(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    recipients = [BOB, PARTNER]
    data = message(ADJUST, to=", ".join(recipients), message_id="<hangup@client.test>")
    before = held(gateway)
    _send_and_hang_up(gateway.port, recipients, data)
    code, text, _ = _retry_until_answered(gateway, recipients, data)
    assert code == 250, text
    found = HOLD_ID.search(text)
    assert found is not None
    new = [h for h in held(gateway) if h not in before]
    assert [h["id"] for h in new] == [found.group(1)]  # one hold, the one answered
    # a third send is a retry of an answered message: the same answer
    assert gateway.send(ALICE, recipients, data) == (code, text)
    counted = [e for e in gateway.log_events("possible-duplicate-delivery")
               if e.get("message_id") == "<hangup@client.test>"]
    time.sleep(0.3)
    copies = [m for m in downstream.messages if "<hangup@client.test>" in m.header_text]
    # BOB's copy once, or twice only when the first attempt's delivery was cut off after
    # the downstream's 250, and then counted (as an attempt that gave up: nothing died)
    assert 1 <= len(copies) <= 1 + len(counted), (len(copies), counted)
    assert all(e["earlier"] == "gave-up" for e in counted), counted


def test_a_downstream_answer_that_came_too_late_is_a_counted_duplicate(
        tmp_path: Path) -> None:
    downstream = Downstream().start()
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"downstream_timeout": 1, "workers": 1})
    try:
        process.start()
        downstream.set(Mode.LATE, delay=2.0)
        data = message("Internal\n\nThe plan.", message_id="<late@client.test>")
        code, text = process.send(ALICE, [BOB], data)
        assert code == 451 and text.startswith("4.4.1"), text
        assert len(downstream.wait_for(1, timeout=5)) == 1  # it did arrive, too late
        downstream.set(Mode.ACCEPT)
        code, text = process.send(ALICE, [BOB], data)
        assert code == 250, text
        assert len(downstream.wait_for(2)) == 2  # the inherent SMTP case: two copies
        [event] = process.log_events("possible-duplicate-delivery")
        assert (event["message_id"], event["earlier"]) == ("<late@client.test>", "gave-up")
        with urllib.request.urlopen(f"http://127.0.0.1:{process.web_port}/metrics",
                                    timeout=10) as reply:
            metrics = reply.read().decode()
        assert 'stampgate_possible_duplicate_deliveries_total{earlier="gave-up"} 1.0' in metrics
        # and the retry's answer is now the message's answer
        assert process.send(ALICE, [BOB], data) == (code, text)
        assert len(downstream.wait_for(3, timeout=1)) == 2
    finally:
        process.stop()
        downstream.stop()


def test_bad_retries_change_nothing(gateway: GatewayProcess, downstream: Downstream) -> None:
    """A retry that cannot be taken is refused as the first attempt was, holding nothing."""
    data = message("Internal\n\nThe plan.", to="press@example.org",
                   message_id="<bounce@client.test>")
    first = gateway.send(ALICE, ["press@example.org"], data)
    second = gateway.send(ALICE, ["press@example.org"], data)
    assert first[0] == second[0] == 550 and first == second
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        smtp.mail(ALICE)
        smtp.rcpt(BOB)
        code, _ = smtp.data(b"Subject: x\r\nMessage-ID: <nul@client.test>\r\n\r\nA\0B\r\n")
        assert code == 550
    assert downstream.messages == []
