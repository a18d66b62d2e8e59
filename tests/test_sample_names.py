"""Evaluation photos that share a stem (x.png, x.jpg, sub/x.png) get sample files of their own in report.html."""

from pathlib import Path

from animegan_deploy.pipeline.stages import sample_keys


def test_same_stem_photos_keep_separate_sample_names():
    folder = Path("/photos")
    paths = [folder / "sub" / "x.png", folder / "x.jpg", folder / "x.png", folder / "y__z.png"]
    keys = sample_keys(paths, folder)
    assert keys == ["sub-x-png", "x-jpg", "x-png", "y_z"]
    assert len(set(keys)) == len(keys) and all("__" not in k for k in keys)


def test_unique_stems_keep_their_names():
    folder = Path("/photos")
    assert sample_keys([folder / "a.png", folder / "b.jpg"], folder) == ["a", "b"]
