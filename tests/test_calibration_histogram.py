"""One-pass statistics: when a later batch exceeds the histogram range, bins merge in pairs exactly."""

import numpy as np

from animegan_deploy.compress.calibration import BINS, TensorStats


def test_growing_range_equals_the_histogram_built_at_the_final_range():
    rng = np.random.default_rng(0)
    small = rng.uniform(-1.0, 1.0, 100_000).astype(np.float32)
    large = rng.uniform(-3.5, 3.5, 100_000).astype(np.float32)
    streamed = TensorStats()
    streamed.update(small)
    first_range = streamed.hist_range
    streamed.update(large)
    assert streamed.hist_range == first_range * 4  # doubled twice to cover 3.5
    assert streamed.count == 200_000
    assert streamed.amax == float(np.abs(large).max())

    edges = np.linspace(0.0, streamed.hist_range, BINS + 1)
    direct, _ = np.histogram(np.abs(np.concatenate([small, large])), bins=edges)
    # same values counted; float32 binning moves a handful of values sitting on an edge to the next bin
    assert streamed.hist.sum() == direct.sum()
    assert int(np.abs(streamed.hist - direct).sum()) <= 20  # 0.01% of 200k


def test_all_zero_tensor_has_zero_range():
    stats = TensorStats()
    stats.update(np.zeros(100, dtype=np.float32))
    assert stats.amax == 0.0 and stats.hist[0] == 100


def test_signed_bins_count_each_value_in_the_bin_of_its_magnitude_and_sign():
    """The one-bincount histogram equals the two it replaced (|x| in BINS bins, and the negative values' |x|),
    including values on bin edges, exact zeros, negative zero, tiny negatives (bin 0) and values past the range."""
    from animegan_deploy.compress.calibration import signed_bin_counts

    rng = np.random.default_rng(7)
    values = np.concatenate([
        rng.normal(0.0, 1.0, 50_000), np.round(rng.normal(0.0, 2.0, 5_000) * 256) / 256,  # on edges
        np.zeros(100), -np.zeros(100), -rng.uniform(0, 1e-4, 300), [5.0, -5.0, 100.0, -100.0],
    ]).astype(np.float32)
    scale = np.float32(BINS / 4.0)
    index = np.minimum((np.abs(values) * scale).astype(np.int64), BINS - 1)
    expected_all = np.bincount(index, minlength=BINS)
    expected_negative = np.bincount(index[values < 0], minlength=BINS)
    positive, negative = signed_bin_counts(values, scale)
    np.testing.assert_array_equal(positive + negative, expected_all)
    np.testing.assert_array_equal(negative, expected_negative)
    assert negative[0] >= 300 and negative[BINS - 1] >= 2 and positive[BINS - 1] >= 2  # the cases are there
