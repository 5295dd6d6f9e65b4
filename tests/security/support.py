"""Helpers for the security tests: certificates, accounts, raw SMTP and swaks over loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.adapters.accounts import add_user
from tests.support.downstream import free_port
from tests.support.gateway import GatewayProcess

PASSWORD = "correct horse battery staple"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stampgate.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


def tls_gateway(workdir: Path, downstream_url: str, **config: Any) -> GatewayProcess:
    """A started gateway with a certificate, STARTTLS on the main listener and one worker."""
    cert, key = make_certificate(workdir)
    settings: dict[str, Any] = {"workers": 1, "tls_cert": str(cert), "tls_key": str(key),
                                "listen_tls": "starttls"}
    settings.update(config)
    return GatewayProcess(workdir, downstream_url, config=settings).start()


def submission_port() -> int:
    return free_port()


def add_account(gateway: GatewayProcess, login: str, *addresses: str) -> None:
    add_user(gateway.data / "users.json", login, PASSWORD, list(addresses) or [login])


def swaks(port: int, *args: str, source: str = "127.0.0.1") -> subprocess.CompletedProcess[str]:
    command = ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "client.test",
               "--local-interface", source, "--timeout", "20", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


class RawClient:
    """A raw SMTP connection: send exact bytes, read replies line by line."""

    def __init__(self, port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.reader = self.sock.makefile("rb")

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> str:
        return self.reader.readline().decode("utf-8", "replace")

    def reply(self) -> str:
        """One whole (possibly multi-line) reply; '' when the server closed."""
        lines: list[str] = []
        while True:
            line = self.line()
            if not line:
                return "".join(lines)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "".join(lines)

    def command(self, data: bytes) -> str:
        self.send(data)
        return self.reply()

    def rest(self) -> list[str]:
        """Every reply until the server closes the connection."""
        out: list[str] = []
        while True:
            reply = self.reply()
            if not reply:
                return out
            out.append(reply)


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def cli(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``stampgate ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=input_text,
                          capture_output=True, text=True, timeout=60)
