"""A private Postfix instance whose smtpd asks ``stampgate milter``, and a recording sink.

Postfix's 127.0.0.1 listener (``postfix.port``) has ``smtpd_milters`` pointing at the milter
and ``milter_default_action = tempfail``; a second listener (``release_port``) has no milter:
it is the milter's downstream, where releases and notices go. Postfix relays everything to the
recording downstream. The Postfix helper is the benchmark's (tests/perf/servers.py).
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.downstream import Downstream, free_port
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import FAST, add_reviewer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))
from servers import Postfix

if shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin") is None:
    raise RuntimeError("tests/milter needs Postfix (Debian package postfix; scripts/test "
                       "installs it)")


class MilterProcess(GatewayProcess):
    """``stampgate milter`` on an inet socket, releasing through Postfix's plain port."""

    def __init__(self, workdir: Path, release_port: int, milter_port: int | None = None,
                 config: dict[str, Any] | None = None, unix: Path | None = None,
                 milter: dict[str, str] | None = None) -> None:
        super().__init__(workdir, f"smtp://127.0.0.1:{release_port}", config=config)
        self.milter_port = milter_port or free_port()
        self.unix = unix  # a Unix socket instead of the inet port
        self.milter_table = milter or {}  # the [milter] table (listen is given by --listen)

    @property
    def socket(self) -> str:
        return f"unix:{self.unix}" if self.unix else f"inet:127.0.0.1:{self.milter_port}"

    def command(self) -> list[str]:
        args = super().command()
        args[args.index("serve")] = "milter"
        at = args.index("--listen")
        args[at + 1] = self.socket
        if self.milter_table:
            config = Path(args[args.index("--config") + 1])
            table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.milter_table.items())
            config.write_text(config.read_text() + "[milter]\n" + table)
        return args

    def start(self, wait: bool = True) -> MilterProcess:
        self.started_before = len(self.log_events("listening"))  # the log is appended to
        super().start(wait)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"milter exited with {self.proc.returncode}:\n{self.log()}")
            workers = int((self.config or {}).get("workers", 1))
            if len(self.log_events("listening")) >= self.started_before + workers:
                if self.unix is not None:
                    # Postfix's smtpd runs as postfix: it connects through the group.
                    os.chown(self.unix, -1, grp.getgrnam("postfix").gr_gid)
                    return
                with socket.create_connection(("127.0.0.1", self.milter_port), timeout=2):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"milter did not start:\n{self.log()}")


class MilterPostfix:
    """Postfix, its milter and the recording downstream, started together."""

    def __init__(self, workdir: Path, config: dict[str, Any] | None = None,
                 unix: Path | None = None, milter: dict[str, str] | None = None) -> None:
        self.downstream = Downstream().start()
        self.release_port = free_port()
        # Hold notices off: the recording downstream sees only the messages themselves.
        self.milter = MilterProcess(workdir, self.release_port,
                                    config={**FAST, "notify_mode": "off", **(config or {})},
                                    unix=unix, milter=milter)
        add_reviewer(self.milter)
        release = (f"127.0.0.1:{self.release_port} inet n - n - - smtpd\n"
                   "  -o smtpd_milters=\n")
        self.postfix = Postfix(self.downstream.port, settings={
            "smtpd_milters": self.milter.socket,
            "milter_default_action": "tempfail",
            "milter_protocol": "6",
            # Retry soon after a temporary failure, so the tests do not wait minutes.
            "queue_run_delay": "1s", "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        }, extra_master=release)
        self.milter.start()
        self.postfix.start()

    @property
    def port(self) -> int:
        return self.postfix.port

    def send(self, sender: str, recipients: list[str], data: bytes) -> tuple[int, str]:
        """Send one message to Postfix; the reply to DATA, or the refusal before it."""
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test",
                          timeout=30) as smtp:
            smtp.ehlo()
            code, text = smtp.mail(sender)
            if code != 250:
                return code, text.decode()
            last, accepted = (0, ""), 0
            for rcpt in recipients:
                code, text = smtp.rcpt(rcpt)
                last = (code, text.decode())
                accepted += code in (250, 251)
            if not accepted:
                return last
            code, text = smtp.data(data)
            return code, text.decode()

    def held(self) -> list[dict[str, Any]]:
        listed = self.milter.run_cli("held", "list", "--json", "--data", str(self.milter.data))
        assert listed.returncode == 0, listed.stderr
        rows: list[dict[str, Any]] = json.loads(listed.stdout)
        return rows

    def queue(self) -> list[dict[str, Any]]:
        """Postfix's queue (``postqueue -j``): one entry per message, with ``queue_name``
        (``hold``, ``incoming``, ``active``, ``deferred``) and its ``recipients``."""
        listed = subprocess.run(["postqueue", "-c", str(self.postfix.config), "-j"],
                                capture_output=True, text=True, timeout=30, check=False)
        assert listed.returncode == 0, listed.stderr
        return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]

    def on_hold(self) -> list[dict[str, Any]]:
        return [entry for entry in self.queue() if entry["queue_name"] == "hold"]

    def close(self) -> None:
        self.postfix.close()
        self.milter.stop()
        self.downstream.stop()


@pytest.fixture(scope="module")
def mta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilterPostfix]:
    running = MilterPostfix(tmp_path_factory.mktemp("milter"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def postfix(mta: MilterPostfix) -> Iterator[MilterPostfix]:
    """The module's Postfix and milter, with an empty recording downstream."""
    mta.downstream.clear()
    yield mta
