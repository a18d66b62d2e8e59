"""`make demo`: stylize photos bundled with installed packages and write a side-by-side grid."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from .imageio import read_image, write_image
from .stylize import StylizeConfig, stylize

DEMO_PHOTOS = ("chelsea", "grace_hopper", "flower", "astronaut", "coffee", "rocket")
ROW_HEIGHT = 256


def _row(photo: np.ndarray, styled: np.ndarray) -> np.ndarray:
    def fit(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[:2]
        return cv2.resize(x, (round(w * ROW_HEIGHT / h), ROW_HEIGHT), interpolation=cv2.INTER_AREA)

    return np.concatenate([fit(photo), fit(styled)], axis=1)


def run_demo(weights: Path, output_dir: Path, config: StylizeConfig) -> Path:
    """Stylize the bundled photos into ``output_dir`` and write ``output_dir/grid.png``; returns the grid."""
    from .train.demo_data import bundled_photo, fit_size

    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for name in DEMO_PHOTOS:
            path = Path(tmp) / f"{name}.png"
            cv2.imwrite(str(path), fit_size(bundled_photo(name), 512)[:, :, ::-1])
            sources.append(path)
        report = stylize([str(p) for p in sources], weights, config, output_dir)
        rows = [_row(read_image(src).rgb, read_image(dst).rgb) for src, dst in report.written]
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    return write_image(output_dir / "grid.png", np.concatenate(padded, axis=0))
