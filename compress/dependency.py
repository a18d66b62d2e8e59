"""Dependency analysis for channel pruning (Torch-Pruning's DependencyGraph).

Torch-Pruning traces the generator and groups every set of coupled channels: a conv's outputs with the
norm after it (ExplicitGroupNorm, or a student's BatchNorm) and the convs that read them, depthwise convs (in = out), and the residual trunk shared by
the inverted blocks. Each group is one entry of the generator's ChannelPlan. This module only analyses;
``prune.py`` decides what to remove.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn

from animegan_deploy.models.generator import PLAN_WEIGHT_KEYS, Generator
from animegan_deploy.models.norms import ExplicitGroupNorm


class ExplicitNormPruner(tp.pruner.function.BasePruningFunc):
    """Teaches Torch-Pruning to prune ExplicitGroupNorm; its statistics keep the unpruned channel count."""

    TARGET_MODULES = (ExplicitGroupNorm,)

    def prune_out_channels(self, layer: ExplicitGroupNorm, idxs: list[int]) -> nn.Module:
        drop = set(int(i) for i in idxs)
        keep = [i for i in range(layer.num_channels) if i not in drop]
        layer.weight = nn.Parameter(layer.weight.data[keep].clone())
        layer.bias = nn.Parameter(layer.bias.data[keep].clone())
        layer.num_channels = len(keep)  # stat_channels stays: see ExplicitGroupNorm
        return layer

    prune_in_channels = prune_out_channels  # one channel axis: pruning in == pruning out

    def get_out_channels(self, layer: ExplicitGroupNorm) -> int:
        return layer.num_channels

    def get_in_channels(self, layer: ExplicitGroupNorm) -> int:
        return layer.num_channels


# norms with a per-channel scale in a prunable generator: the public one (in explicit form) and the student
SCALED_NORMS = (ExplicitGroupNorm, nn.BatchNorm2d)


@dataclass
class ChannelGroup:
    plan_name: str  # ChannelPlan entry, e.g. "c2_hidden" or "trunk"
    group: tp.dependency.Group  # Torch-Pruning group with full indices
    norms: list[tuple[str, nn.Module]]  # norms (ExplicitGroupNorm or BatchNorm2d) whose |gamma| measures the channels
    producers: list[tuple[str, nn.Conv2d]]  # convs whose output channels these are

    @property
    def size(self) -> int:
        return int(self.norms[0][1].weight.shape[0])


def build_graph(model: Generator, example_size: int = 32) -> tp.DependencyGraph:
    example = torch.zeros(1, 3, example_size, example_size)
    return tp.DependencyGraph().build_dependency(
        model, example_inputs=example, customized_pruners={ExplicitGroupNorm: ExplicitNormPruner()}
    )


def channel_groups(model: Generator, graph: tp.DependencyGraph) -> list[ChannelGroup]:
    """The 17 coupled channel groups of the generator, keyed by ChannelPlan entry."""
    names = {module: name for name, module in model.named_modules()}
    plan_of_weight = {key.rsplit(".", 1)[0]: plan for plan, key in PLAN_WEIGHT_KEYS.items()}
    output_conv = model.out_layer[0]
    found: list[ChannelGroup] = []
    for group in graph.get_all_groups(ignored_layers=[output_conv], root_module_types=[nn.Conv2d]):
        norms, producers, plan_name = [], [], None
        for dep, _ in group:
            module = dep.target.module
            name = names.get(module)
            if name is None:
                continue
            if isinstance(module, SCALED_NORMS) and (name, module) not in norms:
                norms.append((name, module))
            if isinstance(module, nn.Conv2d) and dep.handler == tp.prune_conv_out_channels:
                producers.append((name, module))
                plan_name = plan_name or plan_of_weight.get(name)
        if plan_name is None or not norms:
            raise RuntimeError(f"unexpected channel group rooted at {names.get(group[0].dep.target.module)}")
        found.append(ChannelGroup(plan_name, group, norms, producers))
    return found


def channel_importance(group: ChannelGroup, criterion: str) -> torch.Tensor:
    """Per-channel magnitude; coupled layers are combined with max, so a channel is 'small' only if it is
    small everywhere it appears."""
    if criterion == "gamma":
        values = [norm.weight.detach().abs() for _, norm in group.norms]
    elif criterion == "l1":
        values = [conv.weight.detach().abs().flatten(1).mean(dim=1) for _, conv in group.producers]
    else:
        raise ValueError(f"unknown pruning criterion {criterion!r}; use gamma or l1")
    return torch.stack(values).amax(dim=0)
