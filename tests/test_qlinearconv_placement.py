"""--placement onnxruntime-conv: Q/DQ on every Conv's input and output only (uint8 activations, asymmetric
mean-minmax ranges), so ONNX Runtime's CPU provider fuses each conv into one QLinearConv while the normalizations
and everything between convs stay float."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from animegan_deploy.compress.quantize import QuantizeConfig, quantize_onnx
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx


@pytest.fixture(scope="module")
def ort_conv(tmp_path_factory, tiny_checkpoint, photo_folders):
    out = tmp_path_factory.mktemp("qlinear")
    fp32 = export_onnx(tiny_checkpoint, OnnxExportConfig(validate_sizes=((32, 32),)), out / "tiny.onnx").path
    config = QuantizeConfig(calib_dir=str(photo_folders["calib"]), eval_dir=str(photo_folders["eval"]), size=32,
                            placement="onnxruntime-conv")
    return out, config, quantize_onnx(fp32, config, out / "tiny.int8-ort.onnx", progress=False)


def test_the_placement_brings_its_calibration_methods(ort_conv):
    """Its methods are tried on the validation photos (mean-minmax first: the default without measuring); the
    report says which won and what each gave. Centering and float-bias correction do not apply to uint8 QLinearConv."""
    from animegan_deploy.compress.choose import defaults_of
    from animegan_deploy.compress.quantize import PLACEMENTS

    _, config, result = ort_conv
    assert PLACEMENTS["onnxruntime-conv"].methods == ("mean-minmax", "percentile", "minmax")
    settings = result.report["settings"]
    assert {row["method"] for row in settings["tried"]} == {"mean-minmax", "percentile", "minmax"}
    best = max(settings["tried"], key=lambda row: row["psnr_db"])
    assert result.report["method"] == settings["chosen"]["method"] == best["method"]
    assert settings["chosen"]["center"] is False and settings["chosen"]["bias_correction"] is False
    assert defaults_of(QuantizeConfig(placement="onnxruntime-conv", choose=False), False).method == "mean-minmax"
    assert defaults_of(QuantizeConfig(placement="tensorrt", choose=False), False).method == "percentile"


def test_only_conv_inputs_and_outputs_are_quantized_to_uint8(ort_conv):
    _, _, result = ort_conv
    model = onnx.load(str(result.path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 25
    zero_points = []
    for conv in convs:
        dq = producer[conv.input[0]]
        assert dq.op_type == "DequantizeLinear" and inits[dq.input[2]].dtype == np.uint8
        zero_points.append(int(inits[dq.input[2]]))
        assert [c.op_type for c in consumers[conv.output[0]]] == ["QuantizeLinear"]  # output quantized too
    assert len(set(zero_points)) > 3  # asymmetric ranges, one per tensor (a symmetric uint8 range is always 128)
    # every activation QuantizeLinear sits on a conv boundary: it quantizes a conv's output or a conv's input
    conv_outputs = {c.output[0] for c in convs}
    conv_inputs = {producer[producer[c.input[0]].input[0]].input[0] for c in convs}
    quantized = [n.input[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantized and set(quantized) <= conv_outputs | conv_inputs
    assert conv_outputs <= set(quantized)


def test_onnxruntime_fuses_every_conv_into_qlinearconv(ort_conv):
    out, _, result = ort_conv
    optimized = out / "optimized.onnx"
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(optimized)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ort.InferenceSession(str(result.path), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(optimized)).graph.node]
    assert ops.count("QLinearConv") == 25 and "Conv" not in ops
    assert result.fidelity.psnr > 22.0, result.fidelity
