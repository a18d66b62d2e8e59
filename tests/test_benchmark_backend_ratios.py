"""The benchmark report states each variant's speed over its own backend's FP32 file from the same run (the
INT8 fps / FP32 fps figure a deploy decision rests on), only against a row measured at the same size, threads
and place."""

from animegan_deploy.benchmarks.report import same_backend_ratios


def _row(variant, backend, fps, size=256, threads=2, where="local"):
    return {"variant": variant, "backend": backend, "fps": fps, "size": size, "threads": threads, "where": where}


def test_ratios_are_against_the_same_backends_fp32_row():
    rows = [_row("original", "torch", 2.0), _row("onnx fp32", "onnxruntime", 2.2),
            _row("onnx int8 qlinearconv", "onnxruntime", 3.3), _row("onnx int8 q/dq", "onnxruntime", 1.1),
            _row("tflite float32", "tflite", 1.6), _row("tflite full_integer_quant", "tflite", 1.2),
            _row("onnx int8 qlinearconv", "onnxruntime", 1.0, threads=1),  # no FP32 row at 1 thread
            _row("tensorrt int8", "tensorrt", None)]  # unavailable
    [line] = same_backend_ratios(rows)
    assert "onnx int8 qlinearconv 1.50x onnx fp32 (256 px, 2 thr)" in line
    assert "onnx int8 q/dq 0.50x onnx fp32" in line
    assert "tflite full_integer_quant 0.75x tflite float32" in line
    assert "1 thr" not in line and "tensorrt" not in line and "original" not in line


def test_no_fp32_row_no_line():
    assert same_backend_ratios([_row("original", "torch", 2.0), _row("onnx int8 q/dq", "onnxruntime", 1.0)]) == []
