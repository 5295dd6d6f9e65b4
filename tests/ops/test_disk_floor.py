"""The free-space floor: below ``min_free_bytes`` the gateway is not ready and takes no mail.

A real disk cannot be filled for a test without privileges, so the floor is raised above the
free space of the real file system instead: the gateway compares the same statvfs figure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

from gateway.adapters.space import DiskSpace, free_bytes
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
EXABYTE = 10**18


def get(process: GatewayProcess, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{process.web_port}{path}", timeout=15)


def test_below_the_floor_not_ready_and_new_mail_gets_452(tmp_path: Path,
                                                         downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "min_free_bytes": EXABYTE}).start()
    try:
        ready = get(process, "/readyz")
        assert ready.status_code == 503, ready.text
        disk = ready.json()["checks"]["disk"]
        assert disk["ok"] is False and disk["min_free_bytes"] == EXABYTE
        assert 0 < disk["free_bytes"] < EXABYTE
        assert "below min_free_bytes" in disk["detail"]
        assert ready.json()["checks"]["store"]["ok"] is True
        assert get(process, "/healthz").status_code == 200  # alive: do not restart it

        code, reply = process.send(ALICE, [BOB], message("Internal\n\nThe audit numbers."))
        assert code == 452, reply
        assert reply.startswith("4.3.1 Insufficient system storage: the gateway is low on "
                                "disk space; try again later"), reply
        assert "hold" not in reply
        assert downstream.messages == []
        refused = process.log_events("refused-low-disk")
        assert refused and refused[0]["min_free_bytes"] == EXABYTE
        assert "audit" not in process.log()
    finally:
        process.stop()


def test_above_the_floor_ready_and_the_figures_are_shown(tmp_path: Path,
                                                         downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 1}).start()
    try:
        ready = get(process, "/readyz")
        assert ready.status_code == 200, ready.text
        disk = ready.json()["checks"]["disk"]
        assert disk["ok"] is True and disk["min_free_bytes"] == 100 * 1024 * 1024
        assert disk["free_bytes"] >= disk["min_free_bytes"]
        assert process.send(ALICE, [BOB], message("Internal\n\nx"))[0] == 250
        metrics = get(process, "/metrics").text
        assert re.search(r"^stampgate_disk_free_bytes [0-9.e+]+$", metrics, re.MULTILINE)
    finally:
        process.stop()


def test_disk_space_is_cached_for_a_second_and_unknown_counts_as_none(tmp_path: Path) -> None:
    now = [0.0]
    space = DiskSpace(tmp_path, floor=1, clock=lambda: now[0])
    assert space.free() > 0 and abs(space.free() - free_bytes(tmp_path)) < 10**9
    assert not space.low()
    floor_above = DiskSpace(tmp_path, floor=EXABYTE)
    assert floor_above.low()
    gone = tmp_path / "gone"
    gone.mkdir()
    later = DiskSpace(gone, floor=1, clock=lambda: now[0])
    assert not later.low()
    os.rmdir(gone)
    assert not later.low()  # cached: no statvfs within the second
    now[0] = 1.0
    assert later.low() and later.free() == 0  # cannot be examined: no space
    gone.mkdir()
    assert later.low() and not later.low(fresh=True)
