"""The register's HMAC key: a random secret beside the held-body keys, created on first use."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from gateway.adapters.key_files import KEY_DIR

# Not a ``.key`` file: key rotation and ``keys`` commands handle the sealing keys only.
KEY_NAME = "register.secret"
KEY_BYTES = 32


class RegisterKeyError(Exception):
    """The key file exists but cannot be used."""


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_DIR / KEY_NAME


def register_key(data_dir: Path) -> bytes:
    """The key under ``data_dir``; a new one (mode 0600) if there is none yet."""
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise RegisterKeyError(f"{path}: not a register key ({len(key)} bytes, "
                                   f"expected {KEY_BYTES})") from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key
