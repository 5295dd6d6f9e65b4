"""A gateway subprocess set up for review tests: fast outbox and housekeeping, one worker."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.downstream import Downstream, Received
from tests.support.gateway import GatewayProcess, message

HOLD_ID = re.compile(r"held for review as (H[0-9A-F]+)")
ADJUST = "Needs adjustment in 2 ways: blur face, change name"
SUBJECT = "Amira's story"
PASSWORD = "correct horse battery staple"
FAST = {"workers": 1, "notify_mode": "per-message", "outbox_poll_seconds": 0.1,
        "outbox_retry_seconds": 0.2, "outbox_retry_max_seconds": 0.5,
        "housekeeping_seconds": 0.3, "downstream_timeout": 5}


def review_gateway(workdir: Path, downstream: Downstream, **config: Any) -> GatewayProcess:
    return GatewayProcess(workdir, downstream.url, config={**FAST, **config})


def cli(gateway: GatewayProcess, *args: str, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    command = [gateway.command()[0], "-m", "gateway", *args]
    return subprocess.run(command, cwd=gateway.workdir, capture_output=True, text=True,
                          timeout=60, input=stdin)


def add_reviewer(gateway: GatewayProcess, login: str = "director@example.org",
                 password: str = PASSWORD) -> None:
    done = cli(gateway, "reviewers", "add", login, "--password-stdin", stdin=password + "\n")
    assert done.returncode == 0, done.stderr


def send_held(gateway: GatewayProcess, first_line: str = ADJUST,
              recipients: tuple[str, ...] = ("bob@example.org", "partner@outside.test"),
              body: str = "Amira crossed the border in March.", subject: str = SUBJECT,
              **kwargs: Any) -> str:
    data = message(f"{first_line}\n\n{body}\n", subject=subject, to=", ".join(recipients),
                   **kwargs)
    return send_raw(gateway, data, recipients)


def send_raw(gateway: GatewayProcess, data: bytes,
             recipients: tuple[str, ...] = ("partner@outside.test",)) -> str:
    code, reply = gateway.send("alice@example.org", list(recipients), data)
    assert code == 250, reply
    found = HOLD_ID.search(reply)
    assert found, reply
    return found.group(1)


def wait_for(downstream: Downstream, address: str, count: int = 1,
             timeout: float = 15.0, purpose: str | None = None) -> list[Received]:
    """Messages to ``address`` (notices of ``purpose`` only, if given), waiting for ``count``."""
    deadline = time.monotonic() + timeout
    found: list[Received] = []
    while time.monotonic() < deadline:
        found = [m for m in downstream.delivered_to(address)
                 if purpose is None or f"X-Stampgate-Notice: {purpose}" in m.header_text]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return found
