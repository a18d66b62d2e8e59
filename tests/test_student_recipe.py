"""`make student` (`animegan student-recipe`) at 64 px: pipelines/student.toml with the command's options, run by the
pipeline runner: teacher (a public-format .pt) -> student -> folded ONNX, INT8, TFLite -> benchmark -> gate ->
pipeline.json; a second run reuses every stage and keeps the artifacts."""

import json

import pytest
import torch

from animegan_deploy.cli import main
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.sidecar import file_sha256
from conftest import randomized_generator


def _artifacts(out) -> dict[str, str]:
    return {str(p.relative_to(out)): file_sha256(p) for p in out.rglob("*") if p.is_file()
            and p.suffix in (".safetensors", ".onnx", ".tflite")}


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, photo_folders):
    root = tmp_path_factory.mktemp("recipe")
    teacher = root / "teacher.pt"  # what a user brings: a plain state_dict in the public key format
    torch.save(randomized_generator(width=0.25, seed=5).state_dict(), teacher)
    out = root / "out"
    argv = ["student-recipe", "-w", str(teacher), "-o", str(out), "--quiet", "--size", "64",
            "--eval-dir", str(photo_folders["eval"]), "--calib-dir", str(photo_folders["calib"]),
            "--photo-dir", str(photo_folders["calib"]), "--tflite", "float32", "--repeats", "1",
            "--bench-threads", "1", "--photo-count", "2", "--width", "0.5", "--steps", "4", "--finetune-steps", "2",
            "--batch-size", "2", "--crop", "32", "--fit-photos", "2", "--checkpoint-every", "2", "--eval-size", "48",
            "--threads", "1", "--sparsity", "0.5", "--threshold", "0.01"]
    assert main(argv) == 0
    first = json.loads((out / "pipeline.json").read_text())
    hashes = _artifacts(out)
    assert main(argv) == 0
    second = json.loads((out / "pipeline.json").read_text())
    return teacher, out, first, second, hashes


def _names(record) -> list[str]:
    return [s["name"] + (" " + s["format"] if s.get("format") else "") for s in record["stages"]]


def test_the_recipe_is_the_student_pipeline_with_every_variant_measured_against_the_original(recipe_run):
    teacher, out, first, _, _ = recipe_run
    assert _names(first) == ["student", "export onnx", "export tflite", "quantize", "export tensorrt", "benchmark",
                             "gate"]
    statuses = {n: s["status"] for n, s in zip(_names(first), first["stages"])}
    assert statuses.pop("export tensorrt") == "unavailable" and set(statuses.values()) == {"ran"}, statuses
    assert first["settings"]["quantize"]["placement"] == "onnxruntime-conv"  # pipelines/student.toml's
    assert first["settings"]["student"]["width"] == 0.5 and first["settings"]["data"]["size"] == 64  # the options'
    rows = {r["variant"]: r for r in first["benchmark"]}
    wanted = {"original", "student", "onnx fp32", "onnx int8", "tflite float32"}
    assert wanted <= set(rows), set(rows)
    for name in wanted - {"original"}:
        row = rows[name]
        assert row["status"] == "ok" and row["fps"] > 0 and row["speedup"] > 0, row
        assert row["psnr_db"] is not None and 5 < row["psnr_db"] < 80 and row["photos"] == 2, row
        assert row["psnr_min_db"] <= row["psnr_db"]
    assert rows["onnx int8"]["precision"] == "int8" and rows["onnx fp32"]["precision"] == "fp32"
    assert rows["student"]["gmacs"] < 0.5 * rows["original"]["gmacs"]
    # the INT8 file's cost is traced back through its FP32 ONNX to the student checkpoint
    assert rows["onnx int8"]["gmacs"] == rows["onnx fp32"]["gmacs"] == rows["student"]["gmacs"]
    assert rows["original"]["speedup"] == 1.0
    assert first["onnx_int8_vs_fp32_fps"] == round(rows["onnx int8"]["fps"] / rows["onnx fp32"]["fps"], 3)
    assert f"same run: {first['onnx_int8_vs_fp32_fps']}x" in (out / "report.md").read_text()
    assert first["gate"]["passed"] and (out / "report.html").is_file()


def test_student_is_narrowed_in_every_layer_and_pruned_at_the_threshold(recipe_run):
    teacher, out, first, _, _ = recipe_run
    t = load_generator(teacher).model.plan.to_dict()
    s = load_generator(out / "student" / "student.safetensors").model.plan.to_dict()
    assert all(s[k] <= round(t[k] * 0.5) for k in t), (s, t)
    assert first["stages"][0]["metrics"]["width_ratio"] == 0.5
    student = load_generator(out / "student" / "student.safetensors")
    # the default keeps the teacher's GroupNorm (explicit where pruning at the threshold kept a layer's unpruned
    # statistics); it is its own deploy form: no folded twin
    assert student.info.normalization in ("group", "explicit") and not student.model.is_student
    assert not (out / "student" / "student.folded.safetensors").exists()
    assert first["stages"][0]["metrics"]["norm"] == "group"


def test_second_run_reuses_every_stage_and_keeps_the_artifacts(recipe_run):
    _, out, _, second, hashes = recipe_run
    statuses = {n: s["status"] for n, s in zip(_names(second), second["stages"])}
    assert statuses.pop("export tensorrt") == "unavailable" and set(statuses.values()) == {"cached"}, statuses
    assert _artifacts(out) == hashes and len(hashes) >= 5


def test_options_become_the_plan_settings(tmp_path, tiny_checkpoint, photo_folders):
    """What a sweep asks for (artifacts only: no benchmark, no gate, no TFLite) is the plan the runner gets."""
    from animegan_deploy.compress.student import StudentConfig
    from animegan_deploy.pipeline.student_recipe import StudentRecipeConfig, recipe_config

    recipe = StudentRecipeConfig(eval_dir=str(photo_folders["eval"]), size=64, tflite=("none",), benchmark=False,
                                 gate=False, int8_method="minmax")
    config = recipe_config(tiny_checkpoint, StudentConfig(width=0.375, steps=7), recipe, tmp_path / "out")
    assert not config.benchmark.enabled and not config.gate.enabled and "tflite" not in config.export.formats
    assert config.student.config.width == 0.375 and config.student.config.steps == 7
    assert config.quantize.config.method == "minmax" and config.data.size == 64
    assert config.quantize.config.placement == "onnxruntime-conv"  # pipelines/student.toml's, kept
    assert config.quantize.config.target_worst_psnr == 30.0  # pipelines/student.toml's worst-photo floor, kept
    default = recipe_config(tiny_checkpoint, StudentConfig(width=0.375, steps=7),
                            StudentRecipeConfig(eval_dir=str(photo_folders["eval"])), tmp_path / "out2")
    assert default.quantize.config.method is None  # chosen per model unless --int8-method names one
