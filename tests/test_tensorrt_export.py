"""TensorRT engines: a clear one-line refusal where TensorRT/CUDA is missing; real builds where they exist."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

from animegan_deploy.export.tensorrt import TensorRTConfig
from animegan_deploy.errors import UserError

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None and importlib.util.find_spec("pycuda") is not None
HAVE_CUDA = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not (HAVE_TRT and HAVE_CUDA),
                               reason="TensorRT engine builds need the tensorrt + pycuda extra and an NVIDIA GPU; "
                                      "this machine has " + ("no CUDA device" if HAVE_TRT else "no tensorrt/pycuda"))


@pytest.mark.skipif(HAVE_TRT, reason="tensorrt is installed here; the missing-dependency path cannot be shown")
def test_missing_tensorrt_is_one_line_and_exit_3(tiny_checkpoint, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "animegan_deploy.cli", "export", "tensorrt", "-w", str(tiny_checkpoint),
                           "-o", str(tmp_path / "x.engine")], capture_output=True, text=True)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: tensorrt is not installed") and "GPU" in lines[0]
    assert not (tmp_path / "x.engine").exists()


@pytest.mark.skipif(HAVE_TRT, reason="tensorrt is installed here")
def test_stylize_backend_tensorrt_names_what_is_missing(tmp_path):
    from conftest import photo, save_photo

    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\0" * 16)
    picture = save_photo(tmp_path / "in.png", photo())
    proc = subprocess.run([sys.executable, "-m", "animegan_deploy.cli", "stylize", str(picture), "-w", str(engine),
                           "--backend", "tensorrt", "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 3 and "backend tensorrt: tensorrt, pycuda not installed" in proc.stderr


def test_profile_shapes_are_validated():
    with pytest.raises(UserError, match="min <= opt <= max"):
        TensorRTConfig(min_shape=(512, 512), opt_shape=(256, 256))


@needs_gpu
@pytest.mark.parametrize("precision,min_psnr", [("fp32", 60.0), ("fp16", 45.0)])
def test_engine_matches_torch(tiny_checkpoint, tmp_path, precision, min_psnr):
    from animegan_deploy.backends import load_runner
    from animegan_deploy.benchmarks.fidelity import psnr
    from animegan_deploy.export.tensorrt import export_tensorrt
    from animegan_deploy.models.checkpoints import load_generator

    config = TensorRTConfig(precision=precision, min_shape=(32, 32), opt_shape=(64, 64), max_shape=(128, 128),
                            timing_cache=str(tmp_path / "timing.cache"))
    result = export_tensorrt(tiny_checkpoint, config, tmp_path / f"tiny.{precision}.engine")
    runner = load_runner(result.path)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 64, 96)).astype(np.float32)
    ref = load_generator(tiny_checkpoint).model(torch.from_numpy(x)).detach().numpy()
    assert psnr(ref, runner(x)) >= min_psnr
    assert (tmp_path / "timing.cache").stat().st_size > 0


@needs_gpu
def test_int8_engine_from_qdq_onnx_is_strongly_typed(tiny_int8, tmp_path):
    import json

    from animegan_deploy.backends import load_runner
    from animegan_deploy.export.tensorrt import export_tensorrt

    _, result = tiny_int8
    config = TensorRTConfig(precision="int8", onnx=str(result.path), min_shape=(32, 32), opt_shape=(32, 32),
                            max_shape=(64, 64), timing_cache=None)
    built = export_tensorrt("unused", config, tmp_path / "tiny.int8.engine")
    meta = json.loads(built.sidecar.read_text())
    assert meta["explicit_quantization"] is True
    out = load_runner(built.path)(np.zeros((1, 3, 32, 32), np.float32))
    assert out.shape == (1, 3, 32, 32) and np.isfinite(out).all()
