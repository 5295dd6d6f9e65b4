"""Policy changes go live without a restart; a broken edit is refused and the old policy kept."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
NEWS = "newsletter@example.org"


@pytest.fixture
def process(tmp_path: Path, downstream: Downstream) -> Iterator[GatewayProcess]:
    gateway = GatewayProcess(tmp_path, downstream.url,
                             config={"policy_poll_seconds": 0.2}).start()
    yield gateway
    gateway.stop()


def add_to_communications(process: GatewayProcess, address: str) -> None:
    group = process.policies / "groups" / "communications.toml"
    text = group.read_text().replace('"press@example.org"', f'"press@example.org", "{address}"')
    group.write_text(text)


def wait_for_event(process: GatewayProcess, event: str, count: int,
                   timeout: float = 10.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = process.log_events(event)
        if len(events) >= count:
            return events
        time.sleep(0.05)
    raise AssertionError(f"no {event} in the log:\n{process.log()}")


def test_a_valid_change_takes_effect_on_the_next_message(process: GatewayProcess,
                                                         downstream: Downstream) -> None:
    code, _ = process.send(ALICE, [NEWS], message("Internal\n\nx"))
    assert code == 250
    with process.client() as held_open:  # a connection open across the reload stays usable
        held_open.ehlo()
        add_to_communications(process, NEWS)
        workers = len(process.log_events("listening"))
        wait_for_event(process, "policy-loaded", workers)
        code, reply = process.send(ALICE, [NEWS], message("Internal\n\nx"))
        assert code == 550 and "communications" in reply
        assert held_open.noop()[0] == 250
    versions = {e["policy_version"] for e in process.log_events("message")}
    assert len(versions) == 2  # every decision logs the policy version it was made under


def test_an_invalid_change_is_refused_and_the_old_policy_stays(process: GatewayProcess,
                                                               downstream: Downstream) -> None:
    rules = process.policies / "rules.toml"
    rules.write_text(rules.read_text().replace('[internal]\n', '[internal]\nexternal = "maybe"\n'))
    workers = len(process.log_events("listening"))
    refused = wait_for_event(process, "policy-refused", workers)
    assert "rules.toml" in str(refused[0]["problems"])
    code, reply = process.send(ALICE, ["partner@outside.test"], message("Internal\n\nx"))
    assert code == 550, reply  # still enforced under the last good policy
    code, _ = process.send(ALICE, ["bob@example.org"], message("Internal\n\nx"))
    assert code == 250


def test_sighup_reloads(tmp_path: Path, downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"policy_poll_seconds": 0}).start()
    try:
        add_to_communications(process, NEWS)
        time.sleep(0.3)
        code, _ = process.send(ALICE, [NEWS], message("Internal\n\nx"))
        assert code == 250  # no polling: not yet reloaded
        assert process.proc is not None
        process.proc.send_signal(signal.SIGHUP)
        wait_for_event(process, "policy-loaded", len(process.log_events("listening")))
        code, _ = process.send(ALICE, [NEWS], message("Internal\n\nx"))
        assert code == 550
    finally:
        process.stop()
