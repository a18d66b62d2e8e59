"""Shared fixtures: tiny generators (width 0.25) and small pictures, so the suite stays fast on 2 cores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import save_checkpoint

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
    Image.fromarray(array).save(path, **kwargs)
    return path
