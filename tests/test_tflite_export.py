"""TFLite export of the tiny generator at 64x64 via onnx2tf, checked with the LiteRT interpreter.

64x64 with width 0.25 is deliberately the hard case for onnx2tf: 32 channels at 32x32 make NCHW and NHWC
shapes identical, which it used to mis-broadcast; the FP32 file must still match torch to 1e-3.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx2tf", reason="TFLite export needs the [tflite] extra and onnx2tf (make install)")
pytest.importorskip("ai_edge_litert", reason="TFLite checks need ai-edge-litert (make install)")

from animegan_deploy.backends import load_runner  # noqa: E402
from animegan_deploy.export import tflite as tfl  # noqa: E402
from animegan_deploy.models.checkpoints import load_generator  # noqa: E402
from animegan_deploy.sidecar import read_sidecar  # noqa: E402

SIZE = 64
KINDS = ("float32", "float16", "dynamic_range_quant", "integer_quant", "full_integer_quant", "int16x8_quant")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_checkpoint, photo_folders):
    config = tfl.TFLiteConfig(size=SIZE, precisions=KINDS, calib_dir=str(photo_folders["calib"]),
                              eval_dir=str(photo_folders["eval"]), allow_lossy=True)
    return tfl.export_tflite(tiny_checkpoint, config, tmp_path_factory.mktemp("tflite") / "out")


def _by_kind(result):
    return {f.kind: f for f in result.files}


def test_fp32_file_matches_torch_within_1e_3(exported, tiny_checkpoint):
    record = _by_kind(exported)["float32"]
    assert record.status == "ok", record.reason
    model = load_generator(tiny_checkpoint).model.eval()
    x = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        expected = model(x).numpy()
    actual = load_runner(record.path, backend="tflite")(x.numpy())
    assert actual.shape == expected.shape
    assert float(np.abs(actual - expected).max()) < 1e-3
    assert record.psnr_db >= 60.0


def test_fp16_file_is_at_least_45_db(exported):
    record = _by_kind(exported)["float16"]
    assert record.status == "ok", record.reason
    assert record.psnr_db >= 45.0
    assert record.size_mb < _by_kind(exported)["float32"].size_mb * 0.7  # half-size weights


def test_full_integer_file_has_int8_weights_and_io_and_runs(exported, photo_folders):
    from ai_edge_litert.interpreter import Interpreter

    record = _by_kind(exported)["full_integer_quant"]
    assert record.path is not None and record.path.is_file(), record.reason
    interpreter = Interpreter(model_path=str(record.path))
    interpreter.allocate_tensors()
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    details = interpreter.get_tensor_details()
    # per-channel quantized filters: the 25 convs plus the 24 norm scale/shift 1x1 depthwise convs, all int8
    filters = [t for t in details if len(t["shape"]) == 4 and t["quantization_parameters"]["scales"].size > 1]
    assert len(filters) == 25 + 24
    assert {np.dtype(t["dtype"]) for t in filters} == {np.dtype(np.int8)}
    assert not [t["name"] for t in details if np.dtype(t["dtype"]).kind == "f"]  # nothing left in float
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, SIZE, SIZE)).astype(np.float32)
    y = load_runner(record.path, backend="tflite")(x)
    assert y.shape == (1, 3, SIZE, SIZE) and np.isfinite(y).all() and np.abs(y).max() <= 1.01
    assert record.psnr_db is not None and record.psnr_db > 15.0  # measured, and not garbage
    assert record.size_mb < _by_kind(exported)["float32"].size_mb * 0.5  # int8 weights; graph overhead on a tiny model


def test_sidecars_and_report_describe_each_file(exported, tiny_checkpoint):
    for record in exported.files:
        meta = read_sidecar(record.path)
        assert meta["kind"] == "tflite"
        assert meta["precision"] == record.precision and meta["onnx2tf_kind"] == record.kind
        assert meta["layout"] == "NHWC" and meta["size"] == [1, SIZE, SIZE, 3]
        assert meta["normalization"].startswith("[-1,1]")
        assert meta["source"]["path"].endswith(tiny_checkpoint.name)
        # a file whose outputs equal torch's (the float32 file can, on some CPUs) is said identical, its PSNR null
        identical = record.psnr_db == float("inf")
        assert meta["metrics"]["identical_to_torch_fp32"] is identical
        assert meta["metrics"]["psnr_db_vs_torch_fp32"] == (None if identical else record.psnr_db)
    report = json.loads(exported.report.read_text())
    chosen = report["calibration"]
    for record in exported.files:
        expected = {"int16x8_quant": "minmax (int16 activations), photos + augmented copies"}.get(
            record.kind, chosen if record.kind in tfl.CALIBRATED else None)
        assert read_sidecar(record.path).get("calibration") == expected
    assert [f["kind"] for f in report["files"]] == list(KINDS)
    assert chosen in tfl.CALIBRATIONS and report["calibration_photos"] >= 1
    assert f"`{chosen}`" in exported.report.with_suffix(".md").read_text()


def test_calibration_is_chosen_per_model_on_the_validation_photos(exported, photo_folders):
    """No --calibration: each method's file after the fallback ladder is measured on the validation photos (never the
    evaluation photos); of those that meet the target, the highest 0.8 x mean + 0.2 x worst-photo PSNR is the integer
    files' method."""
    from animegan_deploy.compress.photos import calibration_split

    report = json.loads(exported.report.read_text())
    choice = report["calibration_choice"]
    tried = {t["calibration"]: t for t in choice["tried"]}
    assert set(tried) == set(tfl.CALIBRATIONS)
    score = {m: (t["meets_target"], 0.8 * t["psnr_db"] + 0.2 * t["psnr_min_db"]) for m, t in tried.items()}
    assert choice["chosen"] == report["calibration"] == max(score, key=score.get)
    assert len({(t["psnr_db"], t["psnr_min_db"]) for t in tried.values()}) == 2  # two different files measured
    validation = [p.name for p in calibration_split(str(photo_folders["calib"]), 32).validation]
    assert choice["validation_photos"] == validation and validation
    assert not set(validation) & set(report["eval_photos"])
    for kind in ("integer_quant", "full_integer_quant"):
        assert read_sidecar(_by_kind(exported)[kind].path)["calibration_choice"] == choice
    # the file written is the chosen method's (the choice is made on the first integer kind): the same fallback rung
    assert _by_kind(exported)["integer_quant"].float_fallback.startswith(tried[choice["chosen"]]["float_fallback"])


def test_an_explicit_calibration_is_not_chosen(tmp_path, tiny_checkpoint, photo_folders):
    config = tfl.TFLiteConfig(size=SIZE, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                              eval_dir=str(photo_folders["eval"]), allow_lossy=True, calibration="minmax")
    result = tfl.export_tflite(tiny_checkpoint, config, tmp_path / "out")
    report = json.loads(result.report.read_text())
    assert report["calibration"] == "minmax" and report["calibration_choice"] is None
    meta = read_sidecar(result.files[0].path)
    assert meta["calibration"] == "minmax" and "calibration_choice" not in meta


def test_a_failed_precision_keeps_the_others(tmp_path, tiny_checkpoint, photo_folders, monkeypatch):
    from animegan_deploy.export import tflite_int8

    def quantizer_crashes(self, method, io="int8", float_nodes=()):
        raise RuntimeError("simulated quantizer crash")

    monkeypatch.setattr(tflite_int8.Calibration, "quantize", quantizer_crashes)
    config = tfl.TFLiteConfig(size=SIZE, precisions=("float32", "full_integer_quant"),
                              calib_dir=str(photo_folders["calib"]), eval_dir=str(photo_folders["eval"]))
    result = tfl.export_tflite(tiny_checkpoint, config, tmp_path / "out")
    records = _by_kind(result)
    assert records["float32"].status == "ok" and records["float32"].path.is_file()
    assert records["full_integer_quant"].status == "failed"
    assert "simulated quantizer crash" in records["full_integer_quant"].reason
    assert not result.ok
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tflite")) == ["tiny_float32.tflite"]
    assert not list((tmp_path / "out").glob("*.tmp*"))


def test_16x8_file_has_int16_activations_int8_weights_and_beats_int8(exported):
    from ai_edge_litert.interpreter import Interpreter

    records = _by_kind(exported)
    record = records["int16x8_quant"]
    assert record.status == "ok" and record.precision == "int16x8"
    interpreter = Interpreter(model_path=str(record.path))
    interpreter.allocate_tensors()
    assert interpreter.get_input_details()[0]["dtype"] == np.float32  # float I/O
    details = interpreter.get_tensor_details()
    dtypes = {np.dtype(t["dtype"]) for t in details}
    assert np.dtype(np.int16) in dtypes and np.dtype(np.int8) in dtypes and np.dtype(np.int64) in dtypes
    # 65536 activation levels instead of 256: far closer to float than the full-integer file
    assert record.psnr_db >= 45 and record.psnr_db > records["full_integer_quant"].psnr_db + 6
    assert read_sidecar(record.path)["precision"] == "int16x8"
