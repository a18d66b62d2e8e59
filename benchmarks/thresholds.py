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
    from animegan_deploy.export.table import threshold_set as from_table

    return from_table(precision)


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
    if not (math.isfinite(psnr) and math.isfinite(ssim) and 0 <= ssim <= 1 and psnr >= 0):
        raise UserError(f"--thresholds {path}: [{precision}] min_psnr {psnr} / min_ssim {ssim}: need a PSNR >= 0 and an "
                        "SSIM from 0 to 1")
    return psnr, ssim
