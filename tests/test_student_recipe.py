"""`make student` at 64 px: teacher (a public-format .pt) -> student -> folded ONNX, INT8, TFLite -> benchmark
-> pipeline.json; a second run reuses every finished stage."""

import json

import pytest
import torch

from animegan_deploy.cli import main
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.sidecar import file_sha256
from conftest import randomized_generator


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, photo_folders):
    root = tmp_path_factory.mktemp("recipe")
    teacher = root / "teacher.pt"  # what a user brings: a plain state_dict in the public key format
    torch.save(randomized_generator(width=0.25, seed=5).state_dict(), teacher)
    out = root / "out"
    argv = ["student-recipe", "-w", str(teacher), "-o", str(out), "--quiet", "--size", "64",
            "--eval-dir", str(photo_folders["eval"]), "--photo-dir", str(photo_folders["calib"]),
            "--tflite", "float32", "--repeats", "1", "--bench-threads", "1", "--photo-count", "2",
            "--width", "0.5", "--steps", "4", "--finetune-steps", "2", "--batch-size", "2", "--crop", "32",
            "--fit-photos", "2", "--checkpoint-every", "2", "--eval-size", "48", "--threads", "1",
            "--sparsity", "0.5", "--threshold", "0.01"]
    assert main(argv) == 0
    first = json.loads((out / "pipeline.json").read_text())
    hashes = {p.name: file_sha256(p) for p in out.glob("student*") if p.is_file()}
    assert main(argv) == 0
    second = json.loads((out / "pipeline.json").read_text())
    return teacher, out, first, second, hashes


def test_pipeline_json_has_every_variant_measured_against_the_original(recipe_run):
    teacher, out, first, _, _ = recipe_run
    assert [s["name"] for s in first["stages"]] == ["student", "export-onnx", "quantize", "export-tflite", "benchmark"]
    assert all(s["status"] == "ran" for s in first["stages"]), first["stages"]
    rows = {r["variant"]: r for r in first["benchmark"]}
    wanted = {"original", "onnx fp32", "student torch", "student onnx", "student onnx int8", "student tflite float32"}
    assert wanted <= set(rows), set(rows)
    for name in wanted - {"original"}:
        row = rows[name]
        assert row["status"] == "ok" and row["fps"] > 0 and row["speedup"] > 0, row
    for name in wanted - {"original", "onnx fp32"}:  # the teacher's own ONNX is identical (PSNR inf -> None)
        row = rows[name]
        assert row["psnr_db"] is not None and 5 < row["psnr_db"] < 80 and row["photos"] == 2, row
        assert row["psnr_min_db"] <= row["psnr_db"]
    assert rows["student onnx int8"]["precision"] == "int8" and rows["student onnx"]["precision"] == "fp32"
    assert rows["student torch"]["gmacs"] < 0.5 * rows["original"]["gmacs"]
    # the INT8 file's cost is traced back through its FP32 ONNX to the student checkpoint
    assert rows["student onnx int8"]["gmacs"] == rows["student onnx"]["gmacs"] == rows["student torch"]["gmacs"]
    assert rows["original"]["speedup"] == 1.0


def test_student_is_narrowed_in_every_layer_and_pruned_at_the_threshold(recipe_run):
    teacher, out, first, _, _ = recipe_run
    t = load_generator(teacher).model.plan.to_dict()
    s = load_generator(out / "student.safetensors").model.plan.to_dict()
    assert all(s[k] <= round(t[k] * 0.5) for k in t), (s, t)
    metrics = first["stages"][0]["metrics"]
    assert metrics["width_ratio"] == 0.5
    folded = load_generator(out / "student.folded.safetensors")
    assert folded.info.normalization == "folded" and folded.model.plan.to_dict() == s


def test_second_run_reuses_every_stage_and_keeps_the_artifacts(recipe_run):
    _, out, _, second, hashes = recipe_run
    statuses = {s["name"]: s["status"] for s in second["stages"]}
    assert statuses == {"student": "cached", "export-onnx": "cached", "quantize": "cached",
                        "export-tflite": "cached", "benchmark": "ran"}
    assert {p.name: file_sha256(p) for p in out.glob("student*") if p.is_file()} == hashes
