"""TensorRT calibration cache: text format, big-endian float32 scales, tensor names from the graph."""

import struct

import onnx
import pytest

from animegan_deploy.compress.trt_cache import hex_to_scale, read_cache, scale_to_hex, version_code, write_cache
from animegan_deploy.errors import UserError


def test_hex_is_big_endian_ieee754_float32():
    assert scale_to_hex(1.0) == "3f800000"
    assert scale_to_hex(0.5) == "3f000000"
    assert scale_to_hex(2.0 / 127) == struct.pack(">f", 2.0 / 127).hex()
    assert hex_to_scale("3c010204") == pytest.approx(0.0078740, rel=1e-4)  # 1/127


def test_cache_round_trips_amax_over_127(tmp_path):
    amax = {"input": 1.0, "/block_a/conv": 6.35, "dead": 0.0}
    path = write_cache(tmp_path / "x.cache", amax, "entropy", "8.6.1")
    header, scales = read_cache(path)
    assert header == "TRT-8601-EntropyCalibration2"
    assert scales["input"] == pytest.approx(1.0 / 127, rel=1e-7)
    assert scales["/block_a/conv"] == pytest.approx(0.05, rel=1e-6)
    assert scales["dead"] > 0  # TensorRT rejects a zero scale
    assert path.read_text().splitlines()[1] == f"input: {struct.pack('>f', 1.0 / 127).hex()}"
    assert read_cache(write_cache(tmp_path / "m.cache", amax, "minmax", "10.0.1"))[0] == "TRT-10001-MinMaxCalibration"


def test_version_code_and_bad_input(tmp_path):
    assert version_code("8.6.1") == 8601 and version_code("7.2") == 7200
    with pytest.raises(UserError, match="--trt-version"):
        version_code("eight")
    (tmp_path / "bad.cache").write_text("hello\n")
    with pytest.raises(UserError, match="not a TensorRT calibration cache"):
        read_cache(tmp_path / "bad.cache")


def test_cache_names_are_tensors_of_the_fp32_graph(tiny_int8):
    fp32, result = tiny_int8
    _, scales = read_cache(result.report["calibration_cache"])
    graph = onnx.load(str(fp32)).graph
    tensors = {i.name for i in graph.input} | {o for n in graph.node for o in n.output}
    assert set(scales) <= tensors
    assert graph.input[0].name in scales
    conv_inputs = {n.input[0] for n in graph.node if n.op_type == "Conv"}
    assert conv_inputs <= set(scales)
    assert len(scales) > len(conv_inputs)  # cache_all_tensors: every float tensor, not only conv inputs
