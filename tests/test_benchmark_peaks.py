"""The benchmark states the CPU's INT8 capability next to its FP32 peak, and an INT8 row's "% of peak" is of the
INT8 peak (an int8 file at FP32's share of the FP32 peak would otherwise look efficient on a VNNI/AMX CPU)."""

from animegan_deploy.benchmarks.machine import fp32_flops_per_cycle, int8_ops_per_cycle, machine_info
from animegan_deploy.benchmarks.report import is_int8, physical_bound, with_peak_share


def test_int8_ops_per_cycle_follows_the_instructions():
    assert int8_ops_per_cycle({"avx2", "fma"}) == 64
    assert int8_ops_per_cycle({"avx2", "avx_vnni"}) == 128
    assert int8_ops_per_cycle({"avx512f", "avx512bw"}) == 128
    assert int8_ops_per_cycle({"avx512f", "avx512bw", "avx512_vnni"}) == 256
    assert int8_ops_per_cycle({"avx512f", "avx512_vnni", "amx_int8", "amx_tile"}) == 2048
    assert int8_ops_per_cycle({"asimd", "asimddp"}) == 64
    # plain AVX2: twice FP32's operations per cycle (two instructions per int8 MAC vs one FMA per 2 FLOPs x 8 lanes)
    assert int8_ops_per_cycle({"avx2", "fma"}) == 2 * fp32_flops_per_cycle({"avx2", "fma"})


def test_this_machine_reports_both_peaks():
    m = machine_info()
    assert m["peak_int8_gops"] >= m["peak_fp32_gflops"] > 0
    assert m["int8_ops_per_cycle_per_core"] == int8_ops_per_cycle(set(m["flags"]))


MACHINE = {"cpu": "test CPU", "logical_cores": 2, "mhz": 2000.0, "flags": ["avx512f", "avx512_vnni"],
           "fp32_flops_per_cycle_per_core": 64, "peak_fp32_gflops": 256.0, "int8_dot_product": "AVX-512 VNNI",
           "int8_ops_per_cycle_per_core": 256, "peak_int8_gops": 1024.0, "peak_note": "estimate"}


def _row(variant, precision, fps):
    return {"variant": variant, "precision": precision, "fps": fps, "gmacs": 10.0, "threads": 2, "where": "local",
            "size": 256, "status": "ok"}


def test_int8_rows_are_measured_against_the_int8_peak():
    rows = with_peak_share([_row("original", "fp32", 4.0), _row("onnx-int8", "int8", 4.0),
                            _row("tflite full-integer", "int8", 4.0), _row("tflite 16x8", "int16x8", 4.0),
                            _row("onnx-fp16", "fp16", 4.0)], MACHINE)
    share = {r["variant"]: r["pct_of_peak"] for r in rows}
    # 4 fps x 20 GOPs = 80 GOP/s: 31.2% of the FP32 peak, 7.8% of the INT8 peak
    assert share["original"] == share["onnx-fp16"] == 31.2
    assert share["onnx-int8"] == share["tflite full-integer"] == share["tflite 16x8"] == 7.8
    assert is_int8("int8-float-io") and is_int8("int8-weights") and not is_int8("fp16") and not is_int8(None)


def test_the_physical_bound_names_the_int8_capability():
    text = " ".join(physical_bound(MACHINE, [_row("original", "fp32", 4.0)]))
    assert "AVX-512 VNNI" in text and "1024.0 GOP/s INT8 peak" in text and "256.0 GFLOP/s FP32 peak" in text
