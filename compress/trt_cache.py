"""TensorRT's calibration cache (text format read by TensorRT <= 10's implicit INT8 calibrators).

First line ``TRT-<version>-<algorithm>``, version as major*1000 + minor*100 + patch (8.6.1 -> 8601);
then one ``<tensor name>: <hex>`` line per tensor, the hex being the big-endian IEEE-754 float32 scale
(amax / 127).
"""

from __future__ import annotations

import struct
from pathlib import Path

from animegan_deploy.atomic import atomic_write_text
from animegan_deploy.errors import UserError

ALGORITHMS = {"entropy": "EntropyCalibration2", "minmax": "MinMaxCalibration", "percentile": "EntropyCalibration2",
              "mean-minmax": "MinMaxCalibration"}


def version_code(version: str) -> int:
    try:
        parts = [int(p) for p in version.split(".")[:3]]
    except ValueError:
        raise UserError(f"--trt-version {version}: use MAJOR.MINOR.PATCH, e.g. 8.6.1") from None
    parts += [0] * (3 - len(parts))
    return parts[0] * 1000 + parts[1] * 100 + parts[2]


def scale_to_hex(scale: float) -> str:
    return struct.pack(">f", scale).hex()


def hex_to_scale(text: str) -> float:
    return struct.unpack(">f", bytes.fromhex(text))[0]


def write_cache(path: str | Path, amax: dict[str, float], method: str, trt_version: str = "8.6.1") -> Path:
    """Write scales = amax / 127 for every tensor; zero ranges get the smallest positive scale TensorRT accepts."""
    lines = [f"TRT-{version_code(trt_version)}-{ALGORITHMS[method]}"]
    for name, value in amax.items():
        scale = max(float(value), 1e-8) / 127.0
        lines.append(f"{name}: {scale_to_hex(scale)}")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_cache(path: str | Path) -> tuple[str, dict[str, float]]:
    """(header, {tensor: scale}) of a calibration cache."""
    text = Path(path).read_text().splitlines()
    if not text or not text[0].startswith("TRT-"):
        raise UserError(f"{path}: not a TensorRT calibration cache (first line must start with TRT-)")
    scales = {}
    for line in text[1:]:
        if line.strip():
            name, _, hexval = line.rpartition(": ")
            scales[name] = hex_to_scale(hexval.strip())
    return text[0], scales
