"""AnimeGAN's style-image preprocessing, computed once and cached beside the data.

For every style (anime) image: a grayscale copy (used by the Gram style loss and as a 'fake' for D) and an
edge-smoothed copy (Canny 100/200 on grayscale, 5x5 dilation, the dilated edge pixels replaced by a 5x5
Gaussian of the reflect-padded image; D sees it as fake, so it learns that crisp edges are the style).
A manifest records each source's size and mtime so unchanged images are never recomputed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from animegan_deploy.atomic import atomic_path, atomic_write_json
from animegan_deploy.imageio import IMAGE_SUFFIXES, media_in
from animegan_deploy.lock import exclusive

CACHE_DIR = ".animegan_cache"
MANIFEST = "manifest.json"
CANNY_LOW, CANNY_HIGH = 100, 200
KERNEL = 5


def to_gray3(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> uint8 RGB whose three channels are the luma."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def edge_smooth(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (smoothed image, mask of replaced pixels) for a uint8 RGB image."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, CANNY_LOW, CANNY_HIGH)
    mask = cv2.dilate(edges, np.ones((KERNEL, KERNEL), np.uint8)) != 0
    gauss_1d = cv2.getGaussianKernel(KERNEL, 0)
    kernel = gauss_1d @ gauss_1d.T
    # np.pad(mode="reflect") == OpenCV's BORDER_REFLECT_101, as the original preprocessing padded
    blurred = cv2.filter2D(rgb.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    out = rgb.copy()
    out[mask] = np.clip(np.rint(blurred[mask]), 0, 255).astype(np.uint8)
    return out, mask


@dataclass
class StyleTriplet:
    style: Path
    gray: Path
    smooth: Path


def _read_rgb(path: Path) -> np.ndarray:
    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise ValueError(f"{path}: cannot decode image")
    return data[:, :, ::-1].copy()


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), rgb[:, :, ::-1]):
            raise OSError(f"cannot write {path}")


def list_images(folder: Path) -> list[Path]:
    return media_in(folder, IMAGE_SUFFIXES)  # the style cache (CACHE_DIR) is hidden like every dot-folder


def prepare_style_folder(style_dir: Path, progress: bool = True) -> list[StyleTriplet]:
    """Make (or reuse) the gray and smoothed copies of every style image; returns the triplets. Runs that start
    at once on the same style folder take turns (a file lock in the cache): the first writes the copies, the
    others wait and reuse them, where each would otherwise find the others' half-made cache and stop."""
    style_dir = Path(style_dir)
    with exclusive(style_dir / CACHE_DIR / ".build.lock"):
        return _prepare_style_folder(style_dir, progress)


def _prepare_style_folder(style_dir: Path, progress: bool) -> list[StyleTriplet]:
    cache = style_dir / CACHE_DIR
    manifest_path = cache / MANIFEST
    manifest: dict[str, dict] = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    triplets: list[StyleTriplet] = []
    changed = False
    images = list_images(style_dir)
    for src in tqdm(images, desc="style preprocessing", unit="img", disable=not progress, leave=False):
        rel = src.relative_to(style_dir).as_posix()
        gray = cache / "gray" / (rel + ".png")
        smooth = cache / "smooth" / (rel + ".png")
        stat = src.stat()
        stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if manifest.get(rel) != stamp or not gray.is_file() or not smooth.is_file():
            rgb = _read_rgb(src)
            _write_rgb(gray, to_gray3(rgb))
            _write_rgb(smooth, edge_smooth(rgb)[0])
            manifest[rel] = stamp
            changed = True
        triplets.append(StyleTriplet(src, gray, smooth))
    if changed:
        atomic_write_json(manifest_path, manifest)
    return triplets
