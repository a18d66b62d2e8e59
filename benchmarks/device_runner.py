#!/usr/bin/env python3
"""Self-contained on-device benchmark for exported AnimeGAN files (.tflite, .onnx).

Copy this one file, the exported models and (optionally) the reference bundle written by
``animegan benchmark --device-bundle DIR`` to a Raspberry Pi, Jetson or phone with Python. It needs only
numpy plus a runtime: ``ai-edge-litert`` (or ``tflite-runtime``) for .tflite, ``onnxruntime`` for .onnx.

    python3 device_runner.py --label pi5 --threads 4 --reference reference_256.npz \\
        animegan_demo_float32.tflite animegan_demo_full_integer_quant.tflite -o pi5.json

It warms up, times the files round-robin (like the suite), and writes JSON rows in the suite's schema
(``animegan benchmark --merge pi5.json`` adds them to the report). With a reference bundle, PSNR on [0, 255]
against the FP32 torch original's outputs is reported too (SSIM needs scikit-image, so it is left to the
host). Speedups are relative to the first file given (put the FP32 one first).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

# seconds of quiet before each timed run, as benchmarks/cost.py's SETTLE_S (this script runs on the device without
# the package): a runtime's threads that still spin after its call would otherwise time the next file
SETTLE_S = 0.02


class TFLiteModel:
    def __init__(self, path: Path, threads: int) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            from tflite_runtime.interpreter import Interpreter  # older devices
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]
        self.size = int(self.inp["shape"][1])

    def __call__(self, nchw: np.ndarray) -> np.ndarray:
        x = nchw.transpose(0, 2, 3, 1)
        if np.dtype(self.inp["dtype"]).kind != "f":
            scale, zero = self.inp["quantization"]
            info = np.iinfo(self.inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        self.interpreter.set_tensor(self.inp["index"], x.astype(self.inp["dtype"]))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.out["index"])
        if y.dtype.kind != "f":
            scale, zero = self.out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y.astype(np.float32).transpose(0, 3, 1, 2)


class OnnxModel:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # idle threads wait instead of spin: the files are timed round-robin, and one session's spinning threads
        # would take the cores from the next (animegan_deploy.threads.ort_session_options says by how much)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=ort.get_available_providers())
        self.name = self.session.get_inputs()[0].name
        dims = self.session.get_inputs()[0].shape
        self.size = dims[2] if isinstance(dims[2], int) else None

    def __call__(self, nchw: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.name: nchw.astype(np.float32)})[0]


LOADERS = {".tflite": TFLiteModel, ".onnx": OnnxModel}


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    a = np.rint(np.clip((reference + 1) * 127.5, 0, 255))
    b = np.rint(np.clip((test + 1) * 127.5, 0, 255))
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help=".tflite / .onnx files; the first is the speed baseline")
    parser.add_argument("--label", default=platform.node() or "device", help="device name in the report")
    parser.add_argument("--size", type=int, default=256, help="input size for dynamic-shape files")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--reference", help="reference_<size>.npz from `animegan benchmark --device-bundle`")
    parser.add_argument("-o", "--output", default="device.json")
    args = parser.parse_args(argv)

    reference = np.load(args.reference) if args.reference else None
    rows, models, names = [], {}, []
    for name in args.models:
        path = Path(name)
        row = {"variant": path.stem, "backend": path.suffix.lstrip("."), "where": args.label, "threads": args.threads,
               "file_mb": round(path.stat().st_size / 1e6, 3) if path.is_file() else None}
        try:
            model = LOADERS[path.suffix](path, args.threads)
        except Exception as exc:  # keep going: the row says why
            rows.append({**row, "status": "failed", "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
            continue
        size = model.size or args.size
        x = (reference["inputs"][:1] if reference is not None and reference["inputs"].shape[2] == size
             else np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32))
        for _ in range(args.warmup):
            model(x)
        if reference is not None and reference["inputs"].shape[2] == size:
            values = [psnr(reference["outputs"][i:i + 1], model(reference["inputs"][i:i + 1]))
                      for i in range(len(reference["inputs"]))]
            finite = [v for v in values if np.isfinite(v)]
            if any(np.isnan(v) for v in values):  # a broken model: its row says so, never "identical"
                rows.append({**row, "status": "failed", "reason": "its output holds NaN: the model is broken"})
                continue
            # identical pictures (inf) are left out of the mean; all identical: null and identical = true
            row["psnr_db"] = round(float(np.mean(finite)), 2) if finite else None
            row["identical"] = not finite
        models[path.stem] = (model, x)
        names.append(path.stem)
        rows.append({**row, "size": size, "status": "ok", "reason": ""})
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for n in names:
            model, x = models[n]
            time.sleep(SETTLE_S)  # untimed: the previous file's runtime threads settle first
            started = time.perf_counter()
            model(x)
            times[n].append(time.perf_counter() - started)
    base = float(np.median(times[names[0]])) if names else None
    for row in rows:
        if row["status"] != "ok":
            continue
        t = np.asarray(times[row["variant"]]) * 1e3
        median = float(np.median(t))
        row.update(latency_ms_median=round(median, 2), latency_ms_p10=round(float(np.percentile(t, 10)), 2),
                   latency_ms_p90=round(float(np.percentile(t, 90)), 2), fps=round(1e3 / median, 3),
                   speedup_vs_original=round(base * 1e3 / median, 3))
    machine = {"label": args.label, "machine": platform.machine(), "python": platform.python_version(),
               "os": f"{platform.system()} {platform.release()}"}
    rows = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in rows]
    Path(args.output).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2, allow_nan=False))
    for row in rows:
        print(f"{row['variant']:>40}: {row['status']:<7} {row.get('fps') or '':>8} fps  PSNR {row.get('psnr_db')}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
