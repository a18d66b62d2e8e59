"""Style preprocessing is cached beside the data with a manifest and recomputed only when a source changes."""

import os

import cv2
import numpy as np

from animegan_deploy.train.preprocess import CACHE_DIR, prepare_style_folder


def test_cache_is_reused_and_refreshed(tmp_path):
    for i in range(2):
        image = np.zeros((32, 32, 3), np.uint8)
        image[:, 16:] = 60 * (i + 1)
        cv2.imwrite(str(tmp_path / f"s{i}.png"), image)
    first = prepare_style_folder(tmp_path, progress=False)
    assert len(first) == 2 and (tmp_path / CACHE_DIR / "manifest.json").is_file()
    stamps = {t.smooth: t.smooth.stat().st_mtime_ns for t in first}
    second = prepare_style_folder(tmp_path, progress=False)
    assert {t.smooth: t.smooth.stat().st_mtime_ns for t in second} == stamps  # nothing recomputed
    changed = tmp_path / "s1.png"
    cv2.imwrite(str(changed), np.full((32, 32, 3), 7, np.uint8))
    os.utime(changed, ns=(0, 10**18))
    third = prepare_style_folder(tmp_path, progress=False)
    refreshed = [t for t in third if t.smooth.stat().st_mtime_ns != stamps[t.smooth]]
    assert [t.style.name for t in refreshed] == ["s1.png"]
    assert (cv2.imread(str(third[1].gray)) == 7).all()
