"""The same message gets the same decision through `stampgate serve` and through Postfix with
`stampgate milter`: the reading cases of tests/e2e (the stamp a person sees) and the stamp
table, each sent to a relay and to Postfix, their decisions and replies compared."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_reading_like_a_reader import CLEARED, REFUSED, RESTRICTED
from tests.milter.conftest import MilterPostfix
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message
from tests.support.review_gateway import ADJUST

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"
DIRECTOR = "director@example.org"
PARTNER = "partner@outside.test"
# What the decision is made of; ids, sizes and timings differ between two processes.
DECISION = ("outcome", "stamp", "found_in", "verdicts", "rules", "downgrade", "newcomers",
            "unreadable", "thread_id")

STAMPS = ("Cleared for publication", ADJUST, "Internal", "Confidential", "")
CASES: dict[str, tuple[list[str], bytes]] = {
    **{f"reading: {name}": ([PRESS, PARTNER], data) for name, data in RESTRICTED.items()
       if name not in REFUSED},
    **{f"reading: {name}": ([PRESS], data) for name, data in CLEARED.items()},
    **{f"table: {stamp or 'no stamp'} to {to}": ([to], message(f"{stamp}\n\nThe story.", to=to))
       for stamp in STAMPS for to in (BOB, DIRECTOR, PRESS, PARTNER)},
    "several: bounce names each": ([BOB, PRESS, PARTNER], message("Internal\n\nBudget.")),
    "several: partial hold": ([BOB, PARTNER], message(f"{ADJUST}\n\nA story.")),
    "several: confidential chain": ([BOB, DIRECTOR, PARTNER], message("Confidential\n\nX.")),
}


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    sink = Downstream().start()
    process = GatewayProcess(tmp_path_factory.mktemp("relay"), sink.url,
                             config={"workers": 1}).start()
    yield process
    process.stop()
    sink.stop()


def decision(process: GatewayProcess) -> dict[str, Any]:
    entry = process.log_events("message")[-1]
    return {key: entry.get(key) for key in DECISION}


@pytest.mark.parametrize("name", list(CASES))
def test_relay_and_milter_decide_alike(relay: GatewayProcess, postfix: MilterPostfix,
                                       name: str) -> None:
    recipients, data = CASES[name]
    before = len(postfix.milter.log_events("message"))
    relay_code, relay_reply = relay.send(ALICE, recipients, data)
    milter_code, milter_reply = postfix.send(ALICE, recipients, data)
    assert milter_code == relay_code, (relay_reply, milter_reply)
    assert len(postfix.milter.log_events("message")) == before + 1
    assert decision(postfix.milter) == decision(relay)
    if relay_code == 550:  # the client reads the same reply
        assert milter_reply == relay_reply


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_postfix_ends_an_ambiguous_header_block_before_the_milter_reads_it(
        relay: GatewayProcess, postfix: MilterPostfix, name: str) -> None:
    """The relay refuses a header block whose end is ambiguous (5.6.0). Postfix ends the
    block at the first line that is not a field and writes the blank line itself, so the
    milter reads, and Postfix delivers, a message whose body starts with that line: no
    stamp at its top, the Subject's Cleared rules (docs/deploy.md, "As a Postfix milter")."""
    code, reply = relay.send(ALICE, [PRESS], RESTRICTED[name])
    assert code == 550 and reply.startswith("5.6.0"), reply
    code, reply = postfix.send(ALICE, [PRESS], RESTRICTED[name])
    assert code == 250, reply
    [got] = postfix.downstream.wait_for(1)
    header, _, body = got.data.partition(b"\r\n\r\n")
    assert b"Confidential" not in header
    assert not body.startswith(b"Confidential")  # as delivered: not at the top
    assert decision(postfix.milter)["stamp"] == "cleared"
