"""Resume problems in training are one line and never corrupt the run's record: a checkpoint of another width,
init_from of another width, and a run killed before its first checkpoint (its logged steps are dropped, not
duplicated)."""

import json

import pytest

from animegan_deploy.errors import UserError
from animegan_deploy.models.checkpoints import save_checkpoint
from animegan_deploy.train.config import load_config
from animegan_deploy.train.loop import CHECKPOINT, train
from conftest import randomized_generator
from train_helpers import write_config


def test_checkpoint_of_another_width_is_one_line(tmp_path):
    run = tmp_path / "run"
    config_path = write_config(tmp_path, run, init_steps=1, gan_steps=0)
    train(load_config(config_path), progress=False)
    assert (run / "checkpoints" / CHECKPOINT).is_file()
    wider = load_config(config_path, ["model.width=0.25", "optim.gan_steps=1"])
    with pytest.raises(UserError, match=r"other settings is here \(model.width \(0.125 -> 0.25\)\)") as info:
        train(wider, resume=True, progress=False)
    assert "\n" not in str(info.value) and "--restart" in str(info.value)
    (run / "config.json").unlink()  # a run that recorded no settings: the weights' shapes still say it
    with pytest.raises(UserError, match="cannot resume from it: it is from another model") as info:
        train(wider, resume=True, progress=False)
    assert "\n" not in str(info.value) and "model.width" in str(info.value)


def test_init_from_of_another_width_is_refused(tmp_path):
    init = tmp_path / "init.safetensors"
    save_checkpoint(randomized_generator(width=0.25), init, style="t", provenance={})
    config = load_config(write_config(tmp_path, tmp_path / "run"), [f"model.init_from={init}", "model.width=0.125"])
    with pytest.raises(UserError, match="has width 0.25 but model.width is 0.125"):
        train(config, progress=False)


def test_log_of_a_run_killed_before_its_first_checkpoint_is_not_duplicated(tmp_path):
    run = tmp_path / "run"
    config = load_config(write_config(tmp_path, run, init_steps=1, gan_steps=2, checkpoint_every=100))
    run.mkdir()
    (run / "losses.jsonl").write_text("".join(json.dumps({"step": s, "phase": "init"}) + "\n" for s in (1, 2, 3)))
    train(config, resume=True, progress=False)  # nothing to resume: starts at step 0
    steps = [json.loads(line)["step"] for line in (run / "losses.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 3 and len(steps) == 3, steps
