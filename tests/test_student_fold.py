"""Student architecture: BatchNorm fitted to a GroupNorm teacher, folded into the convs at < 1e-4."""

import torch
from torch import nn

from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from animegan_deploy.models.student import fold_norms, student_from_teacher
from conftest import randomized_generator


def _photos(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # smooth-ish pictures: low-resolution noise upsampled, so the statistics look like photos, not white noise
    low = torch.rand(n, 3, size // 8, size // 8, generator=g) * 2 - 1
    return nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


def _random_statistics(model: Generator, seed: int = 0) -> Generator:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 2 + 0.1)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model.eval()


def test_folding_changes_outputs_by_less_than_1e_4():
    student = _random_statistics(Generator(width=0.25, norm="batch"))
    folded = fold_norms(student)
    assert folded.norm_kind == "folded"
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in folded.modules())
    x = torch.rand(2, 3, 48, 64) * 2 - 1
    with torch.no_grad():
        diff = (folded(x) - student(x)).abs().max().item()
        moved = (folded(x) - Generator(width=0.25, norm="folded").eval()(x)).abs().max().item()
    assert diff < 1e-4
    assert moved > 1e-2  # the folded weights carry the norms: a fresh folded model differs


def test_fitted_student_is_closer_to_the_teacher_than_identity_norms():
    teacher = randomized_generator(width=0.25, seed=3)
    photos = _photos(6, 32)
    student = student_from_teacher(teacher, photos)
    assert student.norm_kind == "batch" and student.plan == teacher.plan
    unfit = Generator(width=0.25, norm="batch", channels=teacher.plan)  # same convs, default (unfitted) norms
    norms = {name for name, m in student.named_modules() if isinstance(m, nn.BatchNorm2d)}
    unfit.load_state_dict({k: v for k, v in student.state_dict().items() if k.rsplit(".", 1)[0] not in norms},
                          strict=False)
    x = _photos(3, 40, seed=7)  # pictures the fit never saw
    with torch.no_grad():
        target = teacher(x)
        fit_err = (student.eval()(x) - target).abs().mean().item()
        unfit_err = (unfit.eval()(x) - target).abs().mean().item()
    assert fit_err < 0.5 * unfit_err


def test_pruned_and_folded_student_reloads_from_safetensors_alone(tmp_path):
    from animegan_deploy.compress.prune import prune_model

    student = _random_statistics(Generator(width=0.25, norm="batch"), seed=1)
    narrowed = prune_model(student, threshold=0.0, keep_ratio=0.5).model
    assert narrowed.plan.a0 == 4 and narrowed.plan.e2 == 4 and narrowed.plan.e0 == 8  # full-resolution layers too
    folded = fold_norms(narrowed)
    path = save_checkpoint(folded, tmp_path / "s.folded.safetensors")
    loaded = load_generator(path)
    assert loaded.info.architecture == "animeganv2-student" and loaded.info.normalization == "folded"
    assert loaded.model.plan == narrowed.plan
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert (loaded.model(x) - narrowed(x)).abs().max().item() < 1e-4
