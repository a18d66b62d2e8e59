"""Optional face crop for portrait datasets, with offline detectors only.

OpenCV ships Haar cascades inside the wheel (``cv2.data.haarcascades``), so this works without network.
When facenet-pytorch is installed its MTCNN (weights inside the package) is used instead.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

import cv2
import numpy as np

MARGIN = 0.6  # extra context around the detected box, as a fraction of its size


@lru_cache(maxsize=1)
def _haar() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise RuntimeError(f"cannot load the Haar cascade at {path}")
    return classifier


def detect_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h), largest first."""
    if importlib.util.find_spec("facenet_pytorch") is not None:
        from facenet_pytorch import MTCNN  # pragma: no cover - optional

        boxes, _ = MTCNN(keep_all=True, device="cpu").detect(rgb)
        found = [] if boxes is None else [(int(x0), int(y0), int(x1 - x0), int(y1 - y0)) for x0, y0, x1, y1 in boxes]
    else:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        size = max(24, min(gray.shape) // 10)
        found = [tuple(int(v) for v in box) for box in _haar().detectMultiScale(gray, 1.1, 5, minSize=(size, size))]
    return sorted(found, key=lambda b: b[2] * b[3], reverse=True)


def crop_face(rgb: np.ndarray) -> np.ndarray | None:
    """A square crop around the largest face with margin, or None when no face is found."""
    boxes = detect_faces(rgb)
    if not boxes:
        return None
    x, y, w, h = boxes[0]
    side = int(max(w, h) * (1 + 2 * MARGIN))
    cx, cy = x + w // 2, y + h // 2
    height, width = rgb.shape[:2]
    side = min(side, height, width)
    x0 = int(np.clip(cx - side // 2, 0, width - side))
    y0 = int(np.clip(cy - side // 2, 0, height - side))
    return rgb[y0 : y0 + side, x0 : x0 + side].copy()
