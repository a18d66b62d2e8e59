"""One benchmark row, the shape every row has (results.csv/json; Android and device rows are merged into it): a
field is a column, so a misspelt column is an error where the row is made, not an empty cell in the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class BenchmarkRow:
    variant: str | None = None
    backend: str | None = None
    precision: str | None = None
    where: str | None = None  # local, or the device it ran on
    size: int | None = None
    threads: int | None = None
    status: str | None = None  # ok | unavailable | failed
    reason: str | None = None
    latency_ms_median: float | None = None
    latency_ms_p10: float | None = None
    latency_ms_p90: float | None = None
    fps: float | None = None
    speedup_vs_original: float | None = None
    params: int | None = None
    gmacs: float | None = None
    file_mb: float | None = None
    peak_rss_mb: float | None = None
    psnr_db: float | None = None
    psnr_min_db: float | None = None
    ssim: float | None = None
    photos: int | None = None


COLUMNS = tuple(f.name for f in fields(BenchmarkRow))


def benchmark_row(**values: object) -> dict:
    """A row as the reports take it (a dict of every column); an unknown column is a TypeError."""
    return asdict(BenchmarkRow(**values))  # type: ignore[arg-type]
