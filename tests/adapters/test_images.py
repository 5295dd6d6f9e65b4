"""Real photos through the image adapter: metadata found and stripped, faces judged, bounds."""

from __future__ import annotations

import io
import subprocess
import sys
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import exifread
import numpy as np
import pytest
from PIL import Image

from gateway.adapters.images.metadata import open_photo, strip, written_as
from gateway.adapters.images.scan import scan
from gateway.core.photos import MetadataKind, PhotoLimits
from tests.support import photos as p

ALL = frozenset(MetadataKind)
LIMITS = PhotoLimits()
IDENTIFYING = ("GPS", "BodySerialNumber", "CameraOwnerName", "Artist", "MakerNote")


def attachments(data: bytes) -> list[Message]:
    message = message_from_bytes(data, policy=default)
    return [part for part in message.walk() if part.get_content_maintype() == "image"]


@pytest.mark.parametrize("fmt", p.FORMATS)
def test_every_format_has_its_metadata_found_and_stripped(fmt: str) -> None:
    original = p.photo(fmt, exif_block=p.exif())
    opened = open_photo(original, 10**8)
    assert opened.format == fmt and opened.metadata == ALL
    clean = strip(opened)
    again = open_photo(clean, 10**8)
    assert again.metadata == frozenset()
    assert again.format == written_as(fmt) and again.image.size == (512, 512)
    # A TIFF's own structure (size, strips) is EXIF-shaped: no identifying tag is left in it.
    assert not set(again.image.getexif()) & {0x8825, 0x8769, 0x013B, 0xA430, 0xA431}
    if fmt in ("JPEG", "TIFF"):  # an independent reader agrees
        before = exifread.process_file(io.BytesIO(original), details=False)
        after = exifread.process_file(io.BytesIO(clean), details=False)
        assert any("GPS" in key for key in before)
        assert not [k for k in after if any(word in k for word in IDENTIFYING)]


def test_each_kind_alone() -> None:
    for kind, block in ((MetadataKind.LOCATION, p.exif(serial=False, owner=False)),
                        (MetadataKind.DEVICE_SERIAL, p.exif(gps=False, owner=False)),
                        (MetadataKind.OWNER, p.exif(gps=False, serial=False))):
        assert open_photo(p.photo("JPEG", exif_block=block), 10**8).metadata == {kind}


def test_iptc_and_xmp_are_read_and_stripped() -> None:
    iptc = p.with_iptc(p.photo("JPEG"))
    assert open_photo(iptc, 10**8).metadata == {MetadataKind.LOCATION, MetadataKind.OWNER}
    assert b"Aleppo" not in strip(open_photo(iptc, 10**8))
    xmp = p.photo("JPEG", xmp=p.XMP)
    assert open_photo(xmp, 10**8).metadata == {MetadataKind.LOCATION}
    assert b"GPSLatitude" not in strip(open_photo(xmp, 10**8))
    png = p.photo("PNG", pnginfo=_png_text("XML:com.adobe.xmp", p.XMP.decode()))
    assert open_photo(png, 10**8).metadata == {MetadataKind.LOCATION}
    author = p.photo("PNG", pnginfo=_png_text("Author", "Jane"))
    assert open_photo(author, 10**8).metadata == {MetadataKind.OWNER}


def _png_text(key: str, value: str) -> object:
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_itxt(key, value)
    return info


def test_a_photo_without_identifying_metadata_is_left_alone() -> None:
    data = p.mail_with([("plain.jpg", p.photo("JPEG", exif_block=p.exif(False, False, False)))])
    result = scan(data, LIMITS, strip_metadata=True, faces=False)
    assert result.data == data
    (finding,) = result.findings
    assert finding.metadata == frozenset() and not finding.stripped and not finding.problem


def test_the_message_carries_the_stripped_photo_and_the_rest_unchanged() -> None:
    data = p.mail_with([("beach.jpg", p.photo("JPEG", exif_block=p.exif())),
                        ("logo.png", p.photo("PNG"))])
    result = scan(data, LIMITS, strip_metadata=True, faces=False)
    first, second = result.findings
    assert (first.name, first.metadata, first.stripped) == ("beach.jpg", ALL, True)
    assert (second.name, second.metadata, second.stripped) == ("logo.png", frozenset(), False)
    parts = attachments(result.data)
    assert [part.get_filename() for part in parts] == ["beach.jpg", "logo.png"]
    stripped = parts[0].get_payload(decode=True)
    assert isinstance(stripped, bytes)
    assert open_photo(stripped, 10**8).metadata == frozenset()
    assert Image.open(io.BytesIO(stripped)).size == (512, 512)
    assert parts[1].get_payload(decode=True) == attachments(data)[1].get_payload(decode=True)
    body = message_from_bytes(result.data, policy=default).get_body(("plain",))
    assert body is not None and body.get_content().startswith("Cleared for publication")
    assert b"\r\n" in result.data and b"\n" not in result.data.replace(b"\r\n", b"")


def test_a_heic_photo_is_stripped_into_a_jpeg() -> None:
    data = p.mail_with([("IMG_0001.HEIC", p.photo("HEIF", exif_block=p.exif()))],
                       content_type="image/heic")
    result = scan(data, LIMITS, strip_metadata=True, faces=False)
    (finding,) = result.findings
    assert (finding.name, finding.format, finding.stripped) == ("IMG_0001.HEIC", "HEIF", True)
    (part,) = attachments(result.data)
    assert (part.get_content_type(), part.get_filename()) == ("image/jpeg", "IMG_0001.jpg")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert open_photo(payload, 10**8).format == "JPEG"
    assert open_photo(payload, 10**8).metadata == frozenset()


def test_a_photo_is_found_by_its_bytes_whatever_its_type_says() -> None:
    data = p.mail_with([("scan.bin", p.photo("JPEG", exif_block=p.exif()))],
                       content_type="application/octet-stream")
    (finding,) = scan(data, LIMITS, strip_metadata=True, faces=False).findings
    assert finding.format == "JPEG" and finding.stripped


def test_without_strip_the_message_is_unchanged() -> None:
    data = p.mail_with([("beach.jpg", p.photo("JPEG", exif_block=p.exif()))])
    result = scan(data, LIMITS, strip_metadata=False, faces=False)
    assert result.data == data and result.findings[0].metadata == ALL
    assert not result.findings[0].stripped


def test_a_signed_message_is_never_rewritten() -> None:
    inner = p.mail_with([("beach.jpg", p.photo("JPEG", exif_block=p.exif()))])
    _, _, body = inner.partition(b"\r\n\r\n")
    boundary = inner.split(b'boundary="')[1].split(b'"')[0]
    signed = (b"From: bob@example.org\r\nTo: partner@outside.test\r\nSubject: signed\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
              b'protocol="application/pkcs7-signature"; boundary="S"\r\n\r\n--S\r\n'
              b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + body
              + b"\r\n--S\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--S--\r\n")
    result = scan(signed, LIMITS, strip_metadata=True, faces=False)
    assert result.data == signed
    (finding,) = result.findings
    assert finding.metadata == ALL and not finding.stripped
    assert "signed" in finding.problem


@pytest.mark.parametrize(("blob", "problem"), [
    (b"\xff\xd8\xff\xe0" + b"\0" * 200, "cannot be read"),
    (p.photo("PNG")[:200], "cannot be read"),
])
def test_a_broken_photo_is_a_problem_not_a_crash(blob: bytes, problem: str) -> None:
    (finding,) = scan(p.mail_with([("broken.jpg", blob)]), LIMITS, True, True).findings
    assert problem in finding.problem


def test_bounds_pixels_images_and_frames() -> None:
    big = p.photo("PNG", np.zeros((3000, 3000, 3), dtype=np.uint8))
    limits = PhotoLimits(images=2, megapixels=4)
    data = p.mail_with([("big.png", big), ("a.jpg", p.photo("JPEG")),
                        ("b.jpg", p.photo("JPEG"))])
    big_finding, ok, over = scan(data, limits, True, False).findings
    assert "over the limit of 4 megapixels" in big_finding.problem
    assert not ok.problem
    assert "more than 2 images" in over.problem
    frames = [Image.fromarray(p.astronaut()), Image.fromarray(p.astronaut())]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:],
                   exif=p.exif())
    (tiff,) = scan(p.mail_with([("two.tif", out.getvalue())]), LIMITS, True, False).findings
    assert "2 frames" in tiff.problem


def test_a_video_with_a_location_is_found_not_rewritten() -> None:
    video = (b"\0\0\0\x18ftypmp42\0\0\0\0isommp42" + b"\0\0\0\x10udta\0\0\0\x08\xa9xyz"
             + b"+52.5+013.4/")
    (finding,) = scan(p.mail_with([("clip.mp4", video)], content_type="video/mp4"),
                      LIMITS, True, False).findings
    assert finding.format == "VIDEO" and finding.metadata == {MetadataKind.LOCATION}
    assert "never rewritten" in finding.problem


def test_an_upright_photo_stays_upright() -> None:
    wide = np.zeros((100, 200, 3), dtype=np.uint8)
    block = Image.Exif()
    block[0x0112] = 6  # shown turned a quarter: 100 wide, 200 high
    block[0x8825] = {1: "N", 2: (52.0, 31.0, 12.5)}
    clean = strip(open_photo(p.photo("JPEG", wide, block.tobytes()), 10**8))
    assert Image.open(io.BytesIO(clean)).size == (100, 200)


@pytest.mark.parametrize(("name", "pixels", "faces", "sharp"), [
    ("sharp", p.astronaut(), 1, 1),
    ("blurred", p.blurred(p.astronaut()), 1, 0),
    ("lightly blurred", p.blurred(p.astronaut(), sigma=2.0), 1, 0),
    ("pixelated", p.pixelated(p.astronaut()), 1, 0),
    ("a cat", p.cat(), 0, 0),
    ("coffee", p.coffee(), 0, 0),
])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_faces_sharp_or_obscured(name: str, pixels: np.ndarray, faces: int, sharp: int,
                                 fmt: str) -> None:
    data = p.mail_with([(f"{name}.img", p.photo(fmt, pixels))])
    (finding,) = scan(data, LIMITS, strip_metadata=True, faces=True).findings
    assert (finding.faces, finding.sharp_faces) == (faces, sharp), name


@pytest.mark.parametrize("fmt", p.FORMATS)
def test_truncated_and_corrupted_photos_fail_closed(fmt: str) -> None:
    """Every cut and every flipped byte range: a finding, never an exception; a photo that
    was not read whole is a problem (held outside), never a clean pass with metadata lost."""
    whole = p.photo(fmt, exif_block=p.exif())
    rng = np.random.default_rng(7)
    samples = [whole[:cut] for cut in (16, 64, 300, len(whole) // 3, len(whole) - 10)]
    for _ in range(6):
        damaged = bytearray(whole)
        start = int(rng.integers(12, len(whole) - 64))
        damaged[start:start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        samples.append(bytes(damaged))
    for sample in samples:
        data = p.mail_with([("x.img", sample)], content_type="application/octet-stream")
        (finding,) = scan(data, LIMITS, strip_metadata=True, faces=True).findings
        if not finding.problem:  # read after all: then its metadata was found and stripped
            assert finding.stripped or not finding.metadata


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return out.getvalue()


def test_photos_inside_a_zip_are_read_never_rewritten() -> None:
    archive = _zip({"trip/beach.jpg": p.photo("JPEG", exif_block=p.exif()),
                    "trip/clean.png": p.photo("PNG", p.blurred(p.astronaut())),
                    "notes.txt": b"not a photo", "bomb.jpg": b"\0" * (20 * 1024 * 1024)})
    data = p.mail_with([("photos.zip", archive)], content_type="application/zip")
    result = scan(data, LIMITS, strip_metadata=True, faces=True)
    assert result.data == data
    beach, clean, bomb = result.findings
    assert beach.name == "photos.zip/trip/beach.jpg" and beach.metadata == ALL
    assert beach.problem == "inside an archive, which is never rewritten"
    assert (clean.name, clean.problem, clean.faces, clean.sharp_faces) == (
        "photos.zip/trip/clean.png", "", 1, 0)
    assert bomb.problem == "inside an archive: is too large to expand"


def test_a_fresh_process_reads_a_heic_photo_with_the_plugin_loaded_only_then(
        tmp_path: Path) -> None:
    """The HEIF plugin (about 10 MB) is not loaded by a gateway at start, only by the first
    image opened; an iPhone photo is still read then, in a process that opened none before."""
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(p.photo("HEIF", exif_block=p.exif()))
    script = (
        "import sys\n"
        "import gateway.cli.serve, gateway.runtime.app, gateway.service.photos\n"
        "assert 'pillow_heif' not in sys.modules, 'loaded at start'\n"
        "from gateway.adapters.images.metadata import open_photo\n"
        f"opened = open_photo(open({str(heic)!r}, 'rb').read(), 10**8)\n"
        "print(opened.format, sorted(k.value for k in opened.metadata))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    fmt, _, kinds = done.stdout.strip().partition(" ")
    assert fmt == "HEIF" and "location" in kinds, done.stdout
