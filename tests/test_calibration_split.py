"""The calibration photos split into a calibration side (ranges) and a validation side (settings chosen per model,
fallback targets): a source photo's variants stay together, and neither side holds an evaluation picture."""

from animegan_deploy.compress.photos import (calibration_split, default_calibration_photos, default_eval_photos)
from animegan_deploy.train.preprocess import list_images

from conftest import photo, save_photo


def test_default_split_keeps_variants_of_one_photo_together_and_away_from_evaluation():
    split = calibration_split(None, 100)
    sources = lambda paths: {p.stem.split("__")[0] for p in paths}  # noqa: E731
    assert len(split.calibration) >= 20 and len(split.validation) >= 8
    assert not sources(split.calibration) & sources(split.validation)
    # colour-shifted copies: the bundled photos hold little green or blue
    assert any(p.stem.endswith("__colour") for p in split.calibration)
    assert any(p.stem.endswith("__colour") for p in split.validation)
    evaluation = {p.stem.split("_crop")[0] for p in list_images(default_eval_photos())}
    assert not sources(split.calibration + split.validation) & evaluation
    assert split.folder == default_calibration_photos()
    assert set(split.record()["validation"]) == {p.name for p in split.validation}


def test_every_third_source_is_validation_and_count_caps_calibration_only(tmp_path):
    for i in range(6):
        save_photo(tmp_path / f"p{i}.png", photo(32, 32, seed=i))
    split = calibration_split(tmp_path, 2)
    assert [p.name for p in split.validation] == ["p1.png", "p4.png"]
    assert [p.name for p in split.calibration] == ["p0.png", "p2.png"]


def test_one_source_photo_gives_no_validation(tmp_path):
    for variant in ("full", "crop"):
        save_photo(tmp_path / f"only__{variant}.png", photo(32, 32))
    split = calibration_split(tmp_path, 10)
    assert len(split.calibration) == 2 and split.validation == ()
