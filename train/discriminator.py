"""AnimeGANv2's PatchGAN discriminator: 3x3 spectral-norm convs, LeakyReLU(0.2), layer norm, N x N logits."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _conv(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False))


class Discriminator(nn.Module):
    """``channels`` is the original ``ch`` (64): the first conv has ch/2 filters; ``layers`` is ``n_dis`` (3)."""

    def __init__(self, channels: int = 64, layers: int = 3) -> None:
        super().__init__()
        width = channels // 2
        blocks: list[nn.Module] = [_conv(3, width, 1), nn.LeakyReLU(0.2)]
        in_ch = width
        for _ in range(1, layers):
            blocks += [
                _conv(in_ch, width * 2, 2),
                nn.LeakyReLU(0.2),
                _conv(width * 2, width * 4, 1),
                nn.GroupNorm(1, width * 4),  # layer norm over (C, H, W) with per-channel affine
                nn.LeakyReLU(0.2),
            ]
            in_ch = width * 4
            width *= 2
        blocks += [_conv(in_ch, width * 2, 1), nn.GroupNorm(1, width * 2), nn.LeakyReLU(0.2), _conv(width * 2, 1, 1)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
