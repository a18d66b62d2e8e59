"""Reading and writing the pictures and videos users feed to a generator.

Images come in every shape: EXIF-rotated JPEGs, RGBA and palette PNGs, grayscale, 16-bit PNG/TIFF. They
are all decoded to an upright HxWx3 float32 RGB array in [0, 1] plus an optional alpha plane. Files that
cannot be decoded raise :class:`InputError` with a short reason, so a batch can report them and go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .atomic import atomic_path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
VIDEO_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
EXIF_ORIENTATION = 0x0112


def media_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files under ``folder`` with one of ``suffixes``, sorted; hidden ones left out (a name or a folder starting
    with "."): editors' and macOS's companions (._IMG.jpg) and the temporaries another process is still writing
    (.<name>.<pid>.<hex>.tmp.png, renamed into place when complete) are not pictures to read."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


class InputError(Exception):
    """One input file cannot be used; the message is a short reason without the path."""


@dataclass
class Picture:
    rgb: np.ndarray  # HxWx3 float32 in [0, 1], upright
    alpha: np.ndarray | None  # HxW float32 in [0, 1], or None
    bit_depth: int  # 8 or 16, as stored in the file


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def apply_exif_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an HxW[xC] array the way EXIF orientation 1-8 asks (as Pillow's exif_transpose)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, k=1),
    }
    op = ops.get(int(orientation))
    return np.ascontiguousarray(op(array)) if op else array


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # malformed EXIF must not make a good image unusable
        return 1


def _read_16bit(path: Path) -> np.ndarray | None:
    """Full-precision pixels of a 16-bit PNG/TIFF (Pillow reduces 16-bit RGB to 8 bits), else None."""
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        return None
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16:
        return None
    data = data.astype(np.float32) / 65535.0
    if data.ndim == 3 and data.shape[2] == 3:
        return data[:, :, ::-1]
    if data.ndim == 3 and data.shape[2] == 4:
        return data[:, :, [2, 1, 0, 3]]
    return data


def read_image(path: Path) -> Picture:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError("empty file (0 bytes)")
    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: truncated data raises here, not later
            orientation = _orientation(image)
            pixels = _read_16bit(path)
            bit_depth = 16 if pixels is not None or image.mode.startswith("I;16") else 8
            if pixels is None:
                pixels = _pil_to_float(image)
    except UnidentifiedImageError:
        raise InputError("not an image, or an unsupported image format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"corrupt or truncated image data ({str(exc)[:100]})") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"image too large ({exc})") from None
    pixels = apply_exif_orientation(pixels, orientation)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    alpha = pixels[:, :, -1].copy() if channels in (2, 4) else None
    color = pixels[:, :, :-1] if channels in (2, 4) else pixels
    rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color[:, :, :3]
    if min(rgb.shape[:2]) < 1:
        raise InputError("image has no pixels")
    return Picture(np.ascontiguousarray(rgb, dtype=np.float32).clip(0, 1), alpha, bit_depth)


def _pil_to_float(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.float32) / 65535.0
    if mode == "I":
        arr = np.asarray(image, dtype=np.float32)
        return arr / (65535.0 if arr.max(initial=0) > 255 else 255.0)
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("1", "L"):
        image = image.convert("L")
    elif mode in ("LA", "La", "PA"):
        image = image.convert("LA")
    elif mode in ("RGBA", "RGBa"):
        image = image.convert("RGBA")
    elif mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.float32) / 255.0


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_image(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None) -> Path:
    """Save an HxWx3 float [0, 1] image (8 bits per channel, alpha kept) atomically."""
    data = to_uint8(rgb)
    if alpha is not None:
        data = np.concatenate([data, to_uint8(alpha)[:, :, None]], axis=2)
    if alpha is not None and path.suffix.lower() in (".jpg", ".jpeg"):
        data = data[:, :, :3]
    image = Image.fromarray(data, "RGBA" if data.shape[2] == 4 else "RGB")
    with atomic_path(path) as tmp:
        fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
        image.save(tmp, format=fmt)
    return path


@dataclass
class VideoInfo:
    fps: float
    width: int
    height: int
    frames: int  # as reported by the container; may be 0 or approximate


def open_video(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InputError("cannot open video (corrupt, or a codec OpenCV lacks)")
    info = VideoInfo(
        fps=float(capture.get(cv2.CAP_PROP_FPS) or 0) or 25.0,
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        frames=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
    )
    return capture, info


def iter_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """RGB float32 frames in [0, 1] until the stream ends."""
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame[:, :, ::-1].astype(np.float32) / 255.0


class VideoWriter:
    """Writes RGB float frames to a temporary file and renames it into place on success."""

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        self._atomic = atomic_path(path)
        self._tmp = self._atomic.__enter__()
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC.get(path.suffix.lower(), "mp4v"))
        self._writer = cv2.VideoWriter(str(self._tmp), fourcc, fps, (width, height))
        if not self._writer.isOpened():
            self._atomic.__exit__(RuntimeError, RuntimeError("writer"), None)
            raise InputError(f"cannot write video {path.name} (no encoder for {path.suffix})")
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        self._writer.write(np.ascontiguousarray(to_uint8(rgb)[:, :, ::-1]))
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        self._writer.release()
        if ok:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)
