"""`animegan check-fidelity`: PSNR/SSIM of any exported variant vs the FP32 torch model, against thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from animegan_deploy.backends import load_runner
from animegan_deploy.compress.measurements import checkpoint_reference
from animegan_deploy.configs import at_least, option
from animegan_deploy.errors import UserError
from animegan_deploy.models.hub import resolve_weights

from .fidelity import Fidelity, compare, eval_inputs
from animegan_deploy.sidecar import sidecar_of, source_checkpoint

from .thresholds import check_floor, load_thresholds, threshold_set


@dataclass
class FidelityCheckConfig:
    reference: str | None = option(None, "FP32 reference checkpoint (default: the checkpoint the file was made from, "
                                   "as its sidecar says)")
    photos: str | None = option(None, "photos to compare on (default: the 15 unseen pictures)", flag="eval-dir",
                                aliases=("photos",))
    size: int = option(256, "longest side of the photos")
    precision: str | None = option(None, "threshold set to apply: fp32, fp16 or int8 (default: from the sidecar)")
    min_psnr: float | None = option(None, "minimum mean PSNR in dB (overrides the thresholds file)")
    min_ssim: float | None = option(None, "minimum mean SSIM (overrides the thresholds file)")
    thresholds: str | None = option(None, "TOML file of per-precision thresholds (default: the project's)")
    backend: str | None = option(None, "runtime for the variant (default: from the file type)")
    threads: int | None = option(None, "CPU threads")


    def __post_init__(self) -> None:
        if self.size < 16:
            raise UserError(f"--size {self.size}: must be at least 16 pixels")
        if self.min_psnr is not None:
            check_floor("psnr", self.min_psnr, "--min-psnr")
        if self.min_ssim is not None:
            check_floor("ssim", self.min_ssim, "--min-ssim")
        at_least(self, ("threads",))


@dataclass
class FidelityCheck:
    fidelity: Fidelity
    precision: str
    min_psnr: float
    min_ssim: float
    reference: Path | None = None

    @property
    def passed(self) -> bool:
        return self.fidelity.psnr >= self.min_psnr and self.fidelity.ssim >= self.min_ssim


def variant_precision(path: Path) -> str | None:
    return sidecar_of(path).get("precision")


def check_fidelity(variant: str | Path, config: FidelityCheckConfig) -> FidelityCheck:
    from animegan_deploy.compress.photos import default_eval_photos
    from animegan_deploy.inputs import check_photo_folder

    variant = Path(variant)
    if not variant.is_file():
        raise UserError(f"{variant}: no such file; pass an exported model (.onnx, .int8.onnx, .tflite, ...)")
    precision = config.precision or variant_precision(variant)
    if precision is None:
        raise UserError(f"{variant}: precision unknown (no sidecar); pass --precision fp32|fp16|int8")
    reference = resolve_weights(config.reference) if config.reference else source_checkpoint(variant)
    if reference is None:
        raise UserError(f"{variant}: its sidecar names no checkpoint that is still here (or it has no sidecar); pass "
                        "--reference CHECKPOINT, the FP32 model the file was made from")
    min_psnr, min_ssim = load_thresholds(config.thresholds, threshold_set(precision))
    min_psnr = config.min_psnr if config.min_psnr is not None else min_psnr
    min_ssim = config.min_ssim if config.min_ssim is not None else min_ssim
    reference_fn = checkpoint_reference(reference)
    runner = load_runner(variant, backend=config.backend, threads=config.threads)
    folder = Path(config.photos) if config.photos else default_eval_photos()
    photos = check_photo_folder(folder, "--eval-dir")
    inputs = eval_inputs(photos, config.size, square=runner.fixed_hw is not None)
    if runner.fixed_hw is not None and runner.fixed_hw != (config.size, config.size):
        raise UserError(f"{variant}: fixed input {runner.fixed_hw[0]}x{runner.fixed_hw[1]}; pass --size {runner.fixed_hw[0]}")
    fidelity = compare(reference_fn, runner, inputs, labels=(f"--reference {reference}", str(variant)))
    return FidelityCheck(fidelity, precision, min_psnr, min_ssim, reference)
