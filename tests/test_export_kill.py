"""SIGKILL during each export, then the same command again: it finishes, nothing temporary is left (files beside
the output, TFLite work folders), and the artifact's sidecar describes that very file."""

import os
import random
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from animegan_deploy.sidecar import read_sidecar

CASES = {
    "onnx": (["export", "onnx", "--size", "32"], "model.onnx"),
    "onnx-int8": (["export", "onnx-int8", "--size", "32", "--calib-count", "2"], "model.int8.onnx"),
    "tflite": (["export", "tflite", "--size", "32", "--precisions", "float32", "full_integer_quant",
                "--allow-lossy", "--calib-count", "2"], "tflite"),
}


def _run(argv: list[str]) -> subprocess.Popen:
    code = "import sys; from animegan_deploy.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)


@pytest.mark.parametrize("fmt", list(CASES))
def test_killed_export_reruns_clean(fmt, tmp_path, tiny_checkpoint, photo_folders):
    if fmt == "tflite":
        pytest.importorskip("onnx2tf", reason="TFLite export needs the [tflite] extra and onnx2tf (make install)")
    seed = random.randrange(1 << 16)
    moment = random.Random(seed).uniform(1.5, 12.0)
    args, name = CASES[fmt]
    out = tmp_path / "out" / name
    extra = [] if fmt == "onnx" else ["--eval-dir", str(photo_folders["eval"]), "--calib-dir",
                                      str(photo_folders["calib"])]
    argv = args + ["-w", str(tiny_checkpoint), "-o", str(out)] + extra
    proc = _run(argv)
    try:
        proc.wait(timeout=moment)  # an export done before the moment is not waited for
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    again = _run(argv)
    assert again.wait(timeout=600) == 0, (seed, moment, again.stderr.read().decode()[-2000:])
    files = [p for p in out.rglob("*")] if out.is_dir() else list(out.parent.iterdir())
    assert not [p for p in files if ".tmp" in p.name], (seed, moment, files)
    artifacts = [p for p in files if p.suffix in (".onnx", ".tflite")]
    assert artifacts, files
    for artifact in artifacts:
        read_sidecar(artifact, verify=True)  # raises if the sidecar describes another version of the file
    work = [p for p in Path(tempfile.gettempdir()).glob(f"animegan-tflite-{proc.pid}-*")]
    assert not work, work  # the killed run's work folder was removed by the next export
