"""Default photo folders for compression stages: the bundled demo photos, materialized once in the cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from animegan_deploy.models.hub import cache_dir


def _demo_data() -> Path:
    return cache_dir() / "demo-data"


def _built(build, *parts: str):
    """``build(folder)`` of the cached demo data, one process at a time: a process listing a set that another one
    is still writing would see part of it."""
    from animegan_deploy.lock import exclusive

    with exclusive(_demo_data() / ".build.lock"):
        return build(_demo_data().joinpath(*parts))


def _demo_folders() -> dict[str, Path]:
    from animegan_deploy.train.demo_data import build_demo_dataset

    return _built(build_demo_dataset)


def default_train_photos() -> Path:
    """Photos the demo model was trained on (also the calibration set)."""
    return _demo_folders()["photos"]


def cel_style_images() -> Path:
    """The cel style set the default model is trained on: each training photo as flat palettes with dark outlines."""
    return _demo_folders()["cel"]


def heldout_photos() -> Path:
    """The 3 bundled photos the demo model never saw (chelsea, grace_hopper, flower): its style evaluation."""
    return _demo_folders()["heldout"]


def default_unseen_photos() -> Path:
    """The wider unseen set (15 pictures: held-out photos, other bundled photographs, crops at other scales)
    for fidelity figures with a mean, a worst photo and a count that mean something."""
    from animegan_deploy.train.demo_data import build_unseen_set

    return _built(build_unseen_set, "unseen")


def default_eval_photos() -> Path:
    """What every fidelity figure is measured on by default: the 15 unseen pictures (never trained or
    calibrated on). Three photos were too few: a figure on them moved by 7 dB on unseen ones."""
    return default_unseen_photos()


def default_calibration_photos() -> Path:
    """The default INT8 calibration pictures: the training photos, half-size crops and colour-shifted copies of
    them, and two more bundled pictures (train/demo_data.build_calibration_set); never an evaluation picture."""
    from animegan_deploy.train.demo_data import build_calibration_set

    return _built(build_calibration_set, "calibration")


# a fidelity target (--target-psnr) is met on the validation photos with this much to spare, so that it holds on
# photos nobody tuned on
TARGET_MARGIN_DB = 0.5
VARIANT_SEPARATOR = "__"  # <source>__<variant>.png: pictures made from one photo stay on one side of the split


@dataclass(frozen=True)
class CalibrationSplit:
    """Calibration photos split in two: ``calibration`` sets the int8 ranges, ``validation`` (never calibrated on,
    never an evaluation picture) judges the settings chosen per model (compress/choose.py) and the fallback
    targets. A source photo's variants (``name__crop50.png`` ...) stay on one side; every third source goes to
    validation."""

    folder: Path
    calibration: tuple[Path, ...]
    validation: tuple[Path, ...]

    def record(self) -> dict:
        return {"folder": str(self.folder), "rule": "every third source photo (sorted; name__variant kept together) "
                "is validation", "calibration": [p.name for p in self.calibration],
                "validation": [p.name for p in self.validation]}


def calibration_split(folder: str | Path | None, count: int, argument: str = "--calib-dir") -> CalibrationSplit:
    """Split ``folder`` (default: :func:`default_calibration_photos`) as :class:`CalibrationSplit` says; at most
    ``count`` calibration photos. One source photo only: no validation (settings stay at their defaults)."""
    from animegan_deploy.errors import UserError
    from animegan_deploy.train.preprocess import list_images

    folder = Path(folder) if folder else default_calibration_photos()
    paths = list_images(folder)
    if not paths:
        raise UserError(f"{argument} {folder}: holds no photos; pass a folder of .jpg/.png photos")
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(path.stem.split(VARIANT_SEPARATOR)[0], []).append(path)
    calibration: list[Path] = []
    validation: list[Path] = []
    for index, key in enumerate(sorted(groups)):
        (validation if len(groups) > 1 and index % 3 == 1 else calibration).extend(groups[key])
    return CalibrationSplit(folder, tuple(calibration[:count]), tuple(validation))
