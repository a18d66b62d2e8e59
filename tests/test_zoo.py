"""The zoo (models/zoo.py): at least five generators trained differently, committed, loadable by ``zoo:NAME``,
and really different models (their outputs on one photo differ far more than any quantization error)."""

import itertools

import numpy as np
import pytest
import torch

from animegan_deploy.errors import UserError
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.models.hub import resolve_weights
from animegan_deploy.models.zoo import ZOO
from animegan_deploy.benchmarks.fidelity import psnr, to_pixels

from conftest import photo


def test_five_or_more_members_each_with_its_recipe():
    assert len(ZOO) >= 5 and len({m.name for m in ZOO}) == len(ZOO)
    for member in ZOO:
        assert member.path.is_file(), f"{member.path}: run make zoo"
        assert member.config and (member.path.parents[2] / member.config).is_file()


def test_members_are_different_generators():
    x = torch.from_numpy(photo(64, 64).transpose(2, 0, 1)[None].astype(np.float32) / 127.5 - 1)
    outputs = {}
    for member in ZOO:
        with torch.no_grad():
            outputs[member.name] = to_pixels(load_generator(resolve_weights(f"zoo:{member.name}")).model(x).numpy())[0]
    for a, b in itertools.combinations(outputs, 2):
        assert psnr(outputs[a], outputs[b]) < 30, (a, b)  # INT8 files are held to >= 30 dB of their model


def test_unknown_zoo_name_is_a_one_line_error():
    with pytest.raises(UserError, match="zoo:nope: no such zoo model; choose one of default, init"):
        resolve_weights("zoo:nope")
