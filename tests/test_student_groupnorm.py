"""The GroupNorm student (--norm group, the default): the teacher's per-picture GroupNorm kept in every narrowed
layer, weights inherited, its deploy forms equal to its training form, and it reloads from safetensors alone."""

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from animegan_deploy.compress.prune import prune_model
from animegan_deploy.compress.student import StudentConfig, make_student, narrowed_student
from animegan_deploy.errors import UserError
from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from animegan_deploy.models.norms import set_export_form
from animegan_deploy.models.student import groupnorm_student
from conftest import randomized_generator


def _x(seed=0, size=40):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, size, size + 8, generator=g) * 2 - 1


def test_full_width_group_student_is_the_teacher():
    teacher = randomized_generator(width=0.25, seed=2)
    student, ratio = narrowed_student(teacher, StudentConfig(norm="group", width=1.0))
    assert ratio == 1.0 and student.plan == teacher.plan
    with torch.no_grad():
        assert torch.equal(student(_x()), teacher(_x()))


def test_narrowed_layers_inherit_the_kept_channels_and_normalize_over_their_own():
    teacher = randomized_generator(width=0.5, seed=3)
    student, _ = narrowed_student(teacher, StudentConfig(norm="group", width=0.25))
    t, s = teacher.plan.to_dict(), student.plan.to_dict()
    assert all(s[k] == max(1, round(t[k] * 0.25)) for k in t), (s, t)
    norms = [m for m in student.modules() if isinstance(m, nn.GroupNorm)]
    teacher_norms = [m for m in teacher.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == len(teacher_norms) == 24 and all(m.num_groups == 1 for m in norms)  # plain GroupNorm(1, C)
    assert student.stat_plan is None and not student.is_student
    # every kept gamma is one of the teacher's, taken as is (the strongest |gamma| of its layer)
    t_gamma, s_gamma = teacher.block_e[0][2].weight.detach(), student.block_e[0][2].weight.detach()
    assert all(bool(torch.isclose(t_gamma, g).any()) for g in s_gamma)
    assert s_gamma.abs().min() >= t_gamma.abs().sort(descending=True).values[len(s_gamma) - 1] - 1e-7


def test_deploy_forms_equal_the_training_form(tmp_path):
    """Explicit mean/variance, the affine as a 1x1 conv, staged means (TFLite's forms) and the ONNX file: < 1e-4."""
    from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx

    student = groupnorm_student(prune_model(randomized_generator(width=0.5, seed=5), 0.0, keep_ratio=0.5).model)
    x = _x(1)
    with torch.no_grad():
        reference = student(x)
        explicit = set_export_form(Generator(norm="group", channels=student.plan).set_norm("explicit"),
                                   affine_as_conv=True, staged_mean=True)
        explicit.load_state_dict(student.state_dict())
        assert (explicit.eval()(x) - reference).abs().max().item() < 1e-4
    path = save_checkpoint(student, tmp_path / "s.safetensors")
    export_onnx(path, OnnxExportConfig(size=(40, 48)), tmp_path / "s.onnx")
    session = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert np.abs(onnx_out - reference.numpy()).max() < 1e-4


def test_reloads_from_safetensors_alone(tmp_path):
    student = groupnorm_student(prune_model(randomized_generator(width=0.5, seed=6), 0.0, keep_ratio=0.25).model)
    loaded = load_generator(save_checkpoint(student, tmp_path / "s.safetensors"))
    assert loaded.info.normalization == "group" and loaded.model.plan == student.plan
    with torch.no_grad():
        assert (loaded.model(_x(2)) - student(_x(2))).abs().max().item() < 1e-6


def test_a_batchnorm_teacher_is_refused_in_one_line(tmp_path, photo_folders):
    from animegan_deploy.models.student import fold_norms

    folded = fold_norms(Generator(width=0.25, norm="batch").eval())
    teacher = save_checkpoint(folded, tmp_path / "folded.safetensors")
    config = StudentConfig(norm="group", steps=1, photo_dir=str(photo_folders["calib"]),
                           eval_dir=str(photo_folders["eval"]))
    with pytest.raises(UserError, match=r"folded-norm student has no GroupNorm .* --norm batch"):
        make_student(teacher, config, tmp_path / "s.safetensors", progress=False)
    assert not (tmp_path / "s.run").exists()
