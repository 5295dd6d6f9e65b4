"""Thread memory over real SMTP: confidential chains, inheritance, newcomers, downgrades."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
DAVE = "dave@example.org"
PRESS = "press@example.org"
DIRECTOR = "director@example.org"
PARTNER = "partner@outside.test"


@pytest.fixture
def process(tmp_path: Path, downstream: Downstream) -> Iterator[GatewayProcess]:
    gateway = GatewayProcess(tmp_path, downstream.url).start()
    yield gateway
    gateway.stop()


def start_chain(process: GatewayProcess, downstream: Downstream) -> None:
    code, reply = process.send(ALICE, [BOB, CAROL], message(
        "Confidential\n\nAmira's hearing is on Monday.", to=f"{BOB}, {CAROL}",
        message_id="<chain-1@example.org>", subject="Hearing"))
    assert code == 250 and "held" not in reply, reply
    assert downstream.wait_for(1)[0].recipients == [BOB, CAROL]
    downstream.clear()


def reply_to(body: str, sender: str, *, in_reply_to: str | None = "<chain-1@example.org>",
             references: str | None = None, message_id: str = "<r@example.org>") -> bytes:
    headers = {}
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    if references:
        headers["References"] = references
    return message(body, sender=sender, subject="Re: Hearing", headers=headers,
                   message_id=message_id)


def held(process: GatewayProcess) -> list[dict[str, object]]:
    result = process.run_cli("held", "list", "--json", "--data", str(process.data))
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_organisation_newcomer_is_held_and_named(process: GatewayProcess,
                                                 downstream: Downstream) -> None:
    start_chain(process, downstream)
    code, reply = process.send(BOB, [ALICE, CAROL, DAVE], reply_to("Thanks, see below.", BOB))
    assert code == 250 and "held for review" in reply, reply
    assert downstream.wait_for(1)[0].recipients == [ALICE, CAROL]
    [record] = held(process)
    assert record["held_recipients"] == [DAVE]
    assert record["newcomers"] == [DAVE]
    assert record["thread_id"] == "<chain-1@example.org>"
    assert record["stamp"] == "confidential"
    listing = process.run_cli("held", "list", "--data", str(process.data)).stdout
    assert "new to the thread: dave@example.org" in listing


def test_communications_on_a_confidential_chain_bounces(process: GatewayProcess,
                                                        downstream: Downstream) -> None:
    start_chain(process, downstream)
    code, reply = process.send(BOB, [ALICE, PRESS], reply_to("Loop in press?", BOB))
    assert code == 550 and PRESS in reply
    # Unstamped mail to communications bounces anyway: the reason must be the thread.
    assert "Confidential" in reply and "thread" in reply, reply
    assert downstream.messages == []


def test_unstamped_reply_to_an_outsider_inherits_and_bounces(process: GatewayProcess,
                                                             downstream: Downstream) -> None:
    start_chain(process, downstream)
    code, reply = process.send(BOB, [PARTNER], reply_to("Can you help?", BOB))
    assert code == 550, reply
    assert "Confidential" in reply and "thread" in reply
    assert downstream.messages == []


def test_reply_threaded_only_by_references(process: GatewayProcess,
                                           downstream: Downstream) -> None:
    start_chain(process, downstream)
    body = reply_to("fyi", BOB, in_reply_to=None,
                    references="<unknown@elsewhere.test> <chain-1@example.org>")
    code, reply = process.send(BOB, [PARTNER], body)
    assert code == 550, reply


def test_reply_to_a_reply_stays_in_the_chain(process: GatewayProcess,
                                             downstream: Downstream) -> None:
    start_chain(process, downstream)
    code, _ = process.send(BOB, [ALICE], reply_to("ok", BOB, message_id="<r1@example.org>"))
    assert code == 250
    code, reply = process.send(ALICE, [PARTNER], reply_to(
        "again", ALICE, in_reply_to="<r1@example.org>", message_id="<r2@example.org>"))
    assert code == 550, reply


def test_same_subject_without_references_is_a_new_thread(process: GatewayProcess,
                                                         downstream: Downstream) -> None:
    start_chain(process, downstream)
    fresh = message("Hello partner", subject="Re: Hearing", message_id="<new@example.org>")
    code, reply = process.send(BOB, [PARTNER], fresh)
    assert code == 250 and "held" not in reply, reply
    assert downstream.wait_for(1)[0].recipients == [PARTNER]


def test_management_may_clear_a_confidential_story(tmp_path: Path,
                                                   downstream: Downstream) -> None:
    # Management's right counts for a verified sender only (here: a verified upstream).
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"verified_upstreams": ["127.0.0.1/32"]}).start()
    try:
        start_chain(process, downstream)
        cleared = reply_to("Cleared for publication\n\nA story, names changed.", DIRECTOR)
        vouched = b"X-Stampgate-Verified-Sender: yes\r\n" + cleared
        code, reply = process.send(DIRECTOR, [PRESS], vouched)
        assert code == 250 and "held" not in reply, reply
        assert downstream.wait_for(1)[0].recipients == [PRESS]
        last = process.log_events("message")[-1]
        assert "permitted" in last["downgrade"]
    finally:
        process.stop()


def test_a_claimed_management_sender_may_not_clear_it(process: GatewayProcess,
                                                      downstream: Downstream) -> None:
    start_chain(process, downstream)
    cleared = reply_to("Cleared for publication\n\nA story, names changed.", DIRECTOR)
    code, reply = process.send(DIRECTOR, [PRESS], cleared)
    assert code == 250 and "held for review" in reply, reply
    assert downstream.wait_for(1, timeout=0.3) == []


def test_staff_lowering_a_thread_stamp_is_a_downgrade_hold(process: GatewayProcess,
                                                           downstream: Downstream) -> None:
    start_chain(process, downstream)
    cleared = reply_to("Cleared for publication\n\nThe story.", BOB)
    code, reply = process.send(BOB, [PRESS], cleared)
    assert code == 250 and "held for review" in reply, reply
    [record] = held(process)
    assert "downgrade from Confidential to Cleared for publication" in str(record["downgrade"])
    assert downstream.wait_for(1, timeout=0.3) == []


def test_thread_memory_survives_a_restart(process: GatewayProcess,
                                          downstream: Downstream) -> None:
    start_chain(process, downstream)
    process.restart()
    code, reply = process.send(BOB, [PARTNER], reply_to("still secret", BOB))
    assert code == 550, reply
    code, reply = process.send(BOB, [ALICE, DAVE], reply_to("new person", BOB))
    assert code == 250 and "held for review" in reply
