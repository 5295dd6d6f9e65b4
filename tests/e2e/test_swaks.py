"""The README's tour, with swaks as the client: bounce, relay, hold."""

from __future__ import annotations

import subprocess

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess


def swaks(gateway: GatewayProcess, to: str, body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{gateway.port}", "--from", "alice@example.org",
         "--to", to, "--header", "Subject: budget", "--body", body, "--helo", "client.test"],
        capture_output=True, text=True, timeout=60)


def test_internal_to_press_bounces_with_the_reason(gateway: GatewayProcess,
                                                   downstream: Downstream) -> None:
    result = swaks(gateway, "press@example.org", "Internal\r\nThe audit numbers are in.")
    assert result.returncode != 0
    assert "<** 550-5.7.1 Message refused" in result.stdout
    assert "<press@example.org> (group communications)" in result.stdout
    assert downstream.messages == []


def test_internal_to_a_colleague_is_relayed(gateway: GatewayProcess,
                                            downstream: Downstream) -> None:
    result = swaks(gateway, "bob@example.org", "Internal\r\nThe audit numbers are in.")
    assert result.returncode == 0, result.stdout
    assert "250 2.0.0 Ok: queued as" in result.stdout
    assert downstream.wait_for(1)[0].recipients == ["bob@example.org"]


def test_needs_adjustment_is_partly_held(gateway: GatewayProcess,
                                         downstream: Downstream) -> None:
    result = swaks(gateway, "bob@example.org,partner@outside.test",
                   "Needs adjustment in 2 ways: blur face, change name\r\nA client story.")
    assert result.returncode == 0, result.stdout
    assert "held for review as H" in result.stdout
    assert downstream.wait_for(1)[0].recipients == ["bob@example.org"]
