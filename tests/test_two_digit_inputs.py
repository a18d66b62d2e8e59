"""Two-digit conv inputs (compress/two_digit, placement tensorrt-two-digit): exact in float, outliers kept in INT8."""

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from animegan_deploy.compress.quantize import PLACEMENTS, QuantizeConfig, build_qdq, conv_nodes, session_fn
from animegan_deploy.compress.two_digit import two_digit_inputs
from onnx_helpers import export_named


class TwoConvs(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.b = torch.nn.Conv2d(8, 3, 1)

    def forward(self, x):
        return torch.tanh(self.b(torch.nn.functional.leaky_relu(self.a(x), 0.2)) * 0.3)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> onnx.ModelProto:
    return export_named(TwoConvs(), (1, 3, 16, 16), tmp_path_factory.mktemp("td") / "two.onnx")


def _ranges(model, amax=1.0):
    return {c.activation: amax for c in conv_nodes(model)}


def _run(model, x):
    return session_fn(model)(x)


def test_the_split_is_exact_in_float(model):
    split, ranges = two_digit_inputs(model, _ranges(model, 0.5), tail=2.0)
    convs = [n for n in split.graph.node if n.op_type == "Conv"]
    assert len(convs) == 4 and sum(n.op_type == "Clip" for n in split.graph.node) == 2
    x = np.random.default_rng(0).uniform(-3, 3, (1, 3, 16, 16)).astype(np.float32)  # far past +-0.5
    np.testing.assert_allclose(_run(split, x), _run(model, x), atol=1e-5)
    tails = [name for name in ranges if name.endswith("/tail")]
    assert len(tails) == 2 and all(ranges[name] == pytest.approx(1.0) for name in tails)  # 2 x 0.5


def test_outliers_survive_int8_with_two_digits(model):
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
    spiky = x.copy()
    spiky[0, :, 4:8, 4:8] = 3.5  # 3.5x past the input conv's calibrated range
    exact = _run(model, spiky)
    ranges = {**_ranges(model), conv_nodes(model)[1].activation: float(np.abs(_run_hidden(model, x)).max())}
    plain = np.abs(_run(build_qdq(model, ranges, placement="tensorrt"), spiky) - exact).max()
    two = np.abs(_run(build_qdq(model, ranges, placement="tensorrt-two-digit"), spiky) - exact).max()
    assert plain > 0.05 and two < plain / 3, (plain, two)
    # typical input: the second digit is zero, so both files agree to int8 rounding
    typical = np.abs(_run(build_qdq(model, ranges, placement="tensorrt-two-digit"), x * 0.9)
                     - _run(build_qdq(model, ranges, placement="tensorrt"), x * 0.9)).max()
    assert typical < 0.02


def _run_hidden(model, x):
    """The second conv's input on ``x`` (to give it a calibrated range)."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    name = conv_nodes(m)[1].activation
    m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    import onnxruntime as ort

    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run([name], {"input": x})[0]


def test_excluded_convs_stay_single_and_float(model):
    first = conv_nodes(model)[0].name
    q = build_qdq(model, _ranges(model), exclude=[first], placement="tensorrt-two-digit")
    assert not any(n.name.startswith(first + "/") for n in q.graph.node)  # not split
    assert any(n.name == conv_nodes(model)[1].name + "/tail" for n in q.graph.node)
    scales = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer if i.name.endswith("_scale")}
    tail_scales = [float(v) for k, v in scales.items() if "/tail" in k and v.ndim == 0]
    assert tail_scales and all(s == pytest.approx(2.0 / 127, rel=1e-3) for s in tail_scales)  # 2 x amax 1.0


def test_the_placement_defaults_and_refusals():
    assert PLACEMENTS["tensorrt-two-digit"].two_digit_tail == 2.0
    # its methods, tried per model; mean-minmax first (the default without measuring)
    assert PLACEMENTS["tensorrt-two-digit"].methods == ("mean-minmax", "percentile")
    assert PLACEMENTS["tensorrt-two-digit"].method == "mean-minmax"
    assert QuantizeConfig(placement="tensorrt-two-digit").method is None  # unset: chosen per model
    with pytest.raises(ValueError, match="tail"):
        two_digit_inputs(onnx.ModelProto(), {}, tail=1.0)
