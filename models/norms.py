"""Normalization layers of the AnimeGANv2 generator.

The public generator uses ``nn.GroupNorm(num_groups=1, num_channels=C, affine=True)``: every sample is
normalized over (C, H, W) together, then scaled and shifted per channel. Exporters lower it to
Reshape/InstanceNormalization/Reshape/Mul/Add, which onnx2tf converts badly (extra transposes, wrong
integer-quantized outputs). :class:`ExplicitGroupNorm` computes the same thing as a plain
mean/variance over (C, H, W) with the same ``weight``/``bias`` parameters, so a state_dict moves
between the two forms unchanged and export paths can switch to it.

Deployment students (``models/student.py``) use foldable normalization instead: ``batch`` is BatchNorm2d
with fixed running statistics (a per-channel affine map at inference), and ``folded`` is the same network
after that affine map was folded into the preceding conv (the norm is gone, the conv has a bias), so the
deployed graph is conv + activation only.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

NormKind = Literal["group", "explicit", "batch", "folded"]
NORM_KINDS: tuple[str, ...] = ("group", "explicit", "batch", "folded")
GROUP_KINDS: tuple[str, ...] = ("group", "explicit")  # the public generator's whole-map normalization
FOLDABLE_KINDS: tuple[str, ...] = ("batch", "folded")  # students: per-channel affine at inference
EPS = 1e-5  # nn.GroupNorm's default, which the public checkpoints were trained with


class ExplicitGroupNorm(nn.Module):
    """GroupNorm(1, C) written as ReduceMean/Sub/Mul/Sqrt/Div; same parameters and state_dict keys.

    ``stat_channels`` (pruned models) is the layer's channel count before pruning: the statistics are then
    those of the unpruned layer with the removed channels at zero, so pruning channels whose filters and
    norm parameters are zero leaves the output unchanged (GroupNorm(1, C) over fewer channels would not).
    """

    def __init__(self, num_channels: int, eps: float = EPS, stat_channels: int | None = None) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.stat_channels = stat_channels if stat_channels is not None else num_channels
        self.eps = eps
        # export-only switch: the per-channel scale/shift as a depthwise 1x1 conv instead of Mul/Add (same
        # numbers). onnx2tf cannot tell NCHW from NHWC for a Mul by a (1,C,1,1) constant when C equals H or W
        # and broadcasts it along the wrong axis; a Conv's layout is never ambiguous.
        self.affine_as_conv = False
        # export-only switch: mean over (C, H, W) as three single-axis means (same value). TFLite's int8 MEAN
        # over ~10^5+ elements at once returns garbage (the full-integer default model fell to 11 dB).
        self.staged_mean = False
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))

    def _mean(self, x: torch.Tensor) -> torch.Tensor:
        if self.staged_mean:
            return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True).mean(dim=1, keepdim=True)
        return x.mean(dim=(1, 2, 3), keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self._mean(x)
        if self.stat_channels != self.num_channels:
            kept = self.num_channels / self.stat_channels
            mean = mean * kept
            centered = x - mean
            var = self._mean(centered * centered) * kept + mean * mean * (1.0 - kept)
        else:
            centered = x - mean
            var = self._mean(centered * centered)
        normalized = centered / torch.sqrt(var + self.eps)
        if self.affine_as_conv:
            return F.conv2d(normalized, self.weight.view(-1, 1, 1, 1), self.bias, groups=self.num_channels)
        return normalized * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    @property
    def compensated(self) -> bool:
        return self.stat_channels != self.num_channels

    def extra_repr(self) -> str:
        extra = f", stat_channels={self.stat_channels}" if self.compensated else ""
        return f"{self.num_channels}, eps={self.eps}{extra}"


def make_norm(kind: NormKind, channels: int, stat_channels: int | None = None) -> nn.Module:
    """A GroupNorm(1, C) in ``kind`` form; layers with pruned statistics are always explicit."""
    if stat_channels is not None and stat_channels != channels:
        return ExplicitGroupNorm(channels, stat_channels=stat_channels)
    if kind == "group":
        return nn.GroupNorm(num_groups=1, num_channels=channels, affine=True, eps=EPS)
    if kind == "explicit":
        return ExplicitGroupNorm(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels, eps=EPS)
    if kind == "folded":
        return nn.Identity()
    raise ValueError(f"unknown normalization {kind!r}; choose one of {', '.join(NORM_KINDS)}")


def is_norm(module: nn.Module) -> bool:
    """A whole-map GroupNorm(1, C) in either form (what ``convert_norms`` swaps)."""
    return isinstance(module, ExplicitGroupNorm) or (
        isinstance(module, nn.GroupNorm) and module.num_groups == 1
    )


def has_channel_scale(module: nn.Module) -> bool:
    """Any of the generator's norms with a per-channel scale gamma (network slimming's channel magnitude)."""
    return is_norm(module) or isinstance(module, nn.BatchNorm2d)


def convert_norms(model: nn.Module, kind: NormKind) -> nn.Module:
    """Swap every GroupNorm(1, C) / ExplicitGroupNorm in ``model`` to ``kind`` in place, keeping parameters."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"convert_norms switches between {'/'.join(GROUP_KINDS)}; a {kind} student is made by "
                         "models.student.student_from_teacher")
    for name, child in list(model.named_children()):
        if is_norm(child):
            channels = child.weight.shape[0]
            replacement = make_norm(kind, channels, getattr(child, "stat_channels", None))
            with torch.no_grad():
                replacement.weight.copy_(child.weight)
                replacement.bias.copy_(child.bias)
            replacement.to(device=child.weight.device, dtype=child.weight.dtype)
            replacement.train(child.training)
            setattr(model, name, replacement)
        else:
            convert_norms(child, kind)
    return model


def set_export_form(model: nn.Module, affine_as_conv: bool = False, staged_mean: bool = False) -> nn.Module:
    """Set how every ExplicitGroupNorm in ``model`` is written out (same numbers, different ops)."""
    for module in model.modules():
        if isinstance(module, ExplicitGroupNorm):
            module.affine_as_conv = affine_as_conv
            module.staged_mean = staged_mean
    return model
