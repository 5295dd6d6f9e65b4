"""Held bodies at rest: sealed with AES-GCM, a key per message, destroyed with its key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.adapters import crypto
from gateway.adapters.crypto import (
    BodySealer,
    KeyDestroyed,
    NullSealer,
    Sealer,
    SealError,
    new_master_key,
    parse_master_key,
)
from gateway.settings import Settings, held_sealer
from tests.security.support import wait_until
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

MARKER = "Zebulon-7731 story of the Okafor family"


@pytest.fixture
def sealer(tmp_path: Path) -> Sealer:
    return Sealer(parse_master_key(new_master_key()), tmp_path / "held-keys")


@pytest.fixture
def configured(tmp_path: Path) -> BodySealer:
    """The sealer a process builds from settings that name a master key."""
    return held_sealer(Settings(data=tmp_path, held_encryption_key=new_master_key()))


def test_seal_and_open(sealer: Sealer) -> None:
    body = f"Subject: x\r\n\r\n{MARKER}\r\n".encode()
    sealed = sealer.seal(body)
    assert sealed.startswith(crypto.MAGIC)
    assert MARKER.encode() not in sealed
    assert sealer.open(sealed) == body
    (key_file,) = sealer.key_dir.iterdir()
    assert key_file.stat().st_mode & 0o077 == 0
    assert sealer.seal(body) != sealed  # a fresh key and nonce every time


def test_destroying_the_key_destroys_the_body(sealer: Sealer) -> None:
    sealed = sealer.seal(b"Subject: x\r\n\r\nbody\r\n")
    assert sealer.destroy(sealed) is True
    assert list(sealer.key_dir.iterdir()) == []
    with pytest.raises(KeyDestroyed):
        sealer.open(sealed)
    assert sealer.destroy(sealed) is False


def test_another_master_key_cannot_open(sealer: Sealer) -> None:
    sealed = sealer.seal(b"Subject: x\r\n\r\nbody\r\n")
    other = Sealer(parse_master_key(new_master_key()), sealer.key_dir)
    with pytest.raises(SealError, match="another master key"):
        other.open(sealed)


@pytest.mark.parametrize("position", [len(crypto.MAGIC) + 20, -1, -20])
def test_tampering_is_detected(sealer: Sealer, position: int) -> None:
    sealed = bytearray(sealer.seal(b"Subject: x\r\n\r\nbody\r\n"))
    sealed[position] ^= 0x01
    with pytest.raises(SealError):
        sealer.open(bytes(sealed))


def test_without_a_key_plaintext_passes_through(tmp_path: Path) -> None:
    unconfigured = held_sealer(Settings(data=tmp_path))
    assert isinstance(unconfigured, NullSealer)
    assert unconfigured.seal(b"plain") == b"plain"
    assert unconfigured.open(b"plain") == b"plain"
    sealed = Sealer(parse_master_key(new_master_key()), tmp_path / "k").seal(b"x")
    with pytest.raises(SealError, match="no held_encryption_key"):
        unconfigured.open(sealed)
    with pytest.raises(SealError, match="no held_encryption_key"):
        unconfigured.destroy(sealed)


def test_the_sealer_built_from_the_settings(configured: BodySealer) -> None:
    sealed = configured.seal(b"Subject: x\r\n\r\nbody\r\n")
    assert sealed.startswith(crypto.MAGIC)
    assert configured.open(sealed) == b"Subject: x\r\n\r\nbody\r\n"
    assert configured.open(b"Subject: old plaintext\r\n") == b"Subject: old plaintext\r\n"
    assert configured.destroy(sealed) is True
    with pytest.raises(KeyDestroyed):
        configured.open(sealed)


@pytest.mark.parametrize("value", ["", "short", "bm90IDMyIGJ5dGVz", "!!!"])
def test_bad_master_keys_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="32 bytes in base64"):
        parse_master_key(value)


def test_held_message_is_sealed_in_a_running_gateway(tmp_path: Path,
                                                     downstream: Downstream) -> None:
    key = new_master_key()
    gateway = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "held_encryption_key": key}).start()
    try:
        body = f"Needs adjustment in 2 ways: blur face, change name\n{MARKER}"
        code, reply = gateway.send("alice@example.org",
                                   ["bob@example.org", "partner@outside.test"],
                                   message(body, to="bob@example.org, partner@outside.test"))
        assert code == 250 and "held for review" in reply, reply
        assert wait_until(lambda: any(MARKER.encode() in m.data  # the colleague got it
                                      for m in downstream.delivered_to("bob@example.org")))
    finally:
        gateway.stop()
    # Nothing under the data directory holds the body in the clear (WAL files included).
    for path in gateway.data.rglob("*"):
        if path.is_file():
            assert MARKER.encode() not in path.read_bytes(), path
    with sqlite3.connect(gateway.data / "stampgate.sqlite3") as db:
        (content,) = db.execute("SELECT content FROM held_messages").fetchone()
    assert bytes(content).startswith(crypto.MAGIC)
    sealer = Sealer(parse_master_key(key), gateway.data / crypto.KEY_DIR)
    assert MARKER.encode() in sealer.open(bytes(content))
    assert sealer.destroy(bytes(content))
    with pytest.raises(KeyDestroyed):
        sealer.open(bytes(content))


def test_a_bad_master_key_stops_start_up(tmp_path: Path, downstream: Downstream) -> None:
    gateway = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "held_encryption_key": "c2VjcmV0"})
    result = gateway.run_cli(*gateway.command()[3:])
    assert result.returncode == 2
    assert "setting held_encryption_key: must be 32 bytes in base64" in result.stderr
    assert "c2VjcmV0" not in result.stderr  # secrets are never echoed
