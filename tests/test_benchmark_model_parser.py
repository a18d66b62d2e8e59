"""Parsing TFLite `benchmark_model` logs (the Android path of the benchmark suite) in both log formats.

The fixtures follow the line formats printed by TFLite's tools/benchmark (benchmark_model.cc /
benchmark_tflite_model.cc): the 2.x format with percentiles and memory, and the older 1.x summary line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from animegan_deploy.benchmarks.device import android_row, parse_benchmark_model
from animegan_deploy.benchmarks.variants import Variant

DATA = Path(__file__).parent / "data"


def test_new_format_timings_percentiles_and_memory():
    parsed = parse_benchmark_model((DATA / "benchmark_model_new.txt").read_text())
    assert parsed["init_us"] == 48913 and parsed["first_us"] == 412331
    assert parsed["warmup_avg_us"] == 384435 and parsed["inference_avg_us"] == 370233
    # the stats of the timed run (the last count= line), not of the warm-up
    assert parsed["runs"] == 20 and parsed["median_us"] == 369377
    assert parsed["p5_us"] == 366120 and parsed["p95_us"] == 381907 and parsed["std_us"] == 3561
    assert parsed["memory_init_mb"] == pytest.approx(9.8125) and parsed["memory_overall_mb"] == pytest.approx(27.3477)


def test_old_format_summary_line():
    parsed = parse_benchmark_model((DATA / "benchmark_model_old.txt").read_text())
    assert parsed["inference_avg_us"] == 904036 and parsed["warmup_avg_us"] == 907354 and parsed["init_us"] == 3330
    assert parsed["runs"] == 20 and parsed["min_us"] == 901417
    assert "memory_overall_mb" not in parsed and "median_us" not in parsed


def test_output_without_timings_is_an_error():
    with pytest.raises(ValueError, match="no inference timings"):
        parse_benchmark_model("ERROR: Failed to apply GPU delegate.\nBenchmarking failed.\n")


def test_parsed_timings_become_a_table_row(tmp_path):
    model = tmp_path / "m_full_integer_quant.tflite"
    model.write_bytes(b"\0" * 2_000_000)
    variant = Variant("tflite full_integer_quant", "tflite", "int8", model, None, fixed_size=256)
    row = android_row(variant, "cpu-xnnpack", parse_benchmark_model((DATA / "benchmark_model_new.txt").read_text()),
                      device="Pixel 7")
    assert row["where"] == "Pixel 7" and row["backend"] == "tflite/cpu-xnnpack" and row["size"] == 256
    assert row["latency_ms_median"] == pytest.approx(369.38) and row["fps"] == pytest.approx(2.707, abs=1e-3)
    assert row["latency_ms_p10"] == pytest.approx(366.12) and row["latency_ms_p90"] == pytest.approx(381.91)
    assert row["peak_rss_mb"] == pytest.approx(27.3477) and row["file_mb"] == 2.0 and row["status"] == "ok"
