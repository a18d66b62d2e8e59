"""The AnimeGANv2 generator, weight-compatible with the public PyTorch port.

At width 1.0 ``Generator().state_dict()`` has exactly the 77 tensors of the public checkpoints
(2,143,552 parameters). Layer widths come from a :class:`ChannelPlan`: scaled uniformly by a width
multiplier (narrow students, wide teachers) or set per layer (pruned models), always with the same
topology and key names, so any plan can be rebuilt from a state_dict's shapes alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .norms import FOLDABLE_KINDS, NormKind, convert_norms, make_norm


class ConvNormLReLU(nn.Sequential):
    """pad -> conv (no padding) -> GroupNorm(1, C) -> LeakyReLU(0.2); keys ``.1.weight``, ``.2.weight/bias``."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | tuple[int, int, int, int] = 1,
        groups: int = 1,
        bias: bool = False,
        norm: NormKind = "group",
        stat_ch: int | None = None,
    ) -> None:
        super().__init__(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=0, groups=groups,
                      bias=bias or norm == "folded"),
            make_norm(norm, out_ch, stat_ch),
            nn.LeakyReLU(0.2),
        )


class InvertedResBlock(nn.Module):
    """1x1 expand -> 3x3 depthwise (with bias) -> 1x1 project -> GroupNorm, plus the input when residual."""

    def __init__(
        self,
        in_ch: int,
        hidden_ch: int,
        out_ch: int,
        residual: bool,
        norm: NormKind = "group",
        stat_hidden: int | None = None,
        stat_out: int | None = None,
    ):
        super().__init__()
        if residual and in_ch != out_ch:
            raise ValueError(f"a residual block needs in == out channels, got {in_ch} -> {out_ch}")
        self.use_res_connect = residual
        self.layers = nn.Sequential(
            ConvNormLReLU(in_ch, hidden_ch, kernel_size=1, padding=0, norm=norm, stat_ch=stat_hidden),
            ConvNormLReLU(hidden_ch, hidden_ch, groups=hidden_ch, bias=True, norm=norm, stat_ch=stat_hidden),
            nn.Conv2d(hidden_ch, out_ch, kernel_size=1, padding=0, bias=norm == "folded"),
            make_norm(norm, out_ch, stat_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return x + out if self.use_res_connect else out


@dataclass(frozen=True)
class ChannelPlan:
    """Output channels of every prunable layer. ``trunk`` is shared by the residual blocks c1..c4."""

    a0: int = 32
    a1: int = 64
    a2: int = 64
    b0: int = 128
    b1: int = 128
    c0: int = 128
    c1_hidden: int = 256
    trunk: int = 256
    c2_hidden: int = 512
    c3_hidden: int = 512
    c4_hidden: int = 512
    c5: int = 128
    d0: int = 128
    d1: int = 128
    e0: int = 64
    e1: int = 64
    e2: int = 32

    @classmethod
    def for_width(cls, width: float) -> "ChannelPlan":
        if not 0.0 < width <= 8.0:
            raise ValueError(f"width multiplier must be in (0, 8], got {width}")
        base = cls()
        return cls(**{f.name: max(1, int(round(getattr(base, f.name) * width))) for f in fields(cls)})

    @classmethod
    def from_dict(cls, values: Mapping[str, int]) -> "ChannelPlan":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        missing = sorted(names - set(values))
        if unknown or missing:
            raise ValueError(f"channel plan: unknown layers {unknown}, missing layers {missing}")
        return cls(**{k: int(v) for k, v in values.items()})

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor]) -> "ChannelPlan":
        """Read every layer's width off the conv weight that produces it."""
        missing = [key for key in PLAN_WEIGHT_KEYS.values() if key not in state_dict]
        if missing:
            raise KeyError(f"cannot infer channel plan, missing keys: {', '.join(missing)}")
        return cls(**{name: int(state_dict[key].shape[0]) for name, key in PLAN_WEIGHT_KEYS.items()})

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


# plan entry -> the conv weight whose first dimension is that layer's output channels
PLAN_WEIGHT_KEYS: dict[str, str] = {
    "a0": "block_a.0.1.weight",
    "a1": "block_a.1.1.weight",
    "a2": "block_a.2.1.weight",
    "b0": "block_b.0.1.weight",
    "b1": "block_b.1.1.weight",
    "c0": "block_c.0.1.weight",
    "c1_hidden": "block_c.1.layers.0.1.weight",
    "trunk": "block_c.1.layers.2.weight",
    "c2_hidden": "block_c.2.layers.0.1.weight",
    "c3_hidden": "block_c.3.layers.0.1.weight",
    "c4_hidden": "block_c.4.layers.0.1.weight",
    "c5": "block_c.5.1.weight",
    "d0": "block_d.0.1.weight",
    "d1": "block_d.1.1.weight",
    "e0": "block_e.0.1.weight",
    "e1": "block_e.1.1.weight",
    "e2": "block_e.2.1.weight",
}

HALF_PAD = (0, 1, 0, 1)  # stride-2 convs pad right/bottom only, as TensorFlow's SAME does


class Generator(nn.Module):
    """AnimeGANv2 generator. Input and output: NCHW RGB in [-1, 1]; any height and width."""

    def __init__(
        self,
        width: float = 1.0,
        align_corners: bool = True,
        norm: NormKind = "group",
        channels: ChannelPlan | None = None,
        stat_channels: ChannelPlan | None = None,
    ) -> None:
        """``stat_channels``: the unpruned plan of a pruned model (see ExplicitGroupNorm), else None."""
        super().__init__()
        plan = channels if channels is not None else ChannelPlan.for_width(width)
        self.plan = plan
        self.stat_plan = stat_channels if stat_channels is not None and stat_channels != plan else None
        self.width = width
        self.align_corners = align_corners
        self.norm_kind: NormKind = norm
        p = plan
        s = self.stat_plan

        def stat(name: str) -> int | None:
            return getattr(s, name) if s is not None else None

        def cnl(name: str, in_ch: int, **kw) -> ConvNormLReLU:
            return ConvNormLReLU(in_ch, getattr(p, name), norm=norm, stat_ch=stat(name), **kw)

        def irb(name: str, in_ch: int, residual: bool) -> InvertedResBlock:
            hidden = f"{name}_hidden"
            return InvertedResBlock(in_ch, getattr(p, hidden), p.trunk, residual=residual, norm=norm,
                                    stat_hidden=stat(hidden), stat_out=stat("trunk"))

        self.block_a = nn.Sequential(
            cnl("a0", 3, kernel_size=7, padding=3),
            cnl("a1", p.a0, stride=2, padding=HALF_PAD),
            cnl("a2", p.a1),
        )
        self.block_b = nn.Sequential(cnl("b0", p.a2, stride=2, padding=HALF_PAD), cnl("b1", p.b0))
        self.block_c = nn.Sequential(
            cnl("c0", p.b1),
            irb("c1", p.c0, residual=False),
            irb("c2", p.trunk, residual=True),
            irb("c3", p.trunk, residual=True),
            irb("c4", p.trunk, residual=True),
            cnl("c5", p.trunk),
        )
        self.block_d = nn.Sequential(cnl("d0", p.c5), cnl("d1", p.d0))
        self.block_e = nn.Sequential(cnl("e0", p.d1), cnl("e1", p.e0), cnl("e2", p.e1, kernel_size=7, padding=3))
        self.out_layer = nn.Sequential(nn.Conv2d(p.e2, 3, kernel_size=1, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block_a(x)
        half_size = out.shape[-2:]
        out = self.block_b(out)
        out = self.block_c(out)
        if self.align_corners:
            out = F.interpolate(out, half_size, mode="bilinear", align_corners=True)
        else:
            out = F.interpolate(out, scale_factor=2.0, mode="bilinear", align_corners=False)
        out = self.block_d(out)
        out = F.interpolate(out, x.shape[-2:], mode="bilinear", align_corners=self.align_corners)
        out = self.block_e(out)
        return self.out_layer(out)

    @property
    def is_student(self) -> bool:
        """Foldable normalization (BatchNorm or already folded): the deployment student architecture."""
        return self.norm_kind in FOLDABLE_KINDS

    def set_norm(self, kind: NormKind) -> "Generator":
        """Switch every GroupNorm between its two forms in place (parameters kept); returns self."""
        if self.is_student:
            raise ValueError(f"a {self.norm_kind} student has no GroupNorm to switch to {kind}")
        convert_norms(self, kind)
        self.norm_kind = kind
        return self

    def describe(self) -> dict[str, object]:
        """Architecture facts that, with the state_dict, rebuild this model exactly."""
        return {
            "architecture": "animeganv2-student" if self.is_student else "animeganv2",
            "width": self.width,
            "align_corners": self.align_corners,
            "normalization": self.norm_kind,
            "channels": self.plan.to_dict(),
            "stat_channels": self.stat_plan.to_dict() if self.stat_plan is not None else None,
        }


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
