"""Image attachments of a held message as thumbnails, for the review page.

Bounded: at most ``MAX_THUMBNAILS`` images of a message are shown, each within the photo
policy's pixel limit, ``MAX_AT_ONCE`` decoded at a time in this process, each within
``SECONDS``; anything else is shown as a placeholder that says why. Beside each, the photo
findings the decision recorded for that attachment.

Taking a large message apart costs far more than drawing its thumbnails (a 29 MB message
with ten camera photos: 0.5 s of CPU to parse, 0.03 s per thumbnail), so the first request
for one of a message's thumbnails draws them all, within ``BATCH_SECONDS``, and each is kept
in memory (at most ``KEEP_MAX``, for ``KEEP_SECONDS``) for the page's other requests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.adapters.images import thumbnail as thumbs
from gateway.adapters.images.metadata import ImageProblem
from gateway.core.photos import PhotoFinding

MAX_THUMBNAILS = 20
MAX_AT_ONCE = 2
SECONDS = 5.0
BATCH_SECONDS = 10.0
KEEP_MAX = 256
KEEP_SECONDS = 300.0
_DECODING = threading.BoundedSemaphore(MAX_AT_ONCE)
Part = tuple[int, str, str, bytes]  # (index, file name, content type, bytes)


class NoThumbnail(Exception):
    """No thumbnail can be shown; the words say why. ``transient``: it may work later."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Shown:
    """How one image attachment appears: a thumbnail, or a placeholder with the reason."""

    index: int
    problem: str | None  # None: a thumbnail is served for it
    findings: tuple[PhotoFinding, ...]


def plan(parts: Sequence[Part], photos: Sequence[PhotoFinding],
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
        raise NoThumbnail("not shown now: too many images are being drawn; reload the page",
                          transient=True)
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
        raise NoThumbnail(f"took longer than {SECONDS:g} s to draw", transient=True) from None


class Thumbnails:
    """The thumbnails of held messages drawn by this process, kept a few minutes."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, int], tuple[float, bytes | str]] = OrderedDict()
        self._busy: dict[str, asyncio.Lock] = {}

    async def get(self, hold_id: str, index: int, parts: Callable[[], Sequence[Part]],
                  max_pixels: int) -> bytes | str | None:
        """Attachment ``index``'s thumbnail (JPEG bytes) or why there is none (text);
        ``None`` if it is not an image attachment. ``parts`` takes the message apart."""
        kept = self._get((hold_id, index))
        if kept is not None:
            return kept
        lock = self._busy.setdefault(hold_id, asyncio.Lock())
        try:
            async with lock:  # one request of a page takes the message apart; the rest wait
                kept = self._get((hold_id, index))
                if kept is not None:
                    return kept
                return await self._draw(hold_id, index, await asyncio.to_thread(parts),
                                        max_pixels)
        finally:
            if not lock.locked():
                self._busy.pop(hold_id, None)

    async def _draw(self, hold_id: str, index: int, parts: Sequence[Part],
                    max_pixels: int) -> bytes | str | None:
        shown = await asyncio.to_thread(plan, parts, (), max_pixels)
        if index not in shown:
            return None
        payloads = {number: payload for number, _, _, payload in parts}
        started = time.monotonic()
        wanted: bytes | str = ""
        for number in [index, *(n for n in shown if n != index)]:
            if number != index and time.monotonic() - started > BATCH_SECONDS:
                break  # the rest are drawn by their own requests
            value: bytes | str
            problem = shown[number].problem
            lasting = True
            if problem is not None:
                value = problem
            else:
                try:
                    value = await render_thumbnail(payloads[number], max_pixels)
                except NoThumbnail as exc:
                    value, lasting = str(exc), not exc.transient
            if lasting:
                self._put((hold_id, number), value)
            if number == index:
                wanted = value
        return wanted

    def _get(self, key: tuple[str, int]) -> bytes | str | None:
        found = self._kept.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > KEEP_SECONDS:
            del self._kept[key]
            return None
        self._kept.move_to_end(key)
        return found[1]

    def _put(self, key: tuple[str, int], value: bytes | str) -> None:
        self._kept[key] = (time.monotonic(), value)
        self._kept.move_to_end(key)
        while len(self._kept) > KEEP_MAX:
            self._kept.popitem(last=False)
