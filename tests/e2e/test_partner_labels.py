"""Partners' labels over real loopback SMTP: read like stamps, a client's label headers
stripped from what is relayed and never loosening the verdict."""

from __future__ import annotations

import json

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE, BOB = "alice@example.org", "bob@example.org"
PRESS, PARTNER = "press@example.org", "partner@outside.test"
MARKING = "VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive, ORIGIN=jane@agency.gov.au"


@pytest.mark.parametrize("subject", [
    "[TLP:RED] Incident figures",
    "Incident figures (tlp : red)",
    "=?utf-8?b?W1RMUDpSRURdIEluY2lkZW50IGZpZ3VyZXM=?=",  # "[TLP:RED] Incident figures"
    "[ТLP:RЕD] Incident figures",  # Cyrillic Т and Е
])
def test_an_unstamped_tlp_red_mail_does_not_go_outside(gateway: GatewayProcess,
                                                      downstream: Downstream,
                                                      subject: str) -> None:
    code, reply = gateway.send(ALICE, [PARTNER], message("The figures.", subject=subject,
                                                         to=PARTNER))
    assert code == 550, reply
    assert "Confidential" in reply and PARTNER in reply
    assert downstream.messages == []


def test_tlp_amber_on_the_first_line_goes_to_colleagues_only(gateway: GatewayProcess,
                                                            downstream: Downstream) -> None:
    body = "TLP:AMBER\n\nThe figures."
    code, reply = gateway.send(ALICE, [BOB, PRESS], message(body))
    assert code == 550, reply
    assert PRESS in reply and "Internal" in reply
    code, reply = gateway.send(ALICE, [BOB], message(body))
    assert code == 250, reply
    (got,) = downstream.wait_for(1)
    assert "X-Stamp: internal" in got.header_text


def test_a_clients_label_headers_are_stripped_and_only_restrict(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    headers = {"X-Protective-Marking": MARKING, "X-TLP": "CLEAR",
               "SIO-Label": 'marking="UNCLASSIFIED"; type=":ess"; label=MQYGASkCAQM=',
               "SIO-Label-History": "label=MQYGASkCAQM="}
    original = message("The figures.", headers=headers)
    # OFFICIAL:Sensitive is Confidential: not outside, although the client's X-TLP says CLEAR.
    code, reply = gateway.send(ALICE, [PARTNER], original)
    assert code == 550, reply
    assert "Confidential" in reply
    code, reply = gateway.send(ALICE, [BOB], original)
    assert code == 250, reply
    (got,) = downstream.wait_for(1)
    header = got.header_text
    for name in ("X-Protective-Marking", "X-TLP", "SIO-Label", "SIO-Label-History"):
        assert f"{name}:" not in header, name
    assert "X-Stamp: confidential" in header
    assert got.data.endswith(b"\r\n\r\nThe figures.\r\n")


def test_a_spoofed_tlp_clear_header_does_not_clear_unstamped_mail(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    code, reply = gateway.send(ALICE, [PRESS], message("The figures.", headers={
        "X-TLP": "TLP:CLEAR"}))
    assert code == 550, reply
    assert "Unstamped" in reply or "unstamped" in reply
    assert downstream.messages == []
    # A person writing TLP:CLEAR in the Subject is a person's label, like our stamp.
    code, reply = gateway.send(ALICE, [PRESS], message("The figures.",
                                                       subject="TLP:CLEAR press release"))
    assert code == 250, reply
    (got,) = downstream.wait_for(1)
    assert "X-Stamp: cleared" in got.header_text


def test_a_tlp_red_message_attached_under_cleared_is_held_outside(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    inner = message("The figures.", subject="[TLP:RED] figures", sender="a@partner.test")
    outer = (b"From: alice@example.org\r\nTo: partner@outside.test\r\nSubject: Fwd: figures\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
             b"--XX\r\nContent-Type: text/plain\r\n\r\nCleared for publication\r\n\r\n"
             b"See the attached.\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\n"
             + inner + b"\r\n--XX--\r\n")
    code, reply = gateway.send(ALICE, [PARTNER], outer)
    assert code == 250, reply
    hold_id = reply.split("held for review as ")[1].split()[0]
    shown = gateway.run_cli("held", "show", hold_id, "--json", "--data", str(gateway.data))
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["held_recipients"] == [PARTNER]
    assert "downgrade from Confidential to Cleared for publication" in json.dumps(record)
    assert downstream.wait_for(1, timeout=0.5) == []
