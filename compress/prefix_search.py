"""The fewest layers to keep in float: a bisection over a sensitivity ranking, shared by every INT8 route that
trades float layers for fidelity (ONNX Q/DQ --target-psnr, TFLite's conv fallback)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def smallest_prefix(ranking: Sequence[str], meets: Callable[[int], bool]) -> int:
    """The fewest leading entries of ``ranking`` for which ``meets(k)`` holds, by bisection (PSNR grows with k,
    not strictly: the answer is a k that meets, with k - 1 failing or 0); ``len(ranking)`` when none meets."""
    lo, hi = 0, len(ranking)  # meets(lo - 1) unknown/false, meets(hi) assumed true
    if not meets(hi):
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def smallest_measured_prefix(ranking: Sequence[str], measure: Callable[[int], T],
                             good: Callable[[T], bool]) -> tuple[int, T]:
    """:func:`smallest_prefix` where ``meets(k)`` is ``good(measure(k))``, also returning the measurement at the k
    it returns (always one it took: the last k that met, or ``len(ranking)`` when none did)."""
    measured: dict[int, T] = {}

    def meets(k: int) -> bool:
        measured[k] = measure(k)
        return good(measured[k])

    k = smallest_prefix(ranking, meets)
    return k, measured[k]


@dataclass(frozen=True)
class FidelityTarget:
    """What a float fallback aims at on the validation photos: a mean PSNR and a worst photo's PSNR (0 dB: no aim)."""

    mean_psnr: float
    worst_psnr: float = 0.0

    @property
    def wanted(self) -> bool:
        return self.mean_psnr > 0 or self.worst_psnr > 0

    def met_by(self, fid, margin: float = 0.0) -> bool:
        """``fid`` (a Fidelity) meets the mean and the worst-photo aims, each with ``margin`` dB to spare."""
        worst_met = fid.psnr_min >= self.worst_psnr + (margin if self.worst_psnr else 0)
        return fid.psnr >= self.mean_psnr + margin and worst_met

    def __str__(self) -> str:
        return f"target {self.mean_psnr:g}" + (f", worst {self.worst_psnr:g}" if self.worst_psnr else "")
