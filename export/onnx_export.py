"""Generator checkpoint -> ONNX: dynamic batch/height/width, simplified with onnxsim, validated against torch.

The validation step (as in HF optimum's exporters) runs the finished graph in ONNX Runtime at two input
sizes, one non-square, and compares with the torch model; the file is written (atomically) only when every
max-abs-diff is within tolerance.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
import onnx
import torch

from animegan_deploy.atomic import atomic_path
from animegan_deploy.configs import at_least, option
from animegan_deploy.digest import file_sha256
from animegan_deploy.errors import UserError
from animegan_deploy.memo import Memo, content_key
from animegan_deploy.sidecar import describe_source, write_sidecar
from animegan_deploy.models.checkpoints import LoadedGenerator, load_generator
from animegan_deploy.models.norms import set_export_form
from animegan_deploy.models.student import deploy_form

from . import traced_graphs
from .targets import targets

MIN_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"
# what every consumer of the file needs to feed it correctly; stored in the ONNX metadata_props
IO_CONTRACT = {
    "animegan.layout": "NCHW",
    "animegan.color": "RGB",
    "animegan.input_range": "[-1,1] = pixel/127.5 - 1",
    "animegan.output_range": "[-1,1] (tanh); pixel = (y + 1) * 127.5",
}


PRECISIONS = tuple(t.precision for t in targets("onnx"))  # the float ONNX files of export/targets.py's table


@dataclass
class OnnxExportConfig:
    opset: int = option(18, "ONNX opset version (17 or newer)")
    norm: Literal["explicit", "group"] = option(
        "explicit", "normalization form in the graph: explicit mean/variance (export-friendly) or GroupNorm"
    )
    affine: Literal["mul", "conv"] = option(
        "mul", "the explicit norm's per-channel scale/shift as Mul/Add, or as a depthwise 1x1 Conv "
        "(layout-unambiguous for onnx2tf)"
    )
    staged_mean: bool = option(False, "the explicit norm's mean over (C,H,W) as three single-axis means (TFLite's "
                               "int8 MEAN breaks on very large reductions)")
    dynamic: bool = option(True, "dynamic batch, height and width; --no-dynamic fixes them to --size")
    size: tuple[int, int] = option((256, 256), "input HxW traced (and fixed with --no-dynamic)", size=True)
    simplify: bool = option(True, "simplify the graph with onnxsim")
    fuse: bool = option(True, "let onnxsim's optimizer fuse ops (off keeps e.g. staged norm means apart; constant "
                        "folding still runs)")
    validate_sizes: tuple[tuple[int, int], ...] = option(
        ((256, 256), (192, 320)), "input sizes (HxW) the ORT-vs-torch check runs at", size=True
    )
    tolerance: float | None = option(None, "largest max-abs-diff allowed between ONNX Runtime and torch "
                                     "(default: 1e-4 for fp32, 2e-2 for fp16)")
    align_corners: bool | None = option(None, "override the checkpoint's bilinear upsampling mode")
    precision: Literal[PRECISIONS] = option("fp32", "fp16 stores weights and computes in half precision "
                                                "(inputs/outputs stay float32)")
    equalize: bool = option(False, "equalize activation channels into the next convs (exact in float; per-tensor "
                            "INT8 then resolves every channel: for a file that will be quantized)")
    equalize_photos: str | None = option(None, "photos whose activation ranges --equalize balances: the calibration "
                                         "side of their split, as INT8 calibration takes them (default: the bundled "
                                         "calibration set)", flag="calib-dir", aliases=("equalize-photos",))
    equalize_count: int = option(32, "at most this many --calib-dir photos (as INT8 calibration counts them)",
                                 flag="calib-count", aliases=("equalize-count",))

    def __post_init__(self) -> None:
        if self.opset < MIN_OPSET:
            raise UserError(f"--opset {self.opset}: opset {MIN_OPSET} or newer is required")
        for height, width in (tuple(self.size),) + tuple(tuple(v) for v in self.validate_sizes):
            if height < 16 or width < 16 or height % 4 or width % 4:
                raise UserError(f"--size/--validate-sizes {height}x{width}: each side must be a multiple of 4, at "
                                "least 16 (the generator halves the size twice)")
        at_least(self, ("equalize_count",))
        if self.tolerance is None:
            self.tolerance = 1e-4 if self.precision == "fp32" else 2e-2
        if not self.dynamic:
            self.validate_sizes = (tuple(self.size),)  # type: ignore[assignment]


@dataclass
class OnnxExportResult:
    path: Path
    sidecar: Path
    max_abs_diff: dict[str, float]
    seconds: float
    nodes: int

    def summary(self) -> list[str]:
        lines = [f"validate {size}: max |onnxruntime - torch| = {diff:.3e}" for size, diff in self.max_abs_diff.items()]
        return lines + [f"wrote {self.path} and {self.sidecar} ({self.seconds:.1f} s)"]


@contextlib.contextmanager
def quiet_loggers(*names: str) -> Iterator[None]:
    """Only errors from the named loggers ("" is the root logger) while inside; their levels restored after."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The dynamo exporter logs a warning per missing torchvision op; keep the user's terminal readable."""
    with quiet_loggers("torch.onnx", "torch.export", "torch._dynamo", "onnxscript"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding")  # TorchScript exporter, opset 17
        yield


# torch's dynamo exporter emits opset 18 or newer (asked for 17 it silently writes 18); opset 17 comes from the
# TorchScript exporter. Some converters need 17: onnx2tf maps Resize(align_corners) exactly only up to opset 17.
DYNAMO_MIN_OPSET = 18


def trace_to_onnx(model: torch.nn.Module, config: OnnxExportConfig) -> onnx.ModelProto:
    """Export ``model`` with torch.onnx (dynamo, or TorchScript below opset 18); returns the unsimplified model."""
    height, width = config.size
    example = torch.rand(1, 3, height, width) * 2 - 1
    with _quiet_exporter(), torch.no_grad():
        if config.opset < DYNAMO_MIN_OPSET:
            proto = _torchscript_export(model, example, config)
        else:
            proto = _dynamo_export(model, example, config)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset != config.opset:
        raise RuntimeError(f"torch.onnx wrote opset {opset}, not the requested {config.opset}")
    return proto


def _dynamo_export(model: torch.nn.Module, example: torch.Tensor, config: OnnxExportConfig) -> onnx.ModelProto:
    dynamic_shapes = None
    if config.dynamic:
        dynamic_shapes = {
            "x": {
                0: torch.export.Dim("batch", min=1, max=256),
                2: torch.export.Dim("height", min=8, max=8192),
                3: torch.export.Dim("width", min=8, max=8192),
            }
        }
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        opset_version=config.opset,
        dynamic_shapes=dynamic_shapes,
        verbose=False,
    )
    return program.model_proto


def _torchscript_export(model: torch.nn.Module, example: torch.Tensor, config: OnnxExportConfig) -> onnx.ModelProto:
    axes = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (example,),
        buffer,
        dynamo=False,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        opset_version=config.opset,
        dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes} if config.dynamic else None,
    )
    return onnx.load_from_string(buffer.getvalue())


def simplify(model: onnx.ModelProto, fuse: bool = True) -> onnx.ModelProto:
    import onnxsim

    simplified, ok = onnxsim.simplify(model, perform_optimization=fuse)
    if not ok:
        raise RuntimeError("onnxsim could not verify the simplified graph against the original")
    return constants_to_initializers(simplified)


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Move Constant nodes' tensors into graph initializers (onnx2tf, for one, crashes on Constant nodes)."""
    from onnx import numpy_helper

    keep = []
    for node in model.graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None)
        if node.op_type == "Constant" and value is not None and len(node.output) == 1:
            tensor = numpy_helper.from_array(numpy_helper.to_array(value.t), name=node.output[0])
            model.graph.initializer.append(tensor)
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def topologically_sorted(model: onnx.ModelProto) -> onnx.ModelProto:
    """Reorder nodes topologically (the fp16 converter appends the input Cast last, which onnx.checker rejects)."""
    from onnxscript import ir
    from onnxscript.ir.passes.common import TopologicalSortPass

    graph = ir.serde.deserialize_model(model)
    TopologicalSortPass()(graph)
    return ir.serde.serialize_model(graph)


def add_metadata(model: onnx.ModelProto, loaded: LoadedGenerator, config: OnnxExportConfig) -> None:
    source = describe_source(loaded.path) or {}
    props: dict[str, Any] = {
        **IO_CONTRACT,
        "animegan.normalization": "folded" if loaded.model.is_student else config.norm,
        "animegan.norm_affine": config.affine,
        "animegan.width": f"{loaded.info.width:g}",
        "animegan.channels": str(loaded.info.channels),
        "animegan.align_corners": str(loaded.model.align_corners).lower(),
        "animegan.style": loaded.info.style,
        "animegan.source_checkpoint": loaded.path.name,
        "animegan.source_sha256": source.get("sha256", ""),
        "animegan.dynamic": str(config.dynamic).lower(),
        "animegan.precision": config.precision,
    }
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    model.producer_name = "animegan-deploy"


def validate_against_torch(
    model_bytes: bytes, torch_model: torch.nn.Module, sizes: tuple[tuple[int, int], ...], seed: int = 0,
    label: str = "the model",
) -> dict[str, float]:
    """Max-abs-diff between ONNX Runtime and torch on random inputs at each HxW in ``sizes``."""
    import onnxruntime as ort

    from animegan_deploy.finite import check_finite_output

    from animegan_deploy.threads import ort_session_options

    session = ort.InferenceSession(model_bytes, ort_session_options(), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    diffs: dict[str, float] = {}
    for height, width in sizes:
        x = torch.rand(1, 3, height, width, generator=generator) * 2 - 1
        with torch.no_grad():
            expected = torch_model(x).numpy()
        actual = session.run(None, {INPUT_NAME: x.numpy()})[0]
        # nan > tolerance is False: a NaN output must fail here, not pass as "max diff = nan"
        check_finite_output(expected, f"{label} (torch, {height}x{width})")
        check_finite_output(actual, f"{label} exported to ONNX ({height}x{width})")
        diffs[f"{height}x{width}"] = float(np.abs(actual - expected).max())
    return diffs


def _equalization_photos(config: OnnxExportConfig) -> list[Path]:
    """The photos equalization takes its ranges from: the calibration side of ``--calib-dir``'s split (at most
    ``--calib-count``; default: the bundled calibration set), as INT8 calibration uses them; none without it."""
    if not config.equalize:
        return []
    from animegan_deploy.compress.photos import calibration_split

    return calibration_split(config.equalize_photos, config.equalize_count, argument="--calib-dir").calibration


def _equalize(model: torch.nn.Module, photos: list[Path]) -> dict[str, tuple[float, float]]:
    """compress.equalize on ``model`` in place, with ranges from ``photos`` at 256 px."""
    from animegan_deploy.benchmarks.fidelity import eval_inputs
    from animegan_deploy.compress.equalize import equalize_channels

    images = eval_inputs(photos, 256, square=True)
    return equalize_channels(model, (torch.from_numpy(x) for _, x in images))


@dataclass(frozen=True)
class Traced:
    """A checkpoint traced, simplified, checked and validated against torch: the bytes to write and the figures
    measured on the way."""

    data: bytes
    max_abs_diff: dict[str, float]
    nodes: int
    equalized: dict[str, tuple[float, float]] | None


# one process traces a checkpoint once per config (a benchmark's placements, equalized and plain graphs while
# choosing INT8 settings, a test session's gate): keyed by the checkpoint's and the equalization photos' bytes
_TRACED: Memo[Traced] = Memo(limit=6)


def _trace_key(checkpoint: Path, config: OnnxExportConfig, photos: list[Path]) -> str:
    # the file's name is in the graph's metadata (animegan.source_checkpoint)
    return content_key("onnx-trace", file_sha256(checkpoint), checkpoint.name, config,
                       [file_sha256(p) for p in photos])


def _finish(proto: onnx.ModelProto, model: torch.nn.Module, loaded: LoadedGenerator, config: OnnxExportConfig,
            label: str) -> tuple[bytes, dict[str, float], int]:
    """A traced graph simplified, converted to ``config.precision``, stamped and checked; its bytes, its max-abs-diff
    against ``model`` at each validation size, and its node count."""
    if config.simplify:
        proto = simplify(proto, fuse=config.fuse)
    if config.precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        proto = topologically_sorted(convert_float_to_float16(proto, keep_io_types=True))
    add_metadata(proto, loaded, config)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    diffs = validate_against_torch(data, model, tuple(tuple(s) for s in config.validate_sizes), label=label)
    return data, diffs, len(proto.graph.node)


def _trace(loaded: LoadedGenerator, config: OnnxExportConfig, checkpoint: str | Path, output: Path,
           photos: list[Path]) -> Traced:
    model = deploy_form(loaded.model).eval()  # a student's BatchNorms fold into its convs
    equalized = _equalize(model, photos) if config.equalize else None
    if config.affine == "conv" or config.staged_mean:
        if config.norm != "explicit":
            raise UserError("--affine conv / --staged-mean: need --norm explicit")
        set_export_form(model, affine_as_conv=config.affine == "conv", staged_mean=config.staged_mean)
    proto, written = traced_graphs.traced(model, config, trace_to_onnx)
    data, diffs, nodes = _finish(proto, model, loaded, config, str(checkpoint))
    if written and max(diffs.values()) > config.tolerance:  # the weights did not all find their initializers
        traced_graphs.forget(model, config)
        data, diffs, nodes = _finish(trace_to_onnx(model, config), model, loaded, config, str(checkpoint))
    worst = max(diffs.values())
    if worst > config.tolerance:
        detail = ", ".join(f"{k}: {v:.2e}" for k, v in diffs.items())
        raise UserError(
            f"{output}: ONNX output differs from torch by {worst:.2e} > tolerance {config.tolerance:g} ({detail}); "
            "nothing was written"
        )
    return Traced(data, diffs, nodes, equalized)


def export_onnx(checkpoint: str | Path, config: OnnxExportConfig, output: str | Path) -> OnnxExportResult:
    """Export a generator checkpoint to a validated ONNX file plus its JSON sidecar. A checkpoint already traced
    with this config in this process (same bytes, same photos) is written from memory."""
    started = time.perf_counter()
    output = Path(output)
    loaded = load_generator(checkpoint, align_corners=config.align_corners, norm=config.norm)
    photos = _equalization_photos(config)  # listed (and split) once, for the key and for the trace
    key = _trace_key(loaded.path, config, photos)
    traced = _TRACED.get(key)
    reused = traced is not None
    if traced is None:
        traced = _TRACED.put(key, _trace(loaded, config, checkpoint, output, photos))
    with atomic_path(output) as tmp:
        tmp.write_bytes(traced.data)
    seconds = time.perf_counter() - started
    metrics = {
        "max_abs_diff_vs_torch": traced.max_abs_diff,
        "export_seconds": round(seconds, 2),
        "reused_trace": reused,
        "nodes": traced.nodes,
        "opset": config.opset,
        "onnx": onnx.__version__,
        "torch": torch.__version__,
    }
    if traced.equalized is not None:
        metrics["equalized_widest_over_median_channel"] = traced.equalized
    sidecar = write_sidecar(output, "onnx", source=loaded.path, config=config, metrics=metrics,
                            extra={"generator": loaded.model.describe(), "style": loaded.info.style,
                                   "precision": config.precision, "backend": "onnxruntime"})
    return OnnxExportResult(output, sidecar, traced.max_abs_diff, seconds, traced.nodes)
