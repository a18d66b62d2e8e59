"""Pruning removes exactly the channels under the threshold; zeroed channels go without changing the output."""

import pytest
import torch

from animegan_deploy.compress.prune import count_under_threshold, prune_model
from compress_helpers import model_with_zeroed_channels


@pytest.fixture(scope="module")
def pruned():
    model, removed = model_with_zeroed_channels()
    return model, removed, prune_model(model, threshold=0.01)


def test_exactly_the_zeroed_channels_are_removed(pruned):
    model, removed, outcome = pruned
    changed = {l.layer: l.before - l.after for l in outcome.layers if l.before != l.after}
    assert changed == removed
    assert count_under_threshold(model, 0.01, "gamma") == {l.layer: l.under_threshold for l in outcome.layers}
    assert outcome.model.plan.e0 == model.plan.e0 - 2 and outcome.model.plan.trunk == model.plan.trunk - 1


@pytest.mark.parametrize("size", [(32, 32), (48, 40), (37, 51)])
def test_output_is_unchanged(pruned, size):
    model, _, outcome = pruned
    x = torch.rand(2, 3, *size) * 2 - 1
    with torch.no_grad():
        assert (outcome.model(x) - model(x)).abs().max() <= 1e-5


def test_channels_just_above_threshold_stay():
    model, _ = model_with_zeroed_channels()
    with torch.no_grad():
        model.block_e[0][2].weight[3] = 0.0101  # now above the threshold
        model.block_e[0][2].weight[4] = -0.0099  # magnitude below
    changed = {l.layer: l.before - l.after for l in prune_model(model, 0.01).layers if l.before != l.after}
    assert changed["e0"] == 2  # channels 4 and 9


def test_l1_criterion_uses_filter_magnitudes():
    model, _ = model_with_zeroed_channels()
    with torch.no_grad():
        model.block_e[0][2].weight.fill_(1.0)  # scales large: only the filters are zero
    outcome = prune_model(model, threshold=1e-6, criterion="l1")
    assert {l.layer: l.before - l.after for l in outcome.layers if l.before != l.after}["e0"] == 2


def test_min_channels_keeps_the_strongest():
    model, _ = model_with_zeroed_channels()
    with torch.no_grad():
        model.block_a[0][2].weight.mul_(0.001)
        model.block_a[0][2].weight[2] = 0.005  # all under the threshold, channel 2 the strongest
    outcome = prune_model(model, threshold=0.01, min_channels=1)
    assert outcome.model.plan.a0 == 1
    kept = outcome.model.block_a[0][2].weight
    assert torch.allclose(kept, torch.tensor([0.005]))
