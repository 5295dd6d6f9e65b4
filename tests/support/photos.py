"""Real photos for the tests: a real face (scikit-image's astronaut), real EXIF GPS, serials
and owner, XMP and IPTC blocks, blurred and pixelated faces, and mail that carries them."""

from __future__ import annotations

import io
import struct
from email.message import EmailMessage
from email.policy import SMTP

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from skimage import data

Pixels = npt.NDArray[np.uint8]
# Where the astronaut's face is (Haar's box on the 512 x 512 image), with a margin.
FACE_BOX = (165, 55, 120, 120)
FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF")
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N" '
       b'exif:GPSLongitude="13,24.0E"/></rdf:RDF></x:xmpmeta>')


def astronaut() -> Pixels:
    return np.asarray(data.astronaut(), dtype=np.uint8)


def cat() -> Pixels:
    return np.asarray(data.chelsea(), dtype=np.uint8)


def coffee() -> Pixels:
    return np.asarray(data.coffee(), dtype=np.uint8)


def blurred(pixels: Pixels, box: tuple[int, int, int, int] = FACE_BOX,
            sigma: float = 6.0) -> Pixels:
    x, y, w, h = box
    out = pixels.copy()
    out[y:y + h, x:x + w] = cv2.GaussianBlur(out[y:y + h, x:x + w], (0, 0), sigma)
    return out


def pixelated(pixels: Pixels, box: tuple[int, int, int, int] = FACE_BOX,
              blocks: int = 12) -> Pixels:
    x, y, w, h = box
    out = pixels.copy()
    small = cv2.resize(out[y:y + h, x:x + w], (blocks, blocks), interpolation=cv2.INTER_AREA)
    out[y:y + h, x:x + w] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return out


def exif(gps: bool = True, serial: bool = True, owner: bool = True) -> bytes:
    """A real EXIF block: GPS position, body serial number, owner and artist."""
    block = Image.Exif()
    block[0x010F] = "Camera maker"  # Make: says nothing about anyone
    if owner:
        block[0x013B] = "Jane Photographer"
    if gps:
        block[0x8825] = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 0.0)}
    if serial or owner:
        inner = block.get_ifd(0x8769)
        if serial:
            inner[0xA431] = "SN-0042-7731"
        if owner:
            inner[0xA430] = "Jane Owner"
    return block.tobytes()


def photo(fmt: str = "JPEG", pixels: Pixels | None = None, exif_block: bytes | None = None,
          **options: object) -> bytes:
    """An image file in ``fmt``; with ``exif_block`` written into it."""
    image = Image.fromarray(astronaut() if pixels is None else pixels)
    out = io.BytesIO()
    if exif_block:
        options["exif"] = exif_block
    image.save(out, format=fmt, **options)
    return out.getvalue()


def with_iptc(jpeg: bytes, city: bytes = b"Aleppo", byline: bytes = b"J. Doe") -> bytes:
    """A JPEG with an IPTC-IIM block (APP13, Photoshop 3.0) naming a city and a by-line."""
    records = b"".join(b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(value)) + value
                       for dataset, value in ((90, city), (80, byline)))
    if len(records) % 2:
        records += b"\0"
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(records)) + records
    body = b"Photoshop 3.0\x00" + resource
    segment = b"\xff\xed" + struct.pack(">H", len(body) + 2) + body
    return jpeg[:2] + segment + jpeg[2:]


def mail_with(images: list[tuple[str, bytes]], text: str = "Cleared for publication\n\nHi",
              subject: str = "Photos", content_type: str = "image/jpeg",
              to: str = "partner@outside.test") -> bytes:
    """A message with ``text`` and each (file name, bytes) attached."""
    message = EmailMessage()
    message["From"] = "bob@example.org"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<photos-{abs(hash((subject, len(images))))}@example.org>"
    message.set_content(text)
    maintype, subtype = content_type.split("/")
    for name, blob in images:
        message.add_attachment(blob, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=SMTP)
