"""INT8 quantization of an exported generator: Q/DQ ONNX for ONNX Runtime and TensorRT, a TensorRT
calibration cache, per-tensor ranges, and mixed precision to hold fidelity.

Placement follows TensorRT's explicit-quantization rules: symmetric int8 (zero point 0), per-channel weight
scales on axis 0, per-tensor activation scales, Q/DQ only on Conv inputs (activations and weights), a
dedicated Q/DQ pair per consumer, biases kept in float. ONNX Runtime's QDQ quantizer places the nodes; the
ranges are ours (``calibration.py``), from the calibration side of the photos' split (``photos.calibration_split``);
settings left unset are chosen on its validation side (``choose.py``). Mixed precision: each Conv is quantized
alone to measure its sensitivity (output PSNR vs FP32 on calibration photos); the most sensitive stay float until
the target PSNR is met, with a margin, on the validation photos.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from tqdm import tqdm

from animegan_deploy.atomic import atomic_path, atomic_write_json, atomic_write_text
from animegan_deploy.backends.onnxruntime_backend import OnnxRuntimeRunner
from animegan_deploy.benchmarks.fidelity import Fidelity, compare, photo_inputs
from animegan_deploy.configs import at_least, option
from animegan_deploy.digest import file_sha256
from animegan_deploy.errors import UserError
from animegan_deploy.memo import Memo, content_key
from animegan_deploy.sidecar import write_sidecar

from .bias_correction import settle_biases
from .calibration import METHODS, Calibration, Method, Range, collect_statistics, range_bounds
from .centered_inputs import center_conv_inputs, centers_in
from .per_picture_ranges import per_picture_convs, per_picture_inputs, settle_offsets
from .choose import SEARCHES
from .photos import TARGET_MARGIN_DB
from .prefix_search import FidelityTarget, smallest_measured_prefix
from .trt_cache import write_cache

TRT_EXTRA_OPTIONS = {
    "ActivationSymmetric": True,
    "WeightSymmetric": True,
    "DedicatedQDQPair": True,  # TensorRT cannot share a Q/DQ pair between consumers
    "QuantizeBias": False,  # TensorRT keeps biases in float
    "OpTypesToExcludeOutputQuantization": ["Conv"],  # TensorRT: no Q/DQ on weighted ops' outputs
}


@dataclass(frozen=True)
class Placement:
    """Where Q/DQ pairs go and in which integer type: one entry per runtime the file is made for."""

    op_types: tuple[str, ...]  # ops whose inputs (and, unless excluded, outputs) are quantized
    activation_type: str  # onnxruntime.quantization.QuantType member name
    extra_options: dict
    description: str
    # calibration methods tried (choose.py). minmax, the widest, clips nothing: a flat picture's whole-map
    # normalizations blow its sparse edges up past any clipped range (the moon: default model 23.96 dB with the
    # entropy ranges chosen before minmax was tried, 29.25 with minmax; init model 21.44 -> 31.34), while on models
    # with rare huge trunk activations it costs resolution (duotone: mean 38.87 -> 36.89): measured per model
    methods: tuple[str, ...] = ("percentile", "mean-minmax", "entropy", "minmax")
    two_digit_tail: float | None = None  # conv inputs as two int8 digits, the second this much wider (two_digit.py)
    per_picture: bool = False  # conv inputs scaled to each picture's own range before a constant-scale Q/DQ
    # PSNR (dB vs FP32, on the validation photos, plus TARGET_MARGIN_DB) that the file keeps its most sensitive convs
    # float to meet, unless --target-psnr says otherwise; None: every conv int8
    target_psnr: float | None = None
    # the same for the worst validation photo, unless --target-worst-psnr says otherwise; None: no such aim
    target_worst_psnr: float | None = None

    @property
    def method(self) -> str:
        """The calibration method when none is chosen by measurement (--no-choose) or given."""
        return self.methods[0]

    def quantized_tensors(self, model: onnx.ModelProto) -> list[str] | None:
        """The tensors this placement puts Q/DQ on, whose ranges calibration must measure: the convs' inputs (and
        outputs, unless excluded) where only convs are quantized; None (every tensor) otherwise."""
        if self.op_types != ("Conv",):
            return None
        if "Conv" not in self.extra_options.get("OpTypesToExcludeOutputQuantization", ()):
            return conv_tensors(model)
        return sorted({c.activation for c in conv_nodes(model)})

    @property
    def symmetric(self) -> bool:
        """Zero-point-free int8 activations: where centering a lopsided conv input pays (centered_inputs.py).
        Per-picture ranges center each picture on its own midpoint instead."""
        return self.activation_type == "QInt8" and not self.per_picture

    @property
    def float_bias(self) -> bool:
        """Conv biases stay float (TensorRT's rule), so bias correction can move them; ONNX Runtime's placements
        quantize them to int32 inside QLinearConv."""
        return self.extra_options.get("QuantizeBias", True) is False


PLACEMENTS: dict[str, Placement] = {
    # TensorRT's explicit quantization: Q/DQ on Conv inputs only, symmetric int8, biases float
    # Its target keeps 40 dB on models whose all-int8 file falls short (zoo: duotone 38.03 -> 41.70 dB with 7 of 25
    # convs float, shinkai_seed3 39.30 -> 42.19 with 5); validation figures run below the evaluation pictures', so
    # hinge_seed1 and paprika_seed2 keep a few float too (reports/zoo/default-files)
    "tensorrt": Placement(("Conv",), "QInt8", TRT_EXTRA_OPTIONS,
                          "Q/DQ on Conv inputs only, symmetric int8 (TensorRT builds it strongly typed)",
                          target_psnr=40.0),
    # TensorRT's placement with each conv input carried as two int8 digits (compress/two_digit.py): outliers past
    # the calibrated range (a dark, flat photo's normalized edges) are not clipped, at twice the int8 conv work.
    # Default model, 15 unseen pictures, equalized, mean-minmax: 37.38 dB (worst 22.83) -> 40.59 (33.09); with
    # percentile ranges 35.86 (25.99) -> 36.33 (28.48). Centered and bias-corrected: 37.74 (23.05) -> 42.06 (34.61).
    "tensorrt-two-digit": Placement(("Conv",), "QInt8", TRT_EXTRA_OPTIONS,
                                    "Q/DQ on Conv inputs, each as two symmetric int8 digits (the calibrated range "
                                    "plus a 2x wider tail; every conv runs twice)", methods=("mean-minmax", "percentile"),
                                    two_digit_tail=2.0),
    # TensorRT's placement with each conv input (but the image's) divided by its picture's own range first
    # (compress/per_picture_ranges.py): constant Q/DQ scales, as TensorRT wants, and a flat photo's normalized edges
    # not clipped; the only range calibrated is the image input's. The zoo, 15 unseen pictures, chosen settings,
    # every conv int8 (reports/zoo/per-picture): mean 42.08-49.88 dB, worst picture 32.38-47.42 (35 or more on six
    # of seven; static: 26.8-32.1 on all seven). Its worst target (35 on the validation photos, +0.5) keeps 0-7
    # convs float and brings the seventh (duotone) to 45.47 (37.66)
    "tensorrt-per-picture": Placement(("Conv",), "QInt8", TRT_EXTRA_OPTIONS,
                                      "Q/DQ on Conv inputs, symmetric int8 with constant scales, each input first "
                                      "scaled to its picture's own min..max (two reductions and a rescale per conv)",
                                      methods=("minmax",), per_picture=True, target_psnr=40.0, target_worst_psnr=35.0),
    # ONNX Runtime's CPU kernels: every op with an integer kernel gets Q/DQ on its inputs and output, so
    # Conv (+ its bias) becomes QLinearConv and the activation/add/resize between convs stay in uint8. This is
    # where INT8 pays on a CPU, and only for graphs without a float normalization between convs (students).
    "onnxruntime": Placement(("Conv", "LeakyRelu", "Add", "Resize", "Pad", "Tanh"), "QUInt8",
                             {"WeightSymmetric": True, "ActivationSymmetric": False},
                             "Q/DQ around every op with an ORT integer kernel, uint8 activations (QLinearConv chains)",
                             methods=("percentile", "mean-minmax", "minmax")),
    # ONNX Runtime's CPU kernels for a generator that normalizes after every conv: Q/DQ on each Conv's input and
    # output only, so ORT fuses DQ -> Conv -> Q into one QLinearConv (uint8 x int8, its fastest kernel) while the
    # normalizations, activations and everything between convs stay float. Asymmetric uint8 ranges from the mean
    # per-photo extremes: conv outputs ahead of a normalization are lopsided (e.g. -14.6..5.3), so a symmetric
    # range wastes half the levels (default model: percentile +-amax 29.0 dB, mean-minmax 31.3 dB).
    # Its target (36 dB on the validation photos) promises 35 on pictures nobody tuned on: the default model meets it
    # with every conv int8 (39.71 dB, 1.81x ORT FP32 on a VNNI CPU, reports/int8/minmax).
    "onnxruntime-conv": Placement(("Conv",), "QUInt8", {"WeightSymmetric": True, "ActivationSymmetric": False},
                                  "Q/DQ on each Conv's input and output, uint8 activations (one QLinearConv per "
                                  "conv, everything between convs float)",
                                  methods=("mean-minmax", "percentile", "minmax"), target_psnr=36.0),
}


PLACEMENT_NAMES = tuple(PLACEMENTS)


def chosen_per_model(help: str) -> Any:
    """An on/off INT8 setting left unset (None) by default, which the choice (compress/choose.py) then measures per
    model; --no-choose turns it on."""
    return option(None, f"{help} (default: chosen per model; on with --no-choose)")


@dataclass
class QuantizeConfig:
    # percentile by default: on this generator the KL (entropy) method clips the sparse large activations of the
    # residual trunk to a few percent of their range (e.g. 66 -> 4), which image-to-image outputs feel (~26 dB).
    method: Method | None = option(
        None, "activation range calibration method (default: chosen per model among the placement's methods on the "
        "validation photos; with --no-choose the placement's first: percentile for tensorrt, mean-minmax for "
        "onnxruntime-conv and tensorrt-two-digit; tensorrt-per-picture calibrates the image input only)")
    placement: Literal[PLACEMENT_NAMES] = option(
        "tensorrt-per-picture", "Q/DQ placement: tensorrt (Conv inputs only, symmetric; builds in TensorRT), "
        "tensorrt-two-digit (the same with each conv input as two int8 digits: outliers kept, twice the conv work), "
        "tensorrt-per-picture (the same with each conv input scaled to its picture's own range before constant-scale "
        "Q/DQ: flat photos kept, two reductions per conv), onnxruntime (every op with an integer kernel: fastest on "
        "ORT's CPU provider for a folded student) or onnxruntime-conv (each conv's input and output: one QLinearConv "
        "per conv, the normalizations float; ORT's CPU INT8 file for the original architecture)")
    percentile: float = option(99.99, "percentile for --method percentile")
    center: bool | None = chosen_per_model(
        "symmetric placements (tensorrt*): shift each lopsided conv input by its range's midpoint, the conv's bias "
        "taking the shift (exact in float), so symmetric int8 covers the range the tensor has")
    bias_correction: bool | None = chosen_per_model(
        "tensorrt placements (float biases): correct each int8 conv's bias for the mean shift of its rounded weights, "
        "from the calibration photos' per-channel input means (Nagel et al. 2019)")
    calib_dir: str | None = option(None, "calibration photos, split into calibration and validation (every third "
                                   "source photo; name__variant.png files of one source stay together) (default: the "
                                   "bundled calibration set: training photos, crops and colour-shifted copies)")
    calib_count: int = option(32, "at most this many calibration photos (the validation photos come on top)")
    equalize: bool | None = chosen_per_model(
        "equalize activation channels before quantizing (exact in float: +6 dB on the embedded default, -7.7 dB on a "
        "real checkpoint); applies where the FP32 graph is made from a checkpoint (export onnx-int8, the pipeline), "
        "not to an ONNX file given to quantize")
    choose: bool = option(True, "choose each setting left unset (equalize, center, bias correction, method) by the "
                          "INT8 file's PSNR on the validation photos; --no-choose takes the placement's defaults")
    choose_search: Literal[SEARCHES] = option(
        SEARCHES[0], "how settings are chosen: per-graph (on the equalized and the plain FP32 graph, one change at a "
        "time from the defaults while it gains; about half the combinations), greedy (one change at a time, "
        "equalization included; about a quarter) or grid (every combination)")
    size: int = option(256, "longest side of calibration and evaluation photos (as inference)")
    eval_dir: str | None = option(None, "held-out photos for PSNR/SSIM vs FP32 (default: the 15 unseen pictures)")
    target_psnr: float | None = option(None, "keep the most sensitive convs in float until this PSNR (dB) vs FP32 "
                                       "is met, with a margin, on the validation photos (never --eval-dir); 0 keeps "
                                       "every conv int8 (default: the placement's: " + ", ".join(
                                           f"{name} {rule.target_psnr:g}" for name, rule in PLACEMENTS.items()
                                           if rule.target_psnr) + ", none for the others)")
    target_worst_psnr: float | None = option(None, "keep sensitive convs float also until the worst validation "
                                             "photo's PSNR (dB) vs FP32 reaches this, with the margin; the convs are "
                                             "then ranked by what each costs the worst validation photo; 0: no aim "
                                             "(default: the placement's: tensorrt-per-picture 35, none for the others: "
                                             "the static tensorrt file needs 7-15 of 25 convs float for 32 dB)")
    range_headroom: float = option(1.0, "static placements: widen every quantized activation range (not the image "
                                   "input's) by this factor around its midpoint: coarser steps, fewer clipped "
                                   "outliers (opt-in: a flat photo's normalized edges reach 2-3x the calibrated "
                                   "maximum; default model, 1.5: "
                                   "worst unseen picture 29.25 -> 38.73 dB, mean 46.13 -> 43.73; reports/zoo/"
                                   "range-headroom)")
    sensitivity_size: int = option(128, "longest side used for the per-layer sensitivity pass")
    cache_all_tensors: bool = option(True, "calibrate every float tensor (complete TensorRT cache), not only Conv inputs")
    trt_version: str = option("8.6.1", "TensorRT version written in the calibration cache header")
    threads: int | None = option(None, "ONNX Runtime CPU threads")

    @property
    def rule(self) -> Placement:
        """The placement's rules (what it quantizes, its scale rule, its calibration methods)."""
        return PLACEMENTS[self.placement]

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise UserError(f"--placement {self.placement}: use one of {', '.join(PLACEMENTS)}")
        if self.method is not None and self.method not in METHODS:
            raise UserError(f"--method {self.method}: use one of {', '.join(METHODS)}")
        if not 0 < self.percentile <= 100:
            raise UserError(f"--percentile {self.percentile}: must be in (0, 100]")
        for flag, value in (("--target-psnr", self.target_psnr), ("--target-worst-psnr", self.target_worst_psnr)):
            if value is not None and not 0 <= value < 100:
                raise UserError(f"{flag} {value}: must be in [0, 100) dB (0: no aim)")
        if not 1.0 <= self.range_headroom <= 16.0:
            raise UserError(f"--range-headroom {self.range_headroom}: must be in [1, 16] (1: the calibrated ranges)")
        if self.range_headroom != 1.0 and self.rule.per_picture:
            raise UserError(f"--range-headroom {self.range_headroom}: --placement {self.placement} scales each conv "
                            "input to its picture's own range, so there is no calibrated range to widen; drop the flag "
                            "or use a static placement (tensorrt)")
        at_least(self, ("calib_count",))

    @property
    def target(self) -> FidelityTarget | None:
        """What this file keeps sensitive convs float for on the validation photos: --target-psnr (else the
        placement's) for the mean, --target-worst-psnr (else the placement's) for the worst photo; None: every conv
        int8."""
        mean = self.rule.target_psnr if self.target_psnr is None else self.target_psnr
        worst = self.rule.target_worst_psnr if self.target_worst_psnr is None else self.target_worst_psnr
        target = FidelityTarget(mean or 0.0, worst or 0.0)
        return target if target.wanted else None


@dataclass
class ConvNode:
    name: str  # ONNX node name
    weight: str  # its weight initializer, e.g. block_e.0.1.weight: readable layer name
    activation: str  # its activation input tensor


def conv_nodes(model: onnx.ModelProto) -> list[ConvNode]:
    initializers = {i.name for i in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            weight = node.input[1]
            if weight not in initializers:
                raise UserError(f"Conv {node.name}: weight {weight} is not a constant; export with constant folding")
            nodes.append(ConvNode(node.name, weight, node.input[0]))
    return nodes


def conv_tensors(model: onnx.ModelProto) -> list[str]:
    """Every Conv's activation input and output: what any placement that quantizes convs only may need."""
    return sorted({c.activation for c in conv_nodes(model)} |
                  {n.output[0] for n in model.graph.node if n.op_type == "Conv"})


def ensure_node_names(model: onnx.ModelProto) -> onnx.ModelProto:
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    return model


def build_qdq(model: onnx.ModelProto, ranges: dict[str, Range], exclude: list[str] = (),
              per_channel: bool = True, placement: str = "tensorrt", center: bool = True,
              input_means: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    """Insert Q/DQ pairs where ``placement`` puts them, with the given activation ranges: amax (+-amax) or
    (low, high). ``center``: in a symmetric placement, quantized convs read lopsided inputs shifted by their
    midpoint (centered_inputs.py). ``input_means`` (conv node name -> its input's per-channel mean): where the
    placement keeps biases float, correct those convs' biases for the mean shift of their rounded weights
    (bias_correction.py)."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer

    rule = PLACEMENTS[placement]
    centers: dict[str, float] = {}
    if center and rule.symmetric:
        model, ranges, centers = center_conv_inputs(model, ranges, exclude)  # excluded convs stay as they are
    centered = model
    input_means = input_means if rule.float_bias else None
    per_picture: list[str] = []
    if rule.per_picture:
        model, ranges, per_picture = per_picture_inputs(model, ranges, exclude, image_tensors(model))
    if rule.two_digit_tail:
        from .two_digit import two_digit_inputs

        model, ranges = two_digit_inputs(model, ranges, rule.two_digit_tail, exclude)  # excluded convs stay float
    ranges = TensorsData(
        CalibrationMethod.MinMax,
        {name: TensorData(lowest=np.array(lo, dtype=np.float32), highest=np.array(hi, dtype=np.float32))
         for name, (lo, hi) in ((n, range_bounds(r)) for n, r in ranges.items())},
    )
    quantizer = QDQQuantizer(
        onnx.ModelProto.FromString(model.SerializeToString()),
        per_channel, False, QuantType.QInt8, QuantType[rule.activation_type], ranges, None, list(exclude),
        list(rule.op_types), dict(rule.extra_options),
    )
    quantized = quantizer.quantize_model()
    quantized = quantized if isinstance(quantized, onnx.ModelProto) else quantized.model
    if per_picture:
        settle_offsets(quantized, centered, per_picture, input_means)
        input_means = {k: v for k, v in (input_means or {}).items() if k not in per_picture}
    return settle_biases(quantized, centered, centers, input_means) if centers or input_means else quantized


def session_fn(model: onnx.ModelProto, threads: int | None = None) -> OnnxRuntimeRunner:
    """Run an in-memory ONNX model on ORT's CPU provider (NCHW in, NCHW out)."""
    return OnnxRuntimeRunner(model.SerializeToString(), threads=threads)


@dataclass
class Sensitivity:
    layer: str  # weight name
    node: str
    psnr_db: float  # output PSNR vs FP32 with only this conv quantized
    psnr_min_db: float = float("nan")  # the same on the worst photo


def layer_sensitivity(model: onnx.ModelProto, ranges: dict, inputs, threads: int | None = None,
                      progress: bool = True, placement: str = "tensorrt", center: bool = True,
                      input_means: dict[str, np.ndarray] | None = None, by_worst: bool = False) -> list[Sensitivity]:
    """Quantize one Conv at a time; most sensitive (lowest PSNR, or lowest worst-photo PSNR with ``by_worst``)
    first."""
    reference = session_fn(model, threads)
    convs = conv_nodes(model)
    rows = []
    for conv in tqdm(convs, desc="sensitivity", unit="layer", disable=not progress, file=sys.stderr):
        others = [c.name for c in convs if c.name != conv.name]
        single = build_qdq(model, ranges, exclude=others, placement=placement, center=center, input_means=input_means)
        fid = compare(reference, session_fn(single, threads), inputs)
        rows.append(Sensitivity(conv.weight, conv.name, fid.psnr, fid.psnr_min))
    return sorted(rows, key=lambda r: r.psnr_min_db if by_worst else r.psnr_db)


@dataclass
class QuantizeResult:
    path: Path
    fidelity: Fidelity
    float_layers: list[str]
    report: dict

    def summary(self) -> list[str]:
        r = self.report
        return [
            f"calibration: {r['calibration_images']} photos, {r['method']}, {r['calibration_seconds']} s",
            f"INT8 vs FP32 on {len(self.fidelity.per_image)} held-out photos: PSNR {self.fidelity.psnr:.2f} dB (worst "
            f"{self.fidelity.psnr_min:.2f}), SSIM {self.fidelity.ssim:.4f}; "
            f"{len(self.float_layers)} conv(s) kept in float",
            f"wrote {self.path}, {r['calibration_cache']}, {r['ranges']} and the report",
        ]


def mixed_precision(model: onnx.ModelProto, ranges: dict,
                    ranking: Sequence[Sensitivity] | Callable[[], Sequence[Sensitivity]],
                    target: float | FidelityTarget, inputs, threads: int | None = None, reference=None,
                    placement: str = "tensorrt", center: bool = True,
                    input_means: dict[str, np.ndarray] | None = None,
                    all_int8: Fidelity | None = None, margin: float = 0.0) -> tuple[list[str], Fidelity]:
    """Smallest prefix of the sensitivity ranking that, kept in float, meets ``target`` (a mean PSNR, or mean and
    worst-photo PSNR) with ``margin`` dB to spare on ``inputs`` against ``reference`` (default: the float ONNX
    model): all INT8 first, then a bisection over the ranking.
    ``ranking`` may be a function that ranks the layers, called only when all INT8 misses the target (the
    sensitivity pass builds one file per conv); ``all_int8``, the all-INT8 file's fidelity on ``inputs`` where it was
    measured already (while choosing the settings). Returns the float layers and the fidelity measured for them (the
    file need not be run again)."""
    reference = reference or session_fn(model, threads)
    goal = target if isinstance(target, FidelityTarget) else FidelityTarget(target)

    def fidelity_with(exclude: list[str]) -> Fidelity:
        candidate = build_qdq(model, ranges, exclude=exclude, placement=placement, center=center,
                              input_means=input_means)
        return compare(reference, session_fn(candidate, threads), inputs)

    all_int8 = all_int8 or fidelity_with([])
    if goal.met_by(all_int8, margin):  # the common case: all INT8 already meets it
        return [], all_int8
    ranked = ranking() if callable(ranking) else ranking
    k, fidelity = smallest_measured_prefix(ranked, lambda k: fidelity_with([r.node for r in ranked[:k]]),
                                           lambda f: goal.met_by(f, margin))
    return [r.node for r in ranked[:k]], fidelity


def conv_bounds(model: onnx.ModelProto, calibration: Calibration, placement: str, method: str,
                percentile: float, headroom: float = 1.0) -> dict[str, tuple[float, float]]:
    """(low, high) of every tensor the placement quantizes: the conv inputs, or every tensor; each but the image
    input's widened ``headroom`` times around its midpoint (QuantizeConfig.range_headroom)."""
    names = PLACEMENTS[placement].quantized_tensors(model)
    bounds = calibration.bounds(method, percentile, names)
    if headroom == 1.0:
        return bounds
    image = image_tensors(model)  # their range is the preprocessing's, [-1, 1]: nothing lies beyond it
    return {name: (low, high) if name in image else ((low + high) / 2 - headroom * (high - low) / 2,
                                                     (low + high) / 2 + headroom * (high - low) / 2)
            for name, (low, high) in bounds.items()}


def image_tensors(model: onnx.ModelProto) -> set[str]:
    """The graph input and the tensors that only pad it (the first conv reads the reflect-padded image)."""
    image = {model.graph.input[0].name}
    for node in model.graph.node:
        if node.op_type in ("Pad", "Identity") and node.input[0] in image:
            image.add(node.output[0])
    return image


def conv_input_means(model: onnx.ModelProto, calibration: Calibration) -> dict[str, np.ndarray]:
    """Conv node name -> its input's per-channel mean over the calibration photos (bias correction)."""
    return {c.name: calibration.stats[c.activation].channel_mean for c in conv_nodes(model)
            if c.activation in calibration.stats and calibration.stats[c.activation].channel_mean is not None}


def calibrate(source: str | Path, model: onnx.ModelProto, config: QuantizeConfig, images, progress: bool = True
              ) -> Calibration:
    """Statistics of ``source`` over ``images`` ((name, NCHW) pairs): every tensor where the placement or the
    complete TensorRT cache needs it, else the conv inputs."""
    quantized = None if config.cache_all_tensors else config.rule.quantized_tensors(model)
    tensors = None if quantized is None else [model.graph.input[0].name] + quantized
    key = content_key("calibration", file_sha256(source), [x for _, x in images])
    known = _STATISTICS.get(key)
    if known is not None and known.covers(tensors):  # what a run in this process already measured
        return known.calibration if tensors is None else known.calibration.restricted(tensors)
    # a partial pass this process made is widened, not replaced: the next placement may need its tensors again. Each
    # tensor's statistics depend on its own values only (no graph optimization in the pass), so only the tensors
    # not yet measured are measured and joined to the known ones: the same numbers as one pass over all of them
    # A partial pass measures every conv's input and output, the union of what the conv-only placements quantize: a
    # tensor more costs its histogram, a second pass over the photos costs the whole graph again (the default model's
    # gate: the QLinearConv file's placement wanted the conv outputs the TensorRT file's pass had left, 37 s at 256)
    wanted = None if tensors is None else sorted(set(tensors) | set(conv_tensors(model)))
    missing = None if wanted is None else [t for t in wanted if known is None or t not in known.calibration.stats]
    calibration = collect_statistics(source, (x for _, x in images), missing, config.threads, progress,
                                     total=len(images))
    if known is not None and missing is not None:
        calibration = Calibration({**known.calibration.stats, **calibration.stats}, calibration.images,
                                  known.calibration.seconds + calibration.seconds)
    _STATISTICS.put(key, Measured(calibration, complete=missing is None))
    return calibration if tensors is None else calibration.restricted(tensors)


@dataclass(frozen=True)
class Measured:
    calibration: Calibration
    complete: bool  # every float tensor, not only those a placement quantizes

    def covers(self, tensors: list[str] | None) -> bool:
        return self.complete or (tensors is not None and set(tensors) <= set(self.calibration.stats))


# the statistics of one graph over one photo set, measured once per process (a benchmark's or a gate's several INT8
# files of one model; the equalized and plain graphs while choosing); keyed by the graph's and the photos' bytes
_STATISTICS: Memo[Measured] = Memo(limit=8)


def qdq_builder(config: QuantizeConfig, exclude: list[str] = ()):
    """(FP32 graph, calibration, choose.Settings) -> the Q/DQ graph those settings give."""
    def build(model: onnx.ModelProto, calibration: Calibration, settings) -> onnx.ModelProto:
        bounds = conv_bounds(model, calibration, config.placement, settings.method, config.percentile,
                             config.range_headroom)
        means = conv_input_means(model, calibration) if settings.bias_correction else None
        return build_qdq(model, bounds, exclude=exclude, placement=config.placement, center=settings.center,
                         input_means=means)

    return build


def quantize_onnx(source: str | Path, config: QuantizeConfig, output: str | Path, reference=None,
                  progress: bool = True, calibration: Calibration | None = None,
                  provenance: str | Path | None = None, choice=None,
                  sidecar_config: QuantizeConfig | None = None) -> QuantizeResult:
    """Calibrate ``source`` (an FP32 ONNX), write the Q/DQ ONNX, TensorRT cache, ranges JSON and report.

    ``reference`` (NCHW -> NCHW callable) is what fidelity is measured against: the FP32 torch model when
    the caller has it, else the FP32 ONNX itself. Settings left unset in ``config`` are chosen on the validation
    photos (choose.py) unless ``choice`` (made by the caller, e.g. over equalized and plain graphs) says them.
    ``sidecar_config``: the settings as the user asked them (default ``config``), which the sidecar records.
    """
    from animegan_deploy.benchmarks.fidelity import eval_inputs, memoized
    from animegan_deploy.onnx_checks import load_generator_onnx

    from .choose import choose_settings, defaults_of, needs_choice
    from .photos import calibration_split, default_eval_photos

    source, output = Path(source), Path(output)
    model = ensure_node_names(load_generator_onnx(source))
    split = calibration_split(config.calib_dir, config.calib_count)
    eval_dir = Path(config.eval_dir) if config.eval_dir else default_eval_photos()
    calib_images = eval_inputs(split.calibration, config.size)
    validation = eval_inputs(split.validation, config.size)
    convs = conv_nodes(model)
    if calibration is None:
        calibration = calibrate(source, model, config, calib_images, progress)
    reference = memoized(reference or session_fn(model, config.threads))
    runner = lambda m: session_fn(m, config.threads)  # noqa: E731
    if choice is None and validation and needs_choice(config, can_equalize=False):
        choice = choose_settings({bool(config.equalize): (model, calibration)}, config, validation, reference,
                                 qdq_builder(config), runner, progress, search=config.choose_search)
    settings = choice.chosen if choice is not None else defaults_of(config, can_equalize=False)
    asked = sidecar_config or config  # what the sidecar keeps: a benchmark reuses the file when asked the same
    config = dataclasses.replace(config, **{k: v for k, v in dataclasses.asdict(settings).items() if k != "equalize"})
    started = time.perf_counter()
    bounds = conv_bounds(model, calibration, config.placement, config.method, config.percentile,
                         config.range_headroom)
    others = [n for n in calibration.stats if n not in bounds]  # the rest of a complete TensorRT cache
    amax_all = {name: max(-low, high) for name, (low, high) in
                {**bounds, **calibration.bounds(config.method, config.percentile, others)}.items()}
    means = conv_input_means(model, calibration) if config.bias_correction else None
    eval_set = photo_inputs(eval_dir, config.size, argument="--eval-dir")
    exclude: list[str] = []
    sensitivity: list[Sensitivity] = []
    target_photos = validation or calib_images
    target = config.target
    if target is not None:
        # rank layers cheaply (small size, calibration photos; a worst-photo aim: what each conv costs the worst
        # validation photo), only where all INT8 misses the target; then keep the smallest prefix in float that
        # meets the target with a margin on the validation photos, never on the evaluation photos it is reported on
        by_worst = bool(target.worst_psnr) and bool(validation)

        def rank() -> list[Sensitivity]:
            photos = split.validation if by_worst else split.calibration[:2]
            sens_inputs = eval_inputs(photos, config.sensitivity_size)
            sensitivity.extend(layer_sensitivity(model, bounds, sens_inputs, config.threads, progress,
                                                 config.placement, config.center, means, by_worst))
            return sensitivity

        # measured while choosing, where the tries had this file's ranges
        measured = choice.validation_fidelity(config.range_headroom) if choice is not None and validation else None
        exclude, _ = mixed_precision(model, bounds, rank, target, target_photos, config.threads,
                                     reference=reference, placement=config.placement, center=config.center,
                                     input_means=means, all_int8=measured, margin=TARGET_MARGIN_DB)
    qdq = build_qdq(model, bounds, exclude=exclude, placement=config.placement, center=config.center,
                    input_means=means)
    centers = centers_in(qdq)
    scaled_per_picture = per_picture_convs(qdq)
    fidelity = compare(reference, session_fn(qdq, config.threads), eval_set)
    with atomic_path(output) as tmp:
        onnx.save(qdq, str(tmp))
    stem = output.with_suffix("")
    cache_path = stem.with_name(stem.name + ".calib.cache")
    write_cache(cache_path, amax_all, config.method, config.trt_version)
    by_node = {c.name: c.weight for c in convs}
    float_layers = [by_node[n] for n in exclude]
    ranges_path = stem.with_name(stem.name + ".ranges.json")
    atomic_write_json(ranges_path, {
        "method": config.method,
        "percentile": config.percentile,
        "range_headroom": config.range_headroom,
        "placement": config.placement,
        "scale_rule": ("each conv input (but the image's and float convs') scaled per picture to [-1, 1] by its own "
                       "min and max, then symmetric int8 with scale 1 / 127; the ranges below: the image input's and "
                       "the float convs' inputs" if PLACEMENTS[config.placement].per_picture
                       else "symmetric int8, scale = amax / 127" if PLACEMENTS[config.placement].symmetric
                       else "asymmetric uint8 from (low, high), scale = (high - low) / 255"),
        "calibration_images": calibration.images,
        "centered_conv_inputs": centers,
        "tensors": {name: {"amax": amax_all.get(name, s.amax), "minmax": s.amax, "count": s.count,
                           **({"low": bounds[name][0], "high": bounds[name][1], "quantized": True} if name in bounds
                              else {"quantized": False})} for name, s in calibration.stats.items()},
    })
    chosen = choice.record() if choice is not None else {"chosen": dataclasses.asdict(settings),
                                                          "by": "defaults (--no-choose, or no validation photos)"}
    report = {
        "source": str(source),
        "output": str(output),
        "method": config.method,
        "placement": config.placement,
        "range_headroom": config.range_headroom,
        "settings": chosen,
        "split": split.record(),
        "calibration_images": calibration.images,
        "calibration_seconds": round(calibration.seconds, 2),
        "threshold_seconds": round(time.perf_counter() - started, 2),
        "eval_photos": [name for name, _ in eval_set],
        "fidelity_vs_fp32": fidelity.to_dict(),
        "quantized_convs": len(convs) - len(exclude),
        "centered_convs": len(centers),
        "per_picture_convs": scaled_per_picture,
        "bias_correction": bool(config.bias_correction and PLACEMENTS[config.placement].float_bias),
        "float_convs": float_layers,
        "target_psnr": (target.mean_psnr or None) if target else None,
        "target_worst_psnr": (target.worst_psnr or None) if target else None,
        "target_margin_db": TARGET_MARGIN_DB if target else None,
        "sensitivity": [vars(s) for s in sensitivity],
        "calibration_cache": str(cache_path),
        "ranges": str(ranges_path),
    }
    write_sidecar(output, "onnx-int8-qdq", source=provenance or source, config=asked, metrics={
        "fidelity_vs_fp32": fidelity.to_dict(), "float_convs": float_layers,
        "calibration_seconds": report["calibration_seconds"], "centered_convs": len(centers),
        "settings": chosen, "split": report["split"],
    }, extra={"precision": "int8", "backend": "onnxruntime"})
    atomic_write_json(stem.with_name(stem.name + ".quant-report.json"), report)
    atomic_write_text(stem.with_name(stem.name + ".quant-report.md"), quant_markdown(report))
    return QuantizeResult(output, fidelity, float_layers, report)


def quant_markdown(report: dict) -> str:
    fid = report["fidelity_vs_fp32"]
    lines = [
        f"# INT8 quantization: `{Path(report['output']).name}`",
        "",
        f"Method `{report['method']}`, placement `{report.get('placement', 'tensorrt')}` "
        f"({PLACEMENTS[report.get('placement', 'tensorrt')].description}), {report['calibration_images']} calibration photos "
        f"({report['calibration_seconds']} s for statistics, {report['threshold_seconds']} s for thresholds, "
        "Q/DQ build and evaluation).",
        f"{len(report['eval_photos'])} held-out photos ({', '.join(report['eval_photos'])}): PSNR "
        f"{fid['psnr_db']:.2f} dB, worst photo {fid['psnr_min_db']:.2f} dB, SSIM {fid['ssim']:.4f} vs FP32.",
        f"Convs quantized: {report['quantized_convs']}; kept in float: {len(report['float_convs'])}; inputs "
        f"centered (shifted by their range's midpoint into the bias): {report.get('centered_convs', 0)}; inputs "
        f"scaled to each picture's own range: {report.get('per_picture_convs', 0)}; biases "
        f"corrected for the rounded weights: {'yes' if report.get('bias_correction') else 'no'}"
        + (f"; activation ranges widened {report['range_headroom']:g}x around their midpoints."
           if report.get("range_headroom", 1.0) != 1.0 else "."),
    ]
    if report["sensitivity"]:
        kept = set(report["float_convs"])
        worst = f", worst photo {report['target_worst_psnr']} dB" if report.get("target_worst_psnr") else ""
        lines += ["", f"Sensitivity (target {report['target_psnr']} dB{worst}): output PSNR with only that conv in "
                  "INT8.", "", "| layer | PSNR alone (dB) | worst photo (dB) | kept float |",
                  "| --- | ---: | ---: | --- |"]
        lines += [f"| {s['layer']} | {s['psnr_db']:.2f} | {s.get('psnr_min_db', float('nan')):.2f} | "
                  f"{'yes' if s['layer'] in kept else ''} |" for s in report["sensitivity"]]
    return "\n".join(lines) + "\n"
