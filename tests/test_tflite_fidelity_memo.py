"""The TFLite export measures each distinct file once on each photo set (remembered by its bytes and the photos'
names): the calibration choice's files are not measured again by the fallback ladder, nor the final file when it is
verified."""

import numpy as np
import pytest

pytest.importorskip("onnx2tf", reason="TFLite export needs the [tflite] extra and onnx2tf (make install)")

import animegan_deploy.backends as backends  # noqa: E402
from animegan_deploy.export import tflite as tfl  # noqa: E402


def test_evaluation_figures_are_remembered_by_file_bytes(tmp_path, monkeypatch):
    runs = []

    def fake_runner(path, backend=None, threads=None):
        scale = float(path.read_bytes()[0]) / 255.0
        runs.append(path.read_bytes())
        return lambda x: np.clip(x * scale, -1, 1)

    monkeypatch.setattr(backends, "load_runner", fake_runner)
    inputs = [("a", np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32))]
    fidelity_of = tfl._file_fidelity(lambda x: x, inputs, tfl.TFLiteConfig(size=16))
    a, b = tmp_path / "a.tflite", tmp_path / "b.tflite"
    a.write_bytes(bytes([200, 1]))
    first = fidelity_of(a)
    b.write_bytes(bytes([200, 1]))  # another path, same bytes (the search's file rewritten as the final one)
    assert fidelity_of(b) is first and len(runs) == 1
    a.write_bytes(bytes([100, 1]))  # new bytes: measured again, and differently
    assert fidelity_of(a).psnr < first.psnr and len(runs) == 2
    validation = [("v", inputs[0][1] * 0.5)]  # another photo set: measured once, then remembered too
    on_validation = fidelity_of(a, validation)
    assert fidelity_of(a, validation) is on_validation and len(runs) == 3
    assert on_validation.psnr != fidelity_of(a).psnr  # not the evaluation set's figure
    assert fidelity_of(a, inputs) is fidelity_of(a) and len(runs) == 3  # the evaluation photos, named: the same
