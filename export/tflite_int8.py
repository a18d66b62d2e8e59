"""Integer TFLite files from the float one, with a choice of how activation ranges are calibrated.

TFLiteConverter's integer path is two steps: TensorFlow's calibrator runs the float model on the
representative photos and logs each tensor's min/max, then its MLIR quantizer turns those ranges into int8
scales. The converter keeps the extremes over *all* photos (``minmax``). For this generator that is the
main int8 loss: one photo's outlier widens a map's range for every photo. On the default model at 256 the
full-integer file scores 27.0 dB vs FP32 torch with it, 30.5 dB with ``mean-minmax``: each activation map's
range is the mean of the per-photo extremes, the range a moving-average observer converges to (TensorFlow's
own quantization-aware training and ONNX Runtime's moving-average MinMax use it). Tensors that are not
activation maps keep the overall extremes: the norms' statistics (one value per photo, so a per-photo
"range" is a point) and the 3-channel image tensors at the ends (the input is [-1, 1] by construction).
``mean-2std`` widens each map's mean range by twice the spread of the per-photo extremes (no wider than
``minmax``): a photo whose maps run past the average is clipped less. Which of the three a model gets is chosen on
validation photos (export/tflite.py).

This module runs the two steps itself (``tensorflow.lite.python.optimize.calibrator`` and
``convert.mlir_quantize``, the same functions the converter calls; tensorflow-cpu is pinned in pyproject
because they are not public API) and edits the logged ranges in between through TFLite's flatbuffer schema.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from animegan_deploy.memo import Memo, content_key

CALIBRATIONS: dict[str, str] = {
    "mean-minmax": "activation maps: mean of the per-photo min/max; statistics and image tensors: overall min/max",
    "minmax": "overall min/max of every tensor over all photos (TFLiteConverter's own calibration)",
    "mean-2std": "activation maps: mean of the per-photo min/max widened by 2 standard deviations of them, within the "
                 "overall min/max; statistics and image tensors: overall min/max",
}
# mean-2std sits between the two: mean-minmax clips a photo whose maps run past the others' (on the zoo its worst
# evaluation picture, mostly a dark flat moon, is 2.5-8 dB under minmax's), minmax spends int8 steps on one
# calibration photo's outlier. Its files scored best on the validation photos of five of the seven zoo models, and
# with it the chosen file is within 0.45 dB of the best option tried on all seven (reports/zoo/tflite-options).
SPREAD_STDS = 2.0
IO_TYPES = ("int8", "float32")
# how the convs a --target-psnr keeps out of static int8 (past the fallback ladder) run
CONV_FALLBACKS: dict[str, str] = {
    "dynamic-then-float": "dynamic-range (below) and, where all of them still miss the target, the most lossy "
                          "ones float, as few as meet it",
    "dynamic": "int8 weights, inputs quantized per picture at run time (TFLite's dynamic-range kernels): int8-sized "
               "file, holds pictures past the calibrated ranges",
    "float": "float weights and arithmetic",
}


@dataclass
class TensorRange:
    shape: tuple[int, ...]
    per_image: np.ndarray  # photos x 2 (min, max); per-axis ranges are not produced for activations
    is_map: bool

    def chosen(self, method: str) -> tuple[float, float]:
        lows, highs = self.per_image[:, 0], self.per_image[:, 1]
        if method == "mean-minmax" and self.is_map:
            return float(lows.mean()), float(highs.mean())
        if method == "mean-2std" and self.is_map:
            return (float(max(lows.min(), lows.mean() - SPREAD_STDS * lows.std())),
                    float(min(highs.max(), highs.mean() + SPREAD_STDS * highs.std())))
        return float(lows.min()), float(highs.max())


def is_activation_map(shape: Sequence[int]) -> bool:
    """An NHWC feature map (height and width > 1, more than the 3 image channels), not a reduced statistic."""
    return len(shape) == 4 and shape[1] > 1 and shape[2] > 1 and shape[3] > 3


def logged_ranges(calibrated: bytes) -> dict[int, tuple[float, float]]:
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(calibrated, 0)
    graph = model.Subgraphs(0)
    ranges = {}
    for i in range(graph.TensorsLength()):
        q = graph.Tensors(i).Quantization()
        if q is not None and q.MinLength() == 1 and q.MaxLength() == 1:
            ranges[i] = (float(q.Min(0)), float(q.Max(0)))
    return ranges


class Calibration:
    """Per-photo ranges of every tensor of a float TFLite model, ready to be written out by any method."""

    def __init__(self, float_model: bytes, images: np.ndarray, progress: bool = True) -> None:
        """``images``: N x H x W x 3 float32, already in the model's input range."""
        from tensorflow.lite.python import schema_py_generated as schema
        from tensorflow.lite.python.optimize import calibrator
        from tqdm import tqdm

        if len(images) == 0:
            raise ValueError("calibration needs at least one photo")
        base = calibrator.add_intermediate_tensors(float_model)
        bar = tqdm(total=len(images), desc="tflite calibration", unit="photo", disable=not progress, file=sys.stderr,
                   dynamic_ncols=True)
        started = time.perf_counter()
        self.template = calibrated_on(base, images[:1])  # the ranges in it are rewritten by every method
        logs = [logged_ranges(self.template)]
        bar.update()
        logs += _ranges_of(base, images[1:], seconds_each=time.perf_counter() - started, bar=bar)
        bar.close()
        graph = schema.Model.GetRootAsModel(self.template, 0).Subgraphs(0)
        self.tensors: dict[int, TensorRange] = {}
        for index in logs[0]:
            t = graph.Tensors(index)
            shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            per_image = np.array([log[index] for log in logs], dtype=np.float64)
            self.tensors[index] = TensorRange(shape, per_image, is_activation_map(shape))

    def calibrated_model(self, method: str) -> bytes:
        """The calibrated float model with the ranges of ``method`` (input to the quantizer)."""
        if method not in CALIBRATIONS:
            raise ValueError(f"calibration {method!r}: choose one of {', '.join(CALIBRATIONS)}")

        def set_ranges(tree) -> None:
            tensors = tree.subgraphs[0].tensors
            for index, rng in self.tensors.items():
                lo, hi = rng.chosen(method)
                tensors[index].quantization.min, tensors[index].quantization.max = [lo], [hi]

        return _rewritten(self.template, set_ranges)

    def quantize(self, method: str, io: str = "int8", float_nodes: Sequence[str] = ()) -> bytes:
        """An integer model (weights per channel) with int8 or float32 input and output; every op int8 except
        the ops whose output tensors are named in ``float_nodes`` (see ``FloatGraph.fallback_nodes``), which stay float
        between dequantize/quantize pairs."""
        import tensorflow as tf
        from tensorflow.lite.python import convert

        if io not in IO_TYPES:
            raise ValueError(f"io {io!r}: choose one of {', '.join(IO_TYPES)}")
        dtype = tf.int8 if io == "int8" else tf.float32
        # as TFLiteConverter calls it: the input/output types decide the model's edges
        return convert.mlir_quantize(self.calibrated_model(method), input_data_type=dtype, output_data_type=dtype,
                                     denylisted_nodes=list(float_nodes) or None)


def calibrated_on(base: bytes, one: np.ndarray) -> bytes:
    """TensorFlow's calibrator run on one photo (1 x H x W x 3): the model with that photo's ranges logged."""
    from tensorflow.lite.python.optimize import calibrator

    one = one.astype(np.float32)
    return calibrator.Calibrator(base).calibrate(lambda: iter([[one]]))


def photo_ranges(base: bytes, one: np.ndarray) -> dict[int, tuple[float, float]]:
    """Tensor index -> (min, max) TensorFlow's calibrator logs on one photo (1 x H x W x 3)."""
    return logged_ranges(calibrated_on(base, one))


# TensorFlow's calibrator runs one photo on one core (about 3.8 s at 256 px) and holds the GIL; a photo's ranges do
# not depend on the others', so past this much serial work the photos are shared with helper processes, one per
# further core or thread of ANIMEGAN_THREADS (export/tflite_calibration_worker.py; starting one, which imports
# TensorFlow, takes about 4 s). They log the same ranges as one process does.
PARALLEL_AFTER_SECONDS = 15.0


def _ranges_of(base: bytes, images: np.ndarray, seconds_each: float, bar) -> list[dict[int, tuple[float, float]]]:
    """Each photo's logged ranges, in order; helper processes take every k-th photo where the work pays for them."""
    import os
    import subprocess
    import tempfile

    from animegan_deploy.threads import cpu_threads

    # ANIMEGAN_THREADS, where set, is this job's share of the cores: one calibrating process per thread of it
    cores = cpu_threads(None) or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
                                  os.cpu_count() or 1)
    helpers = min(cores, len(images)) - 1 if seconds_each * len(images) > PARALLEL_AFTER_SECONDS else 0
    shares = [list(range(k, len(images), helpers + 1)) for k in range(helpers + 1)]
    logs: dict[int, dict[int, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="animegan-tflite-calibration-") as tmp:
        model = Path(tmp) / "model.tflite"
        model.write_bytes(base)
        started = []
        for k, share in enumerate(shares[1:], start=1):
            photos, out, log = (Path(tmp) / f"{name}{k}{ext}" for name, ext in
                                (("photos", ".npy"), ("ranges", ".npz"), ("stderr", ".txt")))
            np.save(photos, images[share])
            try:
                with log.open("wb") as err:  # a file, not a pipe: TensorFlow's logging never blocks the helper
                    started.append((share, out, log, subprocess.Popen(
                        [sys.executable, "-m", "animegan_deploy.export.tflite_calibration_worker", str(model),
                         str(photos), str(out)], stdout=subprocess.DEVNULL, stderr=err)))
            except OSError:  # no processes here: the parent calibrates this share too
                shares[0] = sorted(shares[0] + share)
        try:
            for i in shares[0]:
                logs[i] = photo_ranges(base, images[i : i + 1])
                bar.update()
            for share, out, log, proc in started:
                if proc.wait() == 0:
                    logs.update(zip(share, read_ranges(out)))
                else:
                    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                    print(f"tflite calibration helper failed ({tail[0]}); calibrating its photos here", file=sys.stderr)
                    for i in share:
                        logs[i] = photo_ranges(base, images[i : i + 1])
                bar.update(len(share))
        finally:
            for *_, proc in started:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return [logs[i] for i in range(len(images))]


def write_ranges(path: Path, logs: list[dict[int, tuple[float, float]]]) -> None:
    """Photos' logged ranges as one .npz: tensor indices and a photos x tensors x (min, max) array (float64 holds
    the logged float32 values exactly)."""
    indices = sorted(logs[0]) if logs else []
    np.savez(path, index=np.array(indices, dtype=np.int64),
             ranges=np.array([[log[i] for i in indices] for log in logs], dtype=np.float64).reshape(-1, len(indices), 2))


def read_ranges(path: Path) -> list[dict[int, tuple[float, float]]]:
    with np.load(path) as data:
        indices, ranges = data["index"].tolist(), data["ranges"]
    return [{i: (float(lo), float(hi)) for i, (lo, hi) in zip(indices, photo)} for photo in ranges]


# a float model's per-photo ranges, measured once per process (TensorFlow's calibrator runs about 4.5 s a photo at
# 256 px on 2 cores): the integer kinds, fallback rungs and repeated exports of one model share them
_CALIBRATED: Memo[Calibration] = Memo(limit=2)


def calibrate(float_model: bytes, images: np.ndarray, progress: bool = True) -> Calibration:
    """:class:`Calibration` of ``float_model`` over ``images``, or the one this process measured for the same
    bytes and photos."""
    key = content_key("tflite-calibration", hashlib.sha256(float_model).hexdigest(), images)
    return _CALIBRATED.get_or_make(key, lambda: Calibration(float_model, images, progress))


# What --target-psnr keeps in float, one rung at a time (each rung includes the ones before). Every
# normalization's statistics are one scalar per photo whose value spans a decade across photos (a low-contrast
# photo has a small variance and a large 1/sigma): a fixed int8 scale cannot hold 1/sigma for all of them (its
# int8 RSQRT output measured 17.6 dB on the first layer). The normalized map itself has a stable range.
# Measured on the default model at 256 (15 unseen pictures, full-integer, mean-minmax): every op int8 28.40 dB;
# statistics float 32.08; plus each norm's scale/shift and LeakyReLU 33.94. Each rung costs speed. Past the last
# rung the convs follow in the order :func:`rank_by_loss` measured, as few as meet the target (found by
# compress.prefix_search.smallest_prefix), each with the pads/resizes that feed it (FloatGraph.with_inputs):
# a float conv behind an int8 pad still sees its input clipped to the calibrated range, which is where a dark,
# flat photo is lost (the moon: 23.0 dB with all 25 convs float alone, 38.1 with their input pads too). They run
# as CONV_FALLBACKS says: by default dynamic-range (the moon at 32.5 dB with all 25, the file int8-sized).
# The last rung adds the residual ADDs (no weights): in int8 they held the worst validation photo of the current
# default at 28.6 dB with every conv dynamic-range, and at 28.5 with every conv float; with them float it is 41.3
# (2026-12-04, 256 px, targets 35/30: 24 of 25 convs dynamic-range meet them, 2.34 MB, where every conv float did not).
FALLBACK_LADDER: tuple[tuple[str, int], ...] = (
    ("nothing", 0),
    ("normalization statistics", 1),
    ("normalization statistics, scale/shift and activation", 2),
    ("normalization statistics, scale/shift, activation and residual adds", 3),
)
STATISTIC_OPS = frozenset({"MEAN", "SUB", "MUL", "SQUARED_DIFFERENCE", "RSQRT", "SQRT", "DIV"})
CONV_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"})
# ops that only move or resample values: a conv's input is one of these chains back to the op that computed it
MOVE_OPS = frozenset({"PAD", "PADV2", "MIRROR_PAD", "TRANSPOSE", "RESHAPE", "RESIZE_BILINEAR",
                      "RESIZE_NEAREST_NEIGHBOR"})


@dataclass
class FloatGraph:
    """A float TFLite model's operators (op type, input tensor ids, output tensor ids) and tensor names, parsed
    once and shared by every fallback decision."""

    ops: list[tuple[str, list[int], list[int]]]
    names: list[str]
    inputs: set[int]

    @classmethod
    def parse(cls, float_model: bytes) -> "FloatGraph":
        from tensorflow.lite.python import schema_py_generated as schema

        builtin = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        model = schema.Model.GetRootAsModel(float_model, 0)
        graph = model.Subgraphs(0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            codes.append(builtin.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM"))
        ops = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            ops.append((codes[op.OpcodeIndex()], [int(t) for t in op.InputsAsNumpy()],
                        [int(t) for t in op.OutputsAsNumpy()]))
        names = [graph.Tensors(i).Name().decode() for i in range(graph.TensorsLength())]
        return cls(ops, names, {int(t) for t in graph.InputsAsNumpy()})

    def fallback_nodes(self, level: int) -> list[str]:
        """Output tensor names of the ops a fallback ``level`` keeps float: 1 = the normalizations' statistics
        (mean, centering, square, variance + eps, rsqrt, the normalizing multiply); 2 = also each norm's
        per-channel scale/shift (a 1x1 depthwise conv fed by a statistic op) and the LeakyReLU that follows it; 3 =
        also every ADD of two computed tensors (the residual connections)."""
        if level <= 0:
            return []
        ops = self.ops
        produced = self.inputs | {t for _, _, outputs in ops for t in outputs}
        producer_of: dict[int, int] = {}
        chosen: set[int] = set()
        for index, (kind, inputs, outputs) in enumerate(ops):
            for t in outputs:
                producer_of[t] = index
            src = producer_of.get(inputs[0]) if inputs else None
            if kind in STATISTIC_OPS:
                chosen.add(index)
            elif kind == "ADD" and any(t >= 0 and t not in produced for t in inputs[1:]):  # variance + eps
                chosen.add(index)
            elif level >= 2 and kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and src in chosen \
                    and ops[src][0] in STATISTIC_OPS:  # the scale/shift of a normalized map
                chosen.add(index)
            elif level >= 2 and kind == "LEAKY_RELU" and src in chosen:
                chosen.add(index)
            elif level >= 3 and kind == "ADD" and all(t in produced for t in inputs):  # a residual connection
                chosen.add(index)
        return [self.names[t] for index in sorted(chosen) for t in ops[index][2]]

    def with_inputs(self, nodes: Sequence[str]) -> list[str]:
        """``nodes`` plus, for each conv among them, the chain of MOVE_OPS that feeds its input (back to the op
        that computed the values, or to one already in ``nodes``): keeping a conv float only helps if its input
        is not rounded and clipped to an int8 range on the way in."""
        producer = {t: index for index, (_, _, outputs) in enumerate(self.ops) for t in outputs}
        by_name = {self.names[outputs[0]]: index for index, (_, _, outputs) in enumerate(self.ops) if outputs}
        chosen, added = set(nodes), []
        for name in nodes:
            index = by_name.get(name)
            if index is None or self.ops[index][0] not in CONV_OPS:
                continue
            inputs = self.ops[index][1]
            while inputs and inputs[0] in producer:
                kind, inputs, outputs = self.ops[producer[inputs[0]]]
                feeder = self.names[outputs[0]]
                if kind not in MOVE_OPS or feeder in chosen:
                    break
                chosen.add(feeder)
                added.append(feeder)
        return [*nodes, *added]

    def convs(self, besides: Sequence[str] = ()) -> list[str]:
        """Output names of the convolutions not already in ``besides`` (candidates past the last rung)."""
        taken = set(besides)
        return [self.names[outputs[0]] for kind, _, outputs in self.ops
                if kind in CONV_OPS and self.names[outputs[0]] not in taken]

    def op_counts(self, nodes: Sequence[str]) -> dict[str, int]:
        """How many ops of each type ``nodes`` names (what a sidecar records of a fallback)."""
        wanted, counts = set(nodes), {}
        for kind, _, outputs in self.ops:
            if any(self.names[t] in wanted for t in outputs):
                counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))


def rank_by_loss(candidates: Sequence[str], score: Callable[[list[str]], float],
                 progress: bool = False) -> list[tuple[str, float]]:
    """``candidates`` with the dB each loses when it alone is static int8 and the others are kept out of it, largest
    loss first; ``score(kept)`` quantizes with the candidates in ``kept`` kept out of static int8 and measures PSNR
    (on a few calibration photos). One conv at a time int8, not one at a time kept: with every other conv int8 each
    one's own error is masked by the rest (kept float alone, no conv gained more than 0.55 dB on the default model,
    and the first 5 by that ranking gave 35.15 dB where the first 3 by this one give 35.22)."""
    from tqdm import tqdm

    reference = score(list(candidates))
    losses = [(name, reference - score([n for n in candidates if n != name]))
              for name in tqdm(candidates, desc="conv sensitivity", unit="conv", disable=not progress,
                               file=sys.stderr, dynamic_ncols=True)]
    return sorted(losses, key=lambda g: -g[1])


def dynamic_range_convs(model: bytes, convs: Sequence[str]) -> bytes:
    """``model`` with the float convs whose output tensors are named in ``convs`` turned into TFLite's hybrid
    (dynamic-range) convs: weights int8, symmetric per output channel, as TensorFlow's dynamic-range quantization
    writes them; at run time the kernel quantizes each input per picture, so a picture whose maps run far past
    every calibration photo's range (the moon: 3-4x) keeps its tails where a static int8 scale clips them, and the
    file stays int8-sized. Other ops are left as they are. (TensorFlow applies this only to a whole float model,
    in the converter; here the rest of the model is already static int8, so the conv tensors are rewritten through
    TFLite's flatbuffer schema.)"""
    from tensorflow.lite.python import schema_py_generated as schema

    wanted = set(convs)
    channel_axis = {schema.BuiltinOperator.CONV_2D: 0, schema.BuiltinOperator.DEPTHWISE_CONV_2D: 3}

    def quantize_weights(tree) -> None:
        graph = tree.subgraphs[0]
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in tree.operatorCodes]
        for op in graph.operators:
            axis = channel_axis.get(codes[op.opcodeIndex])
            if axis is None or graph.tensors[op.outputs[0]].name.decode() not in wanted:
                continue
            data, weights = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
            if data.type != schema.TensorType.FLOAT32 or weights.type != schema.TensorType.FLOAT32:
                continue  # a static int8 conv (or one fed int8): nothing to do
            buffer = tree.buffers[weights.buffer]
            w = np.frombuffer(np.asarray(buffer.data, dtype=np.uint8).tobytes(), np.float32).reshape(weights.shape)
            others = tuple(a for a in range(w.ndim) if a != axis)
            scale = np.maximum(np.abs(w).max(axis=others), 1e-12) / 127.0
            shape = [1] * w.ndim
            shape[axis] = -1
            q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
            buffer.data = np.frombuffer(q.tobytes(), dtype=np.uint8)
            weights.type = schema.TensorType.INT8
            weights.quantization = schema.QuantizationParametersT()
            weights.quantization.scale = scale.astype(np.float32).tolist()
            weights.quantization.zeroPoint = [0] * len(scale)
            weights.quantization.quantizedDimension = axis

    return _rewritten(model, quantize_weights)


def _rewritten(model: bytes, edit: Callable) -> bytes:
    """``model`` unpacked into TFLite's object API (schema ModelT), changed in place by ``edit``, packed again."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    edit(tree)
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def int16x8(float_model: bytes, images: np.ndarray, progress: bool = True) -> bytes:
    """TFLite's 16x8 mode: int16 activations (symmetric, ranges = overall min/max: 65536 levels leave no need
    to clip), int8 per-channel weights, int64 biases, float32 input and output. It goes through TFLite's own
    calibrate-and-quantize path, the one TFLiteConverter takes for EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16
    _WEIGHTS_INT8 (the MLIR quantizer the int8 kinds use does not take int16 activations)."""
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator
    from tqdm import tqdm

    def photos():
        for i in tqdm(range(len(images)), desc="tflite 16x8 calibration", unit="photo", disable=not progress,
                      file=sys.stderr, dynamic_ncols=True):
            yield [images[i : i + 1].astype(np.float32)]

    base = calibrator.add_intermediate_tensors(float_model)
    return calibrator.Calibrator(base).calibrate_and_quantize(photos, tf.float32, tf.float32, False, tf.int16,
                                                               tf.int64)


def dynamic_range(saved_model: Path) -> bytes:
    """INT8 weights with float activations (TFLiteConverter's default optimization without photos)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()
