"""The student stage resumes: paused with --stop-after and run again, it ends where an uninterrupted run ends."""

import pytest
import torch

from animegan_deploy.compress.student import StudentConfig, make_student
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from conftest import randomized_generator


def _config(photo_folders, **kw):
    return StudentConfig(width=0.5, steps=4, finetune_steps=2, batch_size=2, crop=32, fit_photos=2,
                         checkpoint_every=1, eval_size=32, threads=1, photo_dir=str(photo_folders["calib"]),
                         eval_dir=str(photo_folders["eval"]), **kw)


@pytest.mark.parametrize("norm, architecture", [("group", "animeganv2"), ("batch", "animeganv2-student")])
def test_paused_and_resumed_equals_uninterrupted(tmp_path, photo_folders, norm, architecture):
    teacher = save_checkpoint(randomized_generator(width=0.25, seed=4), tmp_path / "t.safetensors")
    config = _config(photo_folders, norm=norm)
    whole = make_student(teacher, config, tmp_path / "a" / "s.safetensors", progress=False)
    assert whole.finished and whole.steps_done == 4
    first = make_student(teacher, config, tmp_path / "b" / "s.safetensors", progress=False, stop_after=3)
    assert not first.finished and first.steps_done == 3 and not (tmp_path / "b" / "s.safetensors").exists()
    second = make_student(teacher, config, tmp_path / "b" / "s.safetensors", progress=False)
    assert second.finished
    a = load_generator(tmp_path / "a" / "s.safetensors").model.state_dict()
    b = load_generator(tmp_path / "b" / "s.safetensors").model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    reloaded = load_generator(tmp_path / "a" / "s.safetensors")
    assert reloaded.info.architecture == architecture and reloaded.model.plan.a0 <= 4
    # the deploy form: a BatchNorm student's folded twin, a GroupNorm student itself
    assert whole.deploy.name == ("s.folded.safetensors" if norm == "batch" else "s.safetensors")
    assert load_generator(whole.deploy).info.normalization in (("folded",) if norm == "batch" else ("group", "explicit"))
