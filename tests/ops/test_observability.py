"""/healthz, /readyz and /metrics on the web port of a real gateway process."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.support.downstream import Downstream, Mode, free_port
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"
PARTNER = "partner@outside.test"


def get(process: GatewayProcess, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{process.web_port}{path}", timeout=15)


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    for line in metrics.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        found = re.fullmatch(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)", line)
        if not found or found.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(found.group(3))
    return 0.0


def test_health_ready_and_metrics_follow_the_traffic(tmp_path: Path,
                                                     downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 1}).start()
    try:
        health = get(process, "/healthz")
        assert health.status_code == 200 and health.text == "ok\n"
        ready = get(process, "/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True
        assert body["checks"]["policy"]["last_reload_error"] is None
        assert body["checks"]["downstream"]["ok"] is True
        assert body["checks"]["store"]["held"] == 0

        assert process.send(ALICE, [BOB], message("Internal\n\nx"))[0] == 250
        assert process.send(ALICE, [PRESS], message("Internal\n\nx"))[0] == 550
        code, reply = process.send(ALICE, [BOB, PARTNER], message("Needs adjustment: blur\n\nx"))
        assert code == 250 and "held" in reply
        downstream.set(Mode.TEMPFAIL)
        assert process.send(ALICE, [BOB], message("Internal\n\nx"))[0] == 451
        downstream.set(Mode.ACCEPT)

        metrics = get(process, "/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert sample(text, "stampgate_messages_total", verdict="allow", stamp="internal") == 2
        assert sample(text, "stampgate_messages_total", verdict="bounce", stamp="internal") == 1
        assert sample(text, "stampgate_messages_total", verdict="hold",
                      stamp="needs_adjustment") == 1
        assert sample(text, "stampgate_message_outcomes_total", outcome="relayed") == 1
        assert sample(text, "stampgate_message_outcomes_total", outcome="partly-held") == 1
        assert sample(text, "stampgate_message_outcomes_total", outcome="deferred") == 1
        assert sample(text, "stampgate_recipients_total", verdict="hold") == 1
        assert sample(text, "stampgate_downstream_errors_total", kind="temporary") == 1
        assert sample(text, "stampgate_message_seconds_count", outcome="relayed") == 1
        assert sample(text, "stampgate_held_messages") == 1
        assert 0 <= sample(text, "stampgate_held_oldest_age_seconds") < 60
        assert sample(text, "stampgate_policy_reload_refused") == 0
        assert "stampgate_policy_info{version=" in text
        assert "Case update" not in text  # never a subject
    finally:
        downstream.set(Mode.ACCEPT)
        process.stop()


def test_a_refused_policy_reload_is_reported_but_keeps_the_gateway_ready(
        tmp_path: Path, downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "policy_poll_seconds": 0.2}).start()
    try:
        rules = process.policies / "rules.toml"
        rules.write_text(rules.read_text() + "\n[internal]\nexternal = 42\n")
        deadline = time.monotonic() + 10
        while not process.log_events("policy-refused"):
            assert time.monotonic() < deadline, process.log()
            time.sleep(0.05)
        ready = get(process, "/readyz")
        assert ready.status_code == 200
        error = ready.json()["checks"]["policy"]["last_reload_error"]
        assert error and "rules.toml" in error
        assert sample(get(process, "/metrics").text, "stampgate_policy_reload_refused") == 1
    finally:
        process.stop()


def test_not_ready_while_the_downstream_is_down(tmp_path: Path) -> None:
    process = GatewayProcess(tmp_path, f"smtp://127.0.0.1:{free_port()}",
                             config={"workers": 1}).start()
    try:
        ready = get(process, "/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["downstream"]["ok"] is False
        assert "cannot connect" in checks["downstream"]["detail"]
        assert checks["store"]["ok"] is True
        assert get(process, "/healthz").status_code == 200  # alive all the same
    finally:
        process.stop()


def test_not_ready_while_the_store_is_locked(tmp_path: Path, downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 1}).start()
    try:
        locker = sqlite3.connect(process.data / "stampgate.sqlite3", isolation_level=None)
        with contextlib.closing(locker):
            locker.execute("BEGIN EXCLUSIVE")
            ready = get(process, "/readyz")
            locker.execute("ROLLBACK")
        assert ready.status_code == 503
        assert ready.json()["checks"]["store"]["ok"] is False
        assert get(process, "/readyz").status_code == 200
    finally:
        process.stop()


def test_metrics_add_up_every_worker_in_multiprocess_mode(
        tmp_path: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch) -> None:
    metrics_dir = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 2}).start()
    try:
        deadline = time.monotonic() + 15
        while len(process.log_events("listening")) < 2:
            assert time.monotonic() < deadline, process.log()
            time.sleep(0.05)
        sent = 0
        # until both workers have handled mail (the kernel picks who accepts), at most 300
        while sent < 10 or len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert sent < 300, "one worker took every connection"
            assert process.send(ALICE, [BOB], message("Internal\n\nx"))[0] == 250
            sent += 1
        text = get(process, "/metrics").text
        assert sample(text, "stampgate_messages_total", verdict="allow",
                      stamp="internal") == sent
    finally:
        process.stop()


def test_metrics_add_up_every_worker_with_no_setting(tmp_path: Path,
                                                     downstream: Downstream) -> None:
    """Two workers and no PROMETHEUS_MULTIPROC_DIR: the supervisor makes DATA/metrics, every
    message is counted once, and the directory goes when the gateway stops."""
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 2}).start()
    metrics_dir = process.data / "metrics"
    try:
        deadline = time.monotonic() + 15
        while len(process.log_events("listening")) < 2:
            assert time.monotonic() < deadline, process.log()
            time.sleep(0.05)
        assert metrics_dir.is_dir() and metrics_dir.stat().st_mode & 0o777 == 0o700
        sent = 0
        while sent < 14 or len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert sent < 300, "one worker took every connection"
            assert process.send(ALICE, [BOB], message("Internal\n\nx"))[0] == 250
            sent += 1
        text = get(process, "/metrics").text
        assert sample(text, "stampgate_messages_total", verdict="allow",
                      stamp="internal") == sent
    finally:
        assert process.stop() == 0
    assert not metrics_dir.exists()


def test_a_metrics_failure_never_changes_the_answer(
        tmp_path: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch) -> None:
    # multiprocess mode pointed at a directory that does not exist (and no web port to
    # create it): recording a metric fails, the message must still be relayed with 250
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing" / "metrics"))
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "web_listen": ""}).start()
    try:
        code, reply = process.send(ALICE, [BOB], message("Internal\n\nx"))
        assert code == 250, reply
        assert len(downstream.wait_for(1)) == 1
        assert process.log_events("metrics-failed")
    finally:
        process.stop()
