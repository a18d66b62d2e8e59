"""optim.cosine_steps: the GAN phase's cosine schedule may span more steps than the run trains, so a run stopped at
step N of a longer schedule (a time-boxed GPU run) is a recipe that ends at the same learning rate."""

import math

import pytest
import torch

from animegan_deploy.errors import UserError
from animegan_deploy.train.config import load_config
from animegan_deploy.train.loop import CHECKPOINT, train

from train_helpers import write_config

G_LR, MIN_RATIO = 1e-3, 0.1


def _final_g_lr(tmp_path, extra: str) -> float:
    config = load_config(write_config(tmp_path, tmp_path / "run", init_steps=0, gan_steps=4, extra=""),
                         [f"optim.g_lr={G_LR}", f"optim.min_lr_ratio={MIN_RATIO}", *extra.split()])
    train(config, progress=False)
    state = torch.load(next((tmp_path / "run").rglob(CHECKPOINT)), map_location="cpu", weights_only=True)
    return state["opt_g"]["param_groups"][0]["lr"]


def _cosine(step: int, span: int) -> float:
    floor = G_LR * MIN_RATIO
    return floor + (G_LR - floor) * (1 + math.cos(math.pi * step / span)) / 2


def test_a_longer_span_ends_partway_down_the_curve(tmp_path):
    # 4 of 8 steps: half way down, 0.55e-3; without the option the run would end at the floor, 1e-4
    assert _final_g_lr(tmp_path, "optim.cosine_steps=8") == pytest.approx(_cosine(4, 8), rel=1e-6)
    assert _cosine(4, 8) == pytest.approx(5.5e-4)


def test_zero_spans_the_run(tmp_path):
    assert _final_g_lr(tmp_path, "optim.cosine_steps=0") == pytest.approx(G_LR * MIN_RATIO, rel=1e-6)


def test_a_span_shorter_than_the_run_is_refused(tmp_path):
    path = write_config(tmp_path, tmp_path / "run", init_steps=0, gan_steps=4)
    with pytest.raises(UserError, match=r"optim.cosine_steps 3: must be 0 \(= gan_steps\) or at least gan_steps \(4\)"):
        load_config(path, ["optim.cosine_steps=3"])
