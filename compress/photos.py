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


def default_eval_photos() -> Path:
    """Bundled photos the demo model never saw: chelsea, grace_hopper, flower."""
    return _demo_folders()["heldout"]
