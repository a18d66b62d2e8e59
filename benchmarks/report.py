"""Benchmark reports: Markdown table, CSV, JSON (rows + machine) and a PNG (fps vs PSNR, speedup bars);
``compare_results`` lists what got slower or less faithful than an earlier run."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from animegan_deploy.atomic import atomic_path, atomic_write_json, atomic_write_text

from .cost import SETTLE_S
from .row import COLUMNS

TABLE = (("variant", "variant"), ("backend", "backend"), ("where", "where"), ("size", "size"),
         ("threads", "thr"), ("status", "status"), ("latency_ms_median", "median ms"), ("latency_ms_p10", "p10"),
         ("latency_ms_p90", "p90"), ("fps", "fps"), ("speedup_vs_original", "speedup"),
         ("pct_of_peak", "% of peak"), ("params", "params"), ("gmacs", "GMACs"), ("file_mb", "MB"),
         ("peak_rss_mb", "RSS +MB"), ("psnr_db", "PSNR dB"), ("psnr_min_db", "worst photo dB"), ("ssim", "SSIM"),
         ("pareto", "Pareto"))
FPS_DROP = 0.10  # a variant slower by more than this fraction is a regression
PSNR_DROP = 0.5  # dB


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int) and value > 9999:
        return f"{value:,}"
    return str(value)


def peak_for_threads(machine: dict, threads: int | None, precision: str | None = None) -> float | None:
    """The peak (GFLOP/s, or INT8 GOP/s for an int8 ``precision``) of the cores ``threads`` threads can use."""
    key = "peak_int8_gops" if is_int8(precision) else "peak_fp32_gflops"
    peak, cores = machine.get(key), machine.get("logical_cores") or 1
    if not peak:
        return None
    return peak * min(threads or cores, cores) / cores


def is_int8(precision: str | None) -> bool:
    """Whether a variant's arithmetic is integer (its % of peak is then of the INT8 peak)."""
    from animegan_deploy.export.targets import threshold_set

    return precision is not None and threshold_set(precision) in ("int8", "int16x8")


def pareto_front(rows: list[dict]) -> set[int]:
    """Indices of measured local rows that no other row beats on both fps and PSNR (within one size and thread
    count): the variants worth shipping for some speed/fidelity trade-off. Identical outputs count as best PSNR."""
    def psnr(row: dict) -> float:
        return float("inf") if row.get("psnr_db") is None else row["psnr_db"]

    measured = [(i, r) for i, r in enumerate(rows)
                if r.get("status") == "ok" and r.get("fps") and r.get("where") == "local"]
    front = set()
    for i, r in measured:
        beaten = any(o["size"] == r["size"] and o["threads"] == r["threads"] and o["fps"] >= r["fps"]
                     and psnr(o) >= psnr(r) and (o["fps"] > r["fps"] or psnr(o) > psnr(r)) for _, o in measured)
        if not beaten:
            front.add(i)
    return front


def with_peak_share(rows: list[dict], machine: dict) -> list[dict]:
    """Each measured local row's achieved operations per second as % of the peak of its threads' cores: the INT8
    peak for integer variants, the FP32 peak for the others (a MAC counts 2 operations either way)."""
    out = []
    for row in rows:
        row = dict(row)
        peak = peak_for_threads(machine, row.get("threads"), row.get("precision"))
        if peak and row.get("fps") and row.get("gmacs") and row.get("where") == "local":
            row["pct_of_peak"] = round(100 * row["fps"] * 2 * row["gmacs"] / peak, 1)
        out.append(row)
    return out


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h in TABLE) + " |", "|" + "---|" * len(TABLE)]
    front = pareto_front(rows)
    rows = [dict(row, pareto="yes" if i in front else None) for i, row in enumerate(rows)]
    for row in rows:
        cells = [_cell(row.get(k)) for k, _ in TABLE]
        if row.get("status") != "ok" and row.get("reason"):
            cells[5] = f"{row['status']}: {row['reason']}"
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def physical_bound(machine: dict, rows: list[dict]) -> list[str]:
    """The CPU's FP32 peak and the fps it would allow for the original, next to the measured fps."""
    peak = machine.get("peak_fp32_gflops")
    originals = [r for r in rows if r["variant"] == "original" and r.get("fps") and r.get("gmacs")]
    if not peak or not originals:
        return []
    lines = [f"Physical bound: {machine['cpu']}, {machine['logical_cores']} logical cores at {machine['mhz']} MHz, "
             f"{machine['fp32_flops_per_cycle_per_core']} FP32 FLOPs/cycle/core ({', '.join(machine['flags'])}) "
             f"= {peak} GFLOP/s FP32 peak; INT8: {machine.get('int8_dot_product') or 'no int8 dot-product instructions'}"
             f", {machine.get('int8_ops_per_cycle_per_core')} INT8 ops/cycle/core = {machine.get('peak_int8_gops')} "
             f"GOP/s INT8 peak ({machine['peak_note']}). % of peak: INT8 rows against the INT8 peak, others FP32."]
    for r in originals:
        gflops, usable = 2 * r["gmacs"], peak_for_threads(machine, r["threads"])
        lines.append(f"At {r['size']}x{r['size']} the original needs {gflops:.1f} GFLOPs per frame: with "
                     f"{r['threads']} thread(s) ({usable:.1f} GFLOP/s peak) at most {usable / gflops:.2f} fps; torch "
                     f"eager measured {r['fps']:.2f} fps ({100 * r['fps'] * gflops / usable:.0f}% of that peak).")
    return lines


def fp32_rows() -> dict[str, str]:
    """Each backend's FP32 file, as the targets table names its row: what a lower precision of that backend is timed
    against."""
    from animegan_deploy.export.targets import TARGETS

    rows: dict[str, str] = {}
    for target in TARGETS:
        if target.precision == "fp32":
            rows.setdefault(target.backend, target.name)
    return rows


def same_backend_ratios(rows: list[dict]) -> list[str]:
    """Each measured row's fps over its backend's FP32 file's fps at the same size, threads and place, from the
    same interleaved run (e.g. INT8 fps / FP32 fps in ONNX Runtime): whether a precision pays on that runtime."""
    ratios, references = [], fp32_rows()
    for row in rows:
        reference_name = references.get(row["backend"])
        if not reference_name or row["variant"] == reference_name or not row.get("fps"):
            continue
        reference = next((r for r in rows if r["variant"] == reference_name and r.get("fps")
                          and (r["size"], r["threads"], r["where"]) == (row["size"], row["threads"], row["where"])),
                         None)
        if reference:
            ratios.append(f"{row['variant']} {row['fps'] / reference['fps']:.2f}x {reference_name}"
                          f" ({row['size']} px, {row['threads']} thr)")
    return ["Same-backend speed (fps over the backend's FP32 file's fps, same run): " + "; ".join(ratios) + "."] \
        if ratios else []


def markdown_report(result, checkpoint: Path, config, photos: list[Path]) -> str:
    m = result.machine
    rows = with_peak_share(result.rows, m)
    lib = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    parts = [
        f"# Benchmark of `{checkpoint.name}`", "",
        f"{m['cpu']} ({m['logical_cores']} logical cores, {', '.join(m['flags'])}), {m['os']}, Python "
        f"{m['python']}; {lib}; git {m['git_commit']}.",
        f"Warm-up {config.warmup}, {config.repeats} timed runs per variant interleaved round-robin, each after an "
        f"untimed {SETTLE_S * 1e3:.0f} ms pause (ONNX Runtime threads wait rather than spin, so no variant is timed "
        "against another's idle threads); speedup = "
        "the FP32 torch original's median / the variant's, measured in the same loop. PSNR/SSIM on [0, 255] vs "
        f"the original's output on {', '.join(p.name for p in photos)}. `RSS +MB`: resident memory the variant "
        "added while loading and warming up. Total time {:.0f} s.".format(result.seconds), "",
        markdown_table(rows),
    ]
    parts += same_backend_ratios(rows) + [""]
    parts += physical_bound(m, rows)
    return "\n".join(parts) + "\n"


def write_csv(rows: list[dict]) -> str:

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plot(rows: list[dict], path: Path) -> Path | None:
    """Left: fps vs PSNR per measured variant; right: speedup vs the FP32 original (local rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.get("status") == "ok" and r.get("fps")]
    if not measured:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    finite = [r["psnr_db"] for r in measured if r.get("psnr_db") is not None]
    top = (max(finite) + 5) if finite else 60
    for r in measured:
        y = r["psnr_db"] if r.get("psnr_db") is not None else top  # identical to the original: drawn on top
        left.scatter(r["fps"], y, s=40)
        left.annotate(f"{r['variant']} ({r['backend']}, {r['size']}px, {r['threads']}t)", (r["fps"], y),
                      fontsize=7, xytext=(4, 2), textcoords="offset points")
    front = sorted((rows[i] for i in pareto_front(rows) if rows[i].get("where") == "local"), key=lambda r: r["fps"])
    if len(front) > 1:  # the trade-offs worth shipping, joined
        left.plot([r["fps"] for r in front], [r["psnr_db"] if r.get("psnr_db") is not None else top for r in front],
                  "--", color="gray", linewidth=1, label="Pareto front", zorder=0)
        left.legend(fontsize=8, loc="upper right")
    left.set_xlabel("frames per second")
    left.set_ylabel("PSNR vs FP32 original (dB; top = identical)")
    left.set_title("speed vs fidelity")
    left.grid(alpha=0.3)
    local = [r for r in measured if r.get("speedup_vs_original") and r.get("where") == "local"]
    labels = [f"{r['variant']}\n{r['size']}px {r['threads']}t" for r in local]
    right.barh(range(len(local)), [r["speedup_vs_original"] for r in local], color="tab:blue")
    right.axvline(1.0, color="black", linewidth=1)
    right.set_yticks(range(len(local)), labels, fontsize=7)
    right.invert_yaxis()
    right.set_xlabel("speedup vs FP32 torch original (same run)")
    right.set_title("speedup")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


# the files write_reports writes into the report folder (run_benchmark checks them before any work)
REPORT_FILES = {"json": "benchmark.json", "csv": "benchmark.csv", "md": "benchmark.md", "png": "benchmark.png"}


def write_reports(result, checkpoint: Path, config, photos: list[Path]) -> dict[str, Path]:
    folder = result.folder
    folder.mkdir(parents=True, exist_ok=True)
    rows = with_peak_share(result.rows, result.machine)
    files = {
        "json": atomic_write_json(folder / REPORT_FILES["json"], {
            "checkpoint": str(checkpoint), "config": asdict(config), "machine": result.machine,
            "photos": [p.name for p in photos], "seconds": round(result.seconds, 1), "rows": rows}),
        "csv": atomic_write_text(folder / REPORT_FILES["csv"], write_csv(rows)),
        "md": atomic_write_text(folder / REPORT_FILES["md"], markdown_report(result, checkpoint, config, photos)),
    }
    png = plot(rows, folder / REPORT_FILES["png"])
    if png:
        files["png"] = png
    return files


def compare_results(old_json: Path, rows: list[dict]) -> list[str]:
    """Rows (same variant, backend, where, size, threads) that stopped working, lost > 0.5 dB PSNR, or got > 10%
    slower: the original by fps, every other variant by its speedup over the original in the same run."""
    from animegan_deploy.errors import UserError

    try:
        old_rows = json.loads(old_json.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"--compare {old_json}: not a benchmark.json from `animegan benchmark`") from None

    def key(r: dict) -> tuple:
        return (r["variant"], r["backend"], r.get("where"), r["size"], r["threads"])

    old = {key(r): r for r in old_rows}
    found = []
    for r in rows:
        before = old.get(key(r))
        if before is None or before.get("status") != "ok":
            continue
        label = "{} ({}, {}, {}px, {} threads)".format(*key(r))
        if r.get("status") != "ok":
            found.append(f"{label}: now {r.get('status')} ({r.get('reason')})")
            continue
        # the original by its fps; the others by their speedup over it (same-run ratios survive machine noise)
        metric = "fps" if r["variant"] == "original" else "speedup_vs_original"
        if before.get(metric) and r.get(metric) and r[metric] < before[metric] * (1 - FPS_DROP):
            found.append(f"{label}: {metric} {before[metric]:.3f} -> {r[metric]:.3f} ({r[metric] / before[metric] - 1:+.0%})")
        b_psnr, n_psnr = before.get("psnr_db"), r.get("psnr_db")
        if b_psnr is not None and n_psnr is not None and n_psnr < b_psnr - PSNR_DROP:
            found.append(f"{label}: PSNR {b_psnr:.2f} -> {n_psnr:.2f} dB")
    return found


def pipeline_row(row: dict) -> dict:
    """A benchmark row in the vocabulary of pipeline.json (the pipeline's and the student recipe's)."""
    return {"variant": row["variant"], "backend": row["backend"], "precision": row["precision"],
            "status": row["status"], "fps": row.get("fps"), "speedup": row.get("speedup_vs_original"),
            "psnr_db": row.get("psnr_db"), "psnr_min_db": row.get("psnr_min_db"), "ssim": row.get("ssim"),
            "size_mb": row.get("file_mb"), "gmacs": row.get("gmacs"), "photos": row.get("photos"),
            "reason": row.get("reason", "")}


def format_number(value: Any, fmt: str = "{:.2f}") -> str:
    return "" if value is None else fmt.format(value)


def benchmark_lines(rows: list[dict]) -> list[str]:
    """The Markdown table of pipeline rows (``pipeline_row``)."""
    num = format_number
    lines = ["| variant | backend | precision | fps | speedup | PSNR dB (worst) | SSIM | MB | GMACs |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['variant']} | {r['backend']} | {r['precision']} | {r['status']}: {r['reason']} "
                         "| | | | | |")
            continue
        psnr = "identical" if r["psnr_db"] is None else f"{r['psnr_db']:.2f} ({num(r['psnr_min_db'])})"
        lines.append(f"| {r['variant']} | {r['backend']} | {r['precision']} | {num(r['fps'])} | "
                     f"{num(r['speedup'])} | {psnr} | {num(r['ssim'], '{:.4f}')} | {num(r['size_mb'])} | "
                     f"{num(r['gmacs'])} |")
    return lines
