"""Did the model learn the style, and does it look right? Gram style and content loss on held-out photos vs a
baseline, and how the outputs look next to their photos (train/looks.py: colours kept, ripples, edges kept).

The baseline is the same run's init-phase (reconstruction-only) generator. A model that learned the style
has a clearly lower Gram-matrix style loss to the style set, while its content loss stays comparable. An
optional ``previous`` checkpoint (the model this one replaces) gets the same look measures, for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch

from animegan_deploy.atomic import atomic_write_json, atomic_write_text
from animegan_deploy.errors import UserError
from animegan_deploy.models.checkpoints import load_generator

from . import losses as L
from .data import read_rgb
from .looks import mean_looks
from .preprocess import list_images, prepare_style_folder
from .vgg import load_vgg


@dataclass
class StyleEvalConfig:
    size: int = 256  # longest side of each held-out photo
    vgg_weights: str = "random"

    def __post_init__(self) -> None:
        if self.size < 32:  # VGG19 pools a picture 4 times down to conv4_4
            raise UserError(f"--size {self.size}: must be at least 32 pixels (VGG's conv4_4 needs them)")


def _load(path: Path, size: int) -> torch.Tensor:
    rgb = read_rgb(str(path))
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(4, round(h * scale / 4) * 4), max(4, round(w * scale / 4) * 4)
    rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(rgb.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]


class EvalPhoto(NamedTuple):
    """A held-out photo as every model is compared on it: the network input, its VGG features, its uint8 RGB."""

    tensor: torch.Tensor
    features: torch.Tensor
    rgb: np.ndarray


@torch.no_grad()
def eval_photo(tensor: torch.Tensor, vgg) -> EvalPhoto:
    return EvalPhoto(tensor, vgg(tensor), _uint8(tensor))


@torch.no_grad()
def style_metrics(checkpoint: Path, photos: list[EvalPhoto], style_grams: list[torch.Tensor], vgg) -> dict[str, float]:
    model = load_generator(checkpoint).model.eval()
    content, style, pairs = [], [], []
    for photo in photos:
        fake = model(photo.tensor)
        fake_features = vgg(fake)
        content.append(float(L.content_loss(photo.features, fake_features)))
        g = L.gram(fake_features)
        style.append(float(np.mean([float((g - s).abs().mean()) for s in style_grams])))
        pairs.append((photo.rgb, _uint8(fake)))
    return {"content_loss": float(np.mean(content)), "style_loss": float(np.mean(style)), **mean_looks(pairs)}


SELF_SAMPLE = 300  # style images the set's own figure compares pairwise at most (n^2 Gram differences)


def style_scale(style_grams: list[torch.Tensor]) -> dict[str, float | int | None]:
    """Where a Gram style figure can go against this style set. ``floor``: the lowest figure any picture can score,
    that of a Gram matrix at the set's element-wise median (the median minimizes a mean absolute difference).
    ``style_set``: the set's own images against the rest of it, leaving each one out: about what a generator that
    drew exactly like the set would score (None for a set of one image; on a set of more than SELF_SAMPLE images,
    an evenly spaced SELF_SAMPLE of them, ``style_set_images`` says how many)."""
    grams = torch.cat(style_grams)
    floor = float((grams - grams.median(dim=0).values).abs().mean(dim=(1, 2)).mean())
    sample = grams[np.linspace(0, len(grams) - 1, min(len(grams), SELF_SAMPLE)).round().astype(int)]
    if len(sample) < 2:
        return {"floor": floor, "style_set": None, "style_set_images": len(sample)}
    distances = torch.stack([(sample - g).abs().mean(dim=(1, 2)) for g in sample])  # zero diagonal
    style_set = float((distances.sum(dim=1) / (len(sample) - 1)).mean())
    return {"floor": floor, "style_set": style_set, "style_set_images": len(sample)}


def _uint8(image: torch.Tensor) -> np.ndarray:
    return np.clip(np.rint((image[0].permute(1, 2, 0).numpy() + 1) * 127.5), 0, 255).astype(np.uint8)


def evaluate_style(
    checkpoint: str | Path,
    baseline: str | Path,
    photo_dir: str | Path,
    style_dir: str | Path,
    config: StyleEvalConfig,
    output: str | Path | None = None,
    previous: str | Path | None = None,
) -> dict:
    photo_paths = list_images(Path(photo_dir))
    if not photo_paths:
        raise UserError(f"{photo_dir}: no photos to evaluate on")
    vgg = load_vgg(config.vgg_weights, download=False)
    photos = [eval_photo(_load(p, config.size), vgg) for p in photo_paths]  # each compared with 2-3 models
    if not Path(style_dir).is_dir() or not list_images(Path(style_dir)):
        raise UserError(f"--style {style_dir}: not a folder of style images; point it at the anime style set "
                        "(e.g. runs/demo-data/style from `animegan demo-data`)")
    style_grams = []
    for triplet in prepare_style_folder(Path(style_dir), progress=False):
        gray = _load(triplet.gray, config.size)
        style_grams.append(L.gram(vgg(gray)))
    model = style_metrics(Path(checkpoint), photos, style_grams, vgg)
    base = style_metrics(Path(baseline), photos, style_grams, vgg)
    scale = style_scale(style_grams)
    report = {
        "checkpoint": str(checkpoint),
        "baseline": str(baseline),
        "photos": [p.name for p in photo_paths],
        "style_images": len(style_grams),
        "vgg": vgg.source,
        "size": config.size,
        "model": model,
        "baseline_metrics": base,
        "style_loss_reduction": 1 - model["style_loss"] / base["style_loss"],
        "content_loss_ratio": model["content_loss"] / base["content_loss"],
        "style_scale": scale,
        "style_loss_reduction_limit": 1 - scale["floor"] / base["style_loss"],
    }
    if scale["style_set"] is not None:
        report["style_set_reduction"] = 1 - scale["style_set"] / base["style_loss"]
    if previous is not None:
        before = style_metrics(Path(previous), photos, style_grams, vgg)
        report.update({
            "previous": str(previous),
            "previous_metrics": before,
            "colour_distance_ratio": model["colour_distance"] / before["colour_distance"],
            "ripple_energy_ratio": model["ripple_energy"] / before["ripple_energy"],
            "edge_f1_change": model["edge_f1"] - before["edge_f1"],
        })
    if output is not None:
        output = Path(output)
        atomic_write_json(output.with_suffix(".json"), report)
        atomic_write_text(output.with_suffix(".md"), to_markdown(report))
    return report


def _table_row(label: str, m: dict) -> str:
    return (f"| {label} | {m['style_loss']:.4g} | {m['content_loss']:.4g} | {m['colour_distance']:.2f} | "
            f"{m['ripple_energy']:.1f} | {m['edge_f1']:.3f} |")


def to_markdown(report: dict) -> str:
    lines = [
        f"# Style evaluation of `{Path(report['checkpoint']).name}`",
        "",
        f"{len(report['photos'])} held-out pictures ({', '.join(report['photos'])}); {report['style_images']} style "
        f"images; VGG: {report['vgg']}; longest side {report['size']} px. Colour distance: mean CIEDE2000 to the "
        "photo (blurred, sigma 2 px); ripple: high-pass energy in the photo's flat third; edge F1: Canny edges vs "
        "the photo's (train/looks.py).",
        "",
        "| model | Gram style loss | content loss | colour distance | ripple energy | edge F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        _table_row("init phase (reconstruction only)", report["baseline_metrics"]),
    ]
    if "previous_metrics" in report:
        lines.append(_table_row(f"previous (`{Path(report['previous']).name}`)", report["previous_metrics"]))
    lines += [
        _table_row("trained", report["model"]),
        "",
        f"Style loss {100 * report['style_loss_reduction']:.1f}% below the init-phase model; "
        f"content loss {report['content_loss_ratio']:.2f}x of it.",
        f"The lowest figure any picture can score against this set (a Gram matrix at the set's element-wise median) "
        f"is {report['style_scale']['floor']:.4g}, {100 * report['style_loss_reduction_limit']:.1f}% below the "
        "init-phase model.",
    ]
    if "style_set_reduction" in report:
        lines.append(f"The style images themselves, each against the rest of the set, score "
                     f"{report['style_scale']['style_set']:.4g}: {100 * report['style_set_reduction']:.1f}% below the "
                     "init-phase model, about where a generator that drew exactly like the set would land.")
    if "previous_metrics" in report:
        lines.append(f"Against the previous model: colour distance {report['colour_distance_ratio']:.2f}x, ripple "
                     f"energy {report['ripple_energy_ratio']:.2f}x, edge F1 {report['edge_f1_change']:+.3f}.")
    return "\n".join(lines + [""])
