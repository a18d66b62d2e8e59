"""The bad-input corpus: what a new user gets wrong, across every subcommand. Each case must end with a non-zero
exit, one `error:` line that names the problem, no traceback, every input file unchanged and nothing (not even a
temporary file) left in the output places."""

import hashlib
import json
import shutil
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from animegan_deploy.cli import main
from conftest import photo, randomized_generator, save_photo
from animegan_deploy.models.checkpoints import save_checkpoint
from train_helpers import write_config

DEMO = Path(__file__).resolve().parent.parent / "models" / "weights" / "animegan_demo.safetensors"


def _graph(path: Path, two_inputs: bool = False) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, "h", "w"])
    if two_inputs:
        x2 = helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["n", 3, "h", "w"])
        graph = helper.make_graph([helper.make_node("Add", ["x", "x2"], ["y"])], "g", [x, x2], [y])
    else:
        c = helper.make_tensor("c", TensorProto.FLOAT, [1], [0.0])
        graph = helper.make_graph([helper.make_node("Add", ["x", "c"], ["y"])], "g", [x], [y], [c])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> Path:
    """Generated fixtures: photos, broken and foreign model files, a file where folders are expected."""
    root = tmp_path_factory.mktemp("fx")
    save_photo(root / "good.png", photo(48, 64))
    (root / "photos").mkdir()
    save_photo(root / "photos" / "a.png", photo(48, 64, seed=1))
    (root / "empty").mkdir()
    (root / "existing_dir").mkdir()
    (root / "afile").write_text("a file where a folder is expected")
    (root / "notimage.png").write_text("not an image")
    save_checkpoint(randomized_generator(), root / "tiny.safetensors", style="t", provenance={})
    torch.save(randomized_generator().state_dict(), root / "tiny.pt")
    shutil.copyfile(root / "tiny.safetensors", root / "renamed.pt")
    (root / "zero.pt").write_bytes(b"")
    (root / "garbage.safetensors").write_bytes(b"\x00garbage" * 10)
    _graph(root / "add.onnx")
    _graph(root / "two.onnx", two_inputs=True)
    data = (root / "add.onnx").read_bytes()
    (root / "trunc.onnx").write_bytes(data[: len(data) // 2])
    (root / "garbage.json").write_text("{not json")
    (root / "other.json").write_text(json.dumps({"hello": 1}))
    (root / "bad.toml").write_text("[prune\nthreshold = ")
    (root / "unknown.toml").write_text("[prune]\ntreshold = 0.01\n")
    # round 3: broken models, bad photos among good ones, malformed thresholds
    generator = randomized_generator()
    tensors = {k: v.clone() for k, v in generator.state_dict().items()}
    first = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    tensors[first].view(-1)[0] = float("nan")
    from safetensors.torch import save_file
    from safetensors import safe_open

    with safe_open(str(root / "tiny.safetensors"), framework="pt") as handle:
        save_file(tensors, str(root / "nan.safetensors"), metadata=handle.metadata())
    torch.save({k: (v * float("inf") if k == first else v) for k, v in generator.state_dict().items()}, root / "inf.pt")
    for name, bad in (("corrupt", "broken.png"), ("zerobyte", "zero.jpg"), ("textphoto", "note.png")):
        (root / name).mkdir()
        save_photo(root / name / "a.png", photo(48, 64, seed=2))
    good = (root / "good.png").read_bytes()
    (root / "corrupt" / "broken.png").write_bytes(good[: len(good) // 3])
    (root / "zerobyte" / "zero.jpg").write_bytes(b"")
    (root / "textphoto" / "note.png").write_text("this is not a picture")
    (root / "nested").mkdir()
    (root / "nested" / "inner").mkdir()
    save_photo(root / "nested" / "a.png", photo(48, 64, seed=3))
    (root / "th_nokeys.toml").write_text("[int8]\nmin_psnr = 30.0\n")
    (root / "th_text.toml").write_text("[int8]\nmin_psnr = \"high\"\nmin_ssim = 0.9\n")
    (root / "th_ssim2.toml").write_text("[int8]\nmin_psnr = 30.0\nmin_ssim = 2.0\n")
    (root / "th_value.toml").write_text("int8 = 3\n")
    (root / "w.tflite").write_bytes(b"TFL3" + b"\x00" * 60)
    (root / "pipe_nan.toml").write_text(f"[source]\nweights = \"{root / 'nan.safetensors'}\"\n")
    (root / "pipe_train.toml").write_text("[train]\nenabled = true\nconfig = \"no/such/train.toml\"\n")
    from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx

    export_onnx(root / "tiny.safetensors", OnnxExportConfig(validate_sizes=((32, 32),)), root / "tiny.onnx")
    # a training run whose last checkpoint was truncated / emptied
    for name, content in (("trunc_run", None), ("empty_run", b"")):
        config = write_config(root / name, root / name / "run", 2, 2)
        ckpt = root / name / "run" / "checkpoints" / "last.pt"
        ckpt.parent.mkdir(parents=True)
        torch.save({"generator": randomized_generator().state_dict()}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:100] if content is None else content)
        (root / f"{name}.toml").write_text(config.read_text())
    return root


C = [  # (argv, words the error line must hold); {fx} is the fixtures folder, {out} a fresh output place
    # stylize
    (["stylize", "{fx}/missing.png", "-o", "{out}"], ["missing.png"]),
    (["stylize", "{fx}/good.png", "-o", "{fx}/good.png/sub"], ["good.png"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/add.onnx", "-o", "{out}"], ["add.onnx", "no convolution"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/two.onnx", "-o", "{out}"], ["two.onnx", "2 input"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/trunc.onnx", "-o", "{out}"], ["trunc.onnx"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/renamed.pt", "-o", "{out}"], ["renamed.pt", "safetensors"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/zero.pt", "-o", "{out}"], ["zero.pt"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/garbage.safetensors", "-o", "{out}"], ["garbage.safetensors"]),
    (["stylize", "{fx}/good.png", "--threads", "-2", "-o", "{out}"], ["--threads"]),
    (["stylize", "{fx}/photos", "-o", "{fx}/photos"], ["photos"]),
    (["stylize", "{fx}/good.png", "-w", "no_such_style_name", "-o", "{out}"], ["no_such_style_name"]),
    (["stylize", "{fx}/good.png", "--size", "-3", "-o", "{out}"], ["--size"]),
    # convert
    (["convert", str(DEMO), "{fx}/existing_dir"], ["existing_dir", "folder"]),
    (["convert", str(DEMO), "{out}.pt"], ["safetensors"]),
    (["convert", "{fx}/add.onnx", "{out}.safetensors"], ["add.onnx"]),
    (["convert", "{fx}/missing.pt", "{out}.safetensors"], ["missing.pt"]),
    (["convert", "{fx}/tiny.pt", "{fx}/tiny.pt"], ["tiny.pt"]),
    # export
    (["export", "onnx", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/afile/x.onnx"], ["afile", "not a folder"]),
    (["export", "onnx", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/existing_dir"], ["existing_dir", "folder"]),
    (["export", "onnx", "-w", "{fx}/tiny.safetensors", "--size", "7x7", "-o", "{out}.onnx"], ["7"]),
    (["export", "onnx", "-w", "{fx}/tiny.safetensors", "--opset", "5", "-o", "{out}.onnx"], ["--opset"]),
    (["export", "onnx", "-w", "{fx}/zero.pt", "-o", "{out}.onnx"], ["zero.pt"]),
    (["export", "tflite", "-w", "{fx}/tiny.safetensors", "--timeout", "0", "-o", "{out}"], ["--timeout"]),
    (["export", "tflite", "-w", "{fx}/tiny.safetensors", "--precisions", "int4", "-o", "{out}"], ["int4"]),
    (["export", "tflite", "-w", "{fx}/tiny.safetensors", "--conv-fallback", "int4", "-o", "{out}"],
     ["--conv-fallback int4", "dynamic, float"]),
    (["export", "tflite", "-w", "{fx}/tiny.safetensors", "--target-worst-psnr", "-3", "-o", "{out}"],
     ["--target-worst-psnr -3"]),
    (["export", "tflite", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/afile"], ["afile", "is a file"]),
    (["export", "onnx-int8", "-w", "{fx}/tiny.safetensors", "--method", "kl", "-o", "{out}.onnx"], ["kl"]),
    # demo-data, evaluate-style
    (["demo-data", "--output", "{fx}/afile"], ["afile", "is a file"]),
    (["evaluate-style", "--baseline", str(DEMO), "--eval-dir", "{fx}/photos", "--style", "{fx}/nostyle"], ["--style"]),
    (["evaluate-style", "--baseline", str(DEMO), "--eval-dir", "{fx}/empty", "--style", "{fx}/photos"], ["empty"]),
    (["evaluate-style", "--baseline", str(DEMO), "--eval-dir", "{fx}/photos", "--style", "{fx}/photos", "--output",
      "{fx}/afile/report"], ["afile"]),
    # prune
    (["prune", "-w", "{fx}/tiny.safetensors", "--threshold", "-1", "-o", "{out}.safetensors"], ["--threshold"]),
    (["prune", "-w", "{fx}/tiny.safetensors", "--sparsity", "-1", "-o", "{out}.safetensors"], ["--sparsity"]),
    (["prune", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/existing_dir"], ["existing_dir", "folder"]),
    (["prune", "-w", "{fx}/add.onnx", "-o", "{out}.safetensors"], ["add.onnx"]),
    (["prune", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/tiny.safetensors"], ["input"]),
    (["prune", "-w", "{fx}/tiny.safetensors", "--min-channels", "0", "-o", "{out}.safetensors"], ["--min-channels"]),
    # distill, student
    (["distill", "width:0", "-o", "{out}.safetensors"], ["width"]),
    (["distill", "width:abc", "-o", "{out}.safetensors"], ["width"]),
    (["distill", "width:0.25", "--checkpoint-every", "0", "-o", "{out}.safetensors"], ["--checkpoint-every"]),
    (["distill", "width:0.25", "--crop", "0", "-o", "{out}.safetensors"], ["--crop"]),
    (["distill", "width:0.25", "--steps", "-5", "-o", "{out}.safetensors"], ["--steps"]),
    (["distill", "width:0.25", "--teacher", "{fx}/missing.pt", "-o", "{out}.safetensors"], ["missing.pt"]),
    (["distill", "width:0.25", "--lr", "0", "-o", "{out}.safetensors"], ["--lr"]),
    (["student", "-w", "{fx}/tiny.safetensors", "--width", "0", "-o", "{out}.safetensors"], ["--width"]),
    (["student", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/existing_dir"], ["existing_dir"]),
    (["student", "-w", "{fx}/tiny.safetensors", "--batch-size", "0", "-o", "{out}.safetensors"], ["--batch-size"]),
    # quantize, check-fidelity
    (["quantize", "{fx}/add.onnx", "-o", "{out}.int8.onnx"], ["add.onnx", "no convolution"]),
    (["quantize", "{fx}/two.onnx", "-o", "{out}.int8.onnx"], ["two.onnx", "2 input"]),
    (["quantize", "{fx}/trunc.onnx", "-o", "{out}.int8.onnx"], ["trunc.onnx", "truncated"]),
    (["quantize", "{fx}/missing.onnx", "-o", "{out}.int8.onnx"], ["missing.onnx"]),
    (["quantize", "{fx}/add.onnx", "--percentile", "120", "-o", "{out}.int8.onnx"], ["--percentile"]),
    (["quantize", "{fx}/add.onnx", "-o", "{fx}/add.onnx"], ["input"]),
    (["check-fidelity", "{fx}/add.onnx", "--reference", str(DEMO), "--precision", "fp32"], ["no convolution"]),
    (["check-fidelity", "{fx}/two.onnx", "--reference", str(DEMO), "--precision", "fp32"], ["2 input"]),
    (["check-fidelity", "{fx}/missing.onnx"], ["missing.onnx"]),
    (["check-fidelity", "{fx}/add.onnx", "--size", "0"], ["--size"]),
    # benchmark
    (["benchmark", "--compare", "{fx}/garbage.json", "-o", "{out}"], ["--compare", "garbage.json"]),
    (["benchmark", "--merge", "{fx}/other.json", "-o", "{out}"], ["--merge", "other.json"]),
    (["benchmark", "--sizes", "7", "-o", "{out}"], ["--sizes"]),
    (["benchmark", "--threads", "0", "-o", "{out}"], ["--threads"]),
    (["benchmark", "-o", "{fx}/afile"], ["afile", "is a file"]),
    (["benchmark", "--formats", "coreml", "-o", "{out}"], ["coreml"]),
    # train
    (["train", "--config", "{fx}/missing.toml"], ["missing.toml"]),
    (["train", "--config", "{fx}/good.png"], ["good.png", "invalid TOML"]),
    (["train", "--config", "{fx}/unknown.toml"], ["unknown.toml"]),
    (["train", "--set", "run.log_every=0", "--run-dir", "{out}"], ["log_every"]),
    (["train", "--set", "model.width=-1", "--run-dir", "{out}"], ["width"]),
    (["train", "--set", "optim.init_lr=-1", "--run-dir", "{out}"], ["init_lr"]),
    (["train", "--run-dir", "{fx}/afile"], ["afile", "is a file"]),
    (["train", "--config", "{fx}/trunc_run.toml"], ["last.pt", "cannot resume", "--restart"]),
    (["train", "--config", "{fx}/empty_run.toml", "--resume"], ["last.pt", "cannot resume", "--restart"]),
    # pipeline
    (["pipeline", "run", "{fx}/missing.toml", "-o", "{out}"], ["missing.toml"]),
    (["pipeline", "run", "{fx}/good.png", "-o", "{out}"], ["good.png", "invalid TOML"]),
    (["pipeline", "run", "{fx}/bad.toml", "-o", "{out}"], ["invalid TOML"]),
    (["pipeline", "run", "{fx}/unknown.toml", "-o", "{out}"], ["treshold"]),
]


QUICK = str(Path(__file__).resolve().parent.parent / "pipelines" / "quick.toml")
PIPE = ["pipeline", "run", QUICK, "-o", "{out}"]
RECIPE = ["student-recipe", "-w", "{fx}/tiny.safetensors", "-o", "{out}", "--steps", "2"]

# Round 3 (reliability issue): each class of fault found by the adversarial run. A case may name a setup: files put
# in the output place first (a user's own), or an environment; those files must be unchanged afterwards.
C3 = [
    # broken models are never called good
    (["stylize", "{fx}/good.png", "-w", "{fx}/nan.safetensors", "-o", "{out}"], ["nan.safetensors", "NaN"]),
    (["stylize", "{fx}/good.png", "-w", "{fx}/inf.pt", "-o", "{out}"], ["inf.pt", "NaN or infinite"]),
    (["export", "onnx", "-w", "{fx}/nan.safetensors", "-o", "{out}.onnx"], ["nan.safetensors", "NaN"]),
    (["export", "tflite", "-w", "{fx}/nan.safetensors", "-o", "{out}"], ["nan.safetensors", "NaN"]),
    (["export", "onnx-int8", "-w", "{fx}/inf.pt", "-o", "{out}.onnx"], ["inf.pt", "NaN"]),
    (["convert", "{fx}/inf.pt", "{out}.safetensors"], ["inf.pt", "NaN"]),
    (["prune", "-w", "{fx}/nan.safetensors", "-o", "{out}.safetensors"], ["nan.safetensors", "NaN"]),
    (["distill", "width:0.25", "--teacher", "{fx}/nan.safetensors", "-o", "{out}.safetensors"], ["nan.safetensors"]),
    (["student", "-w", "{fx}/nan.safetensors", "-o", "{out}.safetensors"], ["nan.safetensors", "NaN"]),
    (["check-fidelity", "{fx}/add.onnx", "--reference", "{fx}/nan.safetensors", "--precision", "fp32"],
     ["nan.safetensors", "NaN"]),
    (["benchmark", "-w", "{fx}/nan.safetensors", "-o", "{out}"], ["nan.safetensors", "NaN"]),
    (["simulate-int8", "-w", "{fx}/nan.safetensors", "-o", "{out}"], ["nan.safetensors", "NaN"]),
    (["demo", "-w", "{fx}/nan.safetensors", "-o", "{out}"], ["nan.safetensors", "NaN"]),
    (PIPE + ["--set", "source.weights=\"{fx}/nan.safetensors\""], ["nan.safetensors", "NaN"]),
    (["pipeline", "run", "{fx}/pipe_nan.toml", "-o", "{out}"], ["nan.safetensors", "NaN"]),
    (RECIPE[:2] + ["{fx}/nan.safetensors"] + RECIPE[3:], ["nan.safetensors", "NaN"]),
    # the pipeline checks what it starts from before any work
    (PIPE + ["--set", "source.weights=\"{fx}/add.onnx\""], ["[source] weights", "add.onnx", "exported"]),
    (PIPE + ["--set", "source.weights=\"{fx}/w.tflite\""], ["w.tflite", "exported"]),
    (PIPE + ["--set", "source.weights=\"{fx}/garbage.safetensors\""], ["garbage.safetensors"]),
    (PIPE + ["--set", "source.weights=\"{fx}/zero.pt\""], ["zero.pt", "empty"]),
    (PIPE + ["--set", "source.weights=\"{fx}/existing_dir\""], ["existing_dir", "folder"]),
    (PIPE + ["--set", "source.weights=\"\""], ["[source] weights", "empty"]),
    (PIPE + ["--set", "data.eval_dir=\"{fx}/empty\""], ["[data] eval_dir", "empty", "no photos"]),
    (PIPE + ["--set", "data.eval_dir=\"{fx}/corrupt\""], ["broken.png", "corrupt"]),
    (PIPE + ["--set", "data.eval_dir=\"{fx}/zerobyte\""], ["zero.jpg", "empty file"]),
    (PIPE + ["--set", "data.calib_dir=\"{fx}/textphoto\""], ["note.png", "not an image"]),
    (PIPE + ["--set", "data.photo_dir=\"{fx}/corrupt\""], ["broken.png"]),
    (["pipeline", "run", QUICK, "-o", "{fx}/nested/inner/run", "--set", "data.eval_dir=\"{fx}/nested\""],
     ["[data] eval_dir", "inside it"]),
    (["pipeline", "run", "{fx}/pipe_train.toml", "-o", "{out}"], ["[train] config", "no/such/train.toml"]),
    (PIPE + ["--until", ""], ["--until", "empty"]),
    (PIPE + ["--from", ""], ["--from", "empty"]),
    (PIPE + ["--set", "gate.int8_min_ssim=2"], ["int8_min_ssim", "from 0 to 1"]),
    (PIPE + ["--set", "gate.int8_min_psnr=nan"], ["int8_min_psnr", "nan"]),
    (PIPE + ["--set", "gate.fp32_min_psnr=-5"], ["fp32_min_psnr"]),
    (PIPE + ["--set", "distill.student=\"width:abc\""], ["width:abc"]),
    (PIPE + ["--set", "distill.student=\"width:0\""], ["width:0"]),
    # the student recipe checks every option before training
    (RECIPE + ["--int8-method", "kl"], ["--int8-method", "kl", "percentile"]),
    (RECIPE + ["--tflite", "int4"], ["--tflite int4"]),
    (RECIPE + ["--calib-dir", "{fx}/missing_photos"], ["--calib-dir", "missing_photos"]),
    (RECIPE + ["--eval-dir", "{fx}/empty"], ["--eval-dir", "no photos"]),
    (RECIPE + ["--eval-dir", "{fx}/corrupt"], ["broken.png"]),
    (RECIPE + ["--photo-dir", "{fx}/textphoto"], ["note.png"]),
    (RECIPE[:2] + ["{fx}/add.onnx"] + RECIPE[3:], ["add.onnx"]),
    (RECIPE[:4] + ["{fx}/afile"] + RECIPE[5:], ["afile", "is a file"]),
    (["student-recipe", "-w", "{fx}/tiny.safetensors", "-o", "{fx}/nested/inner/r", "--eval-dir", "{fx}/nested"],
     ["--eval-dir", "inside it"]),
    # a bad photo is named, with why
    (["check-fidelity", "{fx}/tiny.onnx", "--reference", "{fx}/tiny.safetensors", "--precision", "fp32", "--eval-dir",
      "{fx}/empty"], ["empty"]),
    (["check-fidelity", "{fx}/tiny.onnx", "--reference", "{fx}/tiny.safetensors", "--eval-dir", "{fx}/corrupt"],
     ["broken.png", "corrupt"]),
    (["simulate-int8", "-w", "{fx}/tiny.safetensors", "--eval-dir", "{fx}/corrupt", "-o", "{out}"], ["broken.png"]),
    (["benchmark", "-w", "{fx}/tiny.safetensors", "--eval-dir", "{fx}/zerobyte", "-o", "{out}"], ["zero.jpg"]),
    (["evaluate-style", "--baseline", "{fx}/tiny.safetensors", "-w", "{fx}/tiny.safetensors", "--eval-dir",
      "{fx}/corrupt", "--style", "{fx}/photos", "--output", "{out}/r"], ["broken.png"]),
    # malformed thresholds files
    (["check-fidelity", "{fx}/tiny.onnx", "--precision", "int8", "--thresholds", "{fx}/th_nokeys.toml"],
     ["th_nokeys.toml", "min_ssim"]),
    (["check-fidelity", "{fx}/tiny.onnx", "--precision", "int8", "--thresholds", "{fx}/th_text.toml"],
     ["th_text.toml", "numbers"]),
    (["check-fidelity", "{fx}/tiny.onnx", "--precision", "int8", "--thresholds", "{fx}/th_ssim2.toml"],
     ["th_ssim2.toml", "SSIM"]),
    (["check-fidelity", "{fx}/tiny.onnx", "--precision", "int8", "--thresholds", "{fx}/th_value.toml"],
     ["th_value.toml"]),
    # a user's file in the output place is kept
    (["stylize", "{fx}/good.png", "-o", "{out}"], ["good.png", "did not write", "--overwrite"], "user_png"),
    (["stylize", "{fx}/photos", "-o", "{out}"], ["a.png", "--overwrite"], "user_a_png"),
    (["export", "onnx", "-w", "{fx}/tiny.safetensors", "-o", "{out}/m.onnx"], ["m.onnx", "--overwrite"], "user_onnx"),
    (["convert", "{fx}/tiny.pt", "{out}/m.safetensors"], ["m.safetensors", "--overwrite"], "user_safetensors"),
    (["prune", "-w", "{fx}/tiny.safetensors", "-o", "{out}/m.safetensors"], ["m.safetensors", "--overwrite"],
     "user_safetensors"),
    (["student", "-w", "{fx}/tiny.safetensors", "-o", "{out}/m.safetensors"], ["m.safetensors", "--overwrite"],
     "user_safetensors"),
    (["distill", "width:0.25", "--teacher", "{fx}/tiny.safetensors", "-o", "{out}/m.safetensors"],
     ["m.safetensors", "--overwrite"], "user_safetensors"),
    (["quantize", "{fx}/tiny.onnx", "-o", "{out}/m.onnx"], ["m.onnx", "--overwrite"], "user_onnx"),
    # non-finite and out-of-range numbers (found by the round-3 probe)
    (["prune", "-w", "{fx}/tiny.safetensors", "--threshold", "nan", "-o", "{out}.safetensors"], ["--threshold nan"]),
    (["distill", "width:0.25", "--lr", "inf", "-o", "{out}.safetensors"], ["--lr inf"]),
    (["check-fidelity", "{fx}/tiny.onnx", "--min-psnr", "nan"], ["--min-psnr nan"]),
    (["check-fidelity", "{fx}/tiny.onnx", "--min-ssim", "5"], ["--min-ssim 5"]),
    (["evaluate-style", "--baseline", str(DEMO), "--size", "0", "--eval-dir", "{fx}/photos", "--style", "{fx}/photos"],
     ["--size 0"]),
    (["train", "--stop-after", "-1", "--run-dir", "{out}"], ["--stop-after"]),
    (PIPE + ["--set", "quantize.percentile=nan"], ["percentile", "finite"]),
    # the environment
    (["stylize", "{fx}/good.png", "-w", "file://{fx}/tiny.safetensors", "-o", "{out}"], ["ANIMEGAN_CACHE"],
     "cache_is_file"),
    (["export", "onnx", "-w", "file://{fx}/missing.safetensors", "-o", "{out}.onnx"], ["download failed"],
     "cache_in_tmp"),
]


def _setup(name: str | None, out: Path, fx: Path, tmp_path: Path, monkeypatch) -> None:
    user = b"the user's own file"
    if name in ("user_png", "user_a_png"):
        out.mkdir()
        (out / ("good.png" if name == "user_png" else "a.png")).write_bytes(user)
    elif name in ("user_onnx", "user_safetensors"):
        out.mkdir()
        (out / f"m.{name.split('_')[1]}").write_bytes(user)
    elif name == "cache_is_file":
        monkeypatch.setenv("ANIMEGAN_CACHE", str(fx / "afile"))
    elif name == "cache_in_tmp":
        monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cache"))


def _files(folder: Path) -> dict[str, str]:
    return {k: v for k, v in _snapshot(folder).items() if v != "dir"}


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file's hash; the style set's documented grayscale cache (.animegan_cache, made by training before a
    resume is attempted) is derived data, not an input."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*")) if "__pycache__" not in p.parts and ".animegan_cache" not in p.parts}


def test_corpus_is_large_enough():
    assert len(C) >= 60 and len(C3) >= 60


CASES = [(a, w, None) for a, w in C] + [(c[0], c[1], c[2] if len(c) > 2 else None) for c in C3]


@pytest.mark.parametrize("argv, words, setup", CASES,
                         ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _, _) in enumerate(CASES)])
def test_bad_input(fx, tmp_path, capsys, monkeypatch, argv, words, setup):
    monkeypatch.chdir(tmp_path)  # default outputs (exports/, runs/) would land here
    out = tmp_path / "out"
    args = [a.replace("{fx}", str(fx)).replace("{out}", str(out)) for a in argv]
    _setup(setup, out, fx, tmp_path, monkeypatch)
    placed = _files(tmp_path)  # a user's own files put in the output place first: they must stay as they are
    before = _snapshot(fx)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert code not in (0, None), err
    assert len(lines) == 1, err
    assert "Traceback" not in err and "crash-" not in err, err  # not an unexpected exception
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert _snapshot(fx) == before, "an input file changed"
    assert _files(tmp_path) == placed, "something was left behind in, or changed in, the output place"
