"""Relaying to a downstream that offers PIPELINING: MAIL, RCPT... and DATA go out in one
write; a refusal of any of them still gives the client the truthful answer and delivers
nothing, and the pooled connection keeps working after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.downstream import Downstream, Mode
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
GHOST = "ghost@example.org"


@pytest.fixture(scope="module")
def piped() -> Iterator[Downstream]:
    server = Downstream(pipelining=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, piped: Downstream) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("piped"), piped.url,
                             config={"workers": 1}).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def _fresh(piped: Downstream) -> None:
    piped.clear()


def test_a_message_goes_out_pipelined_and_intact(relay: GatewayProcess, piped: Downstream) -> None:
    before = piped.state.pipelined
    body = "Cleared for publication\n\n.a line that starts with a dot\n..and two\nend"
    code, reply = relay.send(ALICE, [BOB, CAROL], message(body))
    assert code == 250, reply
    [got] = piped.wait_for(1)
    assert got.recipients == [BOB, CAROL]
    assert b"\r\n.a line that starts with a dot\r\n..and two\r\nend" in got.data
    assert piped.state.pipelined == before + 1


def test_one_refused_recipient_delivers_to_nobody(relay: GatewayProcess,
                                                  piped: Downstream) -> None:
    piped.set(Mode.REFUSE_RCPT, refuse_rcpt=[GHOST])
    code, reply = relay.send(ALICE, [BOB, GHOST, CAROL], message("Internal\n\nx"))
    assert code == 550, reply
    assert GHOST in reply and BOB not in reply
    # DATA got its 354 for the others: the transaction was abandoned, nothing recorded.
    piped.set(Mode.ACCEPT)
    code, reply = relay.send(ALICE, [BOB], message("Internal\n\nafter the refusal"))
    assert code == 250, reply
    [got] = piped.wait_for(1)
    assert got.recipients == [BOB] and b"after the refusal" in got.data


def test_every_recipient_refused_then_the_connection_is_reused(relay: GatewayProcess,
                                                               piped: Downstream) -> None:
    piped.set(Mode.REFUSE_RCPT, refuse_rcpt=[GHOST, "nobody@example.org"])
    code, reply = relay.send(ALICE, [GHOST, "nobody@example.org"], message("Internal\n\nx"))
    assert code == 550, reply
    assert GHOST in reply and "nobody@example.org" in reply
    piped.set(Mode.ACCEPT)
    code, reply = relay.send(ALICE, [BOB], message("Internal\n\nnext"))
    assert code == 250, reply
    assert len(piped.wait_for(1)) == 1


@pytest.mark.parametrize(("mode", "expected"), [(Mode.TEMPFAIL, 451), (Mode.PERMFAIL, 554)])
def test_a_refusal_at_the_end_of_data_is_passed_back(relay: GatewayProcess, piped: Downstream,
                                                     mode: Mode, expected: int) -> None:
    piped.set(mode)
    code, reply = relay.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == expected, reply
    piped.set(Mode.ACCEPT)
    code, reply = relay.send(ALICE, [BOB], message("Internal\n\ny"))
    assert code == 250, reply


def test_a_downstream_that_drops_mid_data_gives_451(relay: GatewayProcess,
                                                    piped: Downstream) -> None:
    piped.set(Mode.DISCONNECT)
    code, reply = relay.send(ALICE, [BOB], message("Internal\n\nx"))
    assert code == 451, reply
    piped.set(Mode.ACCEPT)
    code, reply = relay.send(ALICE, [BOB], message("Internal\n\nagain"))
    assert code == 250, reply


def test_the_pool_reuses_connections_and_says_how_often(tmp_path: Path,
                                                        piped: Downstream) -> None:
    process = GatewayProcess(tmp_path, piped.url, config={"workers": 1}).start()
    try:
        for n in range(5):
            code, reply = process.send(ALICE, [BOB], message(f"Internal\n\nnumber {n}"))
            assert code == 250, reply
    finally:
        process.stop()
    [pool] = process.log_events("downstream-pool")
    assert (pool["opened"], pool["reused"]) == (1, 4)
