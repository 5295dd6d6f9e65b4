"""Reading a photo's identifying metadata with Pillow, and writing it again without any."""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.core.photos import MetadataKind, exif_kinds, iptc_kinds, xmp_kinds

# Pillow (some 3 MB resident with its libraries) is imported by the first photo opened, and
# numpy (20 MB) by the first whose faces are looked for: most workers never open an image.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image



@functools.cache
def heif() -> None:
    """Teach Pillow HEIF (iPhone photos) before the first image is opened or written: the
    plugin's library is about 10 MB, and most workers never open an image."""
    import pillow_heif

    pillow_heif.register_heif_opener()

FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF")
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_TIFF_XMP = 700
_PNG_TEXT = {"author": MetadataKind.OWNER, "copyright": MetadataKind.OWNER,
             "location": MetadataKind.LOCATION, "gps": MetadataKind.LOCATION}
# Video containers whose location atom is held: Apple's and Android's ©xyz and QuickTime's key.
_VIDEO_BRANDS = (b"qt  ", b"isom", b"iso2", b"mp41", b"mp42", b"M4V ", b"3gp4", b"3gp5")
_VIDEO_LOCATION = (b"\xa9xyz", b"com.apple.quicktime.location.ISO6709")


class ImageProblem(Exception):
    """An image that cannot be read or rewritten within the limits; the words say why."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A decoded photo: its format, identifying metadata and its pixels in grey."""

    format: str
    metadata: frozenset[MetadataKind]
    image: Image.Image


def sniff(data: bytes) -> str | None:
    """The kind of image or video ``data`` starts like (whatever its part's type says)."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"):
            return "HEIF"
        if brand in _VIDEO_BRANDS:
            return "VIDEO"
    return None


def video_location(data: bytes) -> bool:
    """Whether a video carries a location atom (only detected: a video is never rewritten)."""
    return any(marker in data for marker in _VIDEO_LOCATION)


def open_photo(data: bytes, max_pixels: int) -> Opened:
    """Decode a photo after checking its size; raises ``ImageProblem`` with the reason."""
    # The TIFF and IPTC plugins as well, as ``_metadata`` reads them.
    from PIL import Image, IptcImagePlugin, TiffImagePlugin  # noqa: F401

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            heif()
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageProblem(f"{width}x{height} pixels is over the limit of "
                                   f"{max_pixels / 1e6:g} megapixels")
            frames = int(getattr(image, "n_frames", 1))
            if frames > 1:
                raise ImageProblem(f"has {frames} frames and cannot be rewritten")
            metadata = _metadata(image)
            image.load()
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem("is too large to decode") from exc
    except Exception as exc:  # a corrupt file: Pillow raises many kinds
        raise ImageProblem(f"cannot be read ({type(exc).__name__})") from exc
    fmt = "HEIF" if image.format in ("HEIF", "HEIC") else str(image.format)
    if fmt not in FORMATS:
        raise ImageProblem(f"is a {fmt} image, which is not read")
    return Opened(fmt, metadata, image)


def _metadata(image: Image.Image) -> frozenset[MetadataKind]:
    from PIL import ImageFile, IptcImagePlugin, TiffImagePlugin

    kinds: set[MetadataKind] = set()
    exif = image.getexif()
    tags = set(exif)
    if _EXIF_IFD in exif:
        tags |= set(exif.get_ifd(_EXIF_IFD))
    if _GPS_IFD in exif and not exif.get_ifd(_GPS_IFD) and not exif.get(_GPS_IFD):
        tags.discard(_GPS_IFD)  # an empty GPS block says nothing
    kinds |= exif_kinds(tags)
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(image, TiffImagePlugin.TiffImageFile) and _TIFF_XMP in image.tag_v2:
        xmp = image.tag_v2[_TIFF_XMP]
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    if isinstance(xmp, bytes | bytearray):
        kinds |= xmp_kinds(bytes(xmp))
    if isinstance(image, ImageFile.ImageFile) and image.format in ("JPEG", "TIFF"):
        iptc = IptcImagePlugin.getiptcinfo(image)
        if iptc:
            kinds |= iptc_kinds(iptc)
    for key, value in image.info.items():
        kind = _PNG_TEXT.get(str(key).lower())
        if kind is not None and isinstance(value, str) and value.strip():
            kinds.add(kind)
    return frozenset(kinds)


def grey(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The photo as an 8-bit grey array, turned the way its viewer shows it."""
    import numpy as np
    from PIL import ImageOps

    upright = ImageOps.exif_transpose(image) or image
    return np.asarray(upright.convert("L"), dtype=np.uint8)


def written_as(fmt: str) -> str:
    """The format a stripped photo is written in: its own, but HEIC becomes JPEG (encoding
    HEVC takes seconds per photo, longer than a message's budget for a camera's photo)."""
    return "JPEG" if fmt == "HEIF" else fmt


def strip(opened: Opened) -> bytes:
    """The photo written again from its pixels alone, in ``written_as`` its format: no EXIF,
    XMP, IPTC or text chunks (the colour profile stays), turned upright as its orientation
    said."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(opened.image) or opened.image
    fmt = written_as(opened.format)
    mode = image.mode
    if fmt == "JPEG" and mode not in ("L", "RGB", "CMYK"):
        mode = "RGB"
    elif mode == "P" or (fmt == "WEBP" and mode not in ("RGB", "RGBA")):
        mode = "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
    pixels = image.convert(mode) if mode != image.mode else image
    # A new image from raw pixels carries nothing of the old one's info or tags.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    options: dict[str, object] = {}
    icc = opened.image.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    match fmt:
        case "JPEG":
            options["quality"] = 95
        case "WEBP":  # the fastest method: the default takes seconds on a camera's photo
            options.update(quality=95, method=0)
        case "TIFF":
            options["compression"] = "tiff_lzw"
        case "PNG":  # lossless either way; the default level takes seconds on a large photo
            options["compress_level"] = 1
        case _:
            pass
    out = io.BytesIO()
    clean.save(out, format=fmt, **options)
    return out.getvalue()
