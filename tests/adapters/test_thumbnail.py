"""Thumbnails for the review page: every readable format becomes a clean, upright JPEG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gateway.adapters.images.metadata import ImageProblem
from gateway.adapters.images.thumbnail import DAMAGED, NOT_AN_IMAGE, SIDE, thumbnail
from tests.support import photos as p

LIMIT = 40_000_000


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def opened(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert len(image.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment", "photoshop", "adobe"} & set(image.info)
    return image


@pytest.mark.parametrize("fmt", p.FORMATS)
def test_every_format_loses_its_metadata(fmt: str) -> None:
    options: dict[str, object] = {"exif": p.exif()}
    if fmt in ("PNG", "WEBP", "TIFF"):
        options["icc_profile"] = b"not a real profile but carried"
    if fmt == "WEBP":
        options["xmp"] = p.XMP
    data = p.photo(fmt, **options)
    if fmt == "JPEG":
        data = p.with_iptc(data)
    image = opened(thumbnail(data, LIMIT))
    assert image.size == (SIDE, SIDE)


def test_the_thumbnail_is_upright_as_the_orientation_tag_says() -> None:
    tags = Image.Exif()
    tags[0x0112] = 6  # rotate 90° clockwise to view
    wide = p.photo("JPEG", pixels=p.cat(), exif_block=tags.tobytes())  # 451 wide, 300 high
    image = opened(thumbnail(wide, LIMIT))
    assert image.height > image.width


def test_sixteen_bit_grey_and_transparency_look_as_they_should() -> None:
    grey = np.asarray(Image.fromarray(p.astronaut()).convert("L"), dtype=np.uint16) * 257
    deep = saved(Image.fromarray(grey), "PNG")
    assert abs(np.asarray(opened(thumbnail(deep, LIMIT))).mean() - grey.mean() / 257) < 3
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    assert np.asarray(opened(thumbnail(saved(clear, "PNG"), LIMIT))).min() > 250  # white


def test_problems_are_said_in_words() -> None:
    whole = p.photo("JPEG")
    with pytest.raises(ImageProblem, match=DAMAGED):
        thumbnail(whole[:len(whole) // 3], LIMIT)
    with pytest.raises(ImageProblem, match=NOT_AN_IMAGE):
        thumbnail(b"%PDF-1.4 not a picture", LIMIT)
    with pytest.raises(ImageProblem, match=r"512 x 512 pixels, over the limit of 0\.1 megapixels"):
        thumbnail(whole, 100_000)
