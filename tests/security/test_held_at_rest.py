"""Held bodies at rest: sealed with AES-GCM, a key per message, destroyed with its key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.adapters import crypto, key_files
from gateway.adapters.crypto import (
    BodySealer,
    KeyDestroyed,
    NullSealer,
    Sealer,
    SealError,
    new_master_key,
    parse_master_key,
)
from gateway.adapters.key_files import KEY_DIR
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
    sealed = sealer.seal(body, b"Case update")
    assert sealed.body.startswith(crypto.MAGIC) and sealed.subject.startswith(crypto.MAGIC)
    assert MARKER.encode() not in sealed.body and b"Case update" not in sealed.subject
    assert sealed.key is not None
    assert sealed.body[len(crypto.MAGIC):len(crypto.MAGIC) + 16] == sealed.key.key_id
    assert sealer.open(sealed.body, sealed.key.wrapped) == body
    assert sealer.open(sealed.subject, sealed.key.wrapped) == b"Case update"
    assert not sealer.key_dir.exists()  # the key is for the store: no file is written
    again = sealer.seal(body)
    assert again.key is not None and again.key.key_id != sealed.key.key_id  # a fresh key


def test_without_its_key_a_body_does_not_open(sealer: Sealer) -> None:
    sealed = sealer.seal(b"Subject: x\r\n\r\nbody\r\n")
    with pytest.raises(KeyDestroyed):
        sealer.open(sealed.body)  # no key given, and no key file of an older gateway
    other = sealer.seal(b"another")
    assert other.key is not None
    with pytest.raises(SealError, match="altered"):  # another message's key
        sealer.open(sealed.body, other.key.wrapped)


def test_a_key_file_of_an_older_gateway_is_still_read_and_destroyed(sealer: Sealer) -> None:
    sealed = sealer.seal(b"Subject: x\r\n\r\nbody\r\n")
    assert sealed.key is not None
    key_files.write(sealer.key_dir, sealed.key.key_id, sealed.key.wrapped)
    assert sealer.open(sealed.body) == b"Subject: x\r\n\r\nbody\r\n"
    assert sealer.destroy_file(sealed.key.key_id) is True
    assert list(sealer.key_dir.iterdir()) == []
    with pytest.raises(KeyDestroyed):
        sealer.open(sealed.body)
    assert sealer.destroy_file(sealed.key.key_id) is False


def test_another_master_key_cannot_open(sealer: Sealer) -> None:
    sealed = sealer.seal(b"Subject: x\r\n\r\nbody\r\n")
    assert sealed.key is not None
    other = Sealer(parse_master_key(new_master_key()), sealer.key_dir)
    with pytest.raises(SealError, match="another master key"):
        other.open(sealed.body, sealed.key.wrapped)


@pytest.mark.parametrize("position", [len(crypto.MAGIC) + 20, -1, -20])
def test_tampering_is_detected(sealer: Sealer, position: int) -> None:
    sealed = sealer.seal(b"Subject: x\r\n\r\nbody\r\n")
    assert sealed.key is not None
    body = bytearray(sealed.body)
    body[position] ^= 0x01
    with pytest.raises(SealError):
        sealer.open(bytes(body), sealed.key.wrapped)
    wrapped = bytearray(sealed.key.wrapped)
    wrapped[position] ^= 0x01
    with pytest.raises(SealError):
        sealer.open(sealed.body, bytes(wrapped))


def test_without_a_key_plaintext_passes_through(tmp_path: Path) -> None:
    unconfigured = held_sealer(Settings(data=tmp_path))
    assert isinstance(unconfigured, NullSealer)
    assert unconfigured.seal(b"plain", b"subject") == crypto.Sealed(b"plain", b"subject", None)
    assert unconfigured.open(b"plain") == b"plain"
    sealed = Sealer(parse_master_key(new_master_key()), tmp_path / "k").seal(b"x")
    assert sealed.key is not None
    with pytest.raises(SealError, match="no held_encryption_key"):
        unconfigured.open(sealed.body, sealed.key.wrapped)


def test_the_sealer_built_from_the_settings(configured: BodySealer) -> None:
    sealed = configured.seal(b"Subject: x\r\n\r\nbody\r\n")
    assert sealed.body.startswith(crypto.MAGIC) and sealed.key is not None
    assert configured.open(sealed.body, sealed.key.wrapped) == b"Subject: x\r\n\r\nbody\r\n"
    assert configured.open(b"Subject: old plaintext\r\n") == b"Subject: old plaintext\r\n"


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
    assert list((gateway.data / KEY_DIR).glob("*.key")) == []  # the key is in the store
    with sqlite3.connect(gateway.data / "stampgate.sqlite3") as db:
        (content,) = db.execute("SELECT content FROM held_messages").fetchone()
        (wrapped,) = db.execute("SELECT wrapped FROM held_keys").fetchone()
    assert bytes(content).startswith(crypto.MAGIC)
    sealer = Sealer(parse_master_key(key), gateway.data / KEY_DIR)
    assert MARKER.encode() in sealer.open(bytes(content), bytes(wrapped))
    with pytest.raises(KeyDestroyed):
        sealer.open(bytes(content))


def test_a_bad_master_key_stops_start_up(tmp_path: Path, downstream: Downstream) -> None:
    gateway = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 1, "held_encryption_key": "c2VjcmV0"})
    result = gateway.run_cli(*gateway.command()[3:])
    assert result.returncode == 2
    assert "setting held_encryption_key: must be 32 bytes in base64" in result.stderr
    assert "c2VjcmV0" not in result.stderr  # secrets are never echoed
