"""The fidelity floors every exported file is held to: per threshold set (fp32, fp16, int16x8, int8) a minimum mean
PSNR and SSIM vs the FP32 model, from ``fidelity_thresholds.toml`` (or a user's file of the same form)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from animegan_deploy.errors import UserError

THRESHOLDS_FILE = Path(__file__).with_name("fidelity_thresholds.toml")


def threshold_set(precision: str) -> str:
    """The thresholds section a precision label is held to (TFLite's int8-weights / int8-float-io are int8)."""
    from animegan_deploy.export.targets import threshold_set as from_table

    return from_table(precision)


FLOOR_TOPS = {"psnr": 200.0, "ssim": 1.0}  # a floor above what the metric reaches would fail every file


def check_floor(metric: str, value: float, where: str) -> float:
    """A PSNR (dB) or SSIM floor as every place that takes one needs it: a finite number from 0 to what the metric
    can reach (nan would pass every file, a floor past the top would fail every one). ``where`` names the
    argument or key for the one-line error."""
    top = FLOOR_TOPS[metric]
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= top):
        raise UserError(f"{where} {value}: must be a number from 0 to {top:g} ({'dB' if metric == 'psnr' else 'SSIM'}"
                        "; a floor above what the metric can reach would fail every file, nan would pass every one)")
    return float(value)


def load_thresholds(file: str | Path | None, precision: str) -> tuple[float, float]:
    path = Path(file) if file else THRESHOLDS_FILE
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"--thresholds {path}: cannot read it ({exc})") from None
    if precision not in table:
        raise UserError(f"--thresholds {path}: no [{precision}] section; it has {', '.join(table)}")
    section = table[precision]
    try:
        psnr, ssim = float(section["min_psnr"]), float(section["min_ssim"])
    except (KeyError, TypeError, ValueError):
        raise UserError(f"--thresholds {path}: [{precision}] needs numbers min_psnr and min_ssim, e.g. min_psnr = 30.0, "
                        "min_ssim = 0.9") from None
    return (check_floor("psnr", psnr, f"--thresholds {path}: [{precision}] min_psnr"),
            check_floor("ssim", ssim, f"--thresholds {path}: [{precision}] min_ssim"))
