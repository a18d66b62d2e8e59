"""Numbers that cannot lie: a model whose weights or outputs hold NaN or infinity is an error wherever it is met
(load, export validation, stylize, fidelity), never a black picture or a "PSNR inf" verdict; every JSON this tool
writes is strict JSON (no bare NaN/Infinity)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import UserError


class NonFiniteError(UserError):
    """Weights or outputs that hold NaN or infinite values: the model is broken, nothing it computes is usable."""


def _bad_count(value: Any) -> int:
    array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def check_finite_weights(tensors: Mapping[str, Any] | Iterable[tuple[str, Any]], where: str) -> None:
    """Every floating tensor finite, else NonFiniteError naming ``where`` and the first bad tensors."""
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    bad = [(name, count) for name, value in items if (count := _bad_count(value))]
    if bad:
        shown = ", ".join(f"{name} ({count})" for name, count in bad[:3]) + (f" +{len(bad) - 3} more" if len(bad) > 3 else "")
        raise NonFiniteError(f"{where}: {len(bad)} weight tensor(s) hold NaN or infinite values ({shown}); the model "
                             "is broken (a diverged training run or a damaged file): use an earlier checkpoint")


def check_finite_output(array: np.ndarray, where: str) -> None:
    """A model output with NaN/inf values is an error naming ``where`` (the model and the picture)."""
    count = _bad_count(array)
    if count:
        raise NonFiniteError(f"{where}: the model's output holds {count} NaN or infinite value(s); the model is "
                             "broken (non-finite weights or an overflow in its precision)")


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so json.dumps(allow_nan=False) accepts it (PSNR of
    identical pictures, infinite, is written as null and said "identical" in the reports)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def format_psnr(value: float | None, digits: int = 2) -> str:
    """PSNR for people: "identical" where the pictures are (inf, or null read back from JSON)."""
    if value is None or (isinstance(value, float) and math.isinf(value) and value > 0):
        return "identical"
    return f"{value:.{digits}f} dB"
