"""A TFLite 16x8 file in the pipeline: the gate writes its record and judges the file by the [int16x8] floors of the
thresholds file (45 dB, SSIM 0.99), a threshold set the [gate] section has no keys of its own for (it once raised
AttributeError outside the stage's error handling, and no report was written)."""

import json

from animegan_deploy.benchmarks.thresholds import load_thresholds
from animegan_deploy.cli import main
from pipeline_helpers import public_pt, quick_argv


def test_the_gate_judges_a_16x8_file_by_the_int16x8_floors(tmp_path, photo_folders):
    out = tmp_path / "out"
    argv = quick_argv(public_pt(tmp_path), photo_folders, out, "--set", "prune.enabled=false",
                      "--set", "distill.enabled=false", "--set", "quantize.enabled=false",
                      "--set", "benchmark.enabled=false", "--set", 'export.formats=["tflite"]',
                      "--set", 'export.tflite_precisions=["int16x8_quant"]')
    assert main(argv) == 0
    gate = json.loads((out / "gate" / "stage.json").read_text())["metrics"]
    (check,) = gate["checks"]
    assert check["what"] == "tflite int16x8_quant" and check["precision"] == "int16x8"
    assert (check["min_psnr"], check["min_ssim"]) == load_thresholds(None, "int16x8") == (45.0, 0.99)
    assert check["passed"] == (check["psnr_db"] >= 45.0 and check["ssim"] >= 0.99) and gate["passed"]
    assert "int16x8" in (out / "report.md").read_text()
