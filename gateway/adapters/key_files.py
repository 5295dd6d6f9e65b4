"""Key files of older gateways: ``DATA/held-keys/<key id hex>.key``, one wrapped body key each.

Gateways now keep wrapped keys in the store (``crypto.py``); files left by an older one are
still read, imported into the store and then destroyed (``service/bodies.py``). Readers take a
shared ``flock`` on a key file, ``destroy`` an exclusive one, so a file is never read while it
is overwritten, and never brought back once destroyed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gateway.adapters.private import fsync_dir

KEY_DIR = "held-keys"
KEY_SUFFIX = ".key"
ID_LEN = 16


def key_path(key_dir: Path, key_id: bytes) -> Path:
    return key_dir / f"{key_id.hex()}{KEY_SUFFIX}"


def listing(key_dir: Path) -> Iterator[tuple[Path, bytes | None]]:
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
        yield path, key_id if len(key_id) == ID_LEN else None


def read_key_file(path: Path) -> bytes | None:
    """A key file's content, read under a shared lock; ``None`` if it does not exist."""
    handle = _open_locked(path, exclusive=False)
    if handle is None:
        return None
    with handle:
        return handle.read()


def read(key_dir: Path, key_id: bytes) -> bytes | None:
    """The wrapped key in ``key_id``'s file; ``None`` if there is none."""
    return read_key_file(key_path(key_dir, key_id))


def destroy(key_dir: Path, key_id: bytes) -> bool:
    """Overwrite and delete ``key_id``'s file; ``True`` if there was one to destroy."""
    path = key_path(key_dir, key_id)
    handle = _open_locked(path, exclusive=True)
    if handle is None:
        return False
    with handle:
        _overwrite(handle)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # A temporary file left by an interrupted re-wrap holds the same key.
        leftover = path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError), open(leftover, "r+b") as stale:
            _overwrite(stale)
            leftover.unlink()
    fsync_dir(path.parent)
    return True


def write(key_dir: Path, key_id: bytes, wrapped: bytes) -> None:
    """Write ``key_id``'s file as an older gateway did (the tests of the import use it)."""
    _write_durably(key_path(key_dir, key_id), wrapped)


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


def _write_durably(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (temp file, fsync, rename, fsync the directory), mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
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

