"""How a stylized picture looks next to its photo, in numbers: colours kept, ripples in flat regions, edges kept.

A real AnimeGANv2 checkpoint keeps the photo's colours, flattens shading into cel-like regions and draws clean
edges without ripples. Three measures, each on uint8 RGB of the same size (photo and its stylized output):

- ``colour_distance``: mean CIEDE2000 between photo and output after both are blurred (sigma 2 px), so it weighs
  the colours of regions, not the texture or lines a style adds (scikit-image's Lab and deltaE_ciede2000).
- ``ripple_energy``: mean squared high-pass of the output's luminance (output minus its Gaussian blur, sigma
  2 px, in [0, 255] units) over the photo's flat regions: the third of its pixels with the lowest gradient.
  A flat sky or wall should stay flat; stripes and ripples there are artifacts.
- ``edge_f1``: Canny edges of the output against the photo's, an edge counting as matched within 2 px; F1 of
  precision (output edges that are photo edges) and recall (photo edges the output keeps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

BLUR_SIGMA = 2.0  # px: colour comparison scale and high-pass cut-off
FLAT_FRACTION = 1 / 3  # the photo's lowest-gradient pixels that count as flat
EDGE_SIGMA = 2.0  # Canny's smoothing
EDGE_TOLERANCE = 2  # px within which an edge counts as matched


def _check(photo: np.ndarray, output: np.ndarray) -> None:
    if photo.shape != output.shape or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"photo {photo.shape} and output {output.shape} must be same-size RGB images")


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def colour_distance(photo: np.ndarray, output: np.ndarray) -> float:
    """Mean CIEDE2000 between the blurred photo and the blurred output (0 = the same colours)."""
    from skimage.color import deltaE_ciede2000, rgb2lab
    from skimage.filters import gaussian

    _check(photo, output)
    lab = [rgb2lab(gaussian(x.astype(np.float64) / 255.0, sigma=BLUR_SIGMA, channel_axis=-1)) for x in (photo, output)]
    return float(deltaE_ciede2000(lab[0], lab[1]).mean())


def flat_mask(photo: np.ndarray) -> np.ndarray:
    """The photo's flat pixels: the FLAT_FRACTION with the lowest gradient magnitude (after a light blur)."""
    from skimage.filters import gaussian, sobel

    gradient = sobel(gaussian(_luma(photo), sigma=1.0))
    return gradient <= np.quantile(gradient, FLAT_FRACTION)


def ripple_energy(photo: np.ndarray, output: np.ndarray) -> float:
    """Mean squared high-pass luminance of the output over the photo's flat regions ([0, 255] units squared)."""
    from skimage.filters import gaussian

    _check(photo, output)
    luma = _luma(output)
    high = luma - gaussian(luma, sigma=BLUR_SIGMA)
    return float(np.mean(high[flat_mask(photo)] ** 2))


def _edges(rgb: np.ndarray) -> np.ndarray:
    from skimage.feature import canny

    return canny(_luma(rgb) / 255.0, sigma=EDGE_SIGMA)


def edge_f1(photo: np.ndarray, output: np.ndarray) -> float:
    """F1 of the output's Canny edges against the photo's, matched within EDGE_TOLERANCE px."""
    from scipy.ndimage import binary_dilation

    _check(photo, output)
    mine, theirs = _edges(output), _edges(photo)
    if not mine.any() or not theirs.any():
        return float(mine.any() == theirs.any())  # both edgeless: agree; one edgeless: nothing matched
    near = np.ones((2 * EDGE_TOLERANCE + 1,) * 2, bool)
    precision = float((mine & binary_dilation(theirs, near)).sum() / mine.sum())
    recall = float((theirs & binary_dilation(mine, near)).sum() / theirs.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Looks:
    colour_distance: float
    ripple_energy: float
    edge_f1: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def looks(photo: np.ndarray, output: np.ndarray) -> Looks:
    return Looks(colour_distance(photo, output), ripple_energy(photo, output), edge_f1(photo, output))


def mean_looks(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Each measure's mean over (photo, output) pairs."""
    if not pairs:
        raise ValueError("no pictures to measure")
    rows = [looks(p, o).as_dict() for p, o in pairs]
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
