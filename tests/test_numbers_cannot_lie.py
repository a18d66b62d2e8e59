"""A broken model is never called good: NaN weights are refused at load and never saved, NaN outputs are an error
in fidelity and export validation, identical pictures are said "identical", and JSON is strict."""

import json
import math

import numpy as np
import pytest
import torch

from animegan_deploy.atomic import atomic_write_json
from animegan_deploy.benchmarks.fidelity import compare
from animegan_deploy.finite import NonFiniteError, format_psnr, strict
from animegan_deploy.models.checkpoints import save_checkpoint
from animegan_deploy.pipeline.cache import canonical_json
from conftest import randomized_generator

X = [("a.png", np.zeros((1, 3, 8, 8), np.float32))]


def test_a_model_with_nan_weights_is_not_saved(tmp_path):
    model = randomized_generator()
    with torch.no_grad():
        next(model.parameters()).view(-1)[3] = float("nan")
    with pytest.raises(NonFiniteError, match=r"bad.safetensors \(not written\): 1 weight tensor"):
        save_checkpoint(model, tmp_path / "bad.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_nan_outputs_are_an_error_naming_the_model_and_photo():
    good = lambda x: np.zeros_like(x)  # noqa: E731
    broken = lambda x: np.full_like(x, np.nan)  # noqa: E731
    with pytest.raises(NonFiniteError, match="the candidate on a.png.*NaN"):
        compare(good, broken, X)
    with pytest.raises(NonFiniteError, match="model.pt on a.png"):
        compare(broken, good, X, labels=("model.pt", "x"))


def test_identical_pictures_are_infinite_then_null_and_said_identical(tmp_path):
    fid = compare(lambda x: x, lambda x: x.copy(), X)
    assert math.isinf(fid.psnr) and format_psnr(fid.psnr) == "identical" and format_psnr(31.234) == "31.23 dB"
    path = atomic_write_json(tmp_path / "f.json", fid.to_dict())
    data = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"bare {name} in JSON"))
    assert data["psnr_db"] is None and data["ssim"] == 1.0


def test_strict_replaces_every_non_finite_number():
    value = {"a": [1.0, float("nan"), np.float32("inf")], "b": (np.int64(3), -math.inf), "c": "nan"}
    assert strict(value) == {"a": [1.0, None, None], "b": [3, None], "c": "nan"}
    assert canonical_json({"x": float("inf")}) == '{"x":null}'
