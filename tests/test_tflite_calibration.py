"""Integer TFLite calibration methods (export/tflite_int8.py) on a small float TFLite model made here.

The model: conv (8 maps) -> subtract the map's global mean -> conv to 3 channels, so it has activation maps,
a reduced statistic and image tensors. Calibrated on three photos of very different contrast.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="TFLite calibration needs the [tflite] extra (make install)")
pytest.importorskip("ai_edge_litert", reason="TFLite checks need ai-edge-litert (make install)")

from animegan_deploy.export import tflite_int8  # noqa: E402
from animegan_deploy.export.tflite_int8 import (  # noqa: E402
    Calibration, TensorRange, is_activation_map, logged_ranges)

SIZE = 16


@tf.function(input_signature=[tf.TensorSpec((1, SIZE, SIZE, 3), tf.float32)])
def _model(x):
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.5, (3, 3, 3, 8)), tf.float32)
    w2 = tf.constant(rng.normal(0, 0.5, (1, 1, 8, 3)), tf.float32)
    h = tf.nn.conv2d(x, w1, 1, "SAME")
    h = h - tf.reduce_mean(h, axis=(1, 2, 3), keepdims=True)
    return tf.tanh(tf.nn.conv2d(tf.nn.leaky_relu(h, 0.2), w2, 1, "SAME"))


def _images() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([rng.uniform(-a, a, (SIZE, SIZE, 3)) for a in (0.2, 0.5, 1.0)]).astype(np.float32)


def _converter():
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_model.get_concrete_function()], _model)
    return converter


@pytest.fixture(scope="module")
def float_model() -> bytes:
    return _converter().convert()


@pytest.fixture(scope="module")
def calibration(float_model) -> Calibration:
    return Calibration(float_model, _images(), progress=False)


def _run(blob: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    if inp["dtype"] == np.int8:
        scale, zero = inp["quantization"]
        x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    it.set_tensor(inp["index"], x)
    it.invoke()
    y = it.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * scale
    return y


def test_activation_maps_are_told_from_statistics_and_images():
    assert is_activation_map((1, 64, 64, 32))
    assert not is_activation_map((1, 1, 1, 32))  # a per-channel mean
    assert not is_activation_map((1, 64, 1, 32))  # a staged mean over one axis
    assert not is_activation_map((1, 256, 256, 3))  # the image input / output
    assert not is_activation_map((8,))


def test_ranges_are_logged_per_photo(calibration):
    maps = [r for r in calibration.tensors.values() if r.is_map]
    stats = [r for r in calibration.tensors.values() if not r.is_map and r.shape == (1, 1, 1, 1)]
    assert maps and stats
    for r in calibration.tensors.values():
        assert r.per_image.shape == (3, 2)
        assert (r.per_image[:, 0] <= r.per_image[:, 1]).all()
    # contrast grows photo by photo, so does the first conv's range
    first = maps[0].per_image
    assert first[0, 1] < first[1, 1] < first[2, 1]


def test_mean_minmax_averages_maps_and_keeps_statistics_overall(calibration):
    written = logged_ranges(calibration.calibrated_model("mean-minmax"))
    overall = logged_ranges(calibration.calibrated_model("minmax"))
    for index, r in calibration.tensors.items():
        lo, hi = r.per_image[:, 0], r.per_image[:, 1]
        assert overall[index] == pytest.approx((lo.min(), hi.max()), rel=1e-6)
        expected = (lo.mean(), hi.mean()) if r.is_map else (lo.min(), hi.max())
        assert written[index] == pytest.approx(expected, rel=1e-6)
    map_index = next(i for i, r in calibration.tensors.items() if r.is_map)
    assert written[map_index][1] < overall[map_index][1]  # narrower than the widest photo's range


def test_mean_2std_widens_the_mean_range_by_the_spread_within_the_overall_extremes():
    # eight photos' extremes of one map: lows seven -1 and one -5 (mean -1.5, std 1.3229), highs 2 and 3 four
    # times each (mean 2.5, std 0.5); a statistic keeps the overall extremes whatever the method
    per_image = np.array([[-1.0, 2.0], [-1.0, 3.0]] * 3 + [[-1.0, 2.0], [-5.0, 3.0]])
    lo, hi = TensorRange((1, 8, 8, 16), per_image, is_map=True).chosen("mean-2std")
    assert lo == pytest.approx(-1.5 - 2 * np.sqrt(1.75))  # -4.15: widened, not to the widest photo's -5
    assert hi == 3.0  # 2.5 + 2 x 0.5 = 3.5 is past every photo: the overall maximum
    assert TensorRange((1, 1, 1, 16), per_image, is_map=False).chosen("mean-2std") == (-5.0, 3.0)
    # one photo: no spread, its own extremes
    assert TensorRange((1, 8, 8, 16), per_image[:1], is_map=True).chosen("mean-2std") == (-1.0, 2.0)


def test_minmax_reproduces_the_converters_own_full_integer_file(calibration):
    def photos():
        for image in _images():
            yield [image[None]]

    converter = _converter()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = photos
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    theirs = converter.convert()
    ours = calibration.quantize("minmax", io="int8")
    x = _images()[1:2]
    np.testing.assert_array_equal(_run(ours, x), _run(theirs, x))


def test_both_io_types_quantize_every_op(calibration, float_model):
    from ai_edge_litert.interpreter import Interpreter

    x = _images()[1:2]
    reference = _run(float_model, x)
    for io, dtype in (("int8", np.int8), ("float32", np.float32)):
        blob = calibration.quantize("minmax", io=io)
        it = Interpreter(model_content=blob)
        assert it.get_input_details()[0]["dtype"] == dtype and it.get_output_details()[0]["dtype"] == dtype
        conv_filters = [t for t in it.get_tensor_details() if len(t["shape"]) == 4 and t["shape"][0] in (8, 3)
                        and t["quantization_parameters"]["scales"].size > 1]
        assert conv_filters and all(t["dtype"] == np.int8 for t in conv_filters)
        y = _run(blob, x)
        assert np.abs(y - reference).mean() < 0.02 and np.abs(y - reference).max() < 0.15  # int8 noise, not garbage


def test_unknown_method_and_io_are_refused(calibration):
    with pytest.raises(ValueError, match="calibration 'percentile'"):
        calibration.calibrated_model("percentile")
    with pytest.raises(ValueError, match="io 'uint8'"):
        calibration.quantize("minmax", io="uint8")
    with pytest.raises(ValueError, match="at least one photo"):
        Calibration(b"", np.zeros((0, SIZE, SIZE, 3), np.float32))
    assert set(tflite_int8.CALIBRATIONS) == {"minmax", "mean-minmax", "mean-2std"}


def test_the_export_config_names_the_bad_calibration_option():
    from animegan_deploy.errors import UserError
    from animegan_deploy.export.tflite import TFLiteConfig

    assert TFLiteConfig().calibration is None  # chosen per model (test_tflite_export.py)
    with pytest.raises(UserError, match="--calibration entropy: choose one of mean-minmax, minmax"):
        TFLiteConfig(calibration="entropy")


def test_quantizing_again_gives_the_same_bytes(calibration):
    # the export remembers each file's fidelity by its bytes: the fallback search's final file is not run twice
    assert calibration.quantize("mean-minmax", io="int8") == calibration.quantize("mean-minmax", io="int8")


def test_a_float_model_is_calibrated_once_per_process(float_model):
    """The calibrator (seconds a photo) runs once for the same model bytes and photos; other photos are measured."""
    from animegan_deploy.export.tflite_int8 import calibrate

    first = calibrate(float_model, _images(), progress=False)
    assert calibrate(float_model, _images(), progress=False) is first
    other = calibrate(float_model, _images()[:2], progress=False)
    assert other is not first and len(next(iter(other.tensors.values())).per_image) == 2


def test_helper_processes_log_the_ranges_one_process_logs(float_model, calibration, monkeypatch, capfd):
    """Past PARALLEL_AFTER_SECONDS of work the photos are shared with helper processes (one per further core, each
    a `python -m` of the worker module): the ranges, and so every file quantized from them, are the same."""
    import os

    monkeypatch.setattr(tflite_int8, "PARALLEL_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # two cores, whatever runs this
    monkeypatch.setenv("ANIMEGAN_THREADS", "2")  # make test's workers get one thread each
    shared = Calibration(float_model, _images(), progress=False)
    assert shared.tensors.keys() == calibration.tensors.keys()
    for index, rng in calibration.tensors.items():
        np.testing.assert_array_equal(shared.tensors[index].per_image, rng.per_image)
    assert shared.quantize("mean-minmax") == calibration.quantize("mean-minmax")
    assert "helper failed" not in capfd.readouterr().err
    # a helper that fails leaves its photos to the parent: same ranges, one line on stderr
    monkeypatch.setattr(tflite_int8.sys, "executable", "/bin/false")
    fallback = Calibration(float_model, _images(), progress=False)
    assert "tflite calibration helper failed (exit 1); calibrating its photos here" in capfd.readouterr().err
    for index, rng in calibration.tensors.items():
        np.testing.assert_array_equal(fallback.tensors[index].per_image, rng.per_image)
