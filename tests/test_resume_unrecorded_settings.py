"""One rule for resuming a run saved by an older version (animegan_deploy/resume.py, used by training, distillation
and the student's narrowing): a setting the run did not record is compared as the value its caller says it had then
(``unrecorded``), one the caller does not name as unset; a recorded setting that changed is refused, naming it."""

from pathlib import Path

import pytest

from animegan_deploy.errors import UserError
from animegan_deploy.resume import check_same_settings

CKPT = Path("run/last.pt")
CURRENT = {"data": {"crop": 96, "hue_jitter": 0.0}, "loss": {"chroma": 0.0, "style": 2.0}}
SAVED = {"data": {"crop": 96}, "loss": {"style": 2.0}}  # before hue_jitter and chroma existed


def test_an_unrecorded_setting_at_its_old_value_resumes():
    check_same_settings(CKPT, SAVED, CURRENT, frozenset(), "another run_dir",
                        unrecorded={"data": {"crop": 64, "hue_jitter": 0.0}, "loss": {"chroma": 0.0, "style": 1.0}})


def test_an_unrecorded_setting_at_another_value_is_refused_with_both_values():
    current = {**CURRENT, "data": {"crop": 96, "hue_jitter": 0.15}}
    with pytest.raises(UserError, match=r"run/last.pt: .*\(data.hue_jitter \(0.0 -> 0.15\)\); pass --restart"):
        check_same_settings(CKPT, SAVED, current, frozenset(), "another run_dir",
                            unrecorded={"data": {"hue_jitter": 0.0}, "loss": {"chroma": 0.0}})


def test_without_unrecorded_values_a_missing_setting_is_a_change():
    with pytest.raises(UserError, match=r"data.hue_jitter \(unset -> 0.0\), loss.chroma \(unset -> 0.0\)"):
        check_same_settings(CKPT, SAVED, CURRENT, frozenset(), "another run_dir")


def test_a_recorded_value_wins_over_the_unrecorded_one():
    # the run recorded crop 96; that the older version's default was 64 does not matter
    current = {**CURRENT, "data": {"crop": 64, "hue_jitter": 0.0}}
    with pytest.raises(UserError, match=r"data.crop \(96 -> 64\)"):
        check_same_settings(CKPT, SAVED, current, frozenset(), "another run_dir",
                            unrecorded={"data": {"crop": 64, "hue_jitter": 0.0}, "loss": {"chroma": 0.0}})
