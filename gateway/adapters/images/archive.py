"""Photos inside a .zip attachment: read (never rewritten), within bounds on size and ratio."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

from gateway.adapters.images.metadata import sniff

# Names of members that may be photos or videos; other members are the document readers'.
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif",
                    ".mp4", ".mov", ".m4v", ".3gp")
MAX_MEMBER = 64 * 1024 * 1024  # expanded bytes of one member
MAX_TOTAL = 256 * 1024 * 1024  # expanded bytes of all members read from one archive
MAX_RATIO = 200  # a member expanding more than this is a bomb, not a photo


def is_zip(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04")


def members(data: bytes) -> Iterator[tuple[str, bytes | None, str]]:
    """(member name, its bytes or ``None``, kind or why not read) for every member named
    like a photo or video; one level deep, encrypted or oversized members are not read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception:  # not a readable archive: the document readers say so
        return
    total = 0
    for info in infos:
        name = "".join(c if c.isprintable() else "?" for c in info.filename)[:120]
        if info.is_dir() or not info.filename.lower().endswith(PHOTO_EXTENSIONS):
            continue
        if info.flag_bits & 0x1:
            yield name, None, "is encrypted"
            continue
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > MAX_MEMBER or ratio > MAX_RATIO or total + info.file_size > MAX_TOTAL:
            yield name, None, "is too large to expand"
            continue
        try:
            with archive.open(info) as stream:
                blob = stream.read(MAX_MEMBER + 1)
        except Exception as exc:
            yield name, None, f"cannot be read ({type(exc).__name__})"
            continue
        total += len(blob)
        kind = sniff(blob)
        if kind is not None:
            yield name, blob, kind
