"""Did the model learn the style? Gram style loss and content loss on held-out photos, vs a baseline.

The baseline is the same run's init-phase (reconstruction-only) generator. A model that learned the style
has a clearly lower Gram-matrix style loss to the style set, while its content loss stays comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from animegan_deploy.atomic import atomic_write_json, atomic_write_text
from animegan_deploy.errors import UserError
from animegan_deploy.models.checkpoints import load_generator

from . import losses as L
from .data import read_rgb
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


@torch.no_grad()
def style_metrics(checkpoint: Path, photos: list[torch.Tensor], style_grams: list[torch.Tensor], vgg) -> dict[str, float]:
    model = load_generator(checkpoint).model.eval()
    content, style = [], []
    for photo in photos:
        fake = model(photo)
        fake_features = vgg(fake)
        content.append(float(L.content_loss(vgg(photo), fake_features)))
        g = L.gram(fake_features)
        style.append(float(np.mean([float((g - s).abs().mean()) for s in style_grams])))
    return {"content_loss": float(np.mean(content)), "style_loss": float(np.mean(style))}


def evaluate_style(
    checkpoint: str | Path,
    baseline: str | Path,
    photo_dir: str | Path,
    style_dir: str | Path,
    config: StyleEvalConfig,
    output: str | Path | None = None,
) -> dict:
    photo_paths = list_images(Path(photo_dir))
    if not photo_paths:
        raise UserError(f"{photo_dir}: no photos to evaluate on")
    vgg = load_vgg(config.vgg_weights, download=False)
    photos = [_load(p, config.size) for p in photo_paths]
    if not Path(style_dir).is_dir() or not list_images(Path(style_dir)):
        raise UserError(f"--style {style_dir}: not a folder of style images; point it at the anime style set "
                        "(e.g. runs/demo-data/style from `animegan demo-data`)")
    style_grams = []
    for triplet in prepare_style_folder(Path(style_dir), progress=False):
        gray = _load(triplet.gray, config.size)
        style_grams.append(L.gram(vgg(gray)))
    model = style_metrics(Path(checkpoint), photos, style_grams, vgg)
    base = style_metrics(Path(baseline), photos, style_grams, vgg)
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
    }
    if output is not None:
        output = Path(output)
        atomic_write_json(output.with_suffix(".json"), report)
        atomic_write_text(output.with_suffix(".md"), to_markdown(report))
    return report


def to_markdown(report: dict) -> str:
    m, b = report["model"], report["baseline_metrics"]
    return "\n".join([
        f"# Style evaluation of `{Path(report['checkpoint']).name}`",
        "",
        f"Held-out photos: {', '.join(report['photos'])}; {report['style_images']} style images; "
        f"VGG: {report['vgg']}; longest side {report['size']} px.",
        "",
        "| model | Gram style loss | content loss |",
        "| --- | ---: | ---: |",
        f"| init phase (reconstruction only) | {b['style_loss']:.4g} | {b['content_loss']:.4g} |",
        f"| trained | {m['style_loss']:.4g} | {m['content_loss']:.4g} |",
        "",
        f"Style loss {100 * report['style_loss_reduction']:.1f}% below the init-phase model; "
        f"content loss {report['content_loss_ratio']:.2f}x of it.",
        "",
    ])
