"""Benchmark suite: every variant and backend against the FP32 original (fps, latency, size, fidelity)."""
