"""Model cost: parameters, MACs (torch's FlopCounterMode, FLOPs / 2) and measured torch CPU speed."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gmacs(model: torch.nn.Module, size: int = 256) -> float:
    """Multiply-accumulates of one forward pass on a 1 x 3 x size x size input, in billions."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 2 / 1e9


# Untimed pause before each timed call. A runtime's worker threads keep spinning for a while after a call returns
# (torch's OpenMP pool; ONNX Runtime's unless ort_session_options turns it off), and on a machine with few cores they
# take them from whichever runner goes next: the student's ONNX FP32 file right after the torch original timed 31.5
# ms where the same file elsewhere in the round timed 28.7; with this pause 28.7 and 28.6 (AMD EPYC Zen 4, 2 threads).
SETTLE_S = 0.02


def interleaved_latency(
    runners: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1, settle: float = SETTLE_S
) -> dict[str, list[float]]:
    """Seconds per call of each runner, measured round-robin so machine noise hits all of them alike, with
    ``settle`` seconds of quiet before each call so the previous runner's threads do not time this one."""
    for run in runners.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            if settle:
                time.sleep(settle)
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def torch_fps_ratio(student: torch.nn.Module, original: torch.nn.Module, size: int = 256, repeats: int = 5) -> dict:
    """Torch CPU fps of student and original at size x size, measured interleaved in one run."""
    x = torch.rand(1, 3, size, size) * 2 - 1
    student.eval()
    original.eval()

    def run(model: torch.nn.Module) -> Callable[[], object]:
        def call() -> object:
            with torch.inference_mode():
                return model(x)

        return call

    times = interleaved_latency({"student": run(student), "original": run(original)}, repeats=repeats)
    median = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "size": size,
        "threads": torch.get_num_threads(),
        "student_fps": 1 / median["student"],
        "original_fps": 1 / median["original"],
        "fps_ratio": median["original"] / median["student"],
    }
