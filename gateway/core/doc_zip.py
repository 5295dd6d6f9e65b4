"""Opening zip containers (Office, OpenDocument, .zip) without trusting what they declare."""

from __future__ import annotations

import io
import zipfile
import zlib

from gateway.core.documents import MEGABYTE, Budget, Unreadable

# Only members smaller than this may have any expansion ratio (an XML part of zeros is fine).
_RATIO_FLOOR = MEGABYTE
_CHUNK = 64 * 1024


def open_archive(data: bytes, budget: Budget) -> zipfile.ZipFile:
    """A zip whose directory was checked: entry count, encryption, expansion ratios.

    Raises ``Unreadable`` with the reason (``encrypted``, ``zip bomb: ...``, ``corrupt``).
    """
    limits = budget.limits
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise Unreadable("corrupt zip container") from exc
    if len(infos) > limits.max_entries:
        raise Unreadable(f"more than {limits.max_entries} entries in one archive")
    for info in infos:
        if info.flag_bits & 0x1:
            raise Unreadable("encrypted")
        ratio_bomb = (info.file_size > _RATIO_FLOOR
                      and info.file_size > limits.max_ratio * max(info.compress_size, 1))
        if ratio_bomb:
            raise Unreadable(f"zip bomb: {info.filename!r} expands more than "
                             f"{limits.max_ratio} times")
    return archive


def member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    """The bytes of one member, expanded in chunks and stopped at the budget (sizes can lie)."""
    chunks: list[bytes] = []
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                budget.spend(len(chunk))
                chunks.append(chunk)
    except Unreadable:
        raise
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, OSError,
            EOFError, RuntimeError) as exc:
        raise Unreadable(f"corrupt member {info.filename!r}") from exc
    return b"".join(chunks)


def named(archive: zipfile.ZipFile, name: str, budget: Budget) -> bytes | None:
    """The member called ``name``, or ``None`` when the container has none."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    return member(archive, info, budget)
