"""Typed training configuration, read from TOML with ``section.key=value`` command-line overrides."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from animegan_deploy.configs import read_toml
from animegan_deploy.errors import UserError

# AnimeGANv2's published weights per style: content, style (Gram), color, TV, adversarial G/D, and the
# discriminator's weights on real / generated / grayscale / edge-smoothed anime.
PRESETS: dict[str, dict[str, float]] = {
    "hayao": dict(content=1.5, style=2.5, color=10.0, tv=1.0, g_adv=300.0, d_adv=300.0,
                  d_real=1.2, d_fake=1.2, d_gray=1.2, d_smooth=0.8),
    "paprika": dict(content=2.0, style=0.6, color=50.0, tv=0.1, g_adv=300.0, d_adv=300.0,
                    d_real=1.0, d_fake=1.0, d_gray=1.0, d_smooth=0.005),
    "shinkai": dict(content=1.2, style=2.0, color=10.0, tv=1.0, g_adv=300.0, d_adv=300.0,
                    d_real=1.7, d_fake=1.7, d_gray=1.7, d_smooth=1.0),
}


@dataclass
class DataConfig:
    photo_dir: str = "data/photos"
    style_dir: str = "data/style"
    crop: int = 256
    scale_min: float = 1.0  # random downscale before cropping: crops see more context
    scale_max: float = 1.0
    jitter: float = 0.1  # +- brightness/contrast on photos
    hue_jitter: float = 0.0  # rotate each photo's hue by up to +- this many turns (0 = off, 0.5 = any hue)
    face_crop: bool = False
    eval_dir: str | None = None  # held-out photos for samples and evaluation


@dataclass
class ModelConfig:
    width: float = 1.0
    align_corners: bool = True
    d_channels: int = 64
    d_layers: int = 3
    init_from: str | None = None  # generator checkpoint to start from (skips nothing: init_steps still run)


@dataclass
class LossConfig:
    preset: Literal["hayao", "paprika", "shinkai"] = "hayao"
    gan: Literal["lsgan", "hinge"] = "lsgan"
    # None = take the preset's value
    content: float | None = None
    style: float | None = None
    color: float | None = None
    tv: float | None = None
    g_adv: float | None = None
    d_adv: float | None = None
    d_real: float | None = None
    d_fake: float | None = None
    d_gray: float | None = None
    d_smooth: float | None = None
    # not in the original recipe: L1 pixel reconstruction in the init phase (0 = content only, as the
    # original). Needed when the perceptual network is random (no ImageNet VGG): random conv4_4 features
    # barely constrain color or detail, and the generator would not learn to reconstruct photos.
    init_pixel: float = 0.0
    # not in the original recipe either: L1 on the U and V channels of 4x4-pooled photo and output, in both
    # phases (0 = off, as the original). The original's colour term is Huber on U, V: quadratic at these sizes,
    # so with a random VGG nothing holds a region's hue and the generator drifts to one tint (#25). Pooled, it
    # holds region colours and leaves lines, texture and flat shading to the style terms.
    chroma: float = 0.0

    def resolved(self) -> dict[str, float]:
        values = dict(PRESETS[self.preset])
        for key in values:
            if getattr(self, key) is not None:
                values[key] = float(getattr(self, key))
        values["init_pixel"] = float(self.init_pixel)
        values["chroma"] = float(self.chroma)
        return values


@dataclass
class OptimConfig:
    batch_size: int = 4
    init_steps: int = 1000  # content-only reconstruction phase
    gan_steps: int = 10000
    init_lr: float = 2e-4
    g_lr: float = 2e-5
    d_lr: float = 4e-5
    beta1: float = 0.5
    beta2: float = 0.999
    cosine: bool = True
    min_lr_ratio: float = 0.1
    # the cosine schedule's span in GAN steps; 0 = gan_steps. Longer than gan_steps, the run ends partway down the
    # curve: how a time-boxed run (stopped at step N of a longer schedule) is written as a recipe that ends there
    cosine_steps: int = 0


@dataclass
class RunConfig:
    run_dir: str = "runs/train"
    seed: int = 0
    checkpoint_every: int = 100
    sample_every: int = 500
    log_every: int = 10
    device: str = "cpu"
    amp: bool = True  # mixed precision on CUDA only
    vgg_weights: str = "imagenet"  # 'imagenet' (cache/URL), a path, or 'random'
    style_name: str = "custom"
    threads: int | None = None
    max_nonfinite: int = 10  # consecutive non-finite losses before giving up
    tensorboard: bool = True


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    @property
    def total_steps(self) -> int:
        return self.optim.init_steps + self.optim.gan_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        if type(None) in args:
            return None
    if origin in (typing.Union, __import__("types").UnionType):
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(value, inner, where)
    if origin is Literal:
        if value not in args:
            raise UserError(f"{where}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if tp in (int, float, str):
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return tp(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {value!r} is not a valid {getattr(tp, '__name__', tp)}") from None
    return value


def _apply(section_obj: Any, values: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(type(section_obj))
    names = {f.name for f in dataclasses.fields(section_obj)}
    for key, value in values.items():
        if key not in names:
            raise UserError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(names))}")
        setattr(section_obj, key, _coerce(value, hints[key], f"{where}.{key}"))


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    config = TrainConfig()
    if path is not None:
        path = Path(path)
        raw = read_toml(path, "--config ", "see train/configs/ for examples")
        for section, values in raw.items():
            if section not in {f.name for f in dataclasses.fields(config)} or not isinstance(values, dict):
                raise UserError(f"--config {path}: unknown section [{section}]; use data, model, loss, optim, run")
            _apply(getattr(config, section), values, f"{path.name} [{section}]")
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in {f.name for f in dataclasses.fields(config)}:
            raise UserError(f"--set {item}: use section.key=value, e.g. --set optim.batch_size=8")
        _apply(getattr(config, section), {name: value.strip()}, f"--set {section}")
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    checks = [
        (config.data.crop >= 16, f"data.crop {config.data.crop}: must be at least 16"),
        (0 < config.data.scale_min <= config.data.scale_max, "data.scale_min/scale_max: need 0 < min <= max"),
        (0 <= config.data.hue_jitter <= 0.5, f"data.hue_jitter {config.data.hue_jitter}: must be in [0, 0.5] turns"),
        (config.optim.batch_size >= 1, "optim.batch_size: must be at least 1"),
        (config.optim.init_steps >= 0 and config.optim.gan_steps >= 0, "optim.init_steps/gan_steps: must be >= 0"),
        (config.total_steps > 0, "optim: init_steps + gan_steps must be > 0"),
        (config.run.checkpoint_every >= 1, "run.checkpoint_every: must be at least 1"),
        (config.run.sample_every >= 1, f"run.sample_every {config.run.sample_every}: must be at least 1"),
        (config.run.log_every >= 1, f"run.log_every {config.run.log_every}: must be at least 1"),
        (0 < config.model.width <= 8, f"model.width {config.model.width}: must be in (0, 8]"),
        (config.model.d_channels >= 1 and config.model.d_layers >= 1, "model.d_channels/d_layers: must be at least 1"),
        (config.run.threads is None or config.run.threads >= 1, f"run.threads {config.run.threads}: must be >= 1"),
        (config.run.max_nonfinite >= 1, "run.max_nonfinite: must be at least 1"),
        (0 <= config.optim.min_lr_ratio <= 1, "optim.min_lr_ratio: must be in [0, 1]"),
        (config.optim.cosine_steps == 0 or config.optim.cosine_steps >= config.optim.gan_steps,
         f"optim.cosine_steps {config.optim.cosine_steps}: must be 0 (= gan_steps) or at least gan_steps "
         f"({config.optim.gan_steps})"),
        (0 <= config.optim.beta1 < 1 and 0 <= config.optim.beta2 < 1, "optim.beta1/beta2: must be in [0, 1)"),
    ]
    checks += [(getattr(config.optim, name) > 0, f"optim.{name} {getattr(config.optim, name)}: must be > 0")
               for name in ("init_lr", "g_lr", "d_lr")]
    checks += [(value >= 0, f"loss.{key} {value}: a loss weight must be >= 0")
               for key, value in config.loss.resolved().items()]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
