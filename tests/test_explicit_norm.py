"""The export-friendly normalization equals GroupNorm(1, C) with the same parameters and keys."""

import torch
from torch import nn

from animegan_deploy.models import ExplicitGroupNorm
from conftest import randomized_generator


def test_single_layer_matches_groupnorm():
    torch.manual_seed(1)
    ref = nn.GroupNorm(1, 16)
    with torch.no_grad():
        ref.weight.normal_()
        ref.bias.normal_()
    explicit = ExplicitGroupNorm(16)
    explicit.load_state_dict(ref.state_dict())
    x = torch.randn(3, 16, 9, 11) * 4 + 2
    assert torch.allclose(explicit(x), ref(x), atol=1e-5)


def test_generator_outputs_match_within_1e5_and_keys_are_unchanged():
    model = randomized_generator(width=0.5)
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    with torch.no_grad():
        expected = model(x)
        keys = list(model.state_dict())
        model.set_norm("explicit")
        actual = model(x)
    assert list(model.state_dict()) == keys
    assert sum(isinstance(m, ExplicitGroupNorm) for m in model.modules()) == 24
    assert not any(isinstance(m, nn.GroupNorm) for m in model.modules())
    diff = float((actual - expected).abs().max())
    assert diff <= 1e-5, diff


def test_switching_back_restores_groupnorm_exactly():
    model = randomized_generator()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = model(x)
        model.set_norm("explicit").set_norm("group")
        after = model(x)
    assert torch.equal(before, after)
