"""The cel style set (train/demo_data.py): flat colour from a small palette plus dark outlines, and the three
renderings of a photo in different palettes, so the style is "flat colour and lines", not one colour scheme."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from animegan_deploy.train.demo_data import CEL_VARIANTS, bundled_photo, cel_render, fit_size


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return fit_size(bundled_photo("coffee"), 128)


@pytest.mark.parametrize("variant", CEL_VARIANTS, ids=[v[0] for v in CEL_VARIANTS])
def test_a_rendering_is_a_few_flat_colours_and_dark_lines(photo, variant):
    _, colors, hue, saturation, block = variant
    out = cel_render(photo, colors, hue, saturation, block, seed=1)
    assert out.shape == photo.shape and out.dtype == np.uint8
    _, counts = np.unique(out.reshape(-1, 3), axis=0, return_counts=True)
    top = np.sort(counts)[::-1]
    # the palette and its darkened line copies cover nearly every pixel (a photo: thousands of colours)
    assert top[: 2 * colors].sum() / counts.sum() >= 0.95
    assert len(np.unique(photo.reshape(-1, 3), axis=0)) > 50 * colors
    # outlines: a visible share of pixels are dark lines (<= 25% of a palette colour's brightness)
    gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    assert 0.02 <= np.mean(gray < 40) <= 0.5


def test_the_three_renderings_have_different_palettes(photo):
    hues = []
    for _, colors, hue, saturation, block in CEL_VARIANTS:
        hsv = cv2.cvtColor(cel_render(photo, colors, hue, saturation, block, seed=1), cv2.COLOR_RGB2HSV)
        hues.append(float(np.median(hsv[..., 0])))
    assert min(abs(a - b) for i, a in enumerate(hues) for b in hues[i + 1:]) >= 20  # OpenCV hue units (2 degrees)
