"""Bias correction (compress/bias_correction): the int8 conv's mean output back where the float conv's is."""

import numpy as np
import onnx
import pytest
import torch

from animegan_deploy.compress.bias_correction import per_input_drift
from animegan_deploy.compress.quantize import build_qdq, conv_nodes, session_fn
from onnx_helpers import export_named


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_each_output_channel_sums_over_its_own_group_inputs(groups):
    rng = np.random.default_rng(groups)
    drift = rng.standard_normal((6, 6 // groups))  # O x I/groups (6 inputs, 6 outputs)
    means = rng.standard_normal(6)
    expected = [sum(drift[o, j] * means[(o // (6 // groups)) * (6 // groups) + j] for j in range(6 // groups))
                for o in range(6)]
    np.testing.assert_allclose(per_input_drift(drift, means, groups), expected)


class OffsetInput(torch.nn.Module):
    """A 1x1 conv without bias reading a map whose mean (about 2.5) is far from zero: the rounded weights'
    error times that mean is a constant offset per output channel (measured: 0.0019 mean |offset| per channel
    before, 0.0001 after)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = torch.nn.Conv2d(16, 8, 1, bias=False)

    def forward(self, x):
        return self.conv(x)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> onnx.ModelProto:
    return export_named(OffsetInput(), (1, 16, 8, 8), tmp_path_factory.mktemp("bc") / "offset.onnx")


def test_corrected_bias_removes_the_mean_offset_of_rounded_weights(model):
    rng = np.random.default_rng(0)
    xs = [(2.5 + 0.3 * rng.standard_normal((1, 16, 8, 8))).astype(np.float32) for _ in range(4)]
    conv = conv_nodes(model)[0]
    ranges = {conv.activation: 4.0}
    means = {conv.name: np.mean([x.mean(axis=(0, 2, 3)) for x in xs], axis=0)}

    def offset(q):  # per output channel: mean over pictures and pixels of int8 - float
        return np.mean([(session_fn(q)(x) - session_fn(model)(x)).mean(axis=(0, 2, 3)) for x in xs], axis=0)

    plain = build_qdq(model, ranges, center=False)
    corrected = build_qdq(model, ranges, center=False, input_means=means)
    assert len(next(n for n in corrected.graph.node if n.op_type == "Conv").input) == 3  # a bias added
    before, after = np.abs(offset(plain)).mean(), np.abs(offset(corrected)).mean()
    assert before > 1e-3 and after < before / 10, (before, after)


def test_integer_bias_placements_are_left_alone(model):
    """ONNX Runtime's conv placement quantizes biases into QLinearConv: a float bias added there would stop the
    fusion, so bias correction does not touch it."""
    conv = conv_nodes(model)[0]
    ranges = {conv.activation: (0.0, 4.0), "output": (-3.0, 3.0)}
    means = {conv.name: np.full(16, 2.5)}
    plain = build_qdq(model, ranges, placement="onnxruntime-conv")
    asked = build_qdq(model, ranges, placement="onnxruntime-conv", input_means=means)
    assert plain.SerializeToString() == asked.SerializeToString()
    assert build_qdq(model, {conv.activation: 4.0}, center=False, input_means=means).SerializeToString() != \
        build_qdq(model, {conv.activation: 4.0}, center=False).SerializeToString()
