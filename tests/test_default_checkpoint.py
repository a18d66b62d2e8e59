"""The embedded default checkpoint: public-format generator, honest metadata, and it looks like the cel style it was
trained on while keeping the photo's colours (#25).

The look check re-runs the repository's evaluation on the 15 unseen pictures (never trained on) for the default and
its init phase, against the previous default's committed figures (zoo:duotone): colour distance to the photo at
most half the duotone's, ripple energy over flat regions at most a third of it, edge F1 no lower (the acceptance of
#25), content within 2x of the init phase, and every figure as committed next to the weights
(models/weights/animegan_demo_style_eval.json), with how far the Gram style figure can go against the cel set.
"""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from animegan_deploy.compress.photos import cel_style_images, default_eval_photos, default_train_photos
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.models.hub import DEFAULT_CHECKPOINT, WEIGHTS_DIR, default_checkpoint
from animegan_deploy.train.evaluate import StyleEvalConfig, evaluate_style

INIT = WEIGHTS_DIR / "animegan_demo_init.safetensors"
COMMITTED = WEIGHTS_DIR / "animegan_demo_style_eval.json"


def test_default_is_a_full_width_public_format_generator(public_format):
    loaded = load_generator(default_checkpoint())
    state = loaded.model.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == {k: list(v) for k, v in public_format["tensors"].items()}
    assert loaded.info.width == 1.0 and loaded.info.style == "demo-cel"
    assert loaded.info.provenance["config"] == "train/configs/demo_polish.toml"  # the last of three stages
    with safe_open(str(DEFAULT_CHECKPOINT), "np") as f:
        meta = f.metadata()
    assert "demo" in json.dumps(meta).lower()


def test_default_keeps_colours_and_draws_no_ripples_on_unseen_pictures(tmp_path):
    # the default and its init phase re-measured; zoo:duotone's figures as committed by the same evaluation (with
    # --previous zoo:duotone, `make train-demo`), not re-run here: a third model would add a third of this test's time
    report = evaluate_style(DEFAULT_CHECKPOINT, INIT, default_eval_photos(), cel_style_images(),
                            StyleEvalConfig(size=256), tmp_path / "eval")
    committed = json.loads(COMMITTED.read_text())
    duotone = committed["previous_metrics"]
    assert committed["previous"].endswith("zoo_duotone.safetensors") and duotone["colour_distance"] > 19
    assert len(report["photos"]) == 15 and report["photos"] == committed["photos"]
    assert not set(report["photos"]) & {p.name for p in default_train_photos().iterdir()}
    model = report["model"]
    assert model["colour_distance"] <= 0.5 * duotone["colour_distance"]  # 6.39 vs 20.04
    assert model["ripple_energy"] <= duotone["ripple_energy"] / 3  # 23.2 vs 139.1
    assert model["edge_f1"] >= duotone["edge_f1"]  # 0.825 vs 0.589
    assert report["content_loss_ratio"] <= 2.0
    assert report["style_loss_reduction"] == pytest.approx(committed["style_loss_reduction"], abs=0.01)
    assert report["content_loss_ratio"] == pytest.approx(committed["content_loss_ratio"], abs=0.02)
    # where the style figure can go against the cel set (#25's target: 30% below the init phase): the lowest any
    # picture can score is 34% below it and the set's own images score 5% below it, so a generator that drew exactly
    # like the set would land near 5%
    assert report["style_scale"]["floor"] == pytest.approx(committed["style_scale"]["floor"], rel=0.01)
    assert report["style_loss_reduction_limit"] == pytest.approx(0.342, abs=0.01)
    assert report["style_set_reduction"] == pytest.approx(0.051, abs=0.01)
    for key in ("colour_distance", "ripple_energy", "edge_f1"):  # how it looks (train/looks.py), as committed
        assert model[key] == pytest.approx(committed["model"][key], rel=0.02), key
        assert report["baseline_metrics"][key] == pytest.approx(committed["baseline_metrics"][key], rel=0.02), key
