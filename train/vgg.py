"""VGG19 features up to conv4_4 (before its ReLU) for the content and style losses.

The architecture is defined here; its ImageNet weights are torchvision's published ``vgg19`` state_dict,
taken from a local file, the torch hub cache, or downloaded from torchvision's URL. When none is available
training refuses to start unless ``--vgg-weights random`` is given explicitly: a fixed-seed random VGG
(random conv features still measure structure, but it is not the recipe's perceptual loss).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from animegan_deploy.errors import UserError

TORCHVISION_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512)
CONV4_4_INDEX = 25  # features[25] is conv4_4; its ReLU (26) is not applied
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_SEED = 0


class VGG19Conv44(nn.Module):
    """Frozen VGG19 ``features[:26]``; takes generator-range images in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                in_ch = int(item)
        self.features = nn.Sequential(*layers[: CONV4_4_INDEX + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.source = "uninitialized"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x + 1.0) * 0.5 - self.mean) / self.std
        return self.features(x)


def _random_init(model: VGG19Conv44) -> None:
    generator = torch.Generator().manual_seed(RANDOM_SEED)
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            fan_out = module.out_channels * module.kernel_size[0] * module.kernel_size[1]
            with torch.no_grad():
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_out) ** 0.5)
                module.bias.zero_()


def _load_state(model: VGG19Conv44, path: Path) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"--vgg-weights {path}: not a readable torchvision vgg19 state_dict ({type(exc).__name__})") from None
    wanted = {k: v for k, v in state.items() if k.startswith("features.") and int(k.split(".")[1]) <= CONV4_4_INDEX}
    own = model.state_dict()
    expected = [k for k in own if k.startswith("features.")]
    missing = [k for k in expected if k not in wanted]
    misshaped = [k for k in expected if k in wanted and wanted[k].shape != own[k].shape]
    if missing or misshaped:
        raise UserError(f"--vgg-weights {path}: not torchvision's vgg19 (missing {missing[:3]}, mis-shaped {misshaped[:3]})")
    model.load_state_dict(wanted, strict=False)


def hub_cache_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(TORCHVISION_VGG19_URL).name


def load_vgg(weights: str | os.PathLike[str] | None = "imagenet", download: bool = True) -> VGG19Conv44:
    """``'imagenet'`` (hub cache, else download), a path to torchvision's vgg19 .pth, or ``'random'``."""
    model = VGG19Conv44()
    spec = "imagenet" if weights is None else str(weights)
    if spec == "random":
        _random_init(model)
        model.source = f"random (seed {RANDOM_SEED})"
    elif spec == "imagenet":
        cached = hub_cache_file()
        if not cached.is_file() and download:
            try:
                torch.hub.download_url_to_file(TORCHVISION_VGG19_URL, str(cached), hash_prefix="dcbb9e9d")
            except Exception as exc:
                cached.unlink(missing_ok=True)
                raise UserError(
                    f"--vgg-weights imagenet: VGG19 ImageNet weights are not in {cached} and the download failed "
                    f"({type(exc).__name__}); pass --vgg-weights PATH to torchvision's vgg19-dcbb9e9d.pth, "
                    "or --vgg-weights random to train without a perceptual network"
                ) from None
        if not cached.is_file():
            raise UserError(f"--vgg-weights imagenet: {cached} not found; pass --vgg-weights PATH or random")
        _load_state(model, cached)
        model.source = f"imagenet ({cached.name})"
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise UserError(f"--vgg-weights {spec}: no such file; give torchvision's vgg19 .pth, 'imagenet' or 'random'")
        _load_state(model, path)
        model.source = f"file ({path.name})"
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
