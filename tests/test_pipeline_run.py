"""`animegan pipeline run pipelines/quick.toml` at 64 px on a public-format .pt: every stage runs (TensorRT
unavailable here, with its reason), a second run reuses every stage, and a changed quantize setting re-runs
quantize and what follows it, never what comes before."""

import json
import shutil
from pathlib import Path

import pytest

from animegan_deploy.cli import main
from animegan_deploy.sidecar import read_sidecar
from pipeline_helpers import public_pt, quick_argv, statuses


@pytest.fixture(scope="module")
def runs(tmp_path_factory, photo_folders):
    root = tmp_path_factory.mktemp("pipeline")
    weights, out = public_pt(root), root / "out"
    photos = {**photo_folders, "eval": Path(shutil.copytree(photo_folders["eval"], root / "eval"))}  # changed below
    argv = quick_argv(weights, photos, out)
    assert main(argv) == 0
    first = json.loads((out / "pipeline.json").read_text())
    assert main(argv) == 0
    second = statuses(out)
    assert main(argv + ["--set", "quantize.method=minmax"]) == 0
    third = statuses(out)
    # an evaluation photo replaced (same name): what measured on it must run again (a dry run says so, writes nothing)
    minmax = argv + ["--set", "quantize.method=minmax"]
    unchanged = capsys_free_dry_run(minmax)
    photo = sorted(photos["eval"].iterdir())[0]
    photo.write_bytes(sorted(photos["calib"].iterdir())[0].read_bytes())
    changed = capsys_free_dry_run(minmax)
    return out, first, second, third, (unchanged, changed)


def capsys_free_dry_run(argv: list[str]) -> dict[str, str]:
    """Stage -> status of a dry run (nothing is written, so the statuses come from its returned record)."""
    from animegan_deploy.pipeline.config import load_pipeline_config
    from animegan_deploy.pipeline.runner import run_pipeline

    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    run = run_pipeline(load_pipeline_config(argv[2], sets), argv[argv.index("-o") + 1], dry_run=True,
                       progress=lambda _: None)
    return {s.name + (" " + s.format if s.format else ""): s.status for s in run.stages}


def test_a_replaced_evaluation_photo_reruns_what_measured_on_it(runs):
    *_, (unchanged, changed) = runs
    measured = ("prune", "distill", "export tflite", "quantize")  # each reports PSNR on the evaluation photos
    assert [unchanged[name] for name in measured] == ["cached"] * 4, unchanged  # same photos: nothing to run
    assert [changed[name] for name in measured] == ["would run"] * 4, changed


def test_every_json_written_is_strict(runs):
    """No bare NaN/Infinity anywhere (the original's identical PSNR is null): every parser can read them."""
    out, *_ = runs

    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    files = [p for p in out.rglob("*.json")]
    assert len(files) > 10
    for path in files:
        json.loads(path.read_text(), parse_constant=refuse)


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


def test_second_run_reuses_every_stage(runs):
    _, _, second, *_ = runs
    assert second == {"prune": "cached", "distill": "cached", "export onnx": "cached", "quantize": "cached",
                      "export tflite": "cached", "export tensorrt": "unavailable", "benchmark": "cached",
                      "gate": "cached"}


def test_changed_quantize_method_reruns_quantize_and_later_only(runs):
    out, *_, third, _ = runs
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
