"""minmax / percentile / entropy thresholds on distributions whose right answer is known by hand."""

import numpy as np
import pytest

from animegan_deploy.compress.calibration import TensorStats, threshold

# |N(0,1)| has 99.99% of its mass below Phi^-1(0.99995) = 3.8906 (standard normal table).
GAUSS_P9999 = 3.8906


def stats_of(values: np.ndarray, chunks: int = 1) -> TensorStats:
    stats = TensorStats()
    for chunk in np.array_split(values, chunks):
        stats.update(chunk)
    return stats


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(2_000_000).astype(np.float32)


def test_minmax_is_the_largest_magnitude(gaussian):
    assert threshold(stats_of(gaussian), "minmax") == pytest.approx(float(np.abs(gaussian).max()), rel=1e-6)


def test_percentile_of_a_gaussian_matches_the_normal_table(gaussian):
    stats = stats_of(gaussian)
    assert threshold(stats, "percentile", 99.99) == pytest.approx(GAUSS_P9999, abs=2 * stats.bin_width + 0.01)
    # 99% of |N(0,1)| lies below 2.5758
    assert threshold(stats, "percentile", 99.0) == pytest.approx(2.5758, abs=2 * stats.bin_width)


def test_entropy_keeps_a_uniform_range_whole():
    # uniform data: clipping only loses information, so KL picks the full range
    values = np.random.default_rng(1).uniform(-2.0, 2.0, 1_000_000).astype(np.float32)
    stats = stats_of(values)
    assert threshold(stats, "entropy") == pytest.approx(2.0, abs=stats.bin_width * 2)


def test_entropy_clips_the_gaussian_tail(gaussian):
    stats = stats_of(gaussian)
    amax = threshold(stats, "entropy")
    # below the extreme sample, above the 99.9% point (3.29): a few rare values are clipped, not the bulk
    assert 3.29 < amax < 0.95 * stats.amax


def test_heavy_tail_entropy_ignores_outliers_that_minmax_follows():
    rng = np.random.default_rng(2)
    bulk = rng.standard_normal(2_000_000)
    outliers = rng.standard_normal(2_000) * 50.0  # 0.1% of the values, 50x wider
    values = np.concatenate([bulk, outliers]).astype(np.float32)
    stats = stats_of(values, chunks=5)
    minmax, entropy = threshold(stats, "minmax"), threshold(stats, "entropy")
    assert minmax > 100.0
    assert GAUSS_P9999 < entropy < 0.2 * minmax
    # 0.1% outliers sit above the 99.99th percentile, so the percentile lands inside the outlier spread
    assert threshold(stats, "percentile", 99.99) == pytest.approx(np.percentile(np.abs(values), 99.99), rel=0.02)


def test_unknown_method_is_refused(gaussian):
    with pytest.raises(ValueError, match="unknown calibration method"):
        threshold(stats_of(gaussian[:10]), "mse")


def test_mean_minmax_averages_each_images_extremes():
    """Three 'images' with extremes (-1, 4), (-3, 2), (-2, 9): the range is (-2, 5), not the overall (-3, 9); a
    symmetric consumer gets max(|low|, |high|) = 5."""
    from animegan_deploy.compress.calibration import Calibration

    stats = TensorStats()
    for lo, hi in ((-1.0, 4.0), (-3.0, 2.0), (-2.0, 9.0)):
        stats.update(np.array([lo, 0.5, hi], dtype=np.float32))
    assert threshold(stats, "mean-minmax") == pytest.approx(5.0)
    calibration = Calibration({"t": stats}, images=3, seconds=0.0)
    assert calibration.bounds("mean-minmax")["t"] == pytest.approx((-2.0, 5.0))
    assert calibration.bounds("minmax")["t"] == pytest.approx((-3.0, 9.0))  # the overall extremes, signed
    positive = TensorStats()
    positive.update(np.array([1.0, 3.0], dtype=np.float32))
    assert Calibration({"p": positive}, 1, 0.0).bounds("mean-minmax")["p"] == (0.0, 3.0)  # zero stays inside


def test_percentile_bounds_cut_each_side_of_a_lopsided_distribution():
    """LeakyReLU(0.2) of N(0, 1), what a conv input here looks like: each side is cut at its own 99.99th
    percentile point (high 3.719 = Phi^-1(0.9999), low -0.2 x 3.719), not at +-amax, which would leave the
    negative half of a symmetric range nearly empty. Bins merge as later images widen the range."""
    from animegan_deploy.compress.calibration import Calibration

    x = np.random.default_rng(3).standard_normal(4_000_000).astype(np.float32)
    values = np.where(x > 0, x, 0.2 * x)
    stats = stats_of(values, chunks=4)
    low, high = Calibration({"t": stats}, 4, 0.0).bounds("percentile", 99.99)["t"]
    assert high == pytest.approx(3.719, abs=2 * stats.bin_width + 0.02)
    assert low == pytest.approx(-0.2 * 3.719, abs=2 * stats.bin_width + 0.02)
    assert (low, high) == pytest.approx((np.percentile(values, 0.01), np.percentile(values, 99.99)), abs=0.03)
    assert threshold(stats, "percentile", 99.99) == pytest.approx(np.percentile(np.abs(values), 99.99), rel=0.01)
    positive = stats_of(np.abs(values))
    assert Calibration({"p": positive}, 1, 0.0).bounds("percentile")["p"][0] == 0.0  # no negatives: low is 0


def test_channel_means_average_each_images_per_channel_mean():
    stats = TensorStats()
    first = np.stack([np.full((2, 2), 1.0), np.full((2, 2), -4.0)])[None].astype(np.float32)  # 1 x 2 x 2 x 2
    second = np.stack([np.full((2, 2), 3.0), np.arange(4.0).reshape(2, 2)])[None].astype(np.float32)
    stats.update(first)
    stats.update(second)
    np.testing.assert_allclose(stats.channel_mean, [2.0, (-4.0 + 1.5) / 2])
    flat = TensorStats()
    flat.update(np.ones(5, dtype=np.float32))
    assert flat.channel_mean is None  # not an NCHW map
