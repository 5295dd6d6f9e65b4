"""Stamp spoofing: incoming verdict headers are stripped; the gateway's X-Stamp can be signed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.adapters.rewrite import outgoing
from gateway.adapters.signing import SignatureInvalid, signature_field, verify
from tests.security.support import cli
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

KEY = b"k" * 32


def signed(stamp: str = "internal", message_id: str = "<m1@example.org>") -> bytes:
    name, value = signature_field(KEY, "6B1F0A93C2", stamp, message_id)
    return (f"X-Stamp: {stamp}\r\n{name}: {value}\r\nMessage-ID: {message_id}\r\n"
            "Subject: x\r\n\r\nbody\r\n").encode()


def test_signature_verifies() -> None:
    verified = verify(signed(), KEY)
    assert (verified.queue_id, verified.stamp, verified.message_id) == (
        "6B1F0A93C2", "internal", "<m1@example.org>")


@pytest.mark.parametrize(("old", "new", "why"), [
    (b"X-Stamp: internal", b"X-Stamp: cleared", "not the signed stamp"),
    (b"Message-ID: <m1@example.org>", b"Message-ID: <m2@example.org>", "does not match"),
    (b"q=6B1F0A93C2", b"q=6B1F0A93C3", "does not match"),
    (b"X-Stamp: internal\r\n", b"", "no X-Stamp"),
    (b"X-Stamp: internal\r\n", b"X-Stamp: internal\r\nX-Stamp: cleared\r\n", "2 X-Stamp"),
    (b"mac=", b"mac=AAAA", "does not match|malformed"),
])
def test_altered_messages_do_not_verify(old: bytes, new: bytes, why: str) -> None:
    with pytest.raises(SignatureInvalid, match=why):
        verify(signed().replace(old, new, 1), KEY)


def test_another_key_does_not_verify() -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(signed(), b"x" * 32)


def test_owned_headers_are_stripped_in_every_spelling() -> None:
    data = (b"X-STAMP: cleared\r\nx-stamp : cleared\r\nX-Stampgate-Signature: v=1; forged\r\n"
            b"X-Stampgate-Verdict: allow\r\n\tcontinued\r\nX-Stamped-By: kept\r\n"
            b"Subject: x\r\n\r\nX-Stamp: in the body stays\r\n")
    out = outgoing(data, [("X-Stamp", "internal")])
    header, body = out.split(b"\r\n\r\n", 1)
    assert header.lower().count(b"x-stamp:") == 1
    assert b"forged" not in header and b"continued" not in header
    assert b"X-Stamped-By: kept" in header
    assert body == b"X-Stamp: in the body stays\r\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("signing")
    key_file = workdir / "signing.key"
    key_file.write_text("a signing key of forty characters or so..\n")
    process = GatewayProcess(workdir, downstream.url, config={
        "workers": 1, "stamp_signing_key": f"file:{key_file}"}).start()
    yield process
    process.stop()


def key_file(gateway: GatewayProcess) -> Path:
    return gateway.workdir / "signing.key"


def test_relayed_message_is_signed_and_spoofed_headers_are_gone(
        gateway: GatewayProcess, downstream: Downstream, tmp_path: Path) -> None:
    spoofed = {"X-Stamp": "cleared", "X-Stampgate-Signature": "v=1; q=X; s=cleared; mac=AAAA",
               "X-Stampgate-Verdict": "allow"}
    code, _ = gateway.send("alice@example.org", ["bob@example.org"],
                           message("Internal\nnumbers", headers=spoofed))
    assert code == 250
    (received,) = downstream.wait_for(1)
    header = received.header_text
    assert header.count("X-Stamp:") == 1 and "X-Stamp: internal" in header
    assert header.count("X-Stampgate-Signature:") == 1 and "s=internal" in header
    assert "X-Stampgate-Verdict" not in header and "mac=AAAA" not in header
    eml = tmp_path / "relayed.eml"
    eml.write_bytes(received.data)
    ok = cli("verify-stamp", str(eml), "--key-file", str(key_file(gateway)))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: stamp internal")
    config = gateway.workdir / "stampgate.toml"
    via_config = cli("verify-stamp", str(eml), "--config", str(config))
    assert via_config.returncode == 0, via_config.stderr
    eml.write_bytes(received.data.replace(b"X-Stamp: internal", b"X-Stamp: cleared"))
    bad = cli("verify-stamp", str(eml), "--key-file", str(key_file(gateway)))
    assert bad.returncode == 1
    assert bad.stdout.startswith("INVALID:")


def test_message_without_message_id_gets_one_and_is_signed(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    code, _ = gateway.send("alice@example.org", ["bob@example.org"],
                           b"Subject: x\r\n\r\nCleared for publication\r\nbody\r\n")
    assert code == 250
    (received,) = downstream.wait_for(1)
    assert verify(received.data, key_file(gateway).read_bytes().strip()).stamp == "cleared"


def test_verify_stamp_without_a_key_is_a_usage_error(tmp_path: Path) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(signed())
    result = cli("verify-stamp", str(eml), "--data", str(tmp_path))
    assert result.returncode == 2
    assert "no stamp_signing_key" in result.stderr
