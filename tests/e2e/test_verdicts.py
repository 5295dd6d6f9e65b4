"""Each verdict over real loopback SMTP: relay, bounce, hold, partial hold."""

from __future__ import annotations

import json

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"
DIRECTOR = "director@example.org"
PARTNER = "partner@outside.test"


@pytest.mark.parametrize(
    ("stamp", "recipient", "expected"),
    [
        ("Cleared for publication", PRESS, 250),
        ("Cleared for publication", PARTNER, 250),
        ("Cleared for publication", BOB, 250),
        ("Needs adjustment in 2 ways: blur face, change name", BOB, 250),
        ("Needs adjustment in 2 ways: blur face, change name", DIRECTOR, 250),
        ("Internal", BOB, 250),
        ("Internal", PRESS, 550),
        ("Internal", PARTNER, 550),
        ("Confidential", BOB, 250),
        ("Confidential", PRESS, 550),
        ("Confidential", PARTNER, 550),
        ("", BOB, 250),
        ("", PARTNER, 250),
        ("", PRESS, 550),
    ],
)
def test_each_row_of_the_stamp_table(gateway: GatewayProcess, downstream: Downstream,
                                     stamp: str, recipient: str, expected: int) -> None:
    code, reply = gateway.send(ALICE, [recipient], message(f"{stamp}\n\nThe story.", to=recipient))
    assert code == expected, reply
    if expected == 250:
        assert downstream.wait_for(1)[0].recipients == [recipient]
        assert "held" not in reply
    else:
        assert reply.startswith("5.7.1")
        assert recipient in reply
        assert downstream.messages == []


def test_bounce_names_each_offender_its_group_the_stamp_and_what_to_do(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    code, reply = gateway.send(ALICE, [BOB, PRESS, PARTNER], message("Internal\n\nBudget."))
    assert code == 550
    lines = reply.splitlines()
    assert len(lines) >= 4
    assert any(PRESS in line and "communications" in line for line in lines)
    assert any(PARTNER in line and "external" in line for line in lines)
    assert "Internal" in reply
    assert "What to do" in lines[-1]
    assert BOB not in reply
    assert downstream.messages == []  # nothing delivered to anyone, Bob included


def test_needs_adjustment_holds_outside_recipients_and_delivers_the_rest(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    body = "Needs adjustment in 2 ways: blur face, change name\n\nA client story."
    code, reply = gateway.send(ALICE, [BOB, PRESS, PARTNER], message(body))
    assert code == 250
    assert "held for review as H" in reply
    delivered = downstream.wait_for(1)
    assert [m.recipients for m in delivered] == [[BOB]]
    hold_id = reply.split("held for review as ")[1].split()[0]
    listing = gateway.run_cli("held", "list", "--json", "--data", str(gateway.data))
    assert listing.returncode == 0, listing.stderr
    held = {h["id"]: h for h in json.loads(listing.stdout)}
    assert set(held[hold_id]["held_recipients"]) == {PRESS, PARTNER}
    assert held[hold_id]["stamp"] == "needs_adjustment"


def test_fully_held_message_is_not_delivered(gateway: GatewayProcess,
                                             downstream: Downstream) -> None:
    code, reply = gateway.send(ALICE, [PARTNER], message("Needs adjustment: blur face\n\nx"))
    assert code == 250
    assert "held for review" in reply
    assert downstream.wait_for(1, timeout=0.5) == []


def test_relayed_message_keeps_the_original_bytes_and_gets_trace_headers(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    original = message("Cleared for publication\n\nWe helped a family.",
                       message_id="<m1@client.test>")
    code, _ = gateway.send(ALICE, [PARTNER], original)
    assert code == 250
    got = downstream.wait_for(1)[0]
    assert got.data.endswith(original)
    assert got.header_text.startswith("Received: from client.test")
    assert "X-Stamp: cleared" in got.header_text


def test_incoming_gateway_headers_are_replaced(gateway: GatewayProcess,
                                               downstream: Downstream) -> None:
    # The spoofed value differs from the gateway's reading, so a header passed through
    # unchanged cannot satisfy the assertions below.
    spoof = message("Confidential\n\nx", headers={"X-Stampgate-Verdict": "allow",
                                                   "X-Stamp": "cleared"})
    code, _ = gateway.send(ALICE, [BOB], spoof)
    assert code == 250
    header = downstream.wait_for(1)[0].header_text
    assert header.count("X-Stamp:") == 1
    assert "X-Stamp: confidential" in header
    assert "X-Stamp: cleared" not in header
    assert "X-Stampgate-Verdict" not in header


def test_most_restrictive_stamp_wins_across_subject_and_body(gateway: GatewayProcess,
                                                             downstream: Downstream) -> None:
    code, reply = gateway.send(
        ALICE, [PARTNER], message("Cleared for publication\n\nx", subject="[Internal] numbers"))
    assert code == 550, reply
    assert downstream.messages == []


def test_x_stamp_header_from_a_client_add_in_counts(gateway: GatewayProcess,
                                                   downstream: Downstream) -> None:
    # The body alone is cleared for anyone: only the header can stop it.
    body = "Cleared for publication\n\nThe story."
    code, reply = gateway.send(ALICE, [PRESS], message(body))
    assert code == 250, reply
    downstream.wait_for(1)
    downstream.clear()
    for recipient in (PRESS, PARTNER):
        code, reply = gateway.send(ALICE, [recipient],
                                   message(body, headers={"X-Stamp": "internal"}))
        assert code == 550, reply
        assert "Internal" in reply and recipient in reply
    assert downstream.messages == []


def test_plus_addressing_and_case_do_not_escape_the_group(gateway: GatewayProcess,
                                                          downstream: Downstream) -> None:
    for address in ("press+news@example.org", "PRESS@EXAMPLE.ORG", "press@example.org."):
        code, reply = gateway.send(ALICE, [address], message("Internal\n\nx"))
        assert code == 550, (address, reply)
        # An outsider would be bounced as well: the reply shows the group was recognised.
        assert "communications" in reply, (address, reply)
    assert downstream.messages == []


def test_look_alike_domains_are_external(gateway: GatewayProcess, downstream: Downstream) -> None:
    for address in ("bob@xn--exmple-4nf.org", "bob@example.org.evil.test", "bob@example.org.uk",
                    "bob@mail.example.org"):
        code, reply = gateway.send(ALICE, [address], message("Internal\n\nx"))
        assert code == 550, (address, reply)
        assert "external" in reply


def test_log_lines_carry_the_decision_but_never_subject_or_body(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    code, _ = gateway.send(ALICE, [BOB], message("Internal\n\nAmira fled from Aleppo.",
                                                 subject="Amira asylum hearing"))
    assert code == 250
    log = gateway.log()
    assert "Amira" not in log and "Aleppo" not in log
    last = gateway.log_events("message")[-1]
    assert last["stamp"] == "internal"
    assert last["verdicts"] == {BOB: "allow"}
    assert last["outcome"] == "relayed"
    assert last["rules"] == ["internal.organisation"]
    assert len(last["policy_version"]) == 12


def test_log_lines_say_where_each_messages_time_went(gateway: GatewayProcess,
                                                     downstream: Downstream) -> None:
    """Each message's log line times the stages it went through: a relayed message every one
    up to the downstream's answer, a bounced one none past the decision, a held one its
    hold. Times only (ms, non-negative), the loop's CPU never above the elapsed time."""
    sent = [(BOB, "Cleared for publication\n\nThe story may go out.", 250),
            (PRESS, "Internal\n\nNot for the press.", 550),
            (PARTNER, "Needs adjustment in 2 ways: blur face, change name\n\nDraft.", 250)]
    for recipient, body, expected in sent:
        code, reply = gateway.send(ALICE, [recipient], message(body))
        assert code == expected, reply
    relayed, bounced, held = gateway.log_events("message")[-3:]
    assert (relayed["outcome"], bounced["outcome"], held["outcome"]) == (
        "relayed", "bounced", "held")
    assert list(relayed["stage_ms"]) == ["checks", "earlier", "thread", "read", "decide",
                                         "claim", "deliver", "answer"]
    assert list(bounced["stage_ms"]) == ["checks", "earlier", "thread", "read", "decide"]
    assert list(held["stage_ms"]) == ["checks", "earlier", "thread", "read", "decide", "hold"]
    for line in (relayed, bounced, held):
        wall, cpu = line["stage_ms"], line["stage_cpu_ms"]
        assert list(cpu) == list(wall)
        assert all(isinstance(ms, float | int) and ms >= 0 for ms in [*wall.values(),
                                                                      *cpu.values()])
        assert sum(wall.values()) <= line["ms"] + 0.01
        # The CPU clock ticks coarser than the wall clock: allow it a tick's rounding.
        assert all(cpu[s] <= wall[s] + 1.0 for s in wall)
