"""The on-device runner: a copied bundle runs with only numpy + a runtime, and its JSON merges into the suite."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import files_in
from animegan_deploy.benchmarks.device import merge_device_results, write_device_bundle
from animegan_deploy.benchmarks.row import COLUMNS
from animegan_deploy.benchmarks.variants import Variant
from animegan_deploy.errors import UserError
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx


def test_bundle_runs_standalone_and_merges(tmp_path, tiny_checkpoint, photo_folders):
    onnx = export_onnx(tiny_checkpoint, OnnxExportConfig(validate_sizes=((32, 32),)), tmp_path / "tiny.onnx").path
    photos = sorted(photo_folders["eval"].glob("*.png"))
    variants = [Variant("original", "torch", "fp32", tiny_checkpoint, tiny_checkpoint),
                Variant("onnx fp32", "onnxruntime", "fp32", onnx, tiny_checkpoint),
                Variant("tensorrt fp16", "tensorrt", "fp16", None, None, status="unavailable")]
    bundle = write_device_bundle(tmp_path / "bundle", variants, (32,), photos)
    assert sorted(p.name for p in files_in(bundle)) == ["device_runner.py", "reference_32.npz", "tiny.onnx"]

    # run it from the bundle folder with a bare interpreter: no project imports on the path
    proc = subprocess.run([sys.executable, "-I", "device_runner.py", "tiny.onnx", "missing.tflite", "--size", "32",
                           "--threads", "1", "--repeats", "3", "--reference", "reference_32.npz", "--label", "pi",
                           "-o", "pi.json"], cwd=bundle, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((bundle / "pi.json").read_text())
    ok, failed = data["rows"]
    assert ok["status"] == "ok" and ok["where"] == "pi" and ok["speedup_vs_original"] == 1.0
    assert (ok["identical"] and ok["psnr_db"] is None) or ok["psnr_db"] > 60
    assert ok["fps"] > 0 and ok["latency_ms_p10"] <= ok["latency_ms_p90"]
    assert failed["status"] == "failed" and failed["variant"] == "missing"

    merged = merge_device_results((str(bundle / "pi.json"),))
    assert [r["where"] for r in merged] == ["pi", "pi"] and set(merged[0]) == set(COLUMNS)


def test_merging_something_else_is_a_user_error(tmp_path):
    (tmp_path / "x.json").write_text('{"not": "rows"}')
    with pytest.raises(UserError, match="x.json"):
        merge_device_results((str(tmp_path / "x.json"),))
