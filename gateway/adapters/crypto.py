"""Held message bodies at rest: AES-GCM with a key per message, wrapped by a master key.

A sealed body is ``MAGIC | key id | nonce | ciphertext``. Its key, wrapped (AES-GCM) by the
master key, is kept in the store beside the body (table ``held_keys``, written in the
hold's own transaction), so that every gateway sharing the store opens every held body with
only the master key, which is shared configuration. Destroying that row (crypto-shredding on
reject, discard, expiry or erasure) makes the body unreadable for good. Messages never contain
a NUL byte (the gateway refuses them), so ``MAGIC`` cannot be the start of a plaintext
message: ``open`` passes plaintext through unchanged.

Older gateways kept each wrapped key in a file ``DATA/held-keys/<key id>.key``
(``key_files.py``); such files are still read when the store has no row for a key, and
imported into the store (``service/bodies.py``).

Nothing here is process-wide: the process builds one sealer from its settings (a ``Sealer``,
or a ``NullSealer`` when no master key is configured) and hands it to whatever reads or writes
held bodies.

Wrapped key material is ``version | master key fingerprint | nonce | AES-GCM(master key, body
key)``, the key id as associated data. New keys are always wrapped by the current master key;
old master keys only unwrap, and ``Sealer.rewrapped`` moves a key to the current one
(``stampgate keys rotate``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gateway.adapters import key_files

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"\x00SGHELD1"
_ID_LEN = key_files.ID_LEN
_NONCE_LEN = 12
_TAG_LEN = 16
_WRAP_VERSION = b"\x01"
_FINGERPRINT_LEN = 8
_KEY_LEN = 32  # AES-256


def _cipher(key: bytes) -> AESGCM:
    """AES-GCM under ``key``. cryptography (some 8 MB of native code resident in every
    process that loads it) is imported with a process's first seal or open, not at start: a
    worker that only relays and bounces never needs it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _decrypt(key: bytes, nonce: bytes, data: bytes, associated: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return _cipher(key).decrypt(nonce, data, associated)
    except InvalidTag:
        raise SealError("held message or its key was altered") from None


class SealError(Exception):
    """A sealed body cannot be opened (key destroyed, no or wrong master key, tampered)."""


class KeyDestroyed(SealError):
    """The body's key was destroyed: the body is gone for good."""


@dataclass(frozen=True, slots=True)
class HeldKey:
    """A body key as the store keeps it: its id and the key wrapped by a master key."""

    key_id: bytes
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class Sealed:
    """A held body and its subject sealed under one new key; ``key`` is ``None`` when they
    are stored as they are (no master key)."""

    body: bytes
    subject: bytes
    key: HeldKey | None


class BodySealer(Protocol):
    """What the gateway does with held bodies: seal new ones, open stored ones.

    ``wrapped`` is the body's key as the store holds it (``None``: not there, then a key
    file of an older gateway is looked for); ``destroy_file`` destroys such a file.
    """

    @property
    def key_dir(self) -> Path | None: ...

    def seal(self, content: bytes, subject: bytes = b"") -> Sealed: ...

    def open(self, blob: bytes, wrapped: bytes | None = None) -> bytes: ...

    def key_file(self, key_id: bytes) -> bytes | None: ...

    def destroy_file(self, key_id: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class NullSealer:
    """No master key configured: bodies are stored as they are; sealed ones cannot be read."""

    key_dir: Path | None = None

    def seal(self, content: bytes, subject: bytes = b"") -> Sealed:
        return Sealed(content, subject, None)

    def open(self, blob: bytes, wrapped: bytes | None = None) -> bytes:
        if not is_sealed(blob):
            return blob
        raise SealError("this held message is encrypted but no held_encryption_key is "
                        "configured (and there is no DATA/master.key)")

    def key_file(self, key_id: bytes) -> bytes | None:
        return None if self.key_dir is None else key_files.read(self.key_dir, key_id)

    def destroy_file(self, key_id: bytes) -> bool:
        return self.key_dir is not None and key_files.destroy(self.key_dir, key_id)


def master_key_fingerprint(master_key: bytes) -> bytes:
    """The fingerprint stored in every key file the master key wraps (not secret)."""
    return hashlib.sha256(b"stampgate-master-key\0" + master_key).digest()[:_FINGERPRINT_LEN]


def wrapped_fingerprint(wrapped: bytes) -> bytes | None:
    """The master key fingerprint of a key file's content; ``None`` if it is not one."""
    if wrapped[:1] != _WRAP_VERSION or len(wrapped) < 1 + _FINGERPRINT_LEN + _NONCE_LEN + _TAG_LEN:
        return None
    return wrapped[1:1 + _FINGERPRINT_LEN]


@dataclass(frozen=True, slots=True)
class Sealer:
    """The master key, the old master keys still accepted, and where older gateways kept
    their key files."""

    master_key: bytes
    key_dir: Path
    old_keys: tuple[bytes, ...] = ()

    @property
    def fingerprint(self) -> bytes:
        return master_key_fingerprint(self.master_key)

    def seal(self, content: bytes, subject: bytes = b"") -> Sealed:
        """The body and its subject sealed under a new key, and that key wrapped by the
        current master key (for the store: it is not written anywhere here)."""
        key_id = os.urandom(_ID_LEN)
        body_key = os.urandom(_KEY_LEN)
        return Sealed(_encrypt(body_key, key_id, content), _encrypt(body_key, key_id, subject),
                      HeldKey(key_id, self.wrap(key_id, body_key)))

    def open(self, blob: bytes, wrapped: bytes | None = None) -> bytes:
        """The stored body as plaintext; plaintext passes through. Raises ``SealError``.

        ``wrapped``: its key from the store; ``None`` looks for a key file instead.
        """
        key_id = sealed_key_id(blob)
        if key_id is None:
            return blob
        if wrapped is None:
            wrapped = self.key_file(key_id)
        if wrapped is None:
            raise KeyDestroyed("the key of this held message was destroyed")
        body_key = self.unwrap(key_id, wrapped)
        header_len = len(MAGIC) + _ID_LEN
        nonce = blob[header_len:header_len + _NONCE_LEN]
        return _decrypt(body_key, nonce, blob[header_len + _NONCE_LEN:], blob[:header_len])

    def rewrapped(self, key_id: bytes, wrapped: bytes) -> bytes | None:
        """``wrapped`` wrapped by the current master key instead; ``None`` if it already is
        (checked by unwrapping). Raises ``SealError`` if it cannot be unwrapped, for
        instance because its master key is not configured."""
        body_key = self.unwrap(key_id, wrapped)
        if wrapped_fingerprint(wrapped) == self.fingerprint:
            return None
        return self.wrap(key_id, body_key)

    def key_file(self, key_id: bytes) -> bytes | None:
        """The wrapped key in an older gateway's key file, if there is one."""
        return key_files.read(self.key_dir, key_id)

    def destroy_file(self, key_id: bytes) -> bool:
        """Overwrite and delete an older gateway's key file; ``True`` if there was one."""
        return key_files.destroy(self.key_dir, key_id)

    def master_key_for(self, fingerprint: bytes) -> bytes | None:
        """The configured master key (current or old) with this fingerprint."""
        for key in (self.master_key, *self.old_keys):
            if master_key_fingerprint(key) == fingerprint:
                return key
        return None

    def wrap(self, key_id: bytes, body_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_LEN)
        return (_WRAP_VERSION + self.fingerprint + nonce
                + _cipher(self.master_key).encrypt(nonce, body_key, key_id))

    def unwrap(self, key_id: bytes, wrapped: bytes) -> bytes:
        fingerprint = wrapped_fingerprint(wrapped)
        if fingerprint is None:
            raise SealError("the key file of this held message is damaged")
        master_key = self.master_key_for(fingerprint)
        if master_key is None:
            raise SealError(
                "this held message was sealed with another master key, one that is not "
                f"configured (fingerprint {fingerprint.hex()}); to read it, add that key "
                "to held_encryption_old_keys")
        offset = 1 + _FINGERPRINT_LEN
        nonce, wrapped_key = wrapped[offset:offset + _NONCE_LEN], wrapped[offset + _NONCE_LEN:]
        return _decrypt(master_key, nonce, wrapped_key, key_id)



def _encrypt(body_key: bytes, key_id: bytes, content: bytes) -> bytes:
    header = MAGIC + key_id
    nonce = os.urandom(_NONCE_LEN)
    return header + nonce + _cipher(body_key).encrypt(nonce, content, header)


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
    if len(key) != _KEY_LEN:
        raise ValueError(f"must be 32 bytes in base64, not {len(key)} bytes "
                         "(make one with: stampgate keygen)")
    return key


def new_master_key() -> str:
    return base64.b64encode(os.urandom(_KEY_LEN)).decode("ascii")


