"""stampgate as a milter of a real Postfix: relay, bounce, partial and whole holds, releases
through Postfix, store trouble and a milter that is down (Postfix fails closed)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import urllib.request

from tests.milter.conftest import MilterPostfix
from tests.support.gateway import message
from tests.support.review_gateway import ADJUST, PASSWORD, cli, wait_for

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"
PARTNER = "partner@outside.test"


def quiet(postfix: MilterPostfix, seconds: float = 1.5) -> list[object]:
    """What reached the recording downstream within ``seconds`` (for 'nothing arrives')."""
    postfix.downstream.wait_for(1, timeout=seconds)
    return list(postfix.downstream.messages)


def release(postfix: MilterPostfix, hold_id: str) -> None:
    # a decision names an enabled reviewer account
    added = cli(postfix.milter, "reviewers", "add", "director@example.org", "--password-stdin",
                "--data", str(postfix.milter.data), stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    done = cli(postfix.milter, "held", "release", hold_id, "--by", "director@example.org",
               "--adjustments-done", "--data", str(postfix.milter.data))
    assert done.returncode == 0, done.stderr


def test_cleared_message_goes_on_with_the_gateways_own_headers(postfix: MilterPostfix) -> None:
    data = message("Cleared for publication\n\nThe story.", to=BOB,
                   headers={"X-Stamp": "cleared", "X-Stampgate-Signature": "forged"})
    code, reply = postfix.send(ALICE, [BOB], data)
    assert code == 250, reply
    [got] = postfix.downstream.wait_for(1)
    assert got.recipients == [BOB]
    header = got.header_text
    assert "forged" not in header  # the client's copies of the gateway's fields are gone
    assert header.count("X-Stamp:") == 1 and "X-Stamp: cleared" in header
    assert "(stampgate) with ESMTP id" in header
    assert header.index("(stampgate)") < header.index("(Postfix)")  # the relay's order
    assert b"The story." in got.data


def test_bounce_gives_the_client_the_relays_550(postfix: MilterPostfix) -> None:
    code, reply = postfix.send(ALICE, [BOB, PRESS, PARTNER], message("Internal\n\nBudget."))
    assert code == 550, reply
    lines = reply.splitlines()
    assert lines[0].startswith("5.7.1 Message refused: nothing was delivered to anyone")
    assert any(PRESS in line and "communications" in line for line in lines)
    assert any(PARTNER in line and "external" in line for line in lines)
    assert lines[-1].startswith("5.7.1 What to do")
    assert quiet(postfix) == []


def test_partial_hold_delivers_the_allowed_now_and_the_rest_on_release(
        postfix: MilterPostfix) -> None:
    data = message(f"{ADJUST}\n\nAmira's story.", to=f"{BOB}, {PARTNER}")
    code, reply = postfix.send(ALICE, [BOB, PARTNER], data)
    assert code == 250, reply
    [now] = postfix.downstream.wait_for(1)
    assert now.recipients == [BOB]
    assert "X-Stamp: needs_adjustment" in now.header_text
    [record] = postfix.held()
    assert record["held_recipients"] == [PARTNER] and record["sender"] == ALICE
    release(postfix, str(record["id"]))
    [later] = wait_for(postfix.downstream, PARTNER, timeout=20)
    assert later.recipients == [PARTNER]  # (the sender is told of the release too)
    assert b"Amira's story." in later.data
    assert postfix.held() == []  # released, not held again by the milter on its way out


def test_wholly_held_message_stays_only_in_the_held_store(postfix: MilterPostfix) -> None:
    code, reply = postfix.send(ALICE, [PARTNER], message(f"{ADJUST}\n\nA story.", to=PARTNER))
    assert code == 250, reply  # the MTA accepted it; it is discarded from the MTA's queue
    assert quiet(postfix) == []
    [record] = postfix.held()
    assert record["held_recipients"] == [PARTNER]
    assert "milter-discard" in postfix.postfix.log.read_text()
    assert postfix.queue() == []  # not on Postfix's hold queue, nor anywhere in it
    release(postfix, str(record["id"]))
    [got] = wait_for(postfix.downstream, PARTNER, timeout=20)
    assert b"A story." in got.data


def test_dangerous_recipient_is_refused_at_rcpt(postfix: MilterPostfix) -> None:
    code, reply = postfix.send(ALICE, ["x%y@example.org"], message("Hello.", to=BOB))
    assert code == 553, reply
    assert "percent hack" in reply
    assert "<x%y@example.org>" in reply, reply  # libmilter's %% read back as one %


def test_store_trouble_is_a_temporary_failure(postfix: MilterPostfix) -> None:
    locker = sqlite3.connect(postfix.milter.data / "stampgate.sqlite3", isolation_level=None)
    with contextlib.closing(locker):
        locker.execute("BEGIN EXCLUSIVE")
        code, reply = postfix.send(ALICE, [BOB, PARTNER],
                                   message(f"{ADJUST}\n\nA story.", to=PARTNER))
        locker.execute("ROLLBACK")
    assert code == 451, reply
    assert reply.startswith("4.3.0") and "store failed" in reply, reply
    assert quiet(postfix) == []
    assert postfix.held() == []


def test_a_reply_in_a_confidential_thread_keeps_its_stamp(postfix: MilterPostfix) -> None:
    parent = "<milter-thread-1@example.org>"
    code, reply = postfix.send(ALICE, [BOB], message("Confidential\n\nThe story.", to=BOB,
                                                    message_id=parent))
    assert code == 250, reply
    postfix.downstream.wait_for(1)
    answer = message("Thanks, see below.", to=PARTNER,
                     headers={"In-Reply-To": parent, "References": parent})
    code, reply = postfix.send(BOB, [PARTNER], answer)  # unstamped: the thread's stamp rules
    assert code == 550, reply
    assert "Confidential" in reply and PARTNER in reply


def test_milter_down_fails_closed_then_recovers(postfix: MilterPostfix) -> None:
    postfix.milter.stop()
    try:
        code, reply = postfix.send(ALICE, [BOB], message("Cleared for publication\n\nNews."))
        assert 400 <= code < 500, (code, reply)  # milter_default_action = tempfail
        assert quiet(postfix) == []
    finally:
        postfix.milter.start()
    deadline = time.monotonic() + 10
    code, reply = 0, ""
    while time.monotonic() < deadline and code != 250:
        code, reply = postfix.send(ALICE, [BOB], message("Cleared for publication\n\nNews."))
    assert code == 250, reply
    assert postfix.downstream.wait_for(1)[0].recipients == [BOB]


def test_readiness_and_metrics_of_the_milter(postfix: MilterPostfix) -> None:
    """/readyz probes the store and the release port (Postfix's milter-less listener)."""
    base = f"http://127.0.0.1:{postfix.milter.web_port}"
    with urllib.request.urlopen(f"{base}/readyz", timeout=10) as answer:
        ready = json.loads(answer.read())
    assert ready["ready"] is True, ready
    assert ready["checks"]["downstream"]["ok"] is True
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        assert b"stampgate_" in answer.read()


def test_a_message_sent_to_postfix_twice_is_held_once_and_keeps_its_headers(
        postfix: MilterPostfix) -> None:
    """The client's retry through Postfix: the milter gives the same answer, the hold is not
    made twice, and the allowed part Postfix delivers again carries the gateway's fields."""
    data = message(f"{ADJUST}\n\nAmira's story.", to=f"{BOB}, {PARTNER}",
                   message_id="<milter-twice@client.test>")
    before = {row["id"] for row in postfix.held()}  # the module's Postfix held others earlier
    assert postfix.send(ALICE, [BOB, PARTNER], data)[0] == 250
    assert postfix.send(ALICE, [BOB, PARTNER], data)[0] == 250
    copies = postfix.downstream.wait_for(2)
    assert [c.recipients for c in copies] == [[BOB], [BOB]]  # Postfix delivers what it took
    for copy in copies:
        assert "X-Stamp: needs_adjustment" in copy.header_text
        assert copy.header_text.count("X-Stamp:") == 1  # the gateway's, once
        assert "(stampgate) with ESMTP id" in copy.header_text
    [record] = [row for row in postfix.held() if row["id"] not in before]
    assert record["held_recipients"] == [PARTNER]
    assert [e["hold_id"] for e in postfix.milter.log_events("message-repeated")] == [record["id"]]


def test_the_milters_log_carries_no_subject_or_body(postfix: MilterPostfix) -> None:
    data = message(f"{ADJUST}\n\nNadia's secret route.", to=f"{BOB}, {PARTNER}",
                   subject="Nadia crossed in May")
    code, reply = postfix.send(ALICE, [BOB, PARTNER], data)
    assert code == 250, reply
    postfix.downstream.wait_for(1)
    log = postfix.milter.log()
    assert '"event": "milter-answer"' in log and '"outcome": "partly-held"' in log
    for secret in ("Nadia", "secret route", "crossed in May"):
        assert secret not in log
