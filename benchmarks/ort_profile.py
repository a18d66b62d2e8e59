"""Where an ONNX Runtime file spends its time: ORT's own profiler, summed per operator type (ms per frame).

It says why an INT8 file is or is not faster than FP32 on a CPU: with TensorRT's placement (Q/DQ on conv inputs
only) ORT dequantizes and runs float `Conv`s plus the Q/DQ nodes; with one `QLinearConv` per conv the integer
kernels (VNNI/AMX where the CPU has them) do the convolutions and the float normalizations between them remain.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from animegan_deploy.atomic import atomic_write_json, atomic_write_text


def op_times(path: str | Path, size: int, threads: int, runs: int = 3) -> dict[str, float]:
    """Operator type -> milliseconds per frame over ``runs`` profiled runs (after one unprofiled warm-up)."""
    import onnxruntime as ort

    from animegan_deploy.threads import ort_session_options

    with tempfile.TemporaryDirectory() as tmp:
        options = ort_session_options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
        name = session.get_inputs()[0].name
        session.run(None, {name: x})
        for _ in range(runs):
            session.run(None, {name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    totals: Counter = Counter()
    node_runs: Counter = Counter()
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            totals[event["args"]["op_name"]] += event["dur"]  # microseconds
            node_runs[event["name"]] += 1
    frames = max(node_runs.values(), default=1)  # the warm-up is profiled too: every node ran this often
    return {op: round(us / frames / 1000, 3) for op, us in totals.most_common()}  # the profiler counts whole µs


def profile_variants(variants, size: int, threads: int) -> dict[str, dict[str, float]]:
    """Each ready ONNX Runtime variant's op-type times (name -> {op: ms per frame})."""
    return {v.name: op_times(v.path, size, threads) for v in variants if v.backend == "onnxruntime"
            and v.status == "ready" and v.path is not None}


PROFILE_FILES = ("ort-profile.json", "ort-profile.md")  # what write_profile writes into the report folder


def write_profile(folder: Path, profiles: dict[str, dict[str, float]], size: int, threads: int) -> list[Path]:
    ops = sorted({op for p in profiles.values() for op in p}, key=lambda op: -max(p.get(op, 0) for p in profiles.values()))
    lines = [f"# Where the time goes: ONNX Runtime's profiler per operator type ({size}x{size}, {threads} threads, ms "
             "per frame)", "", "| op | " + " | ".join(profiles) + " |", "| --- |" + " ---: |" * len(profiles)]
    lines += [f"| {op} | " + " | ".join(f"{p.get(op, 0):.1f}" for p in profiles.values()) + " |" for op in ops]
    lines.append("| **sum** | " + " | ".join(f"**{sum(p.values()):.1f}**" for p in profiles.values()) + " |")
    json_name, md_name = PROFILE_FILES
    return [atomic_write_json(folder / json_name, {"size": size, "threads": threads, "ms_per_frame": profiles}),
            atomic_write_text(folder / md_name, "\n".join(lines) + "\n")]
