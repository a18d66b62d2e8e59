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

This module runs the two steps itself (``tensorflow.lite.python.optimize.calibrator`` and
``convert.mlir_quantize``, the same functions the converter calls; tensorflow-cpu is pinned in pyproject
because they are not public API) and edits the logged ranges in between through TFLite's flatbuffer schema.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATIONS: dict[str, str] = {
    "mean-minmax": "activation maps: mean of the per-photo min/max; statistics and image tensors: overall min/max",
    "minmax": "overall min/max of every tensor over all photos (TFLiteConverter's own calibration)",
}
IO_TYPES = ("int8", "float32")


@dataclass
class TensorRange:
    shape: tuple[int, ...]
    per_image: np.ndarray  # photos x 2 (min, max); per-axis ranges are not produced for activations
    is_map: bool

    def chosen(self, method: str) -> tuple[float, float]:
        if method == "mean-minmax" and self.is_map:
            return float(self.per_image[:, 0].mean()), float(self.per_image[:, 1].mean())
        return float(self.per_image[:, 0].min()), float(self.per_image[:, 1].max())


def is_activation_map(shape: Sequence[int]) -> bool:
    """An NHWC feature map (height and width > 1, more than the 3 image channels), not a reduced statistic."""
    return len(shape) == 4 and shape[1] > 1 and shape[2] > 1 and shape[3] > 3


def _logged_ranges(calibrated: bytes) -> dict[int, tuple[float, float]]:
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
        logs = []
        for i in tqdm(range(len(images)), desc="tflite calibration", unit="photo", disable=not progress,
                      file=sys.stderr, dynamic_ncols=True):
            one = images[i : i + 1].astype(np.float32)
            self.template = calibrator.Calibrator(base).calibrate(lambda one=one: iter([[one]]))
            logs.append(_logged_ranges(self.template))
        graph = schema.Model.GetRootAsModel(self.template, 0).Subgraphs(0)
        self.tensors: dict[int, TensorRange] = {}
        for index in logs[0]:
            t = graph.Tensors(index)
            shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            per_image = np.array([log[index] for log in logs], dtype=np.float64)
            self.tensors[index] = TensorRange(shape, per_image, is_activation_map(shape))

    def calibrated_model(self, method: str) -> bytes:
        """The calibrated float model with the ranges of ``method`` (input to the quantizer)."""
        import flatbuffers
        from tensorflow.lite.python import schema_py_generated as schema

        if method not in CALIBRATIONS:
            raise ValueError(f"calibration {method!r}: choose one of {', '.join(CALIBRATIONS)}")
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(self.template, 0))
        tensors = model.subgraphs[0].tensors
        for index, rng in self.tensors.items():
            lo, hi = rng.chosen(method)
            tensors[index].quantization.min, tensors[index].quantization.max = [lo], [hi]
        builder = flatbuffers.Builder(len(self.template) + 1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    def quantize(self, method: str, io: str = "int8", float_ops: Sequence[str] = ()) -> bytes:
        """An integer model (weights per channel) with int8 or float32 input and output; every op int8 except
        the op types in ``float_ops`` (TFLite builtin names, e.g. MEAN), which stay float between
        dequantize/quantize pairs."""
        import tensorflow as tf
        from tensorflow.lite.python import convert

        if io not in IO_TYPES:
            raise ValueError(f"io {io!r}: choose one of {', '.join(IO_TYPES)}")
        dtype = tf.int8 if io == "int8" else tf.float32
        # as TFLiteConverter calls it: the input/output types decide the model's edges
        return convert.mlir_quantize(self.calibrated_model(method), input_data_type=dtype, output_data_type=dtype,
                                     denylisted_ops=list(float_ops) or None)


# Op types kept float by --target-psnr, one rung at a time, in the order of measured gain on the default model at
# 256 (15 unseen pictures, full-integer, mean-minmax): none 28.4 dB, the norms' statistics 29.0, the whole
# normalization 30.9, plus the residual adds 32.1. Each rung costs speed (float ops and Q/DQ pairs around them).
FALLBACK_LADDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("none", ()),
    ("norm statistics", ("MEAN", "RSQRT")),
    ("normalization", ("MEAN", "SUB", "MUL", "RSQRT")),
    ("normalization and residual adds", ("MEAN", "SUB", "MUL", "RSQRT", "ADD")),
)


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
