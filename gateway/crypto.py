"""Held message bodies at rest: AES-GCM with a key per message, wrapped by a master key.

A sealed body is ``MAGIC | key id | nonce | ciphertext``. Its key, wrapped (AES-GCM) by the
configured master key, lives in its own small file under ``DATA/held-keys/``; destroying that
file (``destroy``) makes the body unreadable for good, wherever copies of the store went.
Messages never contain a NUL byte (the gateway refuses them), so ``MAGIC`` cannot be the
start of a plaintext message: ``open_sealed`` passes plaintext through unchanged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from gateway.settings import Settings

MAGIC = b"\x00SGHELD1"
KEY_DIR = "held-keys"
_ID_LEN = 16
_NONCE_LEN = 12
_WRAP_VERSION = b"\x01"
_FINGERPRINT_LEN = 8


class SealError(Exception):
    """A sealed body cannot be opened (key destroyed, no or wrong master key, tampered)."""


class KeyDestroyed(SealError):
    """The body's key was destroyed: the body is gone for good."""


@dataclass(frozen=True, slots=True)
class Sealer:
    """The master key and the directory of wrapped per-message keys."""

    master_key: bytes
    key_dir: Path

    @property
    def fingerprint(self) -> bytes:
        return hashlib.sha256(b"stampgate-master-key\0" + self.master_key).digest()[
            :_FINGERPRINT_LEN]

    def seal(self, content: bytes) -> bytes:
        key_id = os.urandom(_ID_LEN)
        body_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_LEN)
        header = MAGIC + key_id
        sealed = header + nonce + AESGCM(body_key).encrypt(nonce, content, header)
        wrap_nonce = os.urandom(_NONCE_LEN)
        wrapped = (_WRAP_VERSION + self.fingerprint + wrap_nonce
                   + AESGCM(self.master_key).encrypt(wrap_nonce, body_key, key_id))
        _write_durably(self._key_path(key_id), wrapped)
        return sealed

    def open(self, blob: bytes) -> bytes:
        key_id = sealed_key_id(blob)
        if key_id is None:
            return blob
        try:
            wrapped = self._key_path(key_id).read_bytes()
        except FileNotFoundError:
            raise KeyDestroyed("the key of this held message was destroyed") from None
        fingerprint = wrapped[1:1 + _FINGERPRINT_LEN]
        if wrapped[:1] != _WRAP_VERSION or fingerprint != self.fingerprint:
            raise SealError("this held message was sealed with another master key")
        offset = 1 + _FINGERPRINT_LEN
        wrap_nonce, wrapped_key = wrapped[offset:offset + _NONCE_LEN], wrapped[offset + _NONCE_LEN:]
        header_len = len(MAGIC) + _ID_LEN
        nonce = blob[header_len:header_len + _NONCE_LEN]
        try:
            body_key = AESGCM(self.master_key).decrypt(wrap_nonce, wrapped_key, key_id)
            return AESGCM(body_key).decrypt(nonce, blob[header_len + _NONCE_LEN:],
                                            blob[:header_len])
        except InvalidTag:
            raise SealError("held message or its key was altered") from None

    def destroy(self, blob: bytes) -> bool:
        """Overwrite and delete the body's key; ``True`` if there was one to destroy."""
        key_id = sealed_key_id(blob)
        if key_id is None:
            return False
        path = self._key_path(key_id)
        try:
            with open(path, "r+b") as handle:
                size = os.fstat(handle.fileno()).st_size
                handle.write(os.urandom(size))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def _key_path(self, key_id: bytes) -> Path:
        return self.key_dir / f"{key_id.hex()}.key"


def sealed_key_id(blob: bytes) -> bytes | None:
    """The key id of a sealed body; ``None`` for plaintext."""
    if not blob.startswith(MAGIC):
        return None
    key_id = blob[len(MAGIC):len(MAGIC) + _ID_LEN]
    if len(blob) < len(MAGIC) + _ID_LEN + _NONCE_LEN + 16:
        raise SealError("sealed held message is truncated")
    return key_id


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def parse_master_key(value: str) -> bytes:
    """The master key setting: 32 bytes in base64 (``stampgate keygen`` prints one)."""
    text = value.strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be 32 bytes in base64 (make one with: stampgate keygen)") from None
    if len(key) != 32:
        raise ValueError(f"must be 32 bytes in base64, not {len(key)} bytes "
                         "(make one with: stampgate keygen)")
    return key


def new_master_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def _write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- the process-wide sealer: configured once at start-up from the settings -------------

_lock = threading.Lock()
_active: Sealer | None = None


def configure(master_key: bytes | None, data_dir: Path) -> None:
    """Seal from now on with ``master_key`` (``None``: store bodies as they are)."""
    global _active
    with _lock:
        _active = Sealer(master_key, data_dir / KEY_DIR) if master_key is not None else None


def active() -> Sealer | None:
    return _active


def seal(content: bytes) -> bytes:
    """The body as it may be stored: sealed if a master key is configured, else unchanged."""
    sealer = _active
    return sealer.seal(content) if sealer is not None else content


def open_sealed(blob: bytes) -> bytes:
    """The stored body as plaintext; plaintext passes through. Raises ``SealError``."""
    if not is_sealed(blob):
        return blob
    sealer = _active
    if sealer is None:
        raise SealError("this held message is encrypted but no held_encryption_key is configured")
    return sealer.open(blob)


def destroy(blob: bytes) -> bool:
    """Destroy a sealed body's key (reject, discard, expiry, release past retention)."""
    if not is_sealed(blob):
        return False
    sealer = _active
    if sealer is None:
        raise SealError("cannot destroy: no held_encryption_key is configured")
    return sealer.destroy(blob)


def configure_from(settings: Settings) -> None:
    """Configure sealing from ``held_encryption_key`` (every process that reads held bodies)."""
    secret = settings.held_encryption_key
    configure(parse_master_key(secret.get_secret_value()) if secret is not None else None,
              Path(settings.data))
