"""Per-picture conv input ranges (compress/per_picture_ranges, placement tensorrt-per-picture): exact in float, every
Q/DQ scale a constant (TensorRT's rule), and a picture far past the calibrated range kept where a static scale
clips it."""

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from animegan_deploy.compress.per_picture_ranges import per_picture_convs, per_picture_inputs
from animegan_deploy.compress.quantize import (PLACEMENTS, QuantizeConfig, build_qdq, conv_nodes, image_tensors,
                                               session_fn)


class NormedConvs(torch.nn.Module):
    """reflect pad -> conv -> whole-map norm -> LeakyReLU, twice, then a 1x1 conv: the generator's pattern in small."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(3, 8, 3, bias=False)  # a flat field then gives a flat map: the norm blows up edges
        self.norm = torch.nn.GroupNorm(1, 8)
        self.b = torch.nn.Conv2d(8, 8, 3)
        self.c = torch.nn.Conv2d(8, 3, 1)

    def forward(self, x):
        pad = torch.nn.functional.pad
        h = torch.nn.functional.leaky_relu(self.norm(self.a(pad(x, (1, 1, 1, 1), mode="reflect"))), 0.2)
        h = torch.nn.functional.leaky_relu(self.b(pad(h, (1, 1, 1, 1), mode="reflect")) + 0.5, 0.2)
        return torch.tanh(self.c(h) * 0.3)


def _export(path, opset: int) -> onnx.ModelProto:
    """NormedConvs as ONNX with a dynamic batch, every node named (the quantizer's exclude lists need names)."""
    torch.onnx.export(NormedConvs().eval(), torch.zeros(1, 3, 16, 16), str(path), opset_version=opset, dynamo=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "n"}, "output": {0: "n"}})
    model = onnx.load(str(path))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{i}"
    return model


@pytest.fixture(scope="module", params=[17, 18], ids=lambda o: f"opset{o}")
def model(request, tmp_path_factory) -> onnx.ModelProto:
    # the reductions' axes are an attribute before opset 18 and an input from it on (the export writes 18)
    return _export(tmp_path_factory.mktemp("pp") / "normed.onnx", request.param)


def _hidden(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every conv input of ``model`` on ``x``."""
    import onnxruntime as ort

    m = onnx.ModelProto.FromString(model.SerializeToString())
    names = [c.activation for c in conv_nodes(m)]
    for name in names:
        m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    outs = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(names, {"input": x})
    return dict(zip(names, outs))


def _calibrated(model, photos) -> dict:
    """(low, high) of every conv input over ``photos``."""
    seen = [_hidden(model, x) for x in photos]
    return {n: (float(min(s[n].min() for s in seen)), float(max(s[n].max() for s in seen))) for n in seen[0]}


def _photos(seed: int, count: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(0, 0.4, (1, 3, 16, 16)) * scale, -1, 1).astype(np.float32) for _ in range(count)]


def test_the_rewrite_is_exact_in_float_per_picture(model):
    ranges = _calibrated(model, _photos(0, 4))
    rewritten, new_ranges, convs = per_picture_inputs(model, ranges, keep_static=image_tensors(model))
    # the image conv keeps its static range; the two inner convs read their picture's own range
    assert convs == [c.name for c in conv_nodes(model)[1:]]
    assert all(new_ranges[f"{conv_nodes(model)[i].activation}/per_picture/{name}"] == (-1.0, 1.0)
               for i, name in ((1, convs[0]), (2, convs[1])))
    a, b = _photos(1, 1)[0], _photos(2, 1, scale=0.05)[0]
    batch = np.concatenate([a, b])
    np.testing.assert_allclose(session_fn(rewritten)(batch), session_fn(model)(batch), atol=1e-5)
    # in int8, a batch of two very different pictures: each is scaled by its own range (not the batch's), so each
    # comes out as it would alone
    quantized = session_fn(build_qdq(model, ranges, placement="tensorrt-per-picture"))
    got = quantized(batch)
    np.testing.assert_allclose(got[1:], quantized(b), atol=1e-6)
    np.testing.assert_allclose(got[:1], quantized(a), atol=1e-6)


def test_every_scale_is_a_constant_and_the_scaled_inputs_use_the_whole_int8_range(model):
    q = build_qdq(model, _calibrated(model, _photos(0, 4)), placement="tensorrt-per-picture")
    constants = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    quantize = [n for n in q.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert quantize and all(n.input[1] in constants for n in quantize)  # TensorRT takes constant scales only
    scaled = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and "/per_picture/" in n.input[0]]
    assert len(scaled) == 2
    assert all(float(constants[n.input[1]]) == pytest.approx(1.0 / 127, rel=1e-3) for n in scaled)
    assert all(int(constants[n.input[2]]) == 0 for n in scaled)  # symmetric


def test_a_picture_past_the_calibrated_range_is_kept(model):
    """Calibrated on ordinary pictures, judged on one whose inner maps lie 4x past that range (after a whole-map
    normalization, a flat photo's edges do): the static file clips them, the per-picture file does not, and on
    ordinary pictures the two files are about as close to float."""
    photos = _photos(0, 8)
    ranges = _calibrated(model, photos)
    static = session_fn(build_qdq(model, ranges, placement="tensorrt", center=True))
    per_picture = session_fn(build_qdq(model, ranges, placement="tensorrt-per-picture"))
    exact = session_fn(model)
    # a nearly flat picture with a small bright patch: the second conv's input reaches 2x its calibrated maximum
    spiky = _photos(9, 1)[0] * 0.05
    spiky[0, :, 5:7, 5:7] = 1.0
    hidden = _hidden(model, spiky)[conv_nodes(model)[1].activation]
    assert hidden.max() > 2 * ranges[conv_nodes(model)[1].activation][1]
    clipped = np.abs(static(spiky) - exact(spiky)).max()
    kept = np.abs(per_picture(spiky) - exact(spiky)).max()
    assert clipped > 0.05 and kept < clipped / 4, (clipped, kept)
    ordinary = _photos(5, 3)
    err = [np.abs(per_picture(x) - exact(x)).max() for x in ordinary]
    assert max(err) < 0.03, err


def test_excluded_convs_stay_float_and_untouched(model):
    ranges = _calibrated(model, _photos(0, 4))
    middle = conv_nodes(model)[1].name
    q = build_qdq(model, ranges, exclude=[middle], placement="tensorrt-per-picture")
    assert not any(n.name.startswith(middle + "/per_picture") for n in q.graph.node)
    assert any(n.name.startswith(conv_nodes(model)[2].name + "/per_picture") for n in q.graph.node)
    assert per_picture_convs(q) == 1  # what the quantizer's report counts (the image conv stays static too)
    assert per_picture_convs(build_qdq(model, ranges, placement="tensorrt-per-picture")) == 2
    # nothing left to rewrite: nothing added, not even the shared constants
    untouched, _, convs = per_picture_inputs(model, ranges, exclude=[c.name for c in conv_nodes(model)])
    assert convs == [] and untouched.graph == model.graph


def test_bias_correction_and_the_rounded_weight_sum_settle_the_offsets(model):
    """A constant map (every pixel the same: hi == lo) reaches the conv as zeros, so its output is the offset alone:
    mid * sum(rounded W) + b - sum(dW * mean). The rounded sum is what makes that the int8 conv's exact value."""
    ranges = _calibrated(model, _photos(0, 4))
    last = conv_nodes(model)[2].name
    means = {last: np.full(8, 0.25, np.float32)}
    plain = build_qdq(model, ranges, placement="tensorrt-per-picture")
    corrected = build_qdq(model, ranges, placement="tensorrt-per-picture", input_means=means)
    constants = {i.name: numpy_helper.to_array(i) for i in plain.graph.initializer}
    fixed = {i.name: numpy_helper.to_array(i) for i in corrected.graph.initializer}
    float_w = next(numpy_helper.to_array(i) for i in model.graph.initializer if i.name == "c.weight")
    rounded_sum = constants[f"{last}/per_picture/weight_sum"].reshape(-1)
    assert not np.allclose(rounded_sum, float_w.reshape(3, -1).sum(axis=1), atol=1e-7)  # the rounded weights'
    assert np.allclose(rounded_sum, float_w.reshape(3, -1).sum(axis=1), atol=0.02)
    drift = rounded_sum - float_w.reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(fixed[f"{last}/per_picture/bias"].reshape(-1),
                               constants[f"{last}/per_picture/bias"].reshape(-1) - 0.25 * drift, atol=1e-6)


def test_the_placement_entry_is_the_default_and_what_its_choice_tries():
    from animegan_deploy.compress.choose import candidate_values

    rule = PLACEMENTS["tensorrt-per-picture"]
    assert QuantizeConfig().placement == "tensorrt-per-picture" and QuantizeConfig().rule is rule
    assert rule.per_picture and rule.activation_type == "QInt8" and rule.op_types == ("Conv",)
    assert not rule.symmetric  # each picture is centered on its own midpoint: no static centering to choose
    assert rule.float_bias and rule.methods == ("minmax",)  # the image input's range only
    assert (rule.target_psnr, rule.target_worst_psnr) == (40.0, 35.0)
    assert candidate_values(QuantizeConfig(), can_equalize=True) == {
        "equalize": (True, False), "center": (False,), "bias_correction": (True, False), "method": ("minmax",)}
