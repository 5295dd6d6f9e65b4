"""Image attachments of a held message as thumbnails, for the review page.

Bounded: at most ``MAX_THUMBNAILS`` images of a message are shown, each within the photo
policy's pixel limit, ``MAX_AT_ONCE`` decoded at a time in this process, each within
``SECONDS``; anything else is shown as a placeholder that says why. Beside each, the photo
findings the decision recorded for that attachment.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.adapters.images import thumbnail as thumbs
from gateway.adapters.images.metadata import ImageProblem
from gateway.core.photos import PhotoFinding

MAX_THUMBNAILS = 20
MAX_AT_ONCE = 2
SECONDS = 5.0
_DECODING = threading.BoundedSemaphore(MAX_AT_ONCE)


class NoThumbnail(Exception):
    """No thumbnail can be shown; the words say why."""


@dataclass(frozen=True, slots=True)
class Shown:
    """How one image attachment appears: a thumbnail, or a placeholder with the reason."""

    index: int
    problem: str | None  # None: a thumbnail is served for it
    findings: tuple[PhotoFinding, ...]


def plan(parts: Sequence[tuple[int, str, str, bytes]], photos: Sequence[PhotoFinding],
         max_pixels: int) -> dict[int, Shown]:
    """For each (index, file name, content type, bytes) that is an image: what is shown (a
    part without a file name is "image N", N counting images, as the photo scan names it).

    Only image headers are read here; the pixels are decoded when the thumbnail is asked for.
    """
    shown: dict[int, Shown] = {}
    number = 0
    for index, name, ctype, payload in parts:
        if not thumbs.is_image(payload, ctype):
            continue
        number += 1
        problem: str | None = None
        if number > MAX_THUMBNAILS:
            problem = f"not shown: more than {MAX_THUMBNAILS} images in one message"
        else:
            try:
                thumbs.check(payload, max_pixels)
            except ImageProblem as exc:
                problem = str(exc)
        shown[index] = Shown(index, problem, findings_for(name or f"image {number}", photos))
    return shown


def findings_for(name: str, photos: Sequence[PhotoFinding]) -> tuple[PhotoFinding, ...]:
    """The findings recorded for the attachment ``name``: its own, those of the members of
    an archive of that name, and those of a photo rewritten as JPEG under a new extension."""
    stem = name.rpartition(".")[0] or name
    return tuple(f for f in photos
                 if f.name == name or f.name.startswith(name + "/")
                 or (f.format == "HEIF" and name.lower().endswith(".jpg")
                     and (f.name.rpartition(".")[0] or f.name) == stem))


def _render(payload: bytes, max_pixels: int) -> bytes:
    if not _DECODING.acquire(timeout=SECONDS):
        raise NoThumbnail("not shown now: too many images are being drawn; reload the page")
    try:
        return thumbs.thumbnail(payload, max_pixels)
    except ImageProblem as exc:
        raise NoThumbnail(str(exc)) from exc
    finally:
        _DECODING.release()


async def render_thumbnail(payload: bytes, max_pixels: int) -> bytes:
    """The JPEG thumbnail of one image; ``NoThumbnail`` with the reason if there is none."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_render, payload, max_pixels), SECONDS)
    except TimeoutError:
        raise NoThumbnail(f"took longer than {SECONDS:g} s to draw") from None
