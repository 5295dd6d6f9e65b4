"""Run a real ``stampgate serve`` process on loopback for end-to-end tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.downstream import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_POLICIES = ROOT / "policies"


class GatewayProcess:
    """A gateway subprocess with its own data dir, policy copy and log file."""

    def __init__(self, workdir: Path, downstream_url: str, extra_args: list[str] | None = None,
                 config: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.web_port = free_port()  # health, readiness and metrics (web_listen)
        self.data = workdir / "var"
        self.policies = workdir / "policies"
        self.log_path = workdir / "gateway.log"
        self.downstream_url = downstream_url
        self.extra_args = extra_args or []
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        if not self.policies.exists():
            shutil.copytree(EXAMPLE_POLICIES, self.policies)

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "gateway", "serve", "--listen", f"127.0.0.1:{self.port}",
                "--downstream", self.downstream_url, "--policies", str(self.policies),
                "--data", str(self.data)]
        # Hold notices would reach the recording downstream too; tests/review turns them on.
        config = {"web_listen": f"127.0.0.1:{self.web_port}", "notify_mode": "off",
                  **(self.config or {})}
        path = self.workdir / "stampgate.toml"
        lines = [f"{k} = {json.dumps(v)}" for k, v in config.items()]
        path.write_text("\n".join(lines) + "\n")
        args += ["--config", str(path)]
        return args + self.extra_args

    def start(self, wait: bool = True) -> GatewayProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=log,
                                         stderr=log, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"220") and self._all_workers_listening():
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gateway did not start:\n{self.log()}")

    def _all_workers_listening(self) -> bool:
        expected = (self.config or {}).get("workers") or os.cpu_count() or 1
        if "--workers" in self.extra_args:
            expected = int(self.extra_args[self.extra_args.index("--workers") + 1])
        return len(self.log_events("listening")) >= expected

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self, event: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if event is None or item.get("event") == event:
                out.append(item)
        return out

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test", timeout=30)

    def send(self, sender: str, recipients: list[str], data: bytes | str) -> tuple[int, str]:
        """Send one message; return the reply to DATA (code, text) or the refusal."""
        raw = data.encode() if isinstance(data, str) else data
        with self.client() as smtp:
            smtp.ehlo()
            code, msg = smtp.mail(sender)
            if code != 250:
                return code, msg.decode()
            accepted = 0
            last = (0, "")
            for rcpt in recipients:
                code, msg = smtp.rcpt(rcpt)
                last = (code, msg.decode())
                if code in (250, 251):
                    accepted += 1
            if not accepted:
                return last
            code, msg = smtp.data(raw)
            return code, msg.decode()

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "gateway", *args]
        return subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, timeout=60)


def message(body: str, subject: str = "Case update", sender: str = "alice@example.org",
            to: str = "bob@example.org", headers: dict[str, str] | None = None,
            message_id: str | None = None, unique: bool = True) -> bytes:
    """A plain text message with CRLF line endings.

    Without ``message_id`` it gets a Message-ID of its own (``unique``), as a mail client
    writes: the gateway takes the same message sent twice for a retry and acts on it once.
    ``unique=False``: no Message-ID at all.
    """
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
             "Date: Thu, 26 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8"]
    if message_id is None and unique:
        message_id = f"<{uuid.uuid4().hex}@client.test>"
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    text = "\r\n".join(lines) + "\r\n\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")
    if not text.endswith("\r\n"):
        text += "\r\n"
    return text.encode("utf-8")
