"""Thumbnails of attached images for the review page: decoded, bounded, re-encoded.

A thumbnail is a new JPEG made from the decoded pixels only (never the attachment's bytes):
no EXIF, XMP, IPTC, colour profile or comment survives. Size is checked before any pixel is
decoded; a decompression bomb or an image over the limit is refused with the reason.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from gateway.adapters.images.metadata import ImageProblem, heif, sniff

if TYPE_CHECKING:  # Pillow is imported by the first thumbnail (metadata.py)
    from PIL import Image

# The decoders a thumbnail may use (Pillow would otherwise try every plugin it has).
DECODERS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "GIF", "BMP")
SIDE = 320  # the longest side of a thumbnail, in pixels
# Why there is no thumbnail, in the words the review page shows.
NOT_AN_IMAGE = "not an image that can be read"
DAMAGED = "the image is damaged or cut short"
TOO_LARGE = "too large to decode safely"


def is_image(data: bytes, content_type: str) -> bool:
    """Whether a part is meant as a still image: its bytes look like one, or its type says
    so (an ``image/*`` part that is not one is shown as one that cannot be shown)."""
    kind = sniff(data)
    if kind == "VIDEO":
        return False
    return kind is not None or (content_type.startswith("image/")
                                and content_type != "image/svg+xml")


def _open(data: bytes, max_pixels: int) -> Image.Image:
    from PIL import Image

    heif()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=DECODERS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProblem(TOO_LARGE) from exc
        except Exception as exc:  # not an image Pillow reads: many kinds of error
            raise ImageProblem(NOT_AN_IMAGE) from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageProblem(NOT_AN_IMAGE)
    if width * height > max_pixels:
        raise ImageProblem(f"{width} x {height} pixels, over the limit of "
                           f"{max_pixels / 1e6:g} megapixels")
    return image


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit or floating-point grey image scaled to 8 bits (a plain conversion would
    clip it to white)."""
    if image.mode not in ("I", "F") and not image.mode.startswith("I;16"):
        return image
    import numpy as np  # 20 MB a process: loaded by the first image that needs it
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
    top = float(values.max(initial=0.0))
    if top <= 255:
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    full = 65535.0 if top <= 65535 else top
    return Image.fromarray(np.clip(values * (255.0 / full), 0, 255).astype(np.uint8))


def check(data: bytes, max_pixels: int) -> None:
    """Read only the header: ``ImageProblem`` if no thumbnail can be made (cheap)."""
    _open(data, max_pixels)


def thumbnail(data: bytes, max_pixels: int, side: int = SIDE) -> bytes:
    """A JPEG of at most ``side`` x ``side`` pixels from the image's first frame, upright."""
    from PIL import Image, ImageOps

    image = _open(data, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if image.format == "JPEG":
                image.draft("RGB", (side * 2, side * 2))  # decode at a reduced scale
            image.seek(0)
            image.load()
            upright = _eight_bit(ImageOps.exif_transpose(image) or image)
            if "A" in upright.getbands() or "transparency" in upright.info:
                rgba = upright.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
            else:
                flat = upright.convert("RGB")
            flat.thumbnail((side, side), Image.Resampling.LANCZOS)
            # A new image from the raw pixels: nothing of the old one's info travels.
            clean = Image.frombytes("RGB", flat.size, flat.tobytes())
            out = io.BytesIO()
            clean.save(out, format="JPEG", quality=82, optimize=True)
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(TOO_LARGE) from exc
    except Exception as exc:  # a truncated or corrupt file fails while decoding
        raise ImageProblem(DAMAGED) from exc
    return out.getvalue()
