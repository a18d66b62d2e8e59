"""pipelines/student.toml at 64 px with tiny steps: the student stage narrows the source in the default
normalization (the teacher's GroupNorm, kept), that student is what the later stages export, and --until stops
after the named stage."""

import json

from animegan_deploy.cli import main
from animegan_deploy.models.checkpoints import load_generator
from pipeline_helpers import ROOT, public_pt, quick_argv


def test_student_pipeline_until_quantize(tmp_path, photo_folders):
    weights, out = public_pt(tmp_path), tmp_path / "out"
    argv = quick_argv(weights, photo_folders, out)
    argv[2] = str(ROOT / "pipelines" / "student.toml")
    argv += ["--set", "student.steps=4", "--set", "student.finetune_steps=2", "--set", "student.batch_size=2",
             "--set", "student.crop=32", "--set", "student.fit_photos=2", "--set", "student.eval_size=48",
             "--set", "student.width=0.5", "--set", "student.checkpoint_every=2", "--until", "quantize",
             "--set", "export.formats=[\"onnx\"]"]
    assert main(argv) == 0
    record = json.loads((out / "pipeline.json").read_text())
    names = [s["name"] + (" " + s.get("format", "") if s.get("format") else "") for s in record["stages"]]
    assert names == ["student", "export onnx", "quantize"]  # --until quantize: no TFLite, benchmark or gate
    student = load_generator(out / "student" / "student.safetensors").model
    source = load_generator(weights).model
    t, s = source.plan.to_dict(), student.plan.to_dict()
    assert not student.is_student and all(s[k] <= round(t[k] * 0.5) for k in t), (s, t)  # GroupNorm kept
    assert not (out / "student" / "student.folded.safetensors").exists()  # a GroupNorm student has no twin
    assert record["stages"][0]["artifacts"] == ["student/student.safetensors"]
    quantize = record["stages"][2]
    assert quantize["status"] == "ran" and 10 < quantize["metrics"]["psnr_db"] < 80
    assert json.loads((out / "quantize" / "stage.json").read_text())["config"]["placement"] == "onnxruntime-conv"
