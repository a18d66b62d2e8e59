"""style_scale: the floor of the Gram style figure against a style set and what the set's own images score (#25).

Numbers worked by hand on Gram matrices whose elements are all one value: the figure is the mean absolute
difference, so a set {0, 1, 5} has its floor at the median 1 and each image scores the mean distance to the others.
"""

from __future__ import annotations

import pytest
import torch

from animegan_deploy.train import evaluate
from animegan_deploy.train.evaluate import style_scale


def _grams(*values: float) -> list[torch.Tensor]:
    return [torch.full((1, 2, 2), float(v)) for v in values]


def test_floor_is_the_figure_at_the_median_and_the_set_scores_leave_one_out():
    scale = style_scale(_grams(0, 1, 5))
    assert scale["floor"] == pytest.approx(5 / 3)  # |0-1| + |1-1| + |5-1|, over 3; the mean (2) would give 2
    assert scale["style_set"] == pytest.approx(10 / 3)  # (1+5)/2, (1+4)/2, (5+4)/2, averaged
    assert scale["style_set_images"] == 3


def test_floor_is_no_higher_than_any_gram_matrix_scores():
    torch.manual_seed(0)
    grams = [torch.rand(1, 4, 4) ** 3 for _ in range(7)]  # skewed, so mean and median differ
    stacked = torch.cat(grams)
    floor = style_scale(grams)["floor"]

    def figure(g: torch.Tensor) -> float:
        return float((stacked - g).abs().mean(dim=(1, 2)).mean())

    assert floor == pytest.approx(figure(stacked.median(dim=0).values))
    assert floor < figure(stacked.mean(dim=0)) - 1e-4
    assert all(floor < figure(g) for g in stacked)
    assert floor < figure(stacked.median(dim=0).values + 0.05)


def test_an_even_set_and_a_set_of_one():
    assert style_scale(_grams(0, 1, 5, 6))["floor"] == pytest.approx(2.5)  # any value in [1, 5]: (1+0+4+5)/4
    one = style_scale(_grams(3))
    assert one["floor"] == 0 and one["style_set"] is None and one["style_set_images"] == 1


def test_a_large_set_is_sampled_evenly(monkeypatch):
    monkeypatch.setattr(evaluate, "SELF_SAMPLE", 3)
    scale = style_scale(_grams(0, 100, 1, 100, 5))  # images 0, 2, 4 are compared: 0, 1, 5
    assert scale["style_set_images"] == 3 and scale["style_set"] == pytest.approx(10 / 3)
    assert scale["floor"] == pytest.approx((5 + 95 + 4 + 95 + 0) / 5)  # the floor uses every image: median 5
