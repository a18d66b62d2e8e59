"""The Q/DQ ONNX follows TensorRT's explicit-quantization rules and runs in ONNX Runtime."""

import numpy as np
import onnx
from onnx import numpy_helper

from animegan_deploy.compress.quantize import session_fn


def _producers(model):
    return {out: node for node in model.graph.node for out in node.output}


def test_every_conv_reads_dequantized_int8_activation_and_per_channel_weight(tiny_int8):
    _, result = tiny_int8
    model = onnx.load(str(result.path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = _producers(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 25 and result.float_layers == []
    for conv in convs:
        act_dq, weight_dq = producer[conv.input[0]], producer[conv.input[1]]
        assert act_dq.op_type == "DequantizeLinear" and producer[act_dq.input[0]].op_type == "QuantizeLinear"
        assert weight_dq.op_type == "DequantizeLinear"
        # activation: one scale (per tensor), zero point 0 of type int8 (symmetric)
        assert inits[act_dq.input[1]].size == 1
        assert inits[act_dq.input[2]].dtype == np.int8 and not inits[act_dq.input[2]].any()
        # weight: int8 constant, one scale per output channel on axis 0, zero points 0
        weight = inits[weight_dq.input[0]]
        axis = {a.name: a.i for a in weight_dq.attribute}.get("axis", 1)
        assert weight.dtype == np.int8 and axis == 0
        assert inits[weight_dq.input[1]].shape == (weight.shape[0],)
        assert not inits[weight_dq.input[2]].any()
        assert np.abs(weight.astype(np.int32)).max() <= 127  # symmetric range, -128 unused
        # bias stays float, conv output is not quantized (TensorRT fuses it)
        if len(conv.input) > 2:
            assert conv.input[2] in inits and inits[conv.input[2]].dtype == np.float32


def test_activation_pairs_are_dedicated_to_one_conv(tiny_int8):
    _, result = tiny_int8
    model = onnx.load(str(result.path))
    conv_reads: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Conv":
            for name in node.input:
                conv_reads[name] = conv_reads.get(name, 0) + 1
    dq_outputs = [n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"]
    # TensorRT cannot share one Q/DQ pair between two quantized layers (a residual Add may read it too)
    assert len(dq_outputs) == 2 * 25 and all(conv_reads.get(o, 0) == 1 for o in dq_outputs)


def test_qdq_model_runs_in_onnxruntime_close_to_fp32(tiny_int8):
    fp32, result = tiny_int8
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 40, 56)).astype(np.float32)
    ref = session_fn(onnx.load(str(fp32)))(x)
    out = session_fn(onnx.load(str(result.path)))(x)
    assert out.shape == ref.shape == (1, 3, 40, 56)
    assert 0 < np.abs(out - ref).max() < 0.5  # quantized (not identical) but close
    assert result.fidelity.psnr > 25.0 and result.report["quantized_convs"] == 25
