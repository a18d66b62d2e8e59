"""Hue jitter of training photos (data.hue_jitter): a rotation of each photo's chroma that keeps its luma, drawn
per photo from the batch's seed, off by default without changing any batch a run without it sees, and an interrupted
run from a version without the key still resumes."""

import json

import cv2
import numpy as np
import pytest

from animegan_deploy.atomic import atomic_write_json
from animegan_deploy.errors import UserError
from animegan_deploy.train.config import load_config, validate
from animegan_deploy.train.data import PhotoBatches, CropSampler, rotate_hue
from animegan_deploy.train.loop import train

from conftest import photo
from train_helpers import write_config

LUMA = np.array([0.299, 0.587, 0.114])


def _mid_tones(seed: int = 0) -> np.ndarray:
    # colours well inside the gamut, so that no rotation clips
    return np.random.default_rng(seed).integers(90, 166, (32, 32, 3)).astype(np.uint8)


def test_rotation_keeps_luma_and_turns_hue():
    rgb = _mid_tones()
    assert np.array_equal(rotate_hue(rgb, 0.0), rgb)
    turned = rotate_hue(rgb, 1 / 3)
    assert np.abs(turned.astype(float) @ LUMA - rgb.astype(float) @ LUMA).max() <= 1.0
    assert np.abs(turned.astype(int) - rgb).mean() > 10  # the colours moved
    back = rotate_hue(turned, -1 / 3)
    assert np.abs(back.astype(int) - rgb).max() <= 2  # rounding only
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0], red[..., 1:] = 170, 90
    r, g, b = rotate_hue(red, 1 / 3)[0, 0].astype(int)  # a third of a turn from red is green
    assert g > r and g > b


def test_off_by_default_and_the_same_batches_as_before(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"p{i}.png"), photo(80, 96, seed=i)[:, :, ::-1])
    # off, the jitter draws its two numbers (brightness, contrast) and no third: every later crop, flip and photo
    # of a batch comes out as it did before the option existed
    drawn, reference = np.random.default_rng(5), np.random.default_rng(5)
    CropSampler(48, (0.5, 1.0), 0.1).color_jitter(drawn, photo(48, 48))
    reference.uniform(size=2)
    assert drawn.random() == reference.random()
    plain = PhotoBatches(tmp_path, CropSampler(48, (0.5, 1.0), 0.1)).batch(step=3, batch_size=4, seed=7)
    jittered = PhotoBatches(tmp_path, CropSampler(48, (0.5, 1.0), 0.1, hue=0.5))
    on = jittered.batch(step=3, batch_size=4, seed=7)
    assert np.array_equal(on.numpy(), jittered.batch(step=3, batch_size=4, seed=7).numpy())  # a function of the seed
    # the first photo has the same crop and jitter either way (the hue is drawn after them): its colours turned,
    # its brightness kept (clipping aside)
    first_on, first_plain = on[0].numpy(), plain[0].numpy()
    colour_change = np.abs(first_on - first_plain).mean()
    luma_change = np.abs(np.tensordot(LUMA, first_on - first_plain, axes=([0], [0])))
    assert colour_change > 0.1  # 0.51 measured
    assert np.median(luma_change) <= 1 / 127.5 and luma_change.mean() < colour_change / 4


def test_out_of_range_hue_jitter_names_its_key():
    with pytest.raises(UserError, match="data.hue_jitter 0.8"):
        validate(load_config(None, ["data.hue_jitter=0.8"]))


def test_a_run_saved_before_the_key_existed_resumes(tmp_path):
    run_dir = tmp_path / "run"
    config_path = write_config(tmp_path, run_dir, init_steps=2, gan_steps=2)
    first = train(load_config(config_path), progress=False, stop_after=2)
    assert first.steps == 2
    saved = json.loads((run_dir / "config.json").read_text())
    del saved["data"]["hue_jitter"], saved["loss"]["chroma"]  # what a version without the two keys wrote
    atomic_write_json(run_dir / "config.json", saved)
    assert train(load_config(config_path), resume=True, progress=False).steps == 4
    saved["data"]["jitter"] = 0.3  # a setting that was recorded and changed is still refused
    atomic_write_json(run_dir / "config.json", saved)
    with pytest.raises(UserError, match=r"data.jitter \(0.3 -> 0.1\)"):
        train(load_config(config_path), resume=True, progress=False)
