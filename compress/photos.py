"""Default photo folders for compression stages: the bundled demo photos, materialized once in the cache."""

from __future__ import annotations

from pathlib import Path

from animegan_deploy.models.hub import cache_dir


def _demo_folders() -> dict[str, Path]:
    from animegan_deploy.train.demo_data import build_demo_dataset

    return build_demo_dataset(cache_dir() / "demo-data")


def default_train_photos() -> Path:
    """Photos the demo model was trained on (also the calibration set)."""
    return _demo_folders()["photos"]


def heldout_photos() -> Path:
    """The 3 bundled photos the demo model never saw (chelsea, grace_hopper, flower): its style evaluation."""
    return _demo_folders()["heldout"]


def default_unseen_photos() -> Path:
    """The wider unseen set (15 pictures: held-out photos, other bundled photographs, crops at other scales)
    for fidelity figures with a mean, a worst photo and a count that mean something."""
    from animegan_deploy.train.demo_data import build_unseen_set

    return build_unseen_set(cache_dir() / "demo-data" / "unseen")


def default_eval_photos() -> Path:
    """What every fidelity figure is measured on by default: the 15 unseen pictures (never trained or
    calibrated on). Three photos were too few: a figure on them moved by 7 dB on unseen ones."""
    return default_unseen_photos()
