"""The embedded default checkpoint: public-format generator, honest metadata, and it learned the demo style.

The style check re-runs the repository's evaluation on the bundled held-out photos (never trained on): the
Gram style loss to the procedural cartoon set must be >= 30% below the init-phase (reconstruction-only)
model's, the content loss within 2x of it, and both must match the numbers committed next to the weights.
"""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from animegan_deploy.compress.photos import default_train_photos, heldout_photos
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.models.hub import DEFAULT_CHECKPOINT, WEIGHTS_DIR, default_checkpoint
from animegan_deploy.train.evaluate import StyleEvalConfig, evaluate_style

INIT = WEIGHTS_DIR / "animegan_demo_init.safetensors"
COMMITTED = WEIGHTS_DIR / "animegan_demo_style_eval.json"


def test_default_is_a_full_width_public_format_generator(public_format):
    loaded = load_generator(default_checkpoint())
    state = loaded.model.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == {k: list(v) for k, v in public_format["tensors"].items()}
    assert loaded.info.width == 1.0 and loaded.info.style == "demo-cartoon"
    with safe_open(str(DEFAULT_CHECKPOINT), "np") as f:
        meta = f.metadata()
    assert "demo" in json.dumps(meta).lower()


def test_default_learned_the_style_on_held_out_photos(tmp_path):
    photos = heldout_photos()
    style = default_train_photos().parent / "style"
    # --previous: the init model again, so its figures must equal the baseline's and the ratios follow from them
    report = evaluate_style(DEFAULT_CHECKPOINT, INIT, photos, style, StyleEvalConfig(size=256), tmp_path / "eval",
                            previous=INIT)
    assert report["previous_metrics"] == pytest.approx(report["baseline_metrics"])
    assert report["ripple_energy_ratio"] == pytest.approx(70.3 / 5.46, rel=0.02)  # the duotone's ripples: 13x
    assert "| previous (`animegan_demo_init.safetensors`) |" in (tmp_path / "eval.md").read_text()
    assert report["style_loss_reduction"] >= 0.30
    assert report["content_loss_ratio"] <= 2.0
    committed = json.loads(COMMITTED.read_text())
    assert report["style_loss_reduction"] == pytest.approx(committed["style_loss_reduction"], abs=0.01)
    assert report["content_loss_ratio"] == pytest.approx(committed["content_loss_ratio"], abs=0.02)
    for key in ("colour_distance", "ripple_energy", "edge_f1"):  # how it looks (train/looks.py), as committed
        assert report["model"][key] == pytest.approx(committed["model"][key], rel=0.02), key
    assert not {p for p in report["photos"]} & {p.name for p in default_train_photos().iterdir()}
