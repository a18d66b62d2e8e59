"""A run killed with SIGKILL resumes from its last checkpoint: same step counter, same losses, same weights."""

import json
import os
import signal
import subprocess
import sys
import time

import torch

from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.train.config import load_config
from animegan_deploy.train.loop import CHECKPOINT, INIT_GENERATOR, train
from train_helpers import write_config

TOTAL_INIT, TOTAL_GAN = 4, 56


def read_log(run_dir):
    return [json.loads(line) for line in (run_dir / "losses.jsonl").read_text().splitlines()]


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    config_path = write_config(tmp_path, killed_dir, TOTAL_INIT, TOTAL_GAN, checkpoint_every=3)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "animegan_deploy.cli", "train", "--config", str(config_path), "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = killed_dir / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if log.is_file() and len(log.read_text().splitlines()) >= 14:
            break
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    checkpoint = killed_dir / "checkpoints" / CHECKPOINT
    state = torch.load(checkpoint, weights_only=True)  # complete and loadable, never half-written
    killed_at = state["step"]
    assert 3 <= killed_at < TOTAL_INIT + TOTAL_GAN and killed_at % 3 == 0

    resumed = train(load_config(config_path), resume=True, progress=False)
    assert resumed.steps == TOTAL_INIT + TOTAL_GAN
    steps = [r["step"] for r in read_log(killed_dir)]
    assert steps == list(range(1, TOTAL_INIT + TOTAL_GAN + 1))  # no gap, no duplicate across the kill
    assert (killed_dir / INIT_GENERATOR).is_file()
    assert not list((killed_dir / "checkpoints").glob(".*tmp*"))

    clean = train(load_config(config_path, [f"run.run_dir={clean_dir}"]), progress=False)
    assert read_log(killed_dir) == read_log(clean_dir)  # the losses continue exactly
    a = load_generator(resumed.generator).model.state_dict()
    b = load_generator(clean.generator).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stop_after_pauses_and_resume_finishes(tmp_path):
    config_path = write_config(tmp_path, tmp_path / "run", 2, 3, checkpoint_every=100)
    config = load_config(config_path)
    paused = train(config, progress=False, stop_after=3)
    assert paused.steps == 3 and not paused.generator.exists()
    finished = train(load_config(config_path), resume=True, progress=False)
    assert finished.steps == 5 and finished.generator.is_file()
