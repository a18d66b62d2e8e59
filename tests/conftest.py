"""Shared fixtures: tiny generators (width 0.25) and small pictures, so the suite stays fast on 2 cores."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import save_checkpoint
from animegan_deploy.threads import apply_to_runtimes

# The suite never writes into a user's cache (~/.cache/animegan-deploy, or their ANIMEGAN_CACHE): what exports keep
# between processes (export/traced_graphs.py) goes to a folder of this session, which the CLI processes tests start
# and make test's workers inherit from the session's main process (which removes it at the end).
if "ANIMEGAN_TEST_CACHE" not in os.environ:
    os.environ["ANIMEGAN_TEST_CACHE"] = tempfile.mkdtemp(prefix="animegan-test-cache-")
    atexit.register(shutil.rmtree, os.environ["ANIMEGAN_TEST_CACHE"], True)
os.environ["ANIMEGAN_CACHE"] = os.environ["ANIMEGAN_TEST_CACHE"]

# `make test` splits the suite over pytest-xdist workers, one per core: each worker's runtimes (ONNX Runtime, torch,
# LiteRT, TensorFlow in onnx2tf's helper processes) take its share of the cores, not every core each (runtimes that
# spin against each other finish later than one job after the other). Measured on 2 cores: two INT8 exports at one
# thread each side by side took 148 s, one after the other at two threads 200 s.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    _share = str(max(1, len(os.sched_getaffinity(0)) // WORKERS))
    os.environ.update({"ANIMEGAN_THREADS": _share, "OMP_NUM_THREADS": _share})

# make test runs whole files on a worker (--dist loadfile: a file's module fixtures are made once, and the fidelity
# gate's default-model files share that model's graphs, calibration and reference outputs). The files that take
# longest (seconds at 1 thread per worker on 2 cores) go out first, so that the last ones to finish are short; the
# second worker starts on the kill tests (tiny models) while the first traces the full-width generator, which the
# other two gate files then take from the shared trace cache instead of tracing it at the same moment.
LONGEST_FIRST = ("test_fidelity_gate.py", "test_export_kill.py",  # 295, 95 (2026-12-04)
                 "test_fidelity_gate_second_model.py", "test_tflite_float_fallback.py",  # 120, 80
                 "test_fidelity_gate_tflite.py", "test_pipeline_kill.py", "test_default_checkpoint.py",  # 74, 70, 62
                 "test_mixed_precision.py", "test_student_recipe.py", "test_trace_cache.py", "test_pipeline_run.py",
                 "test_train_resume.py", "test_tflite_export.py", "test_pipeline_gate_int16x8.py",
                 "test_bad_input_corpus.py")  # 44 .. 9


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's own order is kept


apply_to_runtimes()

DATA = Path(__file__).parent / "data"
TINY_WIDTH = 0.25


@pytest.fixture(scope="session")
def public_format() -> dict:
    """The public checkpoint's 77 tensor names and shapes (carried into the repo from the reference)."""
    return json.loads((DATA / "animeganv2_state_dict.json").read_text())


def randomized_generator(width: float = TINY_WIDTH, seed: int = 0, **kwargs) -> Generator:
    """A generator whose norm scales/shifts are not the trivial 1/0, so norm bugs show in outputs."""
    torch.manual_seed(seed)
    model = Generator(width=width, **kwargs)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias") or param.ndim == 1:
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(randomized_generator(), path, style="test", provenance={"made_by": "tests"})
    return path


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth uint8 RGB test picture with some structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx / width, yy / height, (xx + yy) / (width + height)], axis=2)
    noise = rng.normal(0, 0.05, size=base.shape)
    return (np.clip(base + noise, 0, 1) * 255).astype(np.uint8)


def save_photo(path: Path, array: np.ndarray, **kwargs) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.fixture(scope="session")
def photo_folders(tmp_path_factory) -> dict[str, Path]:
    """Small calibration ('calib', 4 pictures) and evaluation ('eval', 2 different ones) folders."""
    root = tmp_path_factory.mktemp("photos")
    folders = {}
    for name, seeds in (("calib", range(4)), ("eval", range(10, 12))):
        folder = root / name
        folder.mkdir()
        for seed in seeds:
            save_photo(folder / f"p{seed}.png", photo(48, 64, seed=seed))
        folders[name] = folder
    return folders


@pytest.fixture(scope="session")
def tiny_int8(tmp_path_factory, tiny_checkpoint, photo_folders):
    """The tiny generator exported to FP32 ONNX and quantized (entropy) at 32 px; (fp32 path, QuantizeResult)."""
    from animegan_deploy.compress.quantize import QuantizeConfig, quantize_onnx
    from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx

    out = tmp_path_factory.mktemp("int8")
    fp32 = export_onnx(tiny_checkpoint, OnnxExportConfig(norm="explicit", validate_sizes=((32, 32),)), out / "tiny.onnx").path
    config = QuantizeConfig(calib_dir=str(photo_folders["calib"]), eval_dir=str(photo_folders["eval"]), size=32)
    return fp32, quantize_onnx(fp32, config, out / "tiny.int8.onnx", progress=False)


def files_in(folder: Path) -> list[Path]:
    """The folder's entries less the tool's own bookkeeping (the written-files manifest, the temporaries journal)."""
    from animegan_deploy.ownership import JOURNAL, MANIFEST

    return [p for p in Path(folder).iterdir() if p.name not in (MANIFEST, JOURNAL)]
