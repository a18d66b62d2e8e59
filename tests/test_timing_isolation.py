"""Timing one runtime must not time another's idle threads: ONNX Runtime sessions wait instead of spin, and the
benchmark's round-robin leaves a quiet pause before every timed call (benchmarks/cost.py, animegan_deploy/threads.py).
Without both, the same ONNX file timed 46.8 and 69.8 ms in one benchmark run of the width-0.25 student."""

import time

from animegan_deploy.backends.onnxruntime_backend import OnnxRuntimeRunner
from animegan_deploy.threads import ort_session_options
from benchmarks.cost import SETTLE_S, interleaved_latency


def test_onnxruntime_threads_wait_instead_of_spinning(tiny_int8):
    fp32, int8 = tiny_int8
    assert ort_session_options(2).get_session_config_entry("session.intra_op.allow_spinning") == "0"
    for path in (fp32, int8.path):  # every runner the benchmark, stylize and the fidelity checks load
        options = OnnxRuntimeRunner(path).session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_round_robin_leaves_a_quiet_pause_before_every_timed_call():
    calls: list[tuple[str, float, float]] = []

    def runner(name: str):
        def run() -> None:
            started = time.perf_counter()
            time.sleep(0.001)
            calls.append((name, started, time.perf_counter()))
        return run

    times = interleaved_latency({"a": runner("a"), "b": runner("b")}, repeats=3, warmup=0, settle=0.01)
    assert [name for name, _, _ in calls] == ["a", "b"] * 3
    gaps = [start - end for (_, _, end), (_, start, _) in zip(calls, calls[1:])]
    assert min(gaps) >= 0.01
    assert all(0.001 <= t < 0.01 for t in times["a"] + times["b"])  # the pause is not timed
    assert SETTLE_S >= 0.01


def test_the_device_runner_pauses_as_the_suite_does():
    from benchmarks import device_runner  # copied to the device and run there without the package

    assert device_runner.SETTLE_S == SETTLE_S
