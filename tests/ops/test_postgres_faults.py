"""PostgreSQL going away under a running gateway: 451 4.3.0, never 250; /readyz not ready;
the pool reconnects and mail flows again by itself once the server is back.

The server is reached through a loopback proxy that the test stops (every connection cut,
new ones refused) and starts again: the machine's PostgreSQL is shared and never restarted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message
from tests.support.postgres import TestDatabase
from tests.support.tcp_proxy import TcpProxy

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"
HOLD = "Needs adjustment: blur face\n\nA client story."
CLEARED = "Cleared for publication\n\nNews for everyone."


def ready(process: GatewayProcess) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{process.web_port}/readyz", timeout=15)


def held(process: GatewayProcess, url: str) -> list[dict[str, object]]:
    result = process.run_cli("held", "list", "--json", "--store", url)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_postgresql_unreachable_gives_451_then_service_resumes(
        tmp_path: Path, downstream: Downstream, postgres: TestDatabase) -> None:
    direct = postgres.new_schema()
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    proxied = direct.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    process = GatewayProcess(tmp_path, downstream.url, extra_args=["--store", proxied],
                             config={"workers": 1}).start()
    try:
        code, reply = process.send(ALICE, [PARTNER], message(HOLD, to=PARTNER))
        assert code == 250 and "held for review" in reply, reply
        assert ready(process).status_code == 200

        proxy.stop()
        started = time.monotonic()
        code, reply = process.send(ALICE, [PARTNER], message(HOLD, to=PARTNER))
        assert (code, reply[:5]) == (451, "4.3.0"), reply
        # the relay path records the thread first: no 250 without it either
        code, reply = process.send(ALICE, [BOB], message(CLEARED))
        assert (code, reply[:5]) == (451, "4.3.0"), reply
        assert time.monotonic() - started < 30
        probe = ready(process)
        assert probe.status_code == 503, probe.text
        assert probe.json()["checks"]["store"]["ok"] is False
        assert downstream.messages == []

        proxy.start()
        deadline = time.monotonic() + 60
        while True:
            code, reply = process.send(ALICE, [PARTNER], message(HOLD, to=PARTNER))
            if code == 250 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert code == 250 and "held for review" in reply, reply
        assert ready(process).status_code == 200
        assert len(held(process, direct)) == 2  # the refused one was never stored
        code, reply = process.send(ALICE, [BOB], message(CLEARED))
        assert code == 250, reply
    finally:
        process.stop()
        proxy.stop()
    log = process.log()
    assert "A client story" not in log and "News for everyone" not in log
    assert "Case update" not in log
