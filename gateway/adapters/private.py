"""Private files in the data directory: 0700 directories, 0600 files, written durably."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Files are created without group or world bits whatever the caller's umask says.
UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` created if needed and, if this user owns it, tightened to 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten(path, DIR_MODE)
    return path


def tighten(path: Path, mode: int) -> bool:
    """Take group and world bits off ``path`` if it has any; ``True`` if it was changed.

    A file owned by someone else is left alone (the gateway then has no right to it anyway).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    if stat.S_IMODE(info.st_mode) & 0o077 == 0 or info.st_uid != os.geteuid():
        return False
    os.chmod(path, stat.S_IMODE(info.st_mode) & mode)
    return True


def create_private(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist (before SQLite opens it)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``path`` atomically (temp file, fsync, rename, fsync the directory), mode 0600.

    With ``exclusive`` an existing ``path`` is an error (``FileExistsError``), never replaced.
    """
    if exclusive and path.exists():
        raise FileExistsError(f"{path} exists already")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    if exclusive:
        try:
            os.link(tmp, path)  # fails if another process made ``path`` meanwhile
        finally:
            tmp.unlink()
    else:
        os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
