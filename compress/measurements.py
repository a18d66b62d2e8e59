"""Numbers every compression stage reports (size, cost and fidelity vs the uncompressed model), and the FP32 torch
reference runners every fidelity figure compares with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from animegan_deploy.benchmarks.cost import count_parameters, gmacs
from animegan_deploy.benchmarks.fidelity import compare, eval_inputs, memoized
from animegan_deploy.digest import file_sha256
from animegan_deploy.memo import Memo, content_key
from animegan_deploy.models import Generator
from animegan_deploy.train.preprocess import list_images

from .photos import default_eval_photos


def torch_model_fn(model: Generator):
    model = model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return run


# the FP32 torch model's output per photo, kept per checkpoint (by its bytes) for the process: a quantizer choosing
# its settings, the standalone check of its file and a benchmark compare many files with one original on one set of
# photos, each picture run once
_REFERENCES: Memo = Memo(limit=4)


def checkpoint_reference(checkpoint: str | Path):
    """The FP32 torch model of ``checkpoint`` as an NCHW -> NCHW function that runs each photo once per process."""
    from animegan_deploy.models.checkpoints import load_generator

    key = content_key("torch-reference", file_sha256(checkpoint))
    return _REFERENCES.get_or_make(key, lambda: memoized(torch_model_fn(load_generator(checkpoint).model)))


def fidelity_vs(reference: Generator, candidate: Generator, eval_dir: str | Path | None, size: int) -> dict:
    """PSNR/SSIM of ``candidate`` vs ``reference`` outputs on held-out photos."""
    folder = Path(eval_dir) if eval_dir else default_eval_photos()
    inputs = eval_inputs(list_images(folder), size)
    return compare(torch_model_fn(reference), torch_model_fn(candidate), inputs).to_dict()


def model_numbers(model: Generator, path: Path | None = None, size: int = 256) -> dict:
    return {
        "params": count_parameters(model),
        "gmacs": round(gmacs(model, size), 4),
        "gmacs_size": size,
        "file_bytes": path.stat().st_size if path is not None and path.is_file() else None,
        "channels": model.plan.to_dict(),
    }
