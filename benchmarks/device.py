"""Numbers from other devices, merged into the same table.

(a) ``benchmarks/device_runner.py`` runs on a Raspberry Pi / Jetson / phone with Python and writes rows in the
    suite's JSON schema; ``--merge FILE`` folds them in.
(b) Android: with ``adb`` on PATH, the TFLite files and TFLite's ``benchmark_model`` binary are pushed to the
    device and run with the CPU (XNNPACK), GPU and NNAPI delegates; its log is parsed here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from animegan_deploy.errors import UserError

DEVICE_DIR = "/data/local/tmp/animegan"
# delegate label -> benchmark_model flags
DELEGATES: dict[str, tuple[str, ...]] = {
    "cpu-xnnpack": ("--use_xnnpack=true",),
    "gpu": ("--use_gpu=true",),
    "nnapi": ("--use_nnapi=true",),
}

_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"


def parse_benchmark_model(text: str) -> dict:
    """Timings (microseconds) and memory (MB) from TFLite ``benchmark_model`` output, old and new formats.

    New: ``Inference timings in us: Init: 119515, First inference: 87112, Warmup (avg): 58147.4, Inference
    (avg): 63743.2`` plus ``count=... avg=... std=... p5=... median=... p95=...`` stat lines (the last one is the
    timed run) and ``Memory footprint delta ... (MB): init=55.5 overall=55.5`` / ``Peak memory footprint``.
    Old: ``Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9``.
    """
    out: dict = {}
    m = re.search(r"Inference timings in us: Init: " + _NUMBER + r", First inference: " + _NUMBER
                  + r", Warmup \(avg\): " + _NUMBER + r", Inference \(avg\): " + _NUMBER, text)
    if m:
        out.update(init_us=float(m[1]), first_us=float(m[2]), warmup_avg_us=float(m[3]), inference_avg_us=float(m[4]))
    else:
        m = re.search(r"Average inference timings in us: Warmup: " + _NUMBER + r", Init: " + _NUMBER
                      + r", (?:Inference|no stats): " + _NUMBER, text)
        if m:
            out.update(warmup_avg_us=float(m[1]), init_us=float(m[2]), inference_avg_us=float(m[3]))
    stats = [dict(re.findall(r"(\w+)=" + _NUMBER, line)) for line in text.splitlines()
             if re.search(r"\bcount=\d+", line) and "avg=" in line]
    if stats:
        last = {k: float(v) for k, v in stats[-1].items()}
        out["runs"] = int(last.get("count", 0))
        for key in ("min", "max", "std", "median", "p5", "p95"):
            if key in last:
                out[f"{key}_us"] = last[key]
    m = re.search(r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): init="
                  + _NUMBER + r" overall=" + _NUMBER, text)
    if m:
        out.update(memory_init_mb=float(m[1]), memory_overall_mb=float(m[2]))
    if "inference_avg_us" not in out:
        raise ValueError("no inference timings in the benchmark_model output")
    return out


def _adb(*args: str, serial: str | None = None, timeout: int = 600) -> str:
    cmd = ["adb"] + (["-s", serial] if serial else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}: exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:200]}")
    return proc.stdout + proc.stderr


def android_row(variant, delegate: str, parsed: dict | None, status: str = "ok", reason: str = "",
                device: str = "android") -> dict:
    from .row import benchmark_row

    row = benchmark_row(variant=variant.name, backend=f"tflite/{delegate}", precision=variant.precision, where=device,
                        size=variant.fixed_size, threads=None, status=status, reason=reason,
                        file_mb=round(variant.path.stat().st_size / 1e6, 3) if variant.path else None)
    if parsed:
        median = parsed.get("median_us", parsed["inference_avg_us"]) / 1e3
        row.update(latency_ms_median=round(median, 2), fps=round(1e3 / median, 3),
                   latency_ms_p10=round(parsed["p5_us"] / 1e3, 2) if "p5_us" in parsed else None,
                   latency_ms_p90=round(parsed["p95_us"] / 1e3, 2) if "p95_us" in parsed else None,
                   peak_rss_mb=parsed.get("memory_overall_mb"))
    return row


def run_android(variants: list, benchmark_model: str | None, threads: int = 4, serial: str | None = None,
                progress=print) -> list[dict]:
    """Push each TFLite file and ``benchmark_model``, run every delegate, parse; unavailable rows otherwise."""
    if shutil.which("adb") is None:
        return [android_row(v, d, None, "unavailable", "adb not found on PATH (install Android platform-tools)")
                for v in variants for d in DELEGATES]
    if not benchmark_model or not Path(benchmark_model).is_file():
        raise UserError(f"--benchmark-model {benchmark_model}: give the path of TFLite's android_aarch64 "
                        "benchmark_model binary (downloaded once from the LiteRT release page)")
    rows = []
    try:
        device = _adb("shell", "getprop", "ro.product.model", serial=serial).strip() or "android"
        _adb("shell", "mkdir", "-p", DEVICE_DIR, serial=serial)
        _adb("push", benchmark_model, f"{DEVICE_DIR}/benchmark_model", serial=serial)
        _adb("shell", "chmod", "+x", f"{DEVICE_DIR}/benchmark_model", serial=serial)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [android_row(v, d, None, "failed", str(exc)) for v in variants for d in DELEGATES]
    for v in variants:
        remote = f"{DEVICE_DIR}/{v.path.name}"
        _adb("push", str(v.path), remote, serial=serial)
        for delegate, flags in DELEGATES.items():
            progress(f"android {device}: {v.name} with {delegate}")
            try:
                text = _adb("shell", f"{DEVICE_DIR}/benchmark_model", f"--graph={remote}",
                            f"--num_threads={threads}", "--warmup_runs=3", "--num_runs=20", *flags, serial=serial)
                rows.append(android_row(v, delegate, parse_benchmark_model(text), device=device))
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                rows.append(android_row(v, delegate, None, "failed", str(exc).splitlines()[0][:200], device=device))
    return rows


def merge_device_results(files: tuple[str, ...]) -> list[dict]:
    """Rows from device_runner.py JSON files (their speedups are against the FP32 file on that device)."""
    from .row import COLUMNS, benchmark_row

    merged = []
    for name in files:
        path = Path(name)
        try:
            data = json.loads(path.read_text())
            rows = data["rows"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"--merge {path}: not a device_runner.py result (JSON with 'rows')") from None
        for row in rows:
            merged.append(benchmark_row(**{k: row[k] for k in COLUMNS if k in row}))
    return merged


def write_device_bundle(folder: Path, variants: list, sizes: tuple[int, ...], photos: list[Path]) -> Path:
    """device_runner.py, every ready exported file, and per size the photos + the original's outputs."""
    import numpy as np

    from animegan_deploy.atomic import atomic_path
    from animegan_deploy.backends import load_runner

    from .fidelity import eval_inputs

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("device_runner.py"), folder / "device_runner.py")
    for v in variants:
        if v.status == "ready" and v.backend in ("tflite", "onnxruntime") and v.path is not None:
            shutil.copyfile(v.path, folder / v.path.name)
    original = load_runner(variants[0].path, backend="torch")
    for size in sizes:
        inputs = np.concatenate([x for _, x in eval_inputs(photos, size, square=True)])
        outputs = np.concatenate([original(x[None]) for x in inputs])
        with atomic_path(folder / f"reference_{size}.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, inputs=inputs, outputs=outputs)
    return folder
