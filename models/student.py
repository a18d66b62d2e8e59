"""The deployment student: the AnimeGANv2 topology, narrowed, with the teacher's GroupNorm or a foldable one.

Two normalizations (``compress/student.py --norm``):

- ``group`` (:func:`groupnorm_student`): the teacher's own per-picture GroupNorm(1, C) is kept in every layer; a
  narrowed layer inherits its kept channels' conv weights and gamma/beta directly, and normalizes over its own
  channels. At width 1.0 the student is the teacher. Every layer still divides by the picture's own mean and
  spread, which is what keeps a photo's colours (measured on the embedded default at width 0.25: 30 dB to the
  teacher after 600 distillation steps, where the BatchNorm student sits at 21.5 dB after 2200).
- ``batch`` (below): BatchNorm with fixed running statistics, folded into the convs for deployment.

Every conv of the public generator is followed by GroupNorm(1, C): a per-photo reduction over the whole
feature map that no conv can absorb, so INT8 runtimes leave int8 after every conv. The student keeps the
topology, key names and width multiplier (so a teacher's weights initialize it) but normalizes with
BatchNorm2d and fixed running statistics: at inference each norm is a per-channel affine map, and
:func:`fold_norms` merges it into the conv before it. The deployed graph is conv + LeakyReLU (+ resize,
residual add, tanh) only.

:func:`student_from_teacher` turns a GroupNorm teacher into a BatchNorm student without training: layer by
layer (in forward order, each fitted on the student's own inputs so errors do not pile up), each channel's
affine map is the least-squares fit of the teacher's GroupNorm output on the student's conv output over a
set of photos. Distillation (``compress/student.py``) then recovers what a fixed affine map cannot express.
"""

from __future__ import annotations

import copy
import torch
from torch import nn

from .generator import Generator
from .norms import is_norm


class _Stop(Exception):
    """Raised by a capture hook once the wanted activation is recorded: the rest of the forward is skipped."""


def _norm_names(model: nn.Module, kind: type | None = None) -> list[str]:
    if kind is None:
        return [name for name, module in model.named_modules() if is_norm(module)]
    return [name for name, module in model.named_modules() if isinstance(module, kind)]


def _input_of(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """The input of submodule ``name`` when ``model`` runs on ``x`` (the rest of the forward is skipped)."""
    seen: list[torch.Tensor] = []

    def hook(_module, inputs):
        seen.append(inputs[0])
        raise _Stop

    handle = model.get_submodule(name).register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    return seen[0]


def _outputs_of(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of the submodules ``names`` in one forward pass of ``model`` on ``x``."""
    seen: dict[str, torch.Tensor] = {}
    handles = [model.get_submodule(n).register_forward_hook(
        lambda _m, _i, out, n=n: seen.__setitem__(n, out)) for n in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _channel_moments(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-channel mean of x, variance of x, covariance of (x, y) and mean of y over batch and pixels."""
    xs = x.transpose(0, 1).reshape(x.shape[1], -1).double()
    ys = y.transpose(0, 1).reshape(y.shape[1], -1).double()
    mx, my = xs.mean(1), ys.mean(1)
    var = ((xs - mx[:, None]) ** 2).mean(1)
    cov = ((xs - mx[:, None]) * (ys - my[:, None])).mean(1)
    return mx, var, cov, my


def fit_batchnorm(student: Generator, teacher: Generator, photos: torch.Tensor,
                  kept: dict[str, list[int]] | None = None) -> Generator:
    """Set every BatchNorm of ``student`` to the per-channel least-squares affine fit of the teacher's norm
    output at the same place, layer by layer on the student's own inputs; returns ``student`` (eval mode).
    ``kept`` maps a norm of a narrowed student to the teacher channels it kept (default: all, in order)."""
    student.eval()
    teacher.eval()
    names = _norm_names(student, nn.BatchNorm2d)
    targets = _outputs_of(teacher, names, photos)
    for name in names:
        x, y = _input_of(student, name, photos), targets[name]
        if kept is not None and name in kept:
            y = y[:, kept[name]]
        mean_x, var_x, cov, mean_y = _channel_moments(x, y)
        slope = torch.where(var_x > 1e-12, cov / var_x.clamp_min(1e-12), torch.zeros_like(var_x))
        bn: nn.BatchNorm2d = student.get_submodule(name)  # type: ignore[assignment]
        with torch.no_grad():
            bn.running_mean.copy_(mean_x.float())
            bn.running_var.copy_(var_x.float())
            bn.weight.copy_((slope * torch.sqrt(var_x + bn.eps)).float())
            bn.bias.copy_(mean_y.float())
    return student


def student_from_teacher(teacher: Generator, photos: torch.Tensor) -> Generator:
    """A BatchNorm student of the teacher's exact widths: conv weights copied, norms fitted on ``photos``
    (NCHW in [-1, 1]). Works for pruned teachers too (their norms keep the unpruned statistics)."""
    if teacher.is_student:
        return copy.deepcopy(teacher).eval()
    student = Generator(width=teacher.width, align_corners=teacher.align_corners, norm="batch",
                        channels=teacher.plan)
    norm_keys = {f"{name}.{p}" for name in _norm_names(teacher) for p in ("weight", "bias")}
    weights = {k: v for k, v in teacher.state_dict().items() if k not in norm_keys}
    missing, unexpected = student.load_state_dict(weights, strict=False)
    bn_names = set(_norm_names(student, nn.BatchNorm2d))
    if unexpected or any(k.rsplit(".", 1)[0] not in bn_names for k in missing):
        raise RuntimeError(f"teacher and student layouts differ: missing {missing[:4]}, unexpected {unexpected[:4]}")
    return fit_batchnorm(student, teacher, photos)


def groupnorm_student(model: Generator) -> Generator:
    """``model``'s convs and norm parameters in a generator whose every norm is a plain GroupNorm(1, C) over the
    layer's own channels (a pruned model's statistics of the unpruned layer are dropped: the student learns its
    own). Raises ValueError for a BatchNorm/folded student, which has no GroupNorm parameters to inherit."""
    if model.is_student:
        raise ValueError(f"a {model.norm_kind} student has no GroupNorm to keep")
    student = Generator(width=model.width, align_corners=model.align_corners, norm="group", channels=model.plan)
    student.load_state_dict(model.state_dict(), strict=True)
    return student.eval()


def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                       conv.dilation, conv.groups, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
        folded.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return folded


def fold_norms(student: Generator) -> Generator:
    """A copy of a BatchNorm student with every norm folded into its conv (``normalization = folded``)."""
    if student.norm_kind == "folded":
        return copy.deepcopy(student).eval()
    if student.norm_kind != "batch":
        raise ValueError(f"only a batch-norm student folds (this generator normalizes with {student.norm_kind})")
    folded = Generator(width=student.width, align_corners=student.align_corners, norm="folded",
                       channels=student.plan)
    modules = dict(student.named_modules())
    state = {}
    for name in _norm_names(student, nn.BatchNorm2d):
        parent, index = name.rsplit(".", 1)
        conv_name = f"{parent}.{int(index) - 1}"
        conv = _fold_into(modules[conv_name], modules[name])
        state[f"{conv_name}.weight"], state[f"{conv_name}.bias"] = conv.weight.detach(), conv.bias.detach()
    for key, value in student.state_dict().items():
        module = key.rsplit(".", 1)[0]
        if module in modules and isinstance(modules[module], nn.BatchNorm2d):
            continue
        state.setdefault(key, value)
    folded.load_state_dict(state, strict=True)
    return folded.eval()


def deploy_form(model: Generator) -> Generator:
    """What export traces: a BatchNorm student folded (conv + activation only), any other generator as is."""
    return fold_norms(model) if model.norm_kind == "batch" else model


def freeze_norm_statistics(model: nn.Module) -> nn.Module:
    """Put every BatchNorm in eval mode (running statistics fixed, gamma/beta still trainable): the student
    trains as the affine network it will be deployed as, whatever the batch size."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
    return model

