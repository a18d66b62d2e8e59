"""Structured magnitude channel pruning of a generator checkpoint (default threshold 0.01).

A channel is removed when its magnitude is below the threshold: the GroupNorm scale |gamma| (network
slimming, default) or the mean |w| of the conv filter that produces it. Coupled channels (residual trunk,
depthwise convs, norms) are found by Torch-Pruning's dependency graph (``dependency.py``) and removed
together; a coupled channel goes only when it is small in every layer it appears in. Optional sparsity
training (L1 on the norm scales, distilling from the unpruned model) first drives unneeded scales to zero.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from animegan_deploy.atomic import atomic_write_json, atomic_write_text
from animegan_deploy.configs import at_least, option
from animegan_deploy.errors import UserError
from animegan_deploy.models import ChannelPlan, Generator
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from animegan_deploy.sidecar import write_sidecar

from .dependency import build_graph, channel_groups, channel_importance


@dataclass
class PruneConfig:
    threshold: float = option(0.01, "remove channels whose magnitude is below this")
    criterion: Literal["gamma", "l1"] = option(
        "gamma", "channel magnitude: the norm scale |gamma| (network slimming) or the producing filter's mean |w|"
    )
    min_channels: int = option(1, "channels every layer keeps at least")
    sparsity: float = option(0.0, "L1 weight on |gamma| for sparsity training before pruning (0 = prune as is)")
    sparsity_steps: int = option(300, "steps of sparsity training")
    sparsity_lr: float = option(5e-4, "learning rate of sparsity training (all but the norm scales)")
    sparsity_scale_lr: float = option(2e-2, "learning rate of the norm scales in sparsity training: |gamma| starts "
                                      "near 1 and must reach < threshold within --sparsity-steps")
    photo_dir: str | None = option(None, "photos for sparsity training (default: the bundled demo photos)")
    eval_dir: str | None = option(None, "held-out photos for PSNR/SSIM vs the unpruned model (default: the 15 unseen pictures)")
    eval_size: int = option(256, "longest side of held-out photos in the report")
    crop: int = option(128, "sparsity-training crop size")
    batch_size: int = option(4, "sparsity-training batch size")
    vgg_weights: str = option("random", "VGG19 for the sparsity-training content loss: imagenet, a path, or random")
    threads: int | None = option(None, "torch CPU threads")

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise UserError(f"--threshold {self.threshold}: must be >= 0")
        if self.sparsity < 0:
            raise UserError(f"--sparsity {self.sparsity}: must be >= 0 (0 = prune as is)")
        at_least(self, ("min_channels", "sparsity_steps", "crop", "batch_size", "eval_size"))
        if self.sparsity_lr <= 0 or self.sparsity_scale_lr <= 0:
            raise UserError("--sparsity-lr / --sparsity-scale-lr: must be > 0")


@dataclass
class LayerPrune:
    layer: str
    before: int
    after: int
    under_threshold: int


@dataclass
class PruneOutcome:
    model: Generator
    layers: list[LayerPrune] = field(default_factory=list)
    kept: dict[str, list[int]] = field(default_factory=dict)  # norm module -> the original channels it kept

    @property
    def removed_channels(self) -> int:
        return sum(layer.before - layer.after for layer in self.layers)


def prunable_copy(model: Generator) -> Generator:
    """A copy Torch-Pruning can prune: GroupNorms in explicit form (a student's BatchNorms prune as they are)."""
    work = copy.deepcopy(model)
    return work if work.is_student else work.set_norm("explicit")


def count_under_threshold(model: Generator, threshold: float, criterion: str) -> dict[str, int]:
    work = prunable_copy(model)
    groups = channel_groups(work, build_graph(work))
    return {g.plan_name: int((channel_importance(g, criterion) < threshold).sum()) for g in groups}


def prune_model(model: Generator, threshold: float = 0.01, criterion: str = "gamma", min_channels: int = 1,
                keep_ratio: float | None = None) -> PruneOutcome:
    """A pruned copy of ``model``: every coupled channel group loses its channels below ``threshold`` and,
    with ``keep_ratio``, also its weakest channels beyond that fraction of the group (a size target)."""
    original_plan = model.plan
    stat_plan = model.stat_plan or original_plan
    pruned = prunable_copy(model).eval()
    graph = build_graph(pruned)
    plans: list[tuple[object, object, list[int]]] = []
    layers = []
    kept: dict[str, list[int]] = {}
    for group in channel_groups(pruned, graph):
        importance = channel_importance(group, criterion)
        before = importance.numel()
        keep = before - int((importance < threshold).sum())
        if keep_ratio is not None:
            keep = min(keep, round(before * keep_ratio))
        keep = max(keep, min(min_channels, before))
        under = sorted(torch.argsort(importance, descending=True)[keep:].tolist())  # the weakest go
        layers.append(LayerPrune(group.plan_name, before, before - len(under), int((importance < threshold).sum())))
        removed = set(under)
        kept.update({name: [i for i in range(before) if i not in removed] for name, _ in group.norms})
        if under:
            root = group.group[0].dep
            plans.append((root.target.module, root.handler, under))
    for module, handler, idxs in plans:
        graph.get_pruning_group(module, handler, idxs).prune()
    pruned.plan = ChannelPlan.from_state_dict(pruned.state_dict())
    # a GroupNorm keeps the unpruned statistics (ExplicitGroupNorm); a BatchNorm's are per channel already
    pruned.stat_plan = stat_plan if stat_plan != pruned.plan and not pruned.is_student else None
    order = list(ChannelPlan().to_dict())
    layers.sort(key=lambda layer: order.index(layer.layer))
    assert all(getattr(pruned.plan, l.layer) == l.after for l in layers), "plan does not match pruning"
    del original_plan
    return PruneOutcome(pruned, layers, kept)


@dataclass
class PruneResult:
    path: Path
    report: dict


def prune_checkpoint(checkpoint: str | Path, config: PruneConfig, output: str | Path, progress: bool = True) -> PruneResult:
    """Prune a checkpoint (after optional sparsity training); writes safetensors, sidecar and a report."""
    from .distill import DistillConfig, Distiller, copy_for_sparsity
    from .measurements import fidelity_vs, model_numbers

    checkpoint, output = Path(checkpoint), Path(output)
    if config.threads:
        torch.set_num_threads(config.threads)
    loaded = load_generator(checkpoint)
    original = loaded.model.eval()
    under_before = count_under_threshold(original, config.threshold, config.criterion)
    source = original
    sparsity_info = None
    if config.sparsity > 0:
        student = copy_for_sparsity(original)
        distill_config = DistillConfig(
            teacher=str(checkpoint), photo_dir=config.photo_dir, steps=config.sparsity_steps,
            batch_size=config.batch_size, crop=config.crop, lr=config.sparsity_lr, sparsity=config.sparsity,
            scale_lr=config.sparsity_scale_lr,
            vgg_weights=config.vgg_weights, checkpoint_every=max(1, config.sparsity_steps // 6),
        )
        run_dir = output.with_name(output.stem + ".sparsity-run")
        distiller = Distiller(student, original, distill_config, run_dir, progress=progress)
        seconds = distiller.fit(resume=True)
        source = distiller.student.eval()
        sparsity_info = {"weight": config.sparsity, "steps": config.sparsity_steps, "lr": config.sparsity_lr,
                         "scale_lr": config.sparsity_scale_lr,
                         "seconds": round(seconds, 1), "last_losses": distiller.last}
    under_after = count_under_threshold(source, config.threshold, config.criterion)
    outcome = prune_model(source, config.threshold, config.criterion, config.min_channels)
    save_checkpoint(outcome.model, output, style=loaded.info.style, provenance={
        "pruned_from": checkpoint.name, "threshold": config.threshold, "criterion": config.criterion,
        "sparsity": config.sparsity,
    })
    before = model_numbers(original, checkpoint)
    after = model_numbers(outcome.model, output)
    report = {
        "source": str(checkpoint),
        "output": str(output),
        "threshold": config.threshold,
        "criterion": config.criterion,
        "sparsity_training": sparsity_info,
        "under_threshold_before_sparsity": sum(under_before.values()),
        "under_threshold_after_sparsity": sum(under_after.values()),
        "removed_channels": outcome.removed_channels,
        "original": before,
        "pruned": after,
        "params_removed_fraction": 1 - after["params"] / before["params"],
        "gmacs_removed_fraction": 1 - after["gmacs"] / before["gmacs"],
        "layers": [vars(layer) | {"under_threshold_before_sparsity": under_before[layer.layer]} for layer in outcome.layers],
        "fidelity_vs_original": fidelity_vs(original, outcome.model, config.eval_dir, config.eval_size),
    }
    if sparsity_info is not None:
        report["fidelity_sparse_vs_original"] = fidelity_vs(original, source, config.eval_dir, config.eval_size)
    write_sidecar(output, "generator", source=checkpoint, config=config, metrics={
        k: report[k] for k in ("params_removed_fraction", "gmacs_removed_fraction", "removed_channels",
                               "fidelity_vs_original")
    }, extra={"generator": outcome.model.describe()})
    stem = output.with_suffix("")
    atomic_write_json(stem.with_name(stem.name + ".prune-report.json"), report)
    atomic_write_text(stem.with_name(stem.name + ".prune-report.md"), prune_markdown(report))
    return PruneResult(output, report)


def prune_markdown(report: dict) -> str:
    o, p = report["original"], report["pruned"]
    fid = report["fidelity_vs_original"]
    lines = [
        f"# Pruning report: `{Path(report['output']).name}`",
        "",
        f"Source `{Path(report['source']).name}`, criterion `{report['criterion']}`, threshold {report['threshold']}.",
    ]
    if report["sparsity_training"]:
        s = report["sparsity_training"]
        lines.append(f"Sparsity training: L1 weight {s['weight']}, {s['steps']} steps ({s['seconds']} s).")
    lines += [
        f"Channels under the threshold: {report['under_threshold_before_sparsity']} before sparsity training, "
        f"{report['under_threshold_after_sparsity']} after; {report['removed_channels']} removed.",
        "",
        "| | params | GMACs @ %d | file MB |" % o["gmacs_size"],
        "| --- | ---: | ---: | ---: |",
        f"| original | {o['params']:,} | {o['gmacs']:.2f} | {o['file_bytes'] / 1e6:.2f} |",
        f"| pruned | {p['params']:,} | {p['gmacs']:.2f} | {p['file_bytes'] / 1e6:.2f} |",
        "",
        f"Parameters removed: {100 * report['params_removed_fraction']:.1f}%; "
        f"GMACs removed: {100 * report['gmacs_removed_fraction']:.1f}%.",
        f"Pruned vs original on held-out photos: PSNR {fid['psnr_db']:.2f} dB, SSIM {fid['ssim']:.4f}.",
        "",
        "| layer | channels before | kept | under threshold (before sparsity) |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {l['layer']} | {l['before']} | {l['after']} | {l['under_threshold_before_sparsity']} |"
              for l in report["layers"]]
    return "\n".join(lines) + "\n"
