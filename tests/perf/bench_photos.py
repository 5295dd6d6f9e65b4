"""Figures for docs/photos.md: the face set, and the cost of scanning photos of each size.

Run: .venv/bin/python -m tests.perf.bench_photos
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import cv2

from gateway.adapters.images.scan import scan
from gateway.core.photos import PhotoLimits
from gateway.core.recipients import parse_recipient
from gateway.policyfiles.load import load_policy
from gateway.service.photos import inspect, may_carry_images
from tests.support import photos as p
from tests.support.face_set import measure

ROOT = Path(__file__).resolve().parents[2]


def timed(data: bytes, runs: int = 5) -> float:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        scan(data, PhotoLimits(), strip_metadata=True, faces=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    figures = measure()
    print(figures)
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF"):
        for side in (512, 2048, 4000):
            pixels = cv2.resize(p.astronaut(), (side, side * 3 // 4 if side > 512 else side))
            data = p.mail_with([(f"a.{fmt.lower()}", p.photo(fmt, pixels, p.exif()))])
            print(f"{fmt:5} {pixels.shape[1]}x{pixels.shape[0]}: {len(data) / 1e6:.2f} MB, "
                  f"scan median {timed(data, 3) * 1000:.0f} ms")
    plain = p.mail_with([], text="Cleared for publication\n\n" + "x" * 5000)
    started = time.perf_counter()
    for _ in range(10000):
        may_carry_images(plain)
    print(f"5 KB plain mail, skip check: {(time.perf_counter() - started) / 10000 * 1e6:.1f} us")
    policy = load_policy(ROOT / "policies")
    outside = [parse_recipient("journalist@news.test", "+")]

    async def inspect_plain() -> float:
        started = time.perf_counter()
        for _ in range(10000):
            await inspect(plain, policy, outside)
        return (time.perf_counter() - started) / 10000

    seconds = asyncio.run(inspect_plain())
    print(f"5 KB plain mail to outside, photos.inspect: {seconds * 1e6:.1f} us")


if __name__ == "__main__":
    main()
