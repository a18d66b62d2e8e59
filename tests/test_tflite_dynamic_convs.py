"""dynamic_range_convs turns chosen float convs of a TFLite file into TFLite's dynamic-range (hybrid) convs:
int8 weights per output channel, inputs quantized per picture at run time, so a picture far past the calibrated
ranges keeps its tails; the other convs are left alone."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="TFLite export needs the [tflite] extra (make install)")
pytest.importorskip("ai_edge_litert", reason="TFLite checks need ai-edge-litert (make install)")

from animegan_deploy.export.tflite_int8 import FloatGraph, dynamic_range_convs  # noqa: E402
from tflite_helpers import conv_tensor_types  # noqa: E402


def _float_model() -> bytes:
    """input 1x16x16x8 -> conv 3x3 (8->16) -> relu -> depthwise 3x3 -> conv 1x1 (16->4), float32."""
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.2, (3, 3, 8, 16)).astype(np.float32))
    wd = tf.constant(rng.normal(0, 0.3, (3, 3, 16, 1)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.2, (1, 1, 16, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 8], tf.float32)])
    def net(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME"))
        y = tf.nn.depthwise_conv2d(y, wd, [1, 1, 1, 1], "SAME")
        return tf.nn.conv2d(y, w2, 1, "SAME")

    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()], net)
    return converter.convert()


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _weight_types(model: bytes) -> list[str]:
    return [weights for _, weights in conv_tensor_types(model).values()]


def test_chosen_convs_get_int8_weights_and_stay_close_to_float_even_far_past_typical_ranges():
    model = _float_model()
    g = FloatGraph.parse(model)
    convs = g.convs()
    assert len(convs) == 3 and _weight_types(model) == ["FLOAT32"] * 3
    hybrid = dynamic_range_convs(model, convs[:2])  # the 3x3 conv and the depthwise one
    assert _weight_types(hybrid) == ["INT8", "INT8", "FLOAT32"]
    assert len(hybrid) < len(model) - 3000  # the 3x3 conv's 1152 weights: 4 bytes each -> 1 (+ per-channel scales)

    rng = np.random.default_rng(1)
    for scale in (1.0, 40.0):  # the second: every value 40x past the first picture's range
        x = (rng.normal(0, 1, (1, 16, 16, 8)) * scale).astype(np.float32)
        ref, out = _run(model, x), _run(hybrid, x)
        err = np.abs(out - ref).max() / np.abs(ref).max()
        assert 0 < err < 0.03, (scale, err)  # int8 rounding, not clipping (a static scale would clip at 40x)


def test_unnamed_or_missing_convs_leave_the_model_as_it_was():
    model = _float_model()
    assert _weight_types(dynamic_range_convs(model, [])) == ["FLOAT32"] * 3
    assert _weight_types(dynamic_range_convs(model, ["no such tensor"])) == ["FLOAT32"] * 3
