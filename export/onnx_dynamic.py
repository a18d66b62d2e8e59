"""Checkpoint -> INT8 ONNX with dynamic activation scales (ONNX Runtime's ``quantize_dynamic``): every Conv becomes
DynamicQuantizeLinear + ConvInteger, its weights stored as 8-bit integers and each input's scale computed from the
picture at run time. No calibration: nothing to choose, no photos to tune on.

Why a second INT8 route (reports/int8): the generator normalizes every conv's output per picture (GroupNorm(1, C)),
so one activation scale calibrated over many photos gives a low-contrast picture few int8 levels, and the
normalization then divides their rounding error by its small deviation (moon.png on the default: 19.6 dB in the
static TensorRT-placement file where the mean is 41.7). A scale per picture keeps it near the mean (38.8 dB here). It runs where ONNX Runtime's ConvInteger does (CPU);
TensorRT builds static scales only.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from animegan_deploy.atomic import atomic_path
from animegan_deploy.benchmarks.fidelity import Fidelity, compare, photo_inputs
from animegan_deploy.compress.measurements import checkpoint_reference
from animegan_deploy.compress.photos import default_eval_photos
from animegan_deploy.configs import at_least, option
from animegan_deploy.errors import UserError
from animegan_deploy.sidecar import write_sidecar

from .onnx_export import OnnxExportConfig, export_onnx, quiet_loggers

__all__ = ["DynamicQuantizeConfig", "DynamicQuantizeResult", "export_onnx_dynamic"]

# ONNX Runtime's weight types: uint8 weights run ConvInteger's fast path (the activations are uint8 too); int8
# weights made it 0.20x FP32 on an AVX-512 VNNI CPU (reports/int8)
WEIGHT_TYPES = {"uint8": "QUInt8", "int8": "QInt8"}


@dataclass
class DynamicQuantizeConfig:
    weight_type: Literal["uint8", "int8"] = option("uint8", "weights' integer type: uint8 (ConvInteger's fast path "
                                                   "on x86) or int8")
    per_channel: bool = option(False, "a weight scale per output channel (default: one per conv)")
    size: int = option(256, "longest side of the evaluation photos (as inference)")
    eval_dir: str | None = option(None, "held-out photos for PSNR/SSIM vs FP32 (default: the 15 unseen pictures)")
    threads: int | None = option(None, "ONNX Runtime CPU threads")

    def __post_init__(self) -> None:
        if self.weight_type not in WEIGHT_TYPES:
            raise UserError(f"--weight-type {self.weight_type}: use one of {', '.join(WEIGHT_TYPES)}")
        at_least(self, ("size",), 16)
        at_least(self, ("threads",))


@dataclass
class DynamicQuantizeResult:
    path: Path
    fidelity: Fidelity
    quantized_convs: int
    seconds: float

    def summary(self) -> list[str]:
        return [
            f"dynamic INT8: {self.quantized_convs} convs as ConvInteger, activation scales per picture at run time",
            f"INT8 vs FP32 on {len(self.fidelity.per_image)} held-out photos: PSNR {self.fidelity.psnr:.2f} dB (worst "
            f"{self.fidelity.psnr_min:.2f}), SSIM {self.fidelity.ssim:.4f}",
            f"wrote {self.path} in {self.seconds:.1f} s",
        ]


def export_onnx_dynamic(checkpoint: str | Path, config: DynamicQuantizeConfig, output: str | Path) -> DynamicQuantizeResult:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from animegan_deploy.compress.quantize import session_fn

    checkpoint, output = Path(checkpoint), Path(output)
    eval_set = photo_inputs(Path(config.eval_dir) if config.eval_dir else default_eval_photos(), config.size,
                            argument="--eval-dir")  # a wrong folder fails before any work
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(checkpoint, OnnxExportConfig(validate_sizes=((64, 64),)), Path(tmp) / "fp32.onnx").path
        quantized = Path(tmp) / "dynamic.onnx"
        # its advice to pre-process (shape inference, graph optimization) is what onnxsim did to the FP32 file
        with quiet_loggers(""):  # ORT's quantizer warns on the root logger
            quantize_dynamic(fp32, quantized, op_types_to_quantize=["Conv"], per_channel=config.per_channel,
                             weight_type=getattr(QuantType, WEIGHT_TYPES[config.weight_type]))
        model = onnx.load(str(quantized))
    seconds = time.perf_counter() - started
    convs = sum(node.op_type == "ConvInteger" for node in model.graph.node)
    fidelity = compare(checkpoint_reference(checkpoint), session_fn(model, config.threads), eval_set,
                       labels=("the FP32 torch model", "the dynamic INT8 ONNX"))
    with atomic_path(output) as tmp_out:
        onnx.save(model, str(tmp_out))
    write_sidecar(output, "onnx-int8-dynamic", source=checkpoint, config=config, metrics={
        "fidelity_vs_fp32": fidelity.to_dict(), "quantized_convs": convs, "eval_photos": [n for n, _ in eval_set],
        "seconds": round(seconds, 2),
    }, extra={"precision": "int8", "backend": "onnxruntime"})
    return DynamicQuantizeResult(output, fidelity, convs, seconds)
