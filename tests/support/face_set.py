"""The image set the face detector and the sharpness judgement are measured on.

Only images shipped inside installed packages (scikit-image's data module): its LFW subset
(100 faces and 100 non-faces, 25 x 25 pixels), the astronaut portrait, sharp and obscured
in many ways, and its other photographs, which show no human face.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from skimage import data

from gateway.adapters.images.faces import find_faces
from tests.support import photos as p

# The cameraman ("camera") is left out: he is a person, his face turned away from the lens.
NO_FACE = ("coffee", "chelsea", "rocket", "coins", "page", "horse", "clock", "moon",
           "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina",
           "text", "logo", "cell", "colorwheel", "microaneurysms")


def _grey(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype != np.uint8:
        values = pixels.astype(np.float64)
        pixels = (255 * (values - values.min()) / max(1e-9, np.ptp(values))).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(pixels)


def _jpeg(pixels: np.ndarray, quality: int = 85) -> np.ndarray:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())))


def cameraman() -> np.ndarray:
    """A person whose face is seen from the side: the frontal cascade does not find it."""
    return _grey(np.asarray(data.camera()))


def lfw() -> Iterator[tuple[bool, np.ndarray]]:
    """(is a face, grey image): each 25 x 25 sample scaled to 100 px with a margin."""
    for index, sample in enumerate(data.lfw_subset()):
        grey = cv2.resize((sample * 255).astype(np.uint8), (100, 100),
                          interpolation=cv2.INTER_CUBIC)
        yield index < 100, cv2.copyMakeBorder(grey, 30, 30, 30, 30, cv2.BORDER_REPLICATE)


def portraits() -> Iterator[tuple[str, bool, np.ndarray]]:
    """(name, still sharp, grey image): the astronaut's face as sent, and obscured."""
    face = p.astronaut()
    sharp = {"as taken": face, "jpeg q60": _jpeg(face, 60), "darker x0.4": (face * 0.4)
             .astype(np.uint8), "low contrast": (64 + face * 0.5).astype(np.uint8),
             "half size": cv2.resize(face, (256, 256), interpolation=cv2.INTER_AREA),
             "1.5x size": cv2.resize(face, (768, 768), interpolation=cv2.INTER_CUBIC),
             "mirrored": np.ascontiguousarray(face[:, ::-1])}
    for name, pixels in sharp.items():
        yield name, True, _grey(pixels)
    for sigma in (2, 3, 4, 6, 8, 12):
        yield f"gaussian blur {sigma} px", False, _grey(p.blurred(face, sigma=sigma))
        yield f"gaussian blur {sigma} px, jpeg", False, _grey(_jpeg(p.blurred(face,
                                                                              sigma=sigma)))
    for blocks in (6, 8, 10, 12, 16, 20):
        yield f"mosaic {blocks} blocks", False, _grey(p.pixelated(face, blocks=blocks))
        yield f"mosaic {blocks} blocks, jpeg", False, _grey(_jpeg(p.pixelated(face,
                                                                              blocks=blocks)))


def no_faces() -> Iterator[tuple[str, np.ndarray]]:
    for name in NO_FACE:
        image = getattr(data, name)()
        yield name, _grey(np.asarray(image))


@dataclass(frozen=True)
class Figures:
    faces_found: int  # of 100 LFW faces
    non_faces_found: int  # of 100 LFW non-faces
    sharp_judged_sharp: int
    sharp_total: int
    obscured_judged_sharp: int
    obscured_not_detected: int
    obscured_total: int
    photos_with_false_faces: list[str]
    photos_with_false_sharp_faces: list[str]


def measure() -> Figures:
    found = [(is_face, bool(find_faces(grey))) for is_face, grey in lfw()]
    sharp_ok = sharp_total = obscured_sharp = obscured_missing = obscured_total = 0
    for _, sharp, grey in portraits():
        faces = find_faces(grey)
        if sharp:
            sharp_total += 1
            sharp_ok += any(f.sharp for f in faces)
        else:
            obscured_total += 1
            obscured_sharp += any(f.sharp for f in faces)
            obscured_missing += not faces
    false_faces: list[str] = []
    false_sharp: list[str] = []
    for name, grey in no_faces():
        faces = find_faces(grey)
        if faces:
            false_faces.append(f"{name} ({len(faces)})")
        if any(f.sharp for f in faces):
            false_sharp.append(name)
    return Figures(sum(f for face, f in found if face), sum(f for face, f in found if not face),
                   sharp_ok, sharp_total, obscured_sharp, obscured_missing, obscured_total,
                   false_faces, false_sharp)
