"""The offline demo domain: photos that ship inside installed packages, and style sets rendered from them.

No anime dataset can be downloaded on the project's machines, so the demo style is generated: flat colors
(edge-preserving smoothing, then k-means color quantization) with dark edge lines. The cel set (cel/: three
palettes per training photo) is what the default model is trained on; the older cartoon set (style/) is what
zoo:duotone and the short zoo runs were trained on. It stands in for a real anime style so the whole recipe
(training, compression, quantization, export) runs end to end offline.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from animegan_deploy.atomic import atomic_path

# photos the demo model is trained on, and photos it never sees (evaluation, calibration checks)
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "motorcycle", "china", "camera", "clock",
                "coins", "immunohistochemistry")
HELDOUT_PHOTOS = ("chelsea", "grace_hopper", "flower")
# a wider unseen set for fidelity figures: the held-out photos, other bundled photographs (grayscale ones as
# gray RGB: moon, textures, a retina scan, a product shot) and crops of the held-out photos at other scales and
# positions. None of them is a training or calibration photo.
UNSEEN_EXTRA = ("moon", "brick", "grass", "gravel", "retina", "minduka")
UNSEEN_CROPS = (("chelsea", 0.6, 0.0, 0.0), ("chelsea", 0.5, 1.0, 1.0), ("grace_hopper", 0.5, 0.5, 0.2),
                ("grace_hopper", 0.6, 1.0, 1.0), ("flower", 0.5, 0.0, 1.0), ("flower", 0.6, 1.0, 0.0))


def bundled_photo(name: str) -> np.ndarray:
    """uint8 RGB of a photo shipped by scikit-image, matplotlib or scikit-learn."""
    import skimage.data as sk

    if name in ("grace_hopper", "minduka"):
        import matplotlib.cbook

        sample = {"grace_hopper": "grace_hopper.jpg", "minduka": "Minduka_Present_Blue_Pack.png"}[name]
        with matplotlib.cbook.get_sample_data(sample) as handle:
            data = np.frombuffer(handle.read(), np.uint8)
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(f"{name}.jpg"))
    if name == "motorcycle":
        image = sk.stereo_motorcycle()[0]
    else:
        image = getattr(sk, name)()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)


def fit_size(rgb: np.ndarray, longest: int = 512) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def cartoonize(rgb: np.ndarray, colors: int = 10, seed: int = 0) -> np.ndarray:
    """Procedural cartoon: edge-preserving smoothing, k-means flat colors, dark edge lines."""
    smooth, labels, centers = _smooth_palette(rgb, colors, seed, sigma_s=60, sigma_r=0.45, bilateral=(40, 7))
    flat = cv2.medianBlur(centers[labels.ravel()].reshape(rgb.shape).astype(np.uint8), 5)
    gray = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7)
    lines = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4) == 0
    return _darken(flat, lines, 0.2)


def _smooth_palette(rgb: np.ndarray, colors: int, seed: int, sigma_s: float, sigma_r: float,
                    bilateral: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge-preserving then bilateral smoothing, and a ``colors``-colour k-means palette of the result (seeded):
    (smoothed image, each pixel's palette index, the palette as float RGB)."""
    smooth = cv2.edgePreservingFilter(rgb, flags=cv2.RECURS_FILTER, sigma_s=sigma_s, sigma_r=sigma_r)
    smooth = cv2.bilateralFilter(smooth, 9, *bilateral)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, labels, centers = cv2.kmeans(smooth.reshape(-1, 3).astype(np.float32), colors, None, criteria, 3,
                                    cv2.KMEANS_PP_CENTERS)
    return smooth, labels, centers


def _darken(flat: np.ndarray, lines: np.ndarray, factor: float) -> np.ndarray:
    """``flat`` with the ``lines`` pixels darkened to ``factor`` of their colour: the outlines."""
    out = flat.copy()
    out[lines] = (out[lines].astype(np.float32) * factor).astype(np.uint8)
    return out


# The cel style set (the embedded default's style since #25): every training photo rendered three ways, each a
# different palette, so that what is shared by the style images is "flat colour regions + dark outlines", not one
# colour scheme. (colours, hue rotation in OpenCV units of 2 degrees, saturation factor, outline block size)
CEL_VARIANTS = (("a", 8, 0, 1.25, 9), ("b", 6, 30, 1.1, 11), ("c", 12, 150, 1.4, 7))


def cel_render(rgb: np.ndarray, colors: int, hue_shift: int, saturation: float, block: int, seed: int = 0) -> np.ndarray:
    """A cel-shaded rendering: edge-preserving smoothing, a small k-means palette (hue rotated and saturated as a
    palette, so colours stay flat), then thin dark outlines from the photo's edges (adaptive threshold of the
    smoothed gray, opened so isolated specks do not count as lines)."""
    smooth, labels, centers = _smooth_palette(rgb, colors, seed, sigma_s=80, sigma_r=0.4, bilateral=(50, 9))
    hsv = cv2.cvtColor(np.clip(centers, 0, 255).astype(np.uint8)[None], cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + hue_shift) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    palette = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0]
    flat = cv2.medianBlur(palette[labels.ravel()].reshape(rgb.shape).astype(np.uint8), 7)
    gray = cv2.medianBlur(cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY), 5)
    lines = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5) == 0
    lines = cv2.morphologyEx(lines.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    return _darken(flat, lines, 0.25)


def _save(path: Path, rgb: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), rgb[:, :, ::-1]):
            raise OSError(f"cannot write {path}")


def build_demo_dataset(out_dir: str | Path, longest: int = 512) -> dict[str, Path]:
    """Write photos/ (train), heldout/, style/ (cartoonized train photos: the style the zoo generators were trained
    on), cel/ (CEL_VARIANTS of every train photo: the embedded default's style) and unseen/ (build_unseen_set: the
    pictures looks and fidelity are measured on) under ``out_dir``."""
    out_dir = Path(out_dir)
    folders = {"photos": out_dir / "photos", "heldout": out_dir / "heldout", "style": out_dir / "style",
               "cel": out_dir / "cel"}
    for index, name in enumerate(TRAIN_PHOTOS):
        photo = fit_size(bundled_photo(name), longest)
        target = folders["photos"] / f"{name}.png"
        if not target.is_file():
            _save(target, photo)
        style = folders["style"] / f"{name}_cartoon.png"
        if not style.is_file():
            _save(style, cartoonize(photo, seed=index))
        for variant, colors, hue, saturation, block in CEL_VARIANTS:
            cel = folders["cel"] / f"{name}_cel_{variant}.png"
            if not cel.is_file():
                _save(cel, cel_render(photo, colors, hue, saturation, block, seed=index))
    for name in HELDOUT_PHOTOS:
        target = folders["heldout"] / f"{name}.png"
        if not target.is_file():
            _save(target, fit_size(bundled_photo(name), longest))
    folders["unseen"] = build_unseen_set(out_dir / "unseen", longest)
    return folders


def crop_fraction(rgb: np.ndarray, side: float, fy: float, fx: float) -> np.ndarray:
    """A crop ``side`` of the shorter edge long, its origin at fraction (fy, fx) of the free room."""
    h, w = rgb.shape[:2]
    c = max(16, round(min(h, w) * side))
    y, x = round((h - c) * fy), round((w - c) * fx)
    return np.ascontiguousarray(rgb[y : y + c, x : x + c])


def build_unseen_set(out_dir: str | Path, longest: int = 512) -> Path:
    """Write the wider unseen evaluation set (see UNSEEN_EXTRA / UNSEEN_CROPS) to ``out_dir``; returns it."""
    out_dir = Path(out_dir)
    for name in HELDOUT_PHOTOS + UNSEEN_EXTRA:
        target = out_dir / f"{name}.png"
        if not target.is_file():
            _save(target, fit_size(bundled_photo(name), longest))
    for name, side, fy, fx in UNSEEN_CROPS:
        target = out_dir / f"{name}_crop{int(side * 100)}_{fy:g}_{fx:g}.png"
        if not target.is_file():
            _save(target, fit_size(crop_fraction(bundled_photo(name), side, fy, fx), longest))
    return out_dir


# The default calibration set: every training photo as it is, a half-size crop of it and a colour-shifted copy
# (hue rotated, saturation, brightness and contrast changed: the bundled photos hold little green or blue, which
# real photos are full of), plus bundled photos used nowhere else. None of it is an evaluation picture.
CALIBRATION_EXTRA = ("colorwheel", "cell")


def colour_shift(rgb: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic photometric variant: hue rotated by 60-300 degrees, saturation x0.7-1.5, contrast x0.75-1.25
    and brightness -30..+30 (uint8 RGB in and out)."""
    rng = np.random.default_rng(seed)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)  # OpenCV hue is 0..180
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(30, 150)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.5), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    out = (out - 127.5) * rng.uniform(0.75, 1.25) + 127.5 + rng.uniform(-30, 30)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def build_calibration_set(out_dir: str | Path, longest: int = 512) -> Path:
    """Write the default calibration pictures to ``out_dir`` (see CALIBRATION_EXTRA); returns it. Names are
    ``<source>__<variant>.png``: calibration_split keeps a source photo's variants on one side of the split."""
    out_dir = Path(out_dir)
    for index, name in enumerate(TRAIN_PHOTOS + CALIBRATION_EXTRA):
        photo = None
        variants = {"full": lambda p: p, "crop50": lambda p: crop_fraction(p, 0.5, (index % 3) / 2, ((index + 1) % 3) / 2),
                    "colour": lambda p: colour_shift(p, seed=index)}
        for variant, make in variants.items():
            target = out_dir / f"{name}__{variant}.png"
            if not target.is_file():
                photo = fit_size(bundled_photo(name), longest) if photo is None else photo
                _save(target, fit_size(make(photo), longest))
    return out_dir
