"""AnimeGAN edge smoothing changes only pixels near edges, and equals a per-pixel reference."""

import cv2
import numpy as np

from animegan_deploy.train.preprocess import edge_smooth, to_gray3


def step_image():
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, 30:] = (200, 180, 160)
    image[:, :30] = (20, 40, 60)
    return image


def test_only_pixels_near_edges_change():
    image = step_image()
    smoothed, mask = edge_smooth(image)
    changed = np.any(smoothed != image, axis=2)
    assert changed.any()
    assert not (changed & ~mask).any()  # nothing outside the dilated edge mask
    cols = np.where(changed.any(axis=0))[0]
    assert cols.min() >= 30 - 4 and cols.max() <= 30 + 3  # Canny edge at the step, dilated by 2, blurred by 2
    assert (smoothed[:, :24] == image[:, :24]).all() and (smoothed[:, 36:] == image[:, 36:]).all()


def test_flat_image_is_untouched():
    flat = np.full((32, 32, 3), 90, np.uint8)
    smoothed, mask = edge_smooth(flat)
    assert not mask.any() and (smoothed == flat).all()


def test_matches_per_pixel_reference_of_the_original_algorithm():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (24, 28, 3), dtype=np.uint8), (5, 5), 0)
    image[:, 14:] = 255 - image[:, 14:]
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    dilated = cv2.dilate(cv2.Canny(gray, 100, 200), np.ones((5, 5), np.uint8))
    g = cv2.getGaussianKernel(5, 0)
    gauss = g * g.T
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect").astype(np.float64)
    expected = image.copy()
    for y, x in zip(*np.where(dilated != 0)):
        for c in range(3):
            expected[y, x, c] = np.clip(np.rint(np.sum(padded[y : y + 5, x : x + 5, c] * gauss)), 0, 255)
    smoothed, _ = edge_smooth(image)
    assert np.abs(smoothed.astype(int) - expected.astype(int)).max() <= 1  # float32 vs float64 rounding


def test_gray_copy_has_equal_channels():
    gray = to_gray3(step_image())
    assert (gray[:, :, 0] == gray[:, :, 1]).all() and (gray[:, :, 1] == gray[:, :, 2]).all()
