"""Distillation: student learns the teacher's outputs; hints/adapters across widths; atomic, resumable."""

import torch

from animegan_deploy.compress.distill import DistillConfig, distill
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from animegan_deploy.sidecar import read_sidecar
from conftest import photo, randomized_generator, save_photo


def folders(tmp_path):
    train, held = tmp_path / "train", tmp_path / "held"
    train.mkdir(exist_ok=True)
    held.mkdir(exist_ok=True)
    for i in range(3):
        save_photo(train / f"t{i}.png", photo(48, 48, seed=i))
    save_photo(held / "h.png", photo(40, 40, seed=9))
    return train, held


def config(tmp_path, teacher, steps, **kw):
    train, held = folders(tmp_path)
    return DistillConfig(teacher=str(teacher), photo_dir=str(train), eval_dir=str(held), steps=steps, batch_size=2,
                         crop=32, lr=5e-3, checkpoint_every=2, eval_size=40, threads=1, **kw)


def test_student_gets_closer_to_teacher_with_hints_and_adversarial(tmp_path):
    teacher = save_checkpoint(randomized_generator(width=0.25, seed=1), tmp_path / "teacher.safetensors")
    out = tmp_path / "student.safetensors"
    result = distill("width:0.125", config(tmp_path, teacher, 12, hints=0.5, adversarial=0.1), out, progress=False)
    assert result.steps == 12 and set(result.last_losses) == {"output_l1", "content", "hints", "adversarial"}
    student = load_generator(out).model
    assert student.plan.a0 == 4  # width 0.125
    side = read_sidecar(out)
    assert side["metrics"]["fidelity_vs_teacher"]["psnr_db"] > 0
    t = load_generator(teacher).model
    torch.manual_seed(0)  # the untrained baseline and the probe must not depend on what ran before
    fresh = load_generator(out).model.__class__(width=0.125, norm="explicit")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        target = t(x)
        trained_err = (student(x) - target).abs().mean()
        fresh_err = (fresh.eval()(x) - target).abs().mean()
    assert trained_err < fresh_err


def test_resume_matches_an_uninterrupted_run(tmp_path):
    teacher = save_checkpoint(randomized_generator(seed=2), tmp_path / "teacher.safetensors")
    student = save_checkpoint(randomized_generator(width=0.125, seed=4), tmp_path / "s.safetensors")
    paused = distill(student, config(tmp_path, teacher, 6), tmp_path / "a.safetensors", progress=False, stop_after=3)
    assert paused.steps == 3 and not paused.path.exists()
    resumed = distill(student, config(tmp_path, teacher, 6), tmp_path / "a.safetensors", resume=True, progress=False)
    assert resumed.steps == 6
    straight = distill(student, config(tmp_path, teacher, 6), tmp_path / "b.safetensors", progress=False)
    sa = load_generator(resumed.path).model.state_dict()
    sb = load_generator(straight.path).model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
