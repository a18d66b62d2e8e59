"""Unpaired photo / style batches for AnimeGAN training.

Batches are a pure function of (seed, step, rank): random crops (with an optional random downscale),
horizontal flips, +-10% brightness/contrast jitter and an optional hue rotation on photos. So a resumed or
distributed run sees exactly the data an uninterrupted one would, with no data-loader state to save.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from animegan_deploy.errors import UserError

from .faces import crop_face
from .losses import RGB_TO_YUV
from .preprocess import StyleTriplet, list_images, prepare_style_folder


@dataclass
class Batch:
    photo: torch.Tensor  # N x 3 x crop x crop, [-1, 1]
    style: torch.Tensor
    style_gray: torch.Tensor
    style_smooth: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device, non_blocking=True) for t in (self.photo, self.style, self.style_gray, self.style_smooth)))


@lru_cache(maxsize=512)
def read_rgb(path: str, face: bool = False) -> np.ndarray:
    data = cv2.imread(path, cv2.IMREAD_COLOR)
    if data is None:
        raise UserError(f"{path}: cannot decode this training image; remove or replace it")
    rgb = data[:, :, ::-1].copy()
    if face:
        cropped = crop_face(rgb)
        if cropped is not None:
            return cropped
    return rgb


def _to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    stack = np.stack(images).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous()


class CropSampler:
    """Random scale, crop and flip windows, shared by every image of one training sample."""

    def __init__(self, crop: int, scale_range: tuple[float, float] = (1.0, 1.0), jitter: float = 0.1,
                 hue: float = 0.0) -> None:
        self.crop = crop
        self.scale_range = scale_range
        self.jitter = jitter
        self.hue = hue  # rotate each photo's chroma by up to +-hue turns (0 = off, 0.5 = any hue)

    def window(self, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[float, int, int, bool]:
        """Random scale, crop origin (in the scaled image) and flip for an image of ``shape``."""
        h, w = shape[:2]
        low, high = self.scale_range
        scale = float(rng.uniform(low, high)) if high > low else low
        scale = max(scale, self.crop / min(h, w))  # never smaller than the crop
        sh, sw = max(self.crop, round(h * scale)), max(self.crop, round(w * scale))
        y = int(rng.integers(0, sh - self.crop + 1))
        x = int(rng.integers(0, sw - self.crop + 1))
        return scale, y, x, bool(rng.random() < 0.5)

    def apply(self, rgb: np.ndarray, window: tuple[float, int, int, bool]) -> np.ndarray:
        scale, y, x, flip = window
        h, w = rgb.shape[:2]
        sh, sw = max(self.crop, round(h * scale)), max(self.crop, round(w * scale))
        if (sh, sw) != (h, w):
            rgb = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA if sh < h else cv2.INTER_LINEAR)
        out = rgb[y : y + self.crop, x : x + self.crop]
        return np.ascontiguousarray(out[:, ::-1] if flip else out)

    def color_jitter(self, rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
        if self.jitter > 0:
            brightness = rng.uniform(1 - self.jitter, 1 + self.jitter)
            contrast = rng.uniform(1 - self.jitter, 1 + self.jitter)
            x = rgb.astype(np.float32)
            mean = x.mean()
            x = (x - mean) * contrast + mean * brightness
            rgb = np.clip(x, 0, 255).astype(np.uint8)
        if self.hue > 0:  # drawn only when on: runs without it see the very batches they always did
            rgb = rotate_hue(rgb, float(rng.uniform(-self.hue, self.hue)))
        return rgb


# the colour loss's RGB -> YUV (BT.601): a rotation in the U-V plane changes hue and keeps luma
_RGB_TO_YUV = RGB_TO_YUV.numpy()
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV).astype(np.float32)


def rotate_hue(rgb: np.ndarray, turns: float) -> np.ndarray:
    """``rgb`` (uint8 H x W x 3) with every pixel's chroma rotated by ``turns`` of a full circle, luma kept (up to
    clipping into [0, 255]). For the init phase, where input and target are the same photo, it teaches the generator
    to give back hues the few training photos lack (the default's init turned teal foliage blue: reports/demo)."""
    angle = 2 * np.pi * turns
    c, s = np.cos(angle), np.sin(angle)
    rotate = np.array([[1, 0, 0], [0, c, -s], [0, s, c]], np.float32)
    matrix = _YUV_TO_RGB @ rotate @ _RGB_TO_YUV
    out = rgb.astype(np.float32) @ matrix.T
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class PhotoBatches:
    """Augmented photo crops only: what distillation and sparsity training need (no anime data)."""

    def __init__(self, photo_dir: str | Path, sampler: CropSampler, face_crop: bool = False) -> None:
        self.photo_dir = Path(photo_dir)
        if not self.photo_dir.is_dir():
            raise UserError(f"photo_dir {self.photo_dir}: not a folder; point it at a folder of images")
        self.photos = [str(p) for p in list_images(self.photo_dir)]
        if not self.photos:
            raise UserError(f"photo_dir {self.photo_dir}: holds no images (.jpg/.png/...)")
        self.sampler = sampler
        self.face_crop = face_crop

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        photo = read_rgb(self.photos[int(rng.integers(len(self.photos)))], self.face_crop)
        return self.sampler.color_jitter(rng, self.sampler.apply(photo, self.sampler.window(rng, photo.shape)))

    def batch(self, step: int, batch_size: int, seed: int, rank: int = 0) -> torch.Tensor:
        rng = np.random.default_rng([seed, step, rank])
        return _to_tensor([self.sample(rng) for _ in range(batch_size)])


class UnpairedData:
    """Photo crops and, independently drawn, style crops with their grayscale and edge-smoothed copies."""

    def __init__(
        self,
        photo_dir: str | Path,
        style_dir: str | Path,
        crop: int = 256,
        scale_range: tuple[float, float] = (1.0, 1.0),
        jitter: float = 0.1,
        face_crop: bool = False,
        progress: bool = True,
        hue_jitter: float = 0.0,
    ) -> None:
        self.sampler = CropSampler(crop, scale_range, jitter, hue_jitter)
        self.photo_batches = PhotoBatches(photo_dir, self.sampler, face_crop)
        self.photos = self.photo_batches.photos
        self.style_dir = Path(style_dir)
        if not self.style_dir.is_dir():
            raise UserError(f"style_dir {self.style_dir}: not a folder; point it at a folder of images")
        self.styles: list[StyleTriplet] = prepare_style_folder(self.style_dir, progress=progress)
        if not self.styles:
            raise UserError(f"style_dir {self.style_dir}: holds no images (.jpg/.png/...)")

    def batch(self, step: int, batch_size: int, seed: int, rank: int = 0) -> Batch:
        rng = np.random.default_rng([seed, step, rank])
        photos, styles, grays, smooths = [], [], [], []
        for _ in range(batch_size):
            photos.append(self.photo_batches.sample(rng))
            triplet = self.styles[int(rng.integers(len(self.styles)))]
            style = read_rgb(str(triplet.style))
            window = self.sampler.window(rng, style.shape)
            styles.append(self.sampler.apply(style, window))
            grays.append(self.sampler.apply(read_rgb(str(triplet.gray)), window))
            smooths.append(self.sampler.apply(read_rgb(str(triplet.smooth)), window))
        return Batch(_to_tensor(photos), _to_tensor(styles), _to_tensor(grays), _to_tensor(smooths))
