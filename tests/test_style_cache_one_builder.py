"""Training runs started at once on one style folder take turns making its gray and smoothed copies: a second run
waits for the first, then reuses its cache (on the device three runs sharing runs/demo-data/cel stopped with
'a file that animegan did not write is already there' while the first was still writing)."""

import threading

import cv2
import numpy as np

from animegan_deploy.lock import exclusive
from animegan_deploy.train.preprocess import CACHE_DIR, prepare_style_folder


def test_a_second_run_waits_then_reuses_the_cache(tmp_path):
    for i in range(3):
        image = np.zeros((32, 32, 3), np.uint8)
        image[:, 10 * i:] = 70 * (i + 1)
        cv2.imwrite(str(tmp_path / f"s{i}.png"), image)
    first = prepare_style_folder(tmp_path, progress=False)
    stamps = {t.smooth: t.smooth.stat().st_mtime_ns for t in first}
    done: list = []
    second = threading.Thread(target=lambda: done.append(prepare_style_folder(tmp_path, progress=False)))
    with exclusive(tmp_path / CACHE_DIR / ".build.lock"):  # the first run, still writing its copies
        second.start()
        second.join(timeout=1.0)
        assert second.is_alive() and not done  # it waits rather than read a cache being written
    second.join(timeout=60)
    (triplets,) = done
    assert [t.style.name for t in triplets] == ["s0.png", "s1.png", "s2.png"]
    assert {t.smooth: t.smooth.stat().st_mtime_ns for t in triplets} == stamps  # reused, nothing rewritten
