"""Which photo findings belong beside which attachment, and which parts get a thumbnail."""

from __future__ import annotations

import asyncio

from gateway.core.photos import MetadataKind, PhotoFinding
from gateway.service.preview import MAX_THUMBNAILS, Part, Thumbnails, findings_for, plan
from tests.support import photos as p

GPS = frozenset({MetadataKind.LOCATION})
FINDINGS = (PhotoFinding("family.jpg", "JPEG", GPS, stripped=True, faces=1, sharp_faces=1),
            PhotoFinding("trip.zip/a.png", "PNG", GPS, problem="inside an archive"),
            PhotoFinding("IMG_1.heic", "HEIF", GPS, stripped=True),
            PhotoFinding("image 2", "PNG"))


def test_findings_go_beside_their_own_file() -> None:
    assert findings_for("family.jpg", FINDINGS) == (FINDINGS[0],)
    assert findings_for("trip.zip", FINDINGS) == (FINDINGS[1],)
    assert findings_for("IMG_1.jpg", FINDINGS) == (FINDINGS[2],)  # rewritten as JPEG
    assert findings_for("family.jpeg", FINDINGS) == ()
    assert findings_for("image 2", FINDINGS) == (FINDINGS[3],)


def test_plan_reads_headers_only_and_bounds_the_count() -> None:
    png = p.photo("PNG", pixels=p.cat()[:32, :32])
    parts = [(2, "", "image/png", b"garbage"), (3, "notes.txt", "text/plain", b"hello"),
             (4, "", "application/octet-stream", png),
             *((5 + n, f"p{n}.png", "image/png", png) for n in range(MAX_THUMBNAILS))]
    shown = plan(parts, FINDINGS, 40_000_000)
    assert 3 not in shown  # not an image
    assert shown[2].problem == "not an image that can be read"
    assert shown[4].problem is None and shown[4].findings == (FINDINGS[3],)  # "image 2"
    # 22 images: the garbage one counts too, so the last two are over the bound
    assert [i for i, s in shown.items() if s.problem and "more than" in s.problem] == [
        3 + MAX_THUMBNAILS, 4 + MAX_THUMBNAILS]


async def test_a_page_of_thumbnails_takes_the_message_apart_once() -> None:
    png = p.photo("PNG", pixels=p.cat()[:48, :48])
    parts = [(2 + n, f"p{n}.png", "image/png", png) for n in range(5)]
    calls: list[int] = []

    def taken_apart() -> list[Part]:
        calls.append(1)
        return parts

    kept = Thumbnails()
    drawn = await asyncio.gather(*(kept.get("H1", 2 + n, taken_apart, 40_000_000)
                                   for n in range(5)))
    assert all(isinstance(d, bytes) and d.startswith(b"\xff\xd8") for d in drawn)
    assert len(calls) == 1
    assert await kept.get("H1", 9, taken_apart, 40_000_000) is None  # no such image
    assert await kept.get("H2", 2, taken_apart, 40_000_000) == drawn[0]  # another message
    assert len(calls) == 3
