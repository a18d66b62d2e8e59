"""Cross-layer channel equalization before INT8 quantization: the same function, channels a per-tensor scale
can resolve.

Per-tensor activation quantization gives every channel of a tensor the same step. In the AnimeGANv2
generator a few channels dominate some tensors: on the default model the widest channel of an inverted
residual block's hidden activation is 18-82x its median channel, so the median channel gets 1-7 of the 255
int8 levels. Equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
Correction", 2019) rescales channel c of an activation by 1/s_c and the next convolution's input channel c by
s_c. Every activation here is LeakyReLU(norm affine) and LeakyReLU(s x) = s LeakyReLU(x) for s > 0, so
dividing the norm's per-channel scale and shift by s_c is exact; the reflect padding and bilinear upsampling
between layers act per channel and commute with it. The float model is unchanged (to float rounding) and no
key or shape changes: the result is an ordinary checkpoint of the same architecture.

s_c = (r_c / median r)^alpha, r_c the channel's mean per-photo absolute maximum on calibration photos.
A depthwise consumer takes s_c in its own per-channel (= per-output-channel) weights, which int8 quantizes
per channel, so it is free: alpha 1. A dense consumer's input channel c sits inside every output filter, so
equalizing the activation fully widens its weights' per-channel ranges; ``alpha`` (default 1: measured best on
the default model, see reports/int8) trades the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from animegan_deploy.models.generator import ConvNormLReLU, Generator


@dataclass
class EqualizedPair:
    """One activation (output of ``norm`` after its LeakyReLU) and the conv that consumes it."""

    name: str
    producer: nn.Conv2d
    norm: nn.Module  # per-channel affine (GroupNorm, ExplicitGroupNorm, BatchNorm) or Identity (folded student)
    activation: nn.Module
    consumer: nn.Conv2d

    @property
    def depthwise(self) -> bool:
        return self.consumer.groups > 1 and self.consumer.groups == self.consumer.in_channels


def equalizable_pairs(model: Generator) -> list[EqualizedPair]:
    """Every (LeakyReLU activation, next conv) pair of the generator, in order. The residual trunk (project
    conv -> norm -> add, no activation) is left out: its channels are shared by four blocks and measured within
    4x of each other."""
    def pair(name: str, layer: ConvNormLReLU, consumer: nn.Conv2d) -> EqualizedPair:
        return EqualizedPair(name, layer[1], layer[2], layer[3], consumer)

    chain = [("block_a.0", model.block_a[0]), ("block_a.1", model.block_a[1]), ("block_a.2", model.block_a[2]),
             ("block_b.0", model.block_b[0]), ("block_b.1", model.block_b[1]), ("block_c.0", model.block_c[0])]
    pairs = [pair(name, layer, nxt[1]) for (name, layer), (_, nxt) in zip(chain, chain[1:])]
    pairs.append(pair("block_c.0", model.block_c[0], model.block_c[1].layers[0][1]))
    for k in range(1, 5):
        layers = model.block_c[k].layers
        pairs.append(pair(f"block_c.{k}.layers.0", layers[0], layers[1][1]))  # expand -> depthwise
        pairs.append(pair(f"block_c.{k}.layers.1", layers[1], layers[2]))  # depthwise -> project
    tail = [("block_c.5", model.block_c[5]), ("block_d.0", model.block_d[0]), ("block_d.1", model.block_d[1]),
            ("block_e.0", model.block_e[0]), ("block_e.1", model.block_e[1]), ("block_e.2", model.block_e[2])]
    pairs += [pair(name, layer, nxt[1]) for (name, layer), (_, nxt) in zip(tail, tail[1:])]
    pairs.append(pair("block_e.2", model.block_e[2], model.out_layer[0]))
    return pairs


def channel_ranges(model: Generator, pairs: list[EqualizedPair], images: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Per pair, each channel's absolute maximum of the activation, averaged over the photos (one at a time)."""
    sums: list[torch.Tensor | None] = [None] * len(pairs)
    count = 0
    hooks = []
    for i, p in enumerate(pairs):
        def record(_module, _inputs, output, i=i):
            peak = output.detach().abs().amax(dim=(0, 2, 3)).double()
            sums[i] = peak if sums[i] is None else sums[i] + peak
        hooks.append(p.activation.register_forward_hook(record))
    try:
        with torch.no_grad():
            for image in images:
                model(image)
                count += 1
    finally:
        for hook in hooks:
            hook.remove()
    if count == 0:
        raise ValueError("channel equalization needs at least one calibration photo")
    return [s / count for s in sums]  # type: ignore[operator]


def _scale_activation(p: EqualizedPair, inverse: torch.Tensor) -> None:
    """Multiply the activation's channels by ``inverse`` (= 1/s) at their source."""
    if isinstance(p.norm, nn.Identity):  # folded student: conv (with bias) -> LeakyReLU
        p.producer.weight.mul_(inverse.view(-1, 1, 1, 1))
        if p.producer.bias is not None:
            p.producer.bias.mul_(inverse)
        return
    p.norm.weight.mul_(inverse)
    p.norm.bias.mul_(inverse)


@torch.no_grad()
def equalize_channels(model: Generator, images: Iterable[torch.Tensor], alpha: float = 1.0,
                      max_scale: float = 1e3) -> dict[str, float]:
    """Equalize ``model`` in place (see the module doc); returns, per pair, the activation's widest/median
    channel ratio before -> after (the figure equalization improves). ``images``: NCHW tensors in [-1, 1]."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha {alpha}: must be in [0, 1]")
    was_training = model.training
    model.eval()
    pairs = equalizable_pairs(model)
    ranges = channel_ranges(model, pairs, images)
    spread = {}
    for p, r in zip(pairs, ranges):
        r = r.clamp_min(r.max() * 1e-6)
        s = (r / r.median()) ** (1.0 if p.depthwise else alpha)
        s = s.clamp(1.0 / max_scale, max_scale).to(p.consumer.weight.dtype)
        _scale_activation(p, 1.0 / s)
        shape = (-1, 1, 1, 1) if p.depthwise else (1, -1, 1, 1)
        p.consumer.weight.mul_(s.view(shape))
        after = r / s.double()
        spread[p.name + (" -> depthwise" if p.depthwise else "")] = (
            round(float(r.max() / r.median()), 2), round(float(after.max() / after.median()), 2))
    model.train(was_training)
    return spread
