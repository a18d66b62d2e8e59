"""The cached photo sets (calibration, unseen, demo data) are built by one process at a time: a second export or
test worker starting meanwhile waits and then lists the complete set, never a half-written one."""

import threading

from animegan_deploy.compress.photos import default_calibration_photos
from animegan_deploy.lock import exclusive
from animegan_deploy.train.demo_data import CALIBRATION_EXTRA, TRAIN_PHOTOS
from animegan_deploy.train.preprocess import list_images


def test_a_second_builder_waits_for_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cache"))
    built: list = []
    second = threading.Thread(target=lambda: built.append(default_calibration_photos()))
    with exclusive(tmp_path / "cache" / "demo-data" / ".build.lock"):  # the first builder, still at work
        second.start()
        second.join(timeout=1.0)
        assert second.is_alive() and not built  # it waits rather than read a set being written
    second.join(timeout=300)
    (folder,) = built
    assert len(list_images(folder)) == 3 * len(TRAIN_PHOTOS + CALIBRATION_EXTRA)  # full, crop50, colour of each
