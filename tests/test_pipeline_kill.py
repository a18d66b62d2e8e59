"""SIGKILL the pipeline at a random moment, run the same command again: it completes, reuses what finished,
leaves no temporary file or folder, and every artifact's sidecar describes that very file."""

import json
import os
import random
import signal
import subprocess
import sys

from animegan_deploy.sidecar import file_sha256, sidecar_path
from pipeline_helpers import public_pt, quick_argv, statuses


def _start(argv: list[str], env: dict) -> subprocess.Popen:
    code = "import sys; from animegan_deploy.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)


def test_killed_run_completes_on_the_next_one(tmp_path, photo_folders):
    seed = int(os.environ.get("ANIMEGAN_KILL_SEED", random.randrange(1 << 16)))
    moment = random.Random(seed).uniform(4.0, 45.0)
    weights, out = public_pt(tmp_path), tmp_path / "out"
    argv = quick_argv(weights, photo_folders, out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = _start(argv, env)
    try:
        proc.wait(timeout=moment)  # a run done before the moment is not waited for
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: onnx2tf runs in a child process
        proc.wait()
    finished_before = {p.parent.name for p in out.rglob("stage.json")}
    again = _start(argv, env)
    assert again.wait(timeout=600) == 0, f"rerun failed (kill seed {seed}, at {moment:.1f} s)"
    final = statuses(out)
    assert all(s in ("ran", "cached") for k, s in final.items() if k != "export tensorrt"), (seed, final)
    for name, status in final.items():  # a stage that had finished before the kill was reused
        folder = {"export onnx": "onnx", "export tflite": "tflite"}.get(name, name)
        if folder in finished_before and name not in ("benchmark", "gate"):
            assert status == "cached", (seed, moment, name)
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name or p.name == ".pipeline.lock"]
    assert not leftovers, (seed, leftovers)
    for artifact in [p for p in out.rglob("*") if p.is_file() and sidecar_path(p).is_file()]:
        meta = json.loads(sidecar_path(artifact).read_text())
        if "sha256" in meta:
            assert meta["sha256"] == file_sha256(artifact), (seed, moment, artifact)
