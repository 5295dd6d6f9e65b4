"""The generated master key of held bodies: ``DATA/master.key``, made on first start."""

from __future__ import annotations

import base64
from pathlib import Path

from gateway.adapters.crypto import new_master_key, parse_master_key
from gateway.adapters.private import private_dir, write_private

MASTER_KEY_FILE = "master.key"


class MasterKeyError(Exception):
    """The master key file cannot be read or is not a master key; the message names it."""


def master_key_path(data_dir: Path) -> Path:
    return data_dir / MASTER_KEY_FILE


def read_master_key(path: Path) -> bytes | None:
    """The key in a master key file; ``None`` if there is no such file."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterKeyError(f"{path}: cannot read the master key file: {exc}") from None
    try:
        return parse_master_key(text)
    except ValueError as exc:
        raise MasterKeyError(f"{path}: not a master key file: it {exc}") from None


def create_master_key(data_dir: Path) -> Path | None:
    """Generate ``DATA/master.key`` (0600) unless it exists; its path if it was made now."""
    path = master_key_path(private_dir(data_dir))
    try:
        write_private(path, (new_master_key() + "\n").encode("ascii"), exclusive=True)
    except FileExistsError:
        return None  # made earlier, or by another process starting at the same time
    return path


def export_master_key(key: bytes, target: Path) -> None:
    """Write ``key`` to a new file ``target`` (0600); never overwrites a file."""
    write_private(target, base64.b64encode(key) + b"\n", exclusive=True)
