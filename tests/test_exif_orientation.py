"""EXIF orientations 1-8 are undone exactly as Pillow's exif_transpose does."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from animegan_deploy.imageio import apply_exif_orientation, read_image
from conftest import photo


@pytest.mark.parametrize("orientation", range(1, 9))
def test_matches_pillow(tmp_path, orientation):
    array = photo(30, 50)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.png"
    image.save(path, exif=exif)
    with Image.open(path) as reopened:
        expected = np.asarray(ImageOps.exif_transpose(reopened).convert("RGB"), dtype=np.float32) / 255
    assert np.array_equal(apply_exif_orientation(array, orientation), np.asarray(expected * 255 + 0.5, np.uint8))
    picture = read_image(path)
    assert picture.rgb.shape == expected.shape
    assert np.allclose(picture.rgb, expected, atol=1e-6)
