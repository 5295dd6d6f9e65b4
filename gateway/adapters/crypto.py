"""Held message bodies at rest: AES-GCM with a key per message, wrapped by a master key.

A sealed body is ``MAGIC | key id | nonce | ciphertext``. Its key, wrapped (AES-GCM) by the
configured master key, lives in its own small file under ``DATA/held-keys/``; destroying that
file (``destroy``) makes the body unreadable for good, wherever copies of the store went.
Messages never contain a NUL byte (the gateway refuses them), so ``MAGIC`` cannot be the
start of a plaintext message: ``open`` passes plaintext through unchanged.

Nothing here is process-wide: the process builds one sealer from its settings (a ``Sealer``,
or a ``NullSealer`` when no master key is configured) and hands it to whatever reads or writes
held bodies.

A key file is ``version | master key fingerprint | nonce | AES-GCM(master key, body key)``.
New keys are always wrapped by the current master key; old master keys only unwrap, and
``Sealer.rewrap`` moves a key file to the current one (``stampgate keys rotate``). Readers
take a shared ``flock`` on a key file, ``rewrap`` and ``destroy`` an exclusive one, so a
file is never read while it is replaced or overwritten, and never brought back once destroyed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.adapters.private import fsync_dir

MAGIC = b"\x00SGHELD1"
KEY_DIR = "held-keys"
KEY_SUFFIX = ".key"
_ID_LEN = 16
_NONCE_LEN = 12
_TAG_LEN = 16
_WRAP_VERSION = b"\x01"
_FINGERPRINT_LEN = 8

Rewrap = Literal["rewrapped", "current", "gone"]


class SealError(Exception):
    """A sealed body cannot be opened (key destroyed, no or wrong master key, tampered)."""


class KeyDestroyed(SealError):
    """The body's key was destroyed: the body is gone for good."""


class BodySealer(Protocol):
    """What the gateway does with held bodies: seal new ones, open and destroy stored ones."""

    def seal(self, content: bytes) -> bytes: ...

    def open(self, blob: bytes) -> bytes: ...

    def destroy(self, blob: bytes) -> bool: ...

    def seal_beside(self, sealed: bytes, content: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class NullSealer:
    """No master key configured: bodies are stored as they are; sealed ones cannot be read."""

    def seal(self, content: bytes) -> bytes:
        return content

    def open(self, blob: bytes) -> bytes:
        if not is_sealed(blob):
            return blob
        raise SealError("this held message is encrypted but no held_encryption_key is "
                        "configured (and there is no DATA/master.key)")

    def destroy(self, blob: bytes) -> bool:
        if not is_sealed(blob):
            return False
        raise SealError("cannot destroy: no held_encryption_key is configured")

    def seal_beside(self, sealed: bytes, content: bytes) -> bytes:
        return content


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
    """The master key, the old master keys still accepted, and the directory of key files."""

    master_key: bytes
    key_dir: Path
    old_keys: tuple[bytes, ...] = ()

    @property
    def fingerprint(self) -> bytes:
        return master_key_fingerprint(self.master_key)

    def seal(self, content: bytes) -> bytes:
        """The body sealed under a new key of its own, wrapped by the current master key."""
        key_id = os.urandom(_ID_LEN)
        body_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_LEN)
        header = MAGIC + key_id
        sealed = header + nonce + AESGCM(body_key).encrypt(nonce, content, header)
        _write_durably(self._key_path(key_id), self._wrap(key_id, body_key))
        return sealed

    def seal_beside(self, sealed: bytes, content: bytes) -> bytes:
        """``content`` sealed under the key of ``sealed`` (a held message's subject, say).

        It opens and is destroyed with that body: no key file of its own. Plaintext
        ``sealed`` (encryption off) leaves ``content`` as it is.
        """
        key_id = sealed_key_id(sealed)
        if key_id is None:
            return content
        wrapped = read_key_file(self._key_path(key_id))
        if wrapped is None:
            raise KeyDestroyed("the key of this held message was destroyed")
        header = MAGIC + key_id
        nonce = os.urandom(_NONCE_LEN)
        return header + nonce + AESGCM(self._unwrap(key_id, wrapped)).encrypt(
            nonce, content, header)

    def open(self, blob: bytes) -> bytes:
        """The stored body as plaintext; plaintext passes through. Raises ``SealError``."""
        key_id = sealed_key_id(blob)
        if key_id is None:
            return blob
        wrapped = read_key_file(self._key_path(key_id))
        if wrapped is None:
            raise KeyDestroyed("the key of this held message was destroyed")
        body_key = self._unwrap(key_id, wrapped)
        header_len = len(MAGIC) + _ID_LEN
        nonce = blob[header_len:header_len + _NONCE_LEN]
        try:
            return AESGCM(body_key).decrypt(nonce, blob[header_len + _NONCE_LEN:],
                                            blob[:header_len])
        except InvalidTag:
            raise SealError("held message or its key was altered") from None

    def rewrap(self, key_id: bytes) -> Rewrap:
        """Wrap one body key by the current master key, replacing its file atomically.

        ``"current"`` if it already was (checked by unwrapping), ``"gone"`` if the key was
        destroyed meanwhile. Raises ``SealError`` (and leaves the file alone) if it cannot be
        unwrapped, for instance because its master key is not configured.
        """
        path = self._key_path(key_id)
        handle = _open_locked(path, exclusive=True)
        if handle is None:
            return "gone"
        with handle:
            wrapped = handle.read()
            body_key = self._unwrap(key_id, wrapped)
            if wrapped_fingerprint(wrapped) == self.fingerprint:
                return "current"
            _write_durably(path, self._wrap(key_id, body_key), like=os.fstat(handle.fileno()))
            _overwrite(handle)  # the old wrapping, now unlinked
        return "rewrapped"

    def destroy(self, blob: bytes) -> bool:
        """Overwrite and delete the body's key; ``True`` if there was one to destroy."""
        key_id = sealed_key_id(blob)
        if key_id is None:
            return False
        path = self._key_path(key_id)
        handle = _open_locked(path, exclusive=True)
        if handle is None:
            return False
        with handle:
            _overwrite(handle)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            # A temporary file left by an interrupted rewrap holds the same key.
            leftover = path.with_suffix(".tmp")
            with contextlib.suppress(FileNotFoundError), open(leftover, "r+b") as stale:
                _overwrite(stale)
                leftover.unlink()
        fsync_dir(path.parent)
        return True

    def master_key_for(self, fingerprint: bytes) -> bytes | None:
        """The configured master key (current or old) with this fingerprint."""
        for key in (self.master_key, *self.old_keys):
            if master_key_fingerprint(key) == fingerprint:
                return key
        return None

    def _wrap(self, key_id: bytes, body_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_LEN)
        return (_WRAP_VERSION + self.fingerprint + nonce
                + AESGCM(self.master_key).encrypt(nonce, body_key, key_id))

    def _unwrap(self, key_id: bytes, wrapped: bytes) -> bytes:
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
        try:
            return AESGCM(master_key).decrypt(nonce, wrapped_key, key_id)
        except InvalidTag:
            raise SealError("held message or its key was altered") from None

    def _key_path(self, key_id: bytes) -> Path:
        return self.key_dir / f"{key_id.hex()}{KEY_SUFFIX}"


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


def key_files(key_dir: Path) -> Iterator[tuple[Path, bytes | None]]:
    """Every key file in ``key_dir`` (sorted) with its key id; ``None`` for a bad name."""
    try:
        paths = sorted(p for p in key_dir.iterdir() if p.suffix == KEY_SUFFIX and p.is_file())
    except FileNotFoundError:
        return
    for path in paths:
        try:
            key_id = bytes.fromhex(path.stem)
        except ValueError:
            key_id = b""
        yield path, key_id if len(key_id) == _ID_LEN else None


def read_key_file(path: Path) -> bytes | None:
    """A key file's content, read under a shared lock; ``None`` if it does not exist."""
    handle = _open_locked(path, exclusive=False)
    if handle is None:
        return None
    with handle:
        return handle.read()


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


def _open_locked(path: Path, *, exclusive: bool) -> BinaryIO | None:
    """``path`` opened and locked (the caller closes it), retried if it was replaced meanwhile.

    ``None`` if there is no such file.
    """
    while True:
        try:
            handle = open(path, "r+b" if exclusive else "rb")  # noqa: SIM115
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            opened = os.fstat(handle.fileno())
            current = os.stat(path)
        except FileNotFoundError:
            handle.close()
            return None
        except BaseException:
            handle.close()
            raise
        if (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino):
            return handle
        handle.close()


def _overwrite(handle: BinaryIO) -> None:
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    handle.write(os.urandom(size))
    handle.flush()
    os.fsync(handle.fileno())


def _write_durably(path: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Write ``path`` atomically (temp file, fsync, rename, fsync the directory), mode 0600.

    With ``like``, the new file gets that file's owner (when run as root, say).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if like is not None:
            written = os.fstat(fd)
            if (written.st_uid, written.st_gid) != (like.st_uid, like.st_gid):
                os.fchown(fd, like.st_uid, like.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)

