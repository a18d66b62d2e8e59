"""The demo grid shows every photo and its output whole, rows filling the grid's width: no white holes beside
portrait photos (the old grid padded each short row with white)."""

from __future__ import annotations

import numpy as np

from animegan_deploy.demo import GAP, justified_grid


def _picture(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.9, (h, w, 3)).astype(np.float32)  # never white


def _white_columns(rows: np.ndarray) -> int:
    return int(np.all(rows >= 0.999, axis=(0, 2)).sum())


def test_rows_of_portrait_and_landscape_pairs_fill_the_width():
    shapes = [(300, 450), (512, 410), (512, 512), (480, 320), (341, 512), (512, 384)]  # landscape and portrait
    pairs = [(_picture(h, w, i), _picture(h, w, 10 + i)) for i, (h, w) in enumerate(shapes)]
    grid = justified_grid(pairs, width=1200, per_row=2)
    assert grid.shape[1] == 1200
    # split the rows at the white gaps between them: three rows, each with one gap column band between pairs
    white_rows = np.all(grid >= 0.999, axis=(1, 2))
    bands = np.split(grid, np.flatnonzero(np.diff(white_rows.astype(int))) + 1)
    rows = [band for band in bands if not np.all(band >= 0.999)]
    assert len(rows) == 3
    for row in rows:
        assert _white_columns(row) <= GAP + 1  # the gap between the two pairs, nothing else: no hole at the end
        assert not np.all(row[:, -8:] >= 0.999)


def test_each_picture_keeps_its_aspect_ratio():
    photo, output = _picture(200, 100, 0), _picture(200, 100, 1)  # one portrait pair alone in its row
    grid = justified_grid([(photo, output)], width=402, per_row=2)
    # the row is 402 px wide for two 1:2 pictures (no gap inside a pair): each 201 x 402
    assert grid.shape == (402, 402, 3)
    assert _white_columns(grid) == 0
