"""The folded student's INT8 graph: no float normalization left, every conv runs as an integer QLinearConv."""

import onnx
import onnxruntime as ort
import pytest

from animegan_deploy.compress.quantize import QuantizeConfig, quantize_onnx
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import save_checkpoint
from test_student_fold import _random_statistics

# (an explicit GroupNorm shows as ReduceMean + Sqrt; the Div ops left are integer shape arithmetic of the resizes)
NORM_OPS = {"InstanceNormalization", "BatchNormalization", "GroupNormalization", "ReduceMean", "Sqrt"}


@pytest.fixture(scope="module")
def student_int8(tmp_path_factory, photo_folders):
    out = tmp_path_factory.mktemp("student_int8")
    ckpt = save_checkpoint(_random_statistics(Generator(width=0.25, norm="batch"), seed=2), out / "s.safetensors")
    fp32 = export_onnx(ckpt, OnnxExportConfig(validate_sizes=((32, 32),)), out / "s.onnx").path
    config = QuantizeConfig(placement="onnxruntime", calib_dir=str(photo_folders["calib"]),
                            eval_dir=str(photo_folders["eval"]), size=32)
    return fp32, quantize_onnx(fp32, config, out / "s.int8.onnx", progress=False)


def test_folded_fp32_graph_is_conv_and_activation_only(student_int8):
    fp32, _ = student_int8
    ops = {n.op_type for n in onnx.load(str(fp32)).graph.node}
    assert not ops & NORM_OPS, ops & NORM_OPS
    assert "Conv" in ops and "LeakyRelu" in ops


def test_every_conv_becomes_an_integer_conv_in_onnxruntime(student_int8, tmp_path):
    fp32, result = student_int8
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(fp32)).graph.node)
    qdq = onnx.load(str(result.path))
    assert not {n.op_type for n in qdq.graph.node} & NORM_OPS
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ort.InferenceSession(str(result.path), options, providers=["CPUExecutionProvider"])
    optimized = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert optimized.count("QLinearConv") == convs  # each conv runs in int8 ...
    assert "Conv" not in optimized and "FusedConv" not in optimized  # ... and none in float
    assert result.fidelity.psnr > 25
