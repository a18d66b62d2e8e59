"""Hidden files in a photo folder are not pictures: the temporaries another process is still writing (a test worker
or a second export building the cached calibration set picked one up and calibrated on a different split) and
macOS's ._ companions are left out of every photo listing and of stylize's folder inputs."""

from animegan_deploy.compress.photos import calibration_split
from animegan_deploy.stylize import StylizeConfig, stylize
from animegan_deploy.train.preprocess import list_images
from conftest import photo, save_photo


def _folder_with_hidden_files(root):
    folder = root / "photos"
    for name in ("a__full.png", "a__colour.png", "b__full.png", "c__full.png", "d__full.png"):
        save_photo(folder / name, photo(24, 32))
    save_photo(folder / ".e__full.4242.9f3a.tmp.png", photo(24, 32))  # another process's write, not yet renamed
    (folder / "._a__full.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # not an image at all
    save_photo(folder / ".thumbnails" / "a__full.png", photo(8, 8))
    return folder


def test_listings_leave_hidden_files_out(tmp_path):
    folder = _folder_with_hidden_files(tmp_path)
    assert [p.name for p in list_images(folder)] == ["a__colour.png", "a__full.png", "b__full.png", "c__full.png",
                                                     "d__full.png"]
    split = calibration_split(str(folder), 32)
    sources = sorted({p.name.split("__")[0] for p in split.calibration + split.validation})
    assert sources == ["a", "b", "c", "d"]


def test_stylize_reads_only_the_visible_pictures(tmp_path, tiny_checkpoint):
    folder = _folder_with_hidden_files(tmp_path)
    report = stylize([str(folder)], tiny_checkpoint, StylizeConfig(size=0), tmp_path / "out")
    assert not report.failed and len(report.written) == 5
