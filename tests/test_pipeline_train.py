"""A pipeline that trains its base model first ([train]), then quantizes what it trained: the train stage runs
the existing recipe into DIR/train, and a second run reuses it."""

import json

from animegan_deploy.cli import main
from pipeline_helpers import QUICK, statuses
from train_helpers import write_config


def test_train_then_quantize(tmp_path, photo_folders):
    train_toml = write_config(tmp_path, tmp_path / "ignored-run-dir", init_steps=1, gan_steps=2)
    out = tmp_path / "out"
    argv = ["pipeline", "run", str(QUICK), "-o", str(out), "--quiet",
            "--set", "train.enabled=true", "--set", f"train.config={json.dumps(str(train_toml))}",
            "--set", "prune.enabled=false", "--set", "distill.enabled=false", "--set", "export.formats=[\"onnx\"]",
            "--set", f"data.eval_dir={json.dumps(str(photo_folders['eval']))}",
            "--set", f"data.calib_dir={json.dumps(str(photo_folders['calib']))}", "--set", "data.size=32",
            "--until", "quantize"]
    assert main(argv) == 0
    assert statuses(out) == {"train": "ran", "export onnx": "ran", "quantize": "ran"}
    generator = out / "train" / "generator.safetensors"
    assert generator.is_file() and not (tmp_path / "ignored-run-dir").exists()  # the run lives in DIR/train
    onnx_record = json.loads((out / "export" / "onnx" / "stage.json").read_text())
    assert onnx_record["inputs"]["model"] == str(generator)
    assert main(argv) == 0
    assert statuses(out) == {"train": "cached", "export onnx": "cached", "quantize": "cached"}
    train_toml.write_text(train_toml.read_text().replace("gan_steps = 2", "gan_steps = 3"))
    assert main(argv) == 0
    assert statuses(out)["train"] == "ran"  # the train TOML changed
