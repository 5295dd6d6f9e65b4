"""Faces in a photo (OpenCV's Haar cascade, shipped in its wheel) and whether each still
looks sharp: neither blurred (little fine detail) nor pixelated (detail only on a grid)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

CASCADE = "haarcascade_frontalface_default.xml"
DETECT_SIDE = 1024  # the longer side faces are looked for at; larger images are scaled down
MIN_FACE = 24  # pixels, at the detection scale
# Fine detail in a face: the variance of the Laplacian of the face scaled to 128 px, over the
# face's own variance (so a dark or low-contrast face is judged like a bright one). Measured
# in docs/photos.md: sharp faces 0.08 and above, blurred ones 0.021 and below.
DETAIL_THRESHOLD = 0.04
# Share of the gradient energy in the top quarter of columns (and rows): a mosaic puts it all
# on the block edges. Sharp faces measured 0.43 to 0.71, pixelated ones 0.87 and above.
MOSAIC_THRESHOLD = 0.8

Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Face:
    """One face: its box in the image, how much fine detail it has, whether it is a mosaic."""

    box: tuple[int, int, int, int]
    detail: float
    mosaic: float

    @property
    def sharp(self) -> bool:
        return self.detail >= DETAIL_THRESHOLD and self.mosaic < MOSAIC_THRESHOLD


@cache
def _detector() -> cv2.CascadeClassifier:
    folder: str = cv2.data.haarcascades  # type: ignore[attr-defined]
    detector = cv2.CascadeClassifier(folder + CASCADE)
    if detector.empty():
        raise RuntimeError(f"OpenCV's {CASCADE} could not be loaded")
    return detector


def find_faces(gray: Gray) -> list[Face]:
    """Every frontal face in a grey image, each judged sharp or obscured."""
    height, width = gray.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = gray if scale == 1.0 else cv2.resize(
        gray, (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA)
    boxes = _detector().detectMultiScale(small, scaleFactor=1.1, minNeighbors=5,
                                         minSize=(MIN_FACE, MIN_FACE))
    faces: list[Face] = []
    for x, y, w, h in (boxes if len(boxes) else []):
        box = (int(x / scale), int(y / scale), int(w / scale), int(h / scale))
        crop = gray[box[1]:box[1] + box[3], box[0]:box[0] + box[2]]
        faces.append(Face(box, detail(crop), mosaic(crop)))
    return faces


def detail(crop: Gray) -> float:
    """Fine detail of a face crop, independent of its size and contrast."""
    small = cv2.resize(crop.astype(np.float64), (128, 128), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small, cv2.CV_64F).var() / (small.var() + 1.0))


def mosaic(crop: Gray) -> float:
    """How much of the crop's edge energy sits in a quarter of its columns (and rows)."""
    values = crop.astype(np.float64)
    shares: list[float] = []
    for axis in (1, 0):
        energy = np.sort((np.diff(values, axis=axis) ** 2).sum(axis=1 - axis))[::-1]
        top = max(1, len(energy) // 4)
        total = float(energy.sum())
        shares.append(float(energy[:top].sum()) / total if total > 0 else 1.0)
    return min(shares)
