"""Two CPU processes on the gloo backend (torchrun) train in lockstep and end with identical weights."""

import json
import os
import subprocess
import sys

import torch

from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.sidecar import read_sidecar
from train_helpers import write_config


def test_two_process_gloo_run_gives_the_same_weights_on_both_ranks(tmp_path):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path, run_dir, init_steps=2, gan_steps=3)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "animegan_deploy.cli", "train", "--config", str(config), "--quiet"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    side = read_sidecar(run_dir / "generator.safetensors")
    checksums = side["metrics"]["ddp_weight_checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]
    assert load_generator(run_dir / "generator.safetensors").info.provenance["world_size"] == 2
    # the ranks saw different data (batches depend on the rank), so equality comes from gradient sync
    single = tmp_path / "single"
    subprocess.run([sys.executable, "-m", "animegan_deploy.cli", "train", "--config", str(config), "--quiet",
                    "--run-dir", str(single)], env=env, check=True, capture_output=True, timeout=300)
    a = load_generator(run_dir / "generator.safetensors").model.state_dict()
    b = load_generator(single / "generator.safetensors").model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert json.loads((run_dir / "config.json").read_text())["optim"]["gan_steps"] == 3
