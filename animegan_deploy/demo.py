"""`make demo`: stylize photos bundled with installed packages and write a side-by-side grid."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from .imageio import read_image, write_image
from .stylize import StylizeConfig, stylize

DEMO_PHOTOS = ("chelsea", "grace_hopper", "flower", "astronaut", "coffee", "rocket")
GRID_WIDTH = 1536  # px: every row of the grid is scaled to exactly this width
PAIRS_PER_ROW = 2
GAP = 4  # px of white between a row's pairs and between rows


def _same_height(images: list[np.ndarray], height: int) -> list[np.ndarray]:
    return [cv2.resize(x, (max(1, round(x.shape[1] * height / x.shape[0])), height), interpolation=cv2.INTER_AREA)
            for x in images]


def justified_grid(pairs: list[tuple[np.ndarray, np.ndarray]], width: int = GRID_WIDTH,
                   per_row: int = PAIRS_PER_ROW, gap: int = GAP) -> np.ndarray:
    """(photo, output) pairs side by side, ``per_row`` pairs a row; each row is scaled so that it fills ``width``
    exactly, whatever its pictures' aspect ratios: every picture shown whole, no holes (float RGB in [0, 1])."""
    rows = []
    for start in range(0, len(pairs), per_row):
        chunk = pairs[start : start + per_row]
        height = max(max(p.shape[0], o.shape[0]) for p, o in chunk)
        pieces: list[np.ndarray] = []
        for photo, output in chunk:
            pieces += _same_height([photo, output], height)
        aspect = sum(p.shape[1] for p in pieces) / height
        row_height = max(1, round((width - gap * (len(chunk) - 1)) / aspect))
        pieces = _same_height(pieces, row_height)
        pairs_in_row = [np.concatenate(pieces[i : i + 2], axis=1) for i in range(0, len(pieces), 2)]
        row = _join(pairs_in_row, np.ones((row_height, gap, 3), np.float32), axis=1)
        if row.shape[1] != width:  # rounding of each picture's width: stretch the row by at most a few pixels
            row = cv2.resize(row, (width, row_height), interpolation=cv2.INTER_AREA)
        rows.append(row)
    return _join(rows, np.ones((gap, width, 3), np.float32), axis=0)


def _join(images: list[np.ndarray], spacer: np.ndarray, axis: int) -> np.ndarray:
    """``images`` concatenated along ``axis`` with ``spacer`` between each two."""
    parts = [images[0]]
    for image in images[1:]:
        parts += [spacer, image]
    return np.concatenate(parts, axis=axis)


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
        pairs = [(read_image(src).rgb, read_image(dst).rgb) for src, dst in report.written]
    return write_image(output_dir / "grid.png", justified_grid(pairs))
