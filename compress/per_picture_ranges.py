"""Per-picture activation ranges in a graph whose Q/DQ scales are all constants (TensorRT's rule).

Every conv of the generator is followed by a whole-map normalization (GroupNorm(1, C)), which divides each picture's
maps by that picture's spread. On a flat, low-contrast photo the few edges come out 2-3x past any range calibrated
on ordinary photos, and a static int8 scale either clips them (the moon: 26.8-32.1 dB on the zoo with every conv
int8, reports/zoo) or, widened for them, coarsens every other picture (reports/zoo/range-headroom). ONNX Runtime's
dynamic quantization measures each activation's range at run time and holds the moon, but its scale is a runtime
tensor, which TensorRT's explicit quantization does not take. Here the picture's range is taken out of the tensor
before a constant-scale Q/DQ and put back after the conv, per picture (n) and output channel (o):

    lo, hi = min(x[n]), max(x[n])          ReduceMin / ReduceMax over the channels and the map
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    u = (x - mid) / half                   in [-1, 1] for every picture: one constant scale, 1/127
    y = Conv(u, W) * half + mid * sum(W[o]) + b[o]

which is exact in float where the conv pads nothing itself (the reflect padding is a Pad node ahead of it). The
int8 conv sees u; the reductions, the shift and the rescale are float work around it (in ONNX Runtime on a CPU,
4-7% over the static Q/DQ file, reports/int8; not timed in TensorRT: none on the project's machines). Once the weights are rounded, ``settle_offsets`` sums the rounded weights
(what the int8 conv computes with) and, with bias correction, subtracts the rounded weights' mean effect, as
bias_correction.py does for the static placements.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .bias_correction import dequantized_weight, mean_effect, rounding_drift
from .calibration import Range
from .centered_inputs import filter_sums, shiftable_conv

HALF_FLOOR = 1e-6  # a constant map (hi == lo) divides by this, not by zero: u is then 0 and y = mid * sum(W) + b


def _reduce(op: str, x: str, out: str, name: str, opset: int, graph: onnx.GraphProto) -> onnx.NodeProto:
    """``op`` (ReduceMin/ReduceMax) of ``x`` over axes 1, 2, 3, kept as N x 1 x 1 x 1 (axes an input from opset 18)."""
    if opset >= 18:
        axes = "per_picture/axes"  # one constant for every reduction
        if not any(i.name == axes for i in graph.initializer):
            graph.initializer.append(numpy_helper.from_array(np.array([1, 2, 3], np.int64), axes))
        return helper.make_node(op, [x, axes], [out], name=name, keepdims=1)
    return helper.make_node(op, [x], [out], name=name, axes=[1, 2, 3], keepdims=1)


def per_picture_inputs(model: onnx.ModelProto, ranges: dict[str, Range], exclude=(), keep_static=()
                       ) -> tuple[onnx.ModelProto, dict[str, Range], list[str]]:
    """A copy of ``model`` in which every Conv (except ``exclude``, by node name, and convs reading a tensor of
    ``keep_static``, e.g. the image) reads its input scaled to the picture's own range (module docstring); the
    ranges with each scaled input's (-1, 1) added; and the names of the convs so rewritten. Convs that pad with
    zeros themselves, whose input has no range, or whose weight or bias is not a constant are left as they are."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    ranges = dict(ranges)
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 18)
    constants = {i.name: i for i in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    rewritten: list[str] = []
    for node in graph.node:
        parameters = shiftable_conv(node, ranges, constants, exclude)
        if parameters is None or node.input[0] in keep_static:
            nodes.append(node)
            continue
        x, (weight, old_bias) = node.input[0], parameters
        outs = weight.shape[0]
        p = f"{node.name}/per_picture"
        graph.initializer.extend([
            numpy_helper.from_array(filter_sums(weight).reshape(1, outs, 1, 1).astype(np.float32), f"{p}/weight_sum"),
            numpy_helper.from_array(old_bias.reshape(1, outs, 1, 1).astype(np.float32), f"{p}/bias")])
        scaled, conv_out, y = f"{x}/per_picture/{node.name}", f"{p}/conv", node.output[0]
        nodes += [
            _reduce("ReduceMin", x, f"{p}/low", f"{p}/low", opset, graph),
            _reduce("ReduceMax", x, f"{p}/high", f"{p}/high", opset, graph),
            helper.make_node("Add", [f"{p}/low", f"{p}/high"], [f"{p}/sum"], name=f"{p}/sum"),
            helper.make_node("Mul", [f"{p}/sum", "per_picture/half"], [f"{p}/mid"], name=f"{p}/mid"),
            helper.make_node("Sub", [f"{p}/high", f"{p}/low"], [f"{p}/width"], name=f"{p}/width"),
            helper.make_node("Mul", [f"{p}/width", "per_picture/half"], [f"{p}/half_raw"], name=f"{p}/half_raw"),
            helper.make_node("Max", [f"{p}/half_raw", "per_picture/floor"], [f"{p}/half"], name=f"{p}/half"),
            helper.make_node("Sub", [x, f"{p}/mid"], [f"{p}/centered"], name=f"{p}/centered"),
            helper.make_node("Div", [f"{p}/centered", f"{p}/half"], [scaled], name=f"{p}/scale_input"),
        ]
        del node.input[2:]
        node.input[0] = scaled
        node.output[0] = conv_out
        nodes += [
            node,
            helper.make_node("Mul", [conv_out, f"{p}/half"], [f"{p}/rescaled"], name=f"{p}/rescale"),
            helper.make_node("Mul", [f"{p}/mid", f"{p}/weight_sum"], [f"{p}/offset"], name=f"{p}/offset"),
            helper.make_node("Add", [f"{p}/offset", f"{p}/bias"], [f"{p}/shift"], name=f"{p}/shift"),
            helper.make_node("Add", [f"{p}/rescaled", f"{p}/shift"], [y], name=f"{p}/output"),
        ]
        ranges[scaled] = (-1.0, 1.0)
        rewritten.append(node.name)
    del graph.node[:]
    graph.node.extend(nodes)
    if rewritten:  # the constants every rewritten conv shares
        for key, value in {"half": 0.5, "floor": HALF_FLOOR}.items():
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), f"per_picture/{key}"))
    return model, ranges, rewritten


def per_picture_convs(model: onnx.ModelProto) -> int:
    """How many convs of ``model`` read their input scaled to the picture's own range (:func:`per_picture_inputs`)."""
    return sum(node.name.endswith("/per_picture/scale_input") for node in model.graph.node)


def settle_offsets(quantized: onnx.ModelProto, float_model: onnx.ModelProto, convs: list[str],
                   input_means: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    """For each conv of ``convs`` (rewritten by :func:`per_picture_inputs`) whose weight ``quantized`` rounds: the
    offset's weight sum over the rounded weights, and where ``input_means`` (node name -> per-channel mean of the
    conv's original input) has it, the bias less the rounded weights' mean effect sum(dW * mean). ``float_model``
    holds the float weights (by conv node name). Changed in place and returned."""
    input_means = input_means or {}
    float_constants = {i.name: i for i in float_model.graph.initializer}
    float_weight = {n.name: n.input[1] for n in float_model.graph.node if n.op_type == "Conv"}
    graph = quantized.graph
    constants = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type != "Conv" or node.name not in convs:
            continue
        dequantize = producer.get(node.input[1])
        if dequantize is None or dequantize.op_type != "DequantizeLinear":
            continue  # kept float: the offsets it was built with are exact
        rounded = dequantized_weight(dequantize, constants)
        p = f"{node.name}/per_picture"
        outs = rounded.shape[0]
        constants[f"{p}/weight_sum"].CopyFrom(numpy_helper.from_array(
            filter_sums(rounded).reshape(1, outs, 1, 1).astype(np.float32), f"{p}/weight_sum"))
        if node.name in input_means:
            drift = rounding_drift(rounded, float_constants[float_weight[node.name]])
            bias = numpy_helper.to_array(constants[f"{p}/bias"]).astype(np.float64).reshape(-1)
            bias -= mean_effect(node, drift, input_means[node.name])
            constants[f"{p}/bias"].CopyFrom(numpy_helper.from_array(
                bias.reshape(1, outs, 1, 1).astype(np.float32), f"{p}/bias"))
    return quantized
