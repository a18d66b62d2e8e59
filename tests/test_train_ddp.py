"""Two CPU processes on the gloo backend (torchrun) train in lockstep and end with identical weights."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.sidecar import read_sidecar
from train_helpers import write_config


# torchrun's line for a worker that died of a signal of its own (SIGABRT, SIGSEGV): not a Python error (exitcode 1),
# nor the SIGTERM (15) torchrun sends the other workers once one has failed
KILLED_BY_SIGNAL = re.compile(r"traceback\s*:\s*Signal (?!15 )\d+")


def _launch(train: list[str], env: dict[str, str], log_dir: Path) -> tuple[subprocess.CompletedProcess, str]:
    """torchrun two CPU workers of ``animegan train``; also what each worker printed (its own log files)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--log-dir", str(log_dir), "--tee", "3", "-m", "animegan_deploy.cli", "train", *train]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    workers = "\n".join(f"--- {f.relative_to(log_dir)}\n{f.read_text()[-3000:]}" for f in sorted(log_dir.rglob("*.log")))
    return done, workers


def test_two_process_gloo_run_gives_the_same_weights_on_both_ranks(tmp_path):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path, run_dir, init_steps=2, gan_steps=3)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    train = ["--config", str(config), "--quiet"]
    done, workers = _launch(train, env, tmp_path / "logs")
    if done.returncode and KILLED_BY_SIGNAL.search(done.stderr):
        # a clean-clone CI run (2026-12-05) saw a worker abort in native code (SIGABRT) with the other still running,
        # under the full suite's load; 37 runs alone or beside 4 busy processes never did. A run that died of a
        # signal is launched once more from scratch (a Python error, exitcode 1, is not); what each worker printed
        # the first time stays in the failure message should the second try fail too
        first = f"first try:\n{workers}\n{done.stderr[-1500:]}\nsecond try:\n"
        shutil.rmtree(run_dir, ignore_errors=True)
        done, workers = _launch(train, env, tmp_path / "logs-retry")
        workers = first + workers
    assert done.returncode == 0, f"{workers}\n{done.stderr[-1500:]}"
    assert done.stdout.count("wrote ") == 1 and "[default0]:wrote" in done.stdout  # the main rank reports, alone
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
