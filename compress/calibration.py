"""INT8 calibration: activation statistics in one ONNX Runtime pass, and TensorRT-compatible thresholds.

Every float tensor of the graph is exposed as an output, and each calibration image runs once. For every
tensor we keep the running max |x| and a 2048-bin histogram of |x|; when a later image exceeds the
histogram's range, the range doubles and pairs of bins merge (exact, no resampling), so one pass suffices.
Thresholds (amax, symmetric int8 scale = amax / 127):
- minmax: the largest |x| seen;
- percentile: the |x| below which the given percentage of values fall;
- mean-minmax: each tensor's per-image minimum and maximum, averaged over the images (the range a moving-average
  observer converges to): an asymmetric range for uint8 activations, and max(|low|, |high|) where a symmetric one
  is needed. One outlier image does not widen it for all the others;
- entropy: TensorRT's KL-divergence method (GTC 2017 "8-bit inference with TensorRT"): for each cut-off
  i in 128..2048 bins, fold the outliers into bin i-1, quantize the i bins to 128 levels and expand back,
  and pick the i with the smallest KL(P || Q); amax is the upper edge of bin i-1. Bin 0 (exact zeros)
  takes bin 1's count first, as in NVIDIA's pytorch-quantization.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import onnx
from tqdm import tqdm

from animegan_deploy.threads import ort_session_options

BINS = 2048
LEVELS = 128  # positive int8 levels
METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile", "mean-minmax")
Method = Literal[METHODS]  # the CLI's choices and config checks come from METHODS
Range = float | tuple[float, float]  # a tensor's range as the quantizer takes it: amax (+-amax) or (low, high)


@dataclass
class TensorStats:
    """Running max |x| and histogram of |x| over [0, hist_range] in BINS bins (``neg_hist``: the same for the
    negative values alone), each update's (image's) signed minimum and maximum, and for NCHW tensors the
    per-channel means."""

    amax: float = 0.0
    hist_range: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    neg_hist: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    count: int = 0
    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    channel_sum: np.ndarray | None = None  # NCHW tensors: the sum over updates of each channel's mean

    @property
    def channel_mean(self) -> np.ndarray | None:
        """Each channel's mean over the updates (images), for NCHW tensors: what bias correction needs."""
        return None if self.channel_sum is None else self.channel_sum / len(self.lows)

    def update(self, values: np.ndarray) -> None:
        flat = values.astype(np.float32, copy=False).ravel()
        if flat.size == 0:
            return
        low, high = float(flat.min()), float(flat.max())
        self.lows.append(low)
        self.highs.append(high)
        if values.ndim == 4:
            means = values.mean(axis=(0, 2, 3), dtype=np.float64)
            self.channel_sum = means if self.channel_sum is None else self.channel_sum + means
        top = max(-low, high)
        self.amax = max(self.amax, top)
        self.count += flat.size
        if self.hist_range == 0.0:
            if top == 0.0:
                self.hist[0] += flat.size
                return
            self.hist_range = top
        while top > self.hist_range:  # double the range: bins 2k and 2k+1 merge into bin k
            self.hist, self.neg_hist = (np.concatenate([h.reshape(BINS // 2, 2).sum(axis=1),
                                                        np.zeros(BINS // 2, dtype=np.int64)])
                                        for h in (self.hist, self.neg_hist))
            self.hist_range *= 2.0
        positive, negative = signed_bin_counts(flat, np.float32(BINS / self.hist_range))
        self.hist += positive + negative
        self.neg_hist += negative

    @property
    def bin_width(self) -> float:
        return self.hist_range / BINS


def signed_bin_counts(flat: np.ndarray, scale: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the positive (and zero) and of the negative values of ``flat`` in each of BINS bins of |x| *
    ``scale`` (the last bin takes everything beyond). One bincount over signed bin numbers: truncation toward zero
    gives trunc(|q|) = |trunc(q)|, so the bins are exactly those of |x|; only bin 0 mixes signs, and its negative
    count is taken apart. Three times faster than a histogram of |x| plus one of the negative values picked out."""
    scaled = flat * scale
    index = scaled.astype(np.intp)  # bincount counts intp indices without another copy
    np.clip(index, -(BINS - 1), BINS - 1, out=index)
    index += BINS - 1
    counts = np.bincount(index, minlength=2 * BINS - 1)
    negative_in_bin_0 = np.count_nonzero((scaled > -1) & (scaled < 0))
    positive = counts[BINS - 1:].copy()
    negative = counts[BINS - 1::-1].copy()  # bin j of the negative values: signed bin -j
    positive[0] -= negative_in_bin_0
    negative[0] = negative_in_bin_0
    return positive, negative


def amax_minmax(stats: TensorStats) -> float:
    return stats.amax


def amax_percentile(stats: TensorStats, percentile: float = 99.99) -> float:
    total = stats.hist.sum()
    if total == 0 or stats.hist_range == 0:
        return stats.amax
    cdf = np.cumsum(stats.hist) / total
    index = int(np.searchsorted(cdf, percentile / 100.0))
    return float(min(stats.amax, (index + 1) * stats.bin_width))


def range_bounds(r: Range) -> tuple[float, float]:
    """(low, high) of a :data:`Range`."""
    return r if isinstance(r, tuple) else (-float(r), float(r))


def bounds_percentile(stats: TensorStats, percentile: float = 99.99) -> tuple[float, float]:
    """(low, high): each side cut where 100 - ``percentile`` percent of all values lie beyond it (0 always
    inside), from the histograms of the positive and the negative values' |x|."""
    total = stats.hist.sum()
    if total == 0 or stats.hist_range == 0:
        return -stats.amax, stats.amax
    beyond = total * (1.0 - percentile / 100.0)

    def edge(side: np.ndarray, extreme: float) -> float:
        inside = np.cumsum(side)  # values of this sign with |x| below each bin's upper edge
        index = int(np.searchsorted(inside, side.sum() - beyond))
        return float(min(extreme, (index + 1) * stats.bin_width)) if side.sum() > beyond else 0.0

    return -edge(stats.neg_hist, -min(stats.lows)), edge(stats.hist - stats.neg_hist, max(stats.highs))


def bounds_minmax(stats: TensorStats) -> tuple[float, float]:
    if not stats.lows:
        return -stats.amax, stats.amax
    return min(0.0, min(stats.lows)), max(0.0, max(stats.highs))


def bounds_mean_minmax(stats: TensorStats) -> tuple[float, float]:
    """The per-image minimum and maximum averaged over the images (0 is always inside, as integer zero points
    need)."""
    if not stats.lows:
        return -stats.amax, stats.amax
    return min(0.0, float(np.mean(stats.lows))), max(0.0, float(np.mean(stats.highs)))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    if np.any(q[mask] == 0):
        return float("inf")
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def amax_entropy(stats: TensorStats, start: int = LEVELS) -> float:
    """TensorRT's entropy (KL) threshold on the |x| histogram."""
    hist = stats.hist.astype(np.float64)
    if hist.sum() == 0 or stats.hist_range == 0:
        return stats.amax
    # As NVIDIA's pytorch-quantization does: tame the spike of exact zeros (ReLU outputs, padding) in bin 0,
    # which would otherwise dominate the KL and pull the threshold down to the first candidate.
    hist[0] = hist[1]
    nonzero_top = int(np.nonzero(hist)[0].max()) + 1
    best_i, best_kl = BINS, float("inf")
    for i in range(start, BINS + 1):
        reference = hist[:i].copy()
        reference[i - 1] += hist[i:].sum()  # outliers fold into the last bin
        if reference.sum() == 0:
            continue
        # quantize the first i bins into LEVELS levels, then expand each level evenly over its nonzero bins
        src = hist[:i]
        nonzero = src > 0
        level_of_bin = (np.arange(i) * LEVELS) // i  # bin j -> level floor(j * 128 / i)
        level_sum = np.bincount(level_of_bin, weights=src, minlength=LEVELS)
        level_nonzero = np.bincount(level_of_bin, weights=nonzero.astype(np.float64), minlength=LEVELS)
        expanded = np.where(nonzero, level_sum[level_of_bin] / np.maximum(level_nonzero[level_of_bin], 1), 0.0)
        p = reference / reference.sum()
        q_total = expanded.sum()
        if q_total == 0:
            continue
        kl = _kl(p, expanded / q_total)
        if kl <= best_kl:  # ties go to the wider range, as pytorch-quantization's last argmin
            best_kl, best_i = kl, i
        if i > nonzero_top + LEVELS and best_i < i:  # beyond the data: P stops changing
            break
    return float(min(stats.amax, best_i * stats.bin_width))


def threshold(stats: TensorStats, method: str, percentile: float = 99.99) -> float:
    if method == "minmax":
        return amax_minmax(stats)
    if method == "entropy":
        return amax_entropy(stats)
    if method == "percentile":
        return amax_percentile(stats, percentile)
    if method == "mean-minmax":
        return max(abs(v) for v in bounds_mean_minmax(stats))
    raise ValueError(f"unknown calibration method {method!r}; use {', '.join(METHODS)}")


def float_tensors(model: onnx.ModelProto) -> list[str]:
    """Names of the graph input and every float node output (what a calibration cache covers)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    elem = {v.name: v.type.tensor_type.elem_type for v in list(inferred.graph.value_info) + list(inferred.graph.output)
            + list(inferred.graph.input)}
    names = [i.name for i in model.graph.input]
    initializers = {i.name for i in model.graph.initializer}
    for node in model.graph.node:
        for out in node.output:
            if out and out not in initializers and elem.get(out, onnx.TensorProto.FLOAT) == onnx.TensorProto.FLOAT:
                names.append(out)
    return list(dict.fromkeys(names))  # first occurrence order, no duplicates


@dataclass
class Calibration:
    stats: dict[str, TensorStats]
    images: int
    seconds: float

    def restricted(self, names: Iterable[str]) -> "Calibration":
        """The statistics of ``names`` only (as a pass over those tensors alone would have measured them)."""
        return Calibration({n: self.stats[n] for n in names if n in self.stats}, self.images, self.seconds)

    def _chosen(self, names: Iterable[str] | None) -> dict[str, TensorStats]:
        return self.stats if names is None else {n: self.stats[n] for n in names}

    def ranges(self, method: str, percentile: float = 99.99, names: Iterable[str] | None = None) -> dict[str, float]:
        """Symmetric thresholds (amax): what TensorRT's cache and symmetric Q/DQ take (of ``names``, else all)."""
        return {name: threshold(s, method, percentile) for name, s in self._chosen(names).items()}

    def bounds(self, method: str, percentile: float = 99.99, names: Iterable[str] | None = None
               ) -> dict[str, tuple[float, float]]:
        """(low, high) per tensor (of ``names``, else all), signed: what an asymmetric (uint8) or centered
        (``centered_inputs``) range takes. mean-minmax, minmax and percentile have one per side; entropy's KL
        threshold is of |x|: +-amax."""
        stats = self._chosen(names)
        if method == "mean-minmax":
            return {name: bounds_mean_minmax(s) for name, s in stats.items()}
        if method == "minmax":
            return {name: bounds_minmax(s) for name, s in stats.items()}
        if method == "percentile":
            return {name: bounds_percentile(s, percentile) for name, s in stats.items()}
        return {name: (-a, a) for name, a in self.ranges(method, percentile, names).items()}


def collect_statistics(model_path: str | Path, images: Iterable[np.ndarray], tensors: list[str] | None = None,
                       threads: int | None = None, progress: bool = True, total: int | None = None) -> Calibration:
    """One ONNX Runtime pass over ``images`` (NCHW float32 [-1, 1]) recording every tensor's statistics."""
    import onnxruntime as ort

    started = time.perf_counter()
    model = onnx.load(str(model_path))
    wanted = tensors or float_tensors(model)
    graph_inputs = {i.name for i in model.graph.input}
    existing_outputs = {o.name for o in model.graph.output}
    for name in wanted:
        if name not in existing_outputs and name not in graph_inputs:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort_session_options(threads)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_names = [o.name for o in session.get_outputs()]
    stats = {name: TensorStats() for name in wanted}
    count = 0
    for image in tqdm(images, total=total, desc="calibration", unit="img", disable=not progress, file=sys.stderr):
        outputs = session.run(output_names, {input_name: image})
        for name, value in zip(output_names, outputs):
            if name in stats:
                stats[name].update(value)
        if input_name in stats:
            stats[input_name].update(image)
        count += 1
    if count == 0:
        raise ValueError("no calibration images")
    return Calibration(stats, count, time.perf_counter() - started)
