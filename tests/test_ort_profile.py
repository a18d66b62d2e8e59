"""The benchmark's per-operator profile (ORT's profiler): a float file spends its time in Conv, a QLinearConv file
in QLinearConv, and the per-frame times add up to no more than the wall-clock time of a run."""

import time

import numpy as np
import onnxruntime as ort

from animegan_deploy.benchmarks.ort_profile import op_times, write_profile


def test_float_and_qlinearconv_files_show_their_conv_kernels(tiny_int8, tmp_path, photo_folders):
    from animegan_deploy.compress.quantize import QuantizeConfig, quantize_onnx

    fp32, _ = tiny_int8
    ort_conv = quantize_onnx(fp32, QuantizeConfig(calib_dir=str(photo_folders["calib"]), size=32, choose=False,
                                                  eval_dir=str(photo_folders["eval"]), placement="onnxruntime-conv"),
                             tmp_path / "tiny.int8-ort.onnx", progress=False).path
    float_ops = op_times(fp32, 64, 1)
    int8_ops = op_times(ort_conv, 64, 1)
    assert "Conv" in float_ops and "QLinearConv" not in float_ops
    assert "QLinearConv" in int8_ops and "Conv" not in int8_ops
    assert all(ms > 0 for ms in float_ops.values())
    session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 64, 64), np.float32)
    session.run(None, {"input": x})
    started = time.perf_counter()
    for _ in range(5):
        session.run(None, {"input": x})
    wall_ms = (time.perf_counter() - started) / 5 * 1000
    assert sum(float_ops.values()) < 3 * wall_ms  # per frame, not summed over the profiled runs
    md = write_profile(tmp_path, {"fp32": float_ops, "int8": int8_ops}, 64, 1)[1].read_text()
    assert "| QLinearConv | 0.0 |" in md and "**sum**" in md
