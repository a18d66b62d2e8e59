"""Width multipliers give narrower students and wider teachers with the same topology and keys."""

import pytest
import torch

from animegan_deploy.models import ChannelPlan, Generator, count_parameters


@pytest.mark.parametrize("width", [0.25, 0.5, 2.0])
def test_same_keys_scaled_channels(width):
    base = Generator().state_dict()
    model = Generator(width=width)
    state = model.state_dict()
    assert list(state) == list(base)
    assert state["block_a.0.1.weight"].shape[0] == round(32 * width)
    assert state["block_c.2.layers.1.1.weight"].shape[0] == round(512 * width)
    assert ChannelPlan.from_state_dict(state) == ChannelPlan.for_width(width)


def test_parameters_scale_roughly_with_width_squared():
    full = count_parameters(Generator())
    half = count_parameters(Generator(width=0.5))
    double = count_parameters(Generator(width=2.0))
    assert 0.22 < half / full < 0.30
    assert 3.7 < double / full < 4.3


@pytest.mark.parametrize("size", [(32, 32), (40, 56), (37, 53)])
def test_forward_keeps_size_and_range(size):
    model = Generator(width=0.25).eval()
    x = torch.rand(2, 3, *size) * 2 - 1
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert float(y.abs().max()) <= 1.0


def test_rejects_nonsense_width():
    with pytest.raises(ValueError):
        Generator(width=0.0)
