"""`animegan pipeline run pipelines/quick.toml` at 64 px on a public-format .pt: every stage runs (TensorRT
unavailable here, with its reason), a second run reuses every stage, and a changed quantize setting re-runs
quantize and what follows it, never what comes before."""

import json
import time
from pathlib import Path

import pytest

from animegan_deploy.cli import main
from animegan_deploy.sidecar import read_sidecar
from pipeline_helpers import public_pt, quick_argv, statuses


@pytest.fixture(scope="module")
def runs(tmp_path_factory, photo_folders):
    root = tmp_path_factory.mktemp("pipeline")
    weights, out = public_pt(root), root / "out"
    argv = quick_argv(weights, photo_folders, out)
    assert main(argv) == 0
    first = json.loads((out / "pipeline.json").read_text())
    began = time.perf_counter()
    assert main(argv) == 0
    second_seconds = time.perf_counter() - began
    second = statuses(out)
    assert main(argv + ["--set", "quantize.method=minmax"]) == 0
    third = statuses(out)
    return out, first, second, second_seconds, third


def test_every_stage_runs_and_tensorrt_says_why_not(runs):
    out, first, *_ = runs
    stages = {(s["name"] + (" " + s["format"] if s.get("format") else "")): s for s in first["stages"]}
    assert list(stages) == ["prune", "distill", "export onnx", "export tflite", "quantize", "export tensorrt",
                            "benchmark", "gate"]
    for name, stage in stages.items():
        if name == "export tensorrt":
            assert stage["status"] == "unavailable" and "tensorrt" in stage["reason"], stage
        else:
            assert stage["status"] == "ran", stage
            assert stage["seconds"] > 0 or name == "gate"
    assert stages["quantize"]["metrics"]["method"] == "percentile"
    assert 15 < stages["quantize"]["metrics"]["psnr_db"] < 80


def test_benchmark_rows_measure_each_artifact_against_the_original(runs):
    out, first, *_ = runs
    rows = {r["variant"]: r for r in first["benchmark"]}
    assert {"original", "pruned", "distilled", "onnx fp32", "onnx int8", "tflite float32",
            "tflite full_integer_quant", "export tensorrt"} == set(rows)
    assert rows["original"]["speedup"] == 1.0 and rows["original"]["psnr_db"] is None
    for name in ("onnx int8", "tflite full_integer_quant"):
        assert rows[name]["status"] == "ok" and rows[name]["precision"] == "int8" and rows[name]["fps"] > 0
        assert 10 < rows[name]["psnr_db"] < 60 and rows[name]["photos"] == 2
    # the FP32 exports reproduce the distilled model they were made from, so they sit at its PSNR
    assert abs(rows["onnx fp32"]["psnr_db"] - rows["distilled"]["psnr_db"]) < 0.05
    assert rows["export tensorrt"]["status"] == "unavailable"


def test_artifacts_carry_their_cache_key_and_describe_their_file(runs):
    out, *_ = runs
    for sub in ("prune", "distill", "export/onnx", "quantize", "export/tflite", "benchmark"):
        record = json.loads((out / sub / "stage.json").read_text())
        assert len(record["cache_key"]) == 64 and record["output_sha256"], sub
    for artifact in ("prune/model.pruned.safetensors", "distill/model.distilled.safetensors", "export/onnx/model.onnx",
                     "quantize/model.int8.onnx"):
        assert read_sidecar(out / artifact, verify=True)["cache_key"] == json.loads(
            (out / Path(artifact).parent / "stage.json").read_text())["cache_key"]
    for kind in ("float32", "full_integer_quant"):
        meta = read_sidecar(out / "export" / "tflite" / f"model.distilled_{kind}.tflite", verify=True)
        assert len(meta["cache_key"]) == 64
    assert not list(out.rglob(".*.tmp*")) and not (out / ".tmp").exists() and not (out / ".pipeline.lock").exists()


def test_second_run_reuses_every_stage_quickly(runs):
    _, _, second, seconds, _ = runs
    assert second == {"prune": "cached", "distill": "cached", "export onnx": "cached", "quantize": "cached",
                      "export tflite": "cached", "export tensorrt": "unavailable", "benchmark": "cached",
                      "gate": "cached"}
    assert seconds < 60


def test_changed_quantize_method_reruns_quantize_and_later_only(runs):
    out, *_, third = runs
    names = list(third)
    before, after = names[: names.index("quantize")], names[names.index("quantize") + 1:]
    assert before == ["prune", "distill", "export onnx", "export tflite"]
    assert all(third[name] == "cached" for name in before), third
    assert third["quantize"] == "ran"
    assert all(third[name] in ("ran", "unavailable") for name in after), third  # TensorRT: unavailable here
    record = json.loads((out / "pipeline.json").read_text())
    quantize = next(s for s in record["stages"] if s["name"] == "quantize")
    assert quantize["metrics"]["method"] == "minmax"
    assert record["settings"]["quantize"]["method"] == "minmax"


def test_report_files_are_written(runs):
    out, *_ = runs
    md = (out / "report.md").read_text()
    assert "| quantize | ran |" in md and "| onnx int8 | onnxruntime | int8 |" in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 + 2 * 2 * 6  # inputs, originals, 6 variants x (output, error)
    assert "<table id='benchmark'>" in html and "export tensorrt" in html
