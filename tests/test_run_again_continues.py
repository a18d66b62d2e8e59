"""One vocabulary for interrupted runs (train, distill, student, student-recipe, pipeline run): the same command again continues the
run if it was started with the same settings; changed settings are one error line naming them and the way out;
--restart discards the run and starts over. The old spellings (--resume, the pipeline's --force) still parse."""

import json
from pathlib import Path

from animegan_deploy.cli import main
from animegan_deploy.train.loop import CHECKPOINT
from train_helpers import write_config

from conftest import randomized_generator


def _steps_logged(run_dir) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "losses.jsonl").read_text().splitlines()]


def test_train_again_continues_refuses_other_settings_and_restarts(tmp_path, capsys):
    run = tmp_path / "run"
    config = write_config(tmp_path, run, init_steps=1, gan_steps=3, checkpoint_every=1)
    argv = ["train", "--config", str(config), "--quiet"]
    assert main([*argv, "--stop-after", "2"]) == 0
    assert "paused at step 2/4" in capsys.readouterr().out
    assert main(argv) == 0  # no flag: continues from step 2, not from 0
    assert "finished at step 4/4" in capsys.readouterr().out
    assert _steps_logged(run) == [1, 2, 3, 4]
    assert main([*argv, "--resume"]) == 0  # the old spelling parses; the finished run has nothing left to do
    assert _steps_logged(run) == [1, 2, 3, 4]

    # another learning rate is another run: refused, the checkpoint untouched
    before = (run / "checkpoints" / CHECKPOINT).read_bytes()
    assert main([*argv, "--set", "optim.g_lr=0.001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(run / "checkpoints" / CHECKPOINT) in err[0], err
    assert "optim.g_lr (2e-05 -> 0.001)" in err[0] and "--restart" in err[0], err
    assert (run / "checkpoints" / CHECKPOINT).read_bytes() == before
    # more steps are the same run, continued
    assert main([*argv, "--set", "optim.gan_steps=4"]) == 0
    assert _steps_logged(run) == [1, 2, 3, 4, 5]

    assert main([*argv, "--set", "optim.g_lr=0.001", "--restart"]) == 0  # starts over with the new settings
    assert _steps_logged(run) == [1, 2, 3, 4]
    assert json.loads((run / "config.json").read_text())["optim"]["g_lr"] == 0.001


def test_distill_again_continues_refuses_other_settings_and_restarts(tmp_path, capsys):
    from animegan_deploy.models.checkpoints import save_checkpoint
    from test_distill import folders

    teacher = save_checkpoint(randomized_generator(width=0.25, seed=2), tmp_path / "teacher.safetensors")
    train_photos, held = folders(tmp_path)
    out = tmp_path / "s.safetensors"
    argv = ["distill", "width:0.125", "-o", str(out), "--teacher", str(teacher), "--photo-dir", str(train_photos),
            "--eval-dir", str(held), "--steps", "4", "--batch-size", "2", "--crop", "32", "--checkpoint-every", "1",
            "--eval-size", "40", "--threads", "1", "--quiet"]
    assert main([*argv, "--stop-after", "2"]) == 0
    assert "paused at step 2/4" in capsys.readouterr().out and not out.exists()
    last = out.with_name("s.run") / "checkpoints" / "last.pt"
    before = last.read_bytes()
    assert main([*argv, "--lr", "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(last) in err[0] and "lr (0.0002 -> 0.01)" in err[0] and "--restart" in err[0], err
    assert last.read_bytes() == before and not out.exists()
    assert main(argv) == 0  # the same settings: continued to the end
    assert "distilled 4 steps" in capsys.readouterr().out and out.is_file()
    assert main([*argv, "--lr", "0.01", "--restart", "--stop-after", "1"]) == 0  # starts over: step 1 of 4
    assert "paused at step 1/4" in capsys.readouterr().out


def test_student_again_with_another_width_is_refused_then_restarted(tmp_path, photo_folders, capsys):
    from animegan_deploy.models.checkpoints import load_generator, save_checkpoint

    teacher = save_checkpoint(randomized_generator(width=0.25, seed=4), tmp_path / "t.safetensors")
    out = tmp_path / "s.safetensors"
    argv = ["student", "-w", str(teacher), "-o", str(out), "--steps", "4", "--finetune-steps", "2", "--batch-size",
            "2", "--crop", "32", "--fit-photos", "2", "--checkpoint-every", "1", "--eval-size", "32", "--threads", "1",
            "--photo-dir", str(photo_folders["calib"]), "--eval-dir", str(photo_folders["eval"]), "--quiet"]
    assert main([*argv, "--width", "0.5", "--stop-after", "2"]) == 0
    capsys.readouterr()
    narrowed = out.with_name("s.run") / "narrowed.safetensors"
    before = narrowed.read_bytes()
    assert main([*argv, "--width", "0.25"]) == 2  # never the old width's run continued under the new flag
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(narrowed) in err[0] and "width (0.5 -> 0.25)" in err[0] and "--restart" in err[0]
    assert narrowed.read_bytes() == before and not out.exists()
    assert main([*argv, "--width", "0.25", "--restart"]) == 0
    assert load_generator(narrowed).info.provenance["width_ratio"] == 0.25 and out.is_file()


def test_every_long_command_spells_restart_the_same(tmp_path, capsys):
    for command in (["train"], ["distill"], ["student"], ["student-recipe"], ["pipeline", "run"]):
        try:
            main([*command, "--help"])
        except SystemExit:
            pass
        text = capsys.readouterr().out
        assert "--restart" in text and "--resume" not in text and "--force" not in text, command
    quick = [str(Path(__file__).parents[1] / "pipelines" / "quick.toml"), "-o", str(tmp_path / "p"), "--dry-run"]
    plans = []
    for spelling in ("--restart", "--force"):  # the pipeline's old spelling still parses, to the same plan
        assert main(["pipeline", "run", *quick, spelling]) == 0
        plans.append(capsys.readouterr().out)
    assert plans[0] == plans[1] and "8 stage(s) would run" in plans[0]
