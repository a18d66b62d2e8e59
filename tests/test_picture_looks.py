"""The look measures of train/looks.py on pictures whose answer is known: a copy, a hue-rotated copy, stripes
over flat regions, blurred and shifted edges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from animegan_deploy.train.looks import colour_distance, edge_f1, ripple_energy


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A picture with flat regions (a smooth sky gradient, a flat disc) and sharp edges (the disc, a bar)."""
    h, w = 128, 160
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([60 + 0.5 * yy, 110 + 0.3 * yy, 200 - 0.2 * xx], axis=-1)
    rgb[(yy - 70) ** 2 + (xx - 60) ** 2 < 30**2] = (200, 60, 40)
    rgb[20:110, 120:130] = (30, 160, 60)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_a_copy_is_perfect(photo):
    assert colour_distance(photo, photo) == pytest.approx(0.0, abs=1e-9)
    assert ripple_energy(photo, photo) < 0.5
    assert edge_f1(photo, photo) == pytest.approx(1.0)


def test_colour_distance_sees_a_hue_rotation_and_not_a_small_brightness_change(photo):
    hsv = cv2.cvtColor(photo, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 60) % 180
    rotated = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    brighter = np.clip(photo.astype(int) + 4, 0, 255).astype(np.uint8)
    assert colour_distance(photo, rotated) > 20
    assert colour_distance(photo, brighter) < 3


def test_ripple_energy_is_the_stripes_power_over_flat_regions(photo):
    xx = np.arange(photo.shape[1])
    stripes = 10 * np.sin(2 * np.pi * xx / 4)[None, :, None]  # period 4 px: all of it above the high-pass cut
    rippled = np.clip(photo + stripes, 0, 255).astype(np.uint8)
    energy = ripple_energy(photo, rippled)
    assert 35 < energy < 55  # a sine of amplitude 10 has power 50; rounding to uint8 and the blur's residue
    assert ripple_energy(photo, cv2.GaussianBlur(photo, (0, 0), 1.0)) < 1


def test_edge_f1_forgives_a_pixel_and_not_a_lost_edge(photo):
    shifted_1 = np.roll(photo, 1, axis=1)
    assert edge_f1(photo, shifted_1) > 0.9
    flat = np.full_like(photo, 128)
    assert edge_f1(photo, flat) == 0.0
    shifted_8 = np.roll(photo, 8, axis=1)
    assert edge_f1(photo, shifted_8) < 0.6


def test_pictures_of_different_sizes_are_refused(photo):
    with pytest.raises(ValueError, match="same-size"):
        colour_distance(photo, photo[:-1])
