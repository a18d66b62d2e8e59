"""The fidelity gate's INT8 check: one INT8 ONNX file of the targets table (export/targets.py), built from a zoo
model as its defaults make it (settings chosen per model on the validation photos, then the placement's target),
held to its floors on the 15 unseen pictures (never calibrated on, never used to choose)."""

from pathlib import Path

from animegan_deploy.benchmarks.thresholds import load_thresholds
from animegan_deploy.compress.quantize import QuantizeConfig, QuantizeResult
from animegan_deploy.export.onnx_int8 import export_onnx_int8
from animegan_deploy.export.targets import targets
from animegan_deploy.models.hub import resolve_weights


def gated_int8(model: str, placement: str, floor: float, worst_floor: float, folder: Path, size: int = 256
               ) -> QuantizeResult:
    """Build zoo model ``model``'s INT8 file of ``placement`` at ``size`` and assert its mean PSNR vs the FP32 torch
    model is at least ``floor`` (and the project's INT8 threshold) and its worst picture's at least ``worst_floor``."""
    (target,) = [t for t in targets("onnx-int8") if t.placement == placement]
    config = QuantizeConfig(size=size, cache_all_tensors=False, placement=placement)
    result = export_onnx_int8(resolve_weights(f"zoo:{model}"), config, folder / f"{model}{target.suffix}",
                              progress=False)
    min_psnr, _ = load_thresholds(None, "int8")
    assert min_psnr == 30.0
    chosen = result.report["settings"]["chosen"]
    print(f"INT8 {model} ({placement}, chosen {chosen}, {len(result.float_layers)} convs float) vs FP32 torch on "
          f"{len(result.fidelity.per_image)} pictures: {result.fidelity.psnr:.2f} dB (worst "
          f"{result.fidelity.psnr_min:.2f}), SSIM {result.fidelity.ssim:.4f}")
    assert len(result.fidelity.per_image) == 15
    assert result.fidelity.psnr >= max(floor, min_psnr) and result.fidelity.psnr_min >= worst_floor, result.fidelity
    # the choice was made on the validation photos, none of them an evaluation picture
    assert not set(result.report["settings"]["validation_photos"]) & set(result.report["eval_photos"])
    return result
