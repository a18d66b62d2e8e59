"""The zoo: generators trained differently, on which every quantization and export default is measured
(reports/zoo, `make zoo-report`) and the CI fidelity gate runs. A default tuned on one model is not a default:
channel equalization gave the embedded default +6 dB and a real AnimeGANv2 checkpoint -7.7 dB.

Four members ship with the embedded default (the model itself and its init phase, the previous default and its
init phase); the others come from `make zoo` (train/configs/zoo_*.toml: short adversarial runs from the previous
default's init-phase model with other GAN losses, loss balances and seeds, about 3-7 minutes each on 2 cores) and
are committed beside it. ``--weights zoo:NAME``
names one anywhere a checkpoint is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from animegan_deploy.errors import UserError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # beside the embedded default (hub resolves zoo:NAME here)


@dataclass(frozen=True)
class ZooModel:
    name: str
    file: str  # under models/weights
    how: str  # how it was trained (what makes it differ)
    config: str | None = None  # the train config that reproduces it

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file


ZOO: tuple[ZooModel, ...] = (
    ZooModel("default", "animegan_demo.safetensors", "the embedded default: a colour-faithful init phase, 1600 LSGAN "
             "steps on the cel style set with colour, chroma and tv terms, then a 150-step colour polish, all with hue "
             "jitter (keeps the photo's colours, smooth shading, dark lines)", "train/configs/demo_polish.toml"),
    ZooModel("init", "animegan_demo_init.safetensors", "the default's init phase alone: photo reconstruction (keeps "
             "colours, no style)", "train/configs/demo_init.toml"),
    ZooModel("duotone", "zoo_duotone.safetensors", "the embedded default until 2026-12-04: a colour-blind init phase, "
             "then 900 LSGAN steps with a strong Gram style term (navy/peach duotone outputs with ripples)",
             "train/configs/duotone.toml"),
    ZooModel("duotone_init", "zoo_duotone_init.safetensors", "the duotone's init phase: 500 reconstruction steps "
             "(outputs keep little colour); the hinge, paprika and shinkai members start from it",
             "train/configs/duotone_init.toml"),
    ZooModel("hinge_seed1", "zoo_hinge_seed1.safetensors", "150 hinge-GAN steps from the duotone's init phase, seed 1",
             "train/configs/zoo_hinge_seed1.toml"),
    ZooModel("paprika_seed2", "zoo_paprika_seed2.safetensors", "150 LSGAN steps, paprika balance (content 2, colour "
             "20, half the style weight), seed 2", "train/configs/zoo_paprika_seed2.toml"),
    ZooModel("shinkai_seed3", "zoo_shinkai_seed3.safetensors", "100 LSGAN steps at 128 px crops, shinkai balance "
             "(style 1e6, colour 2), lower learning rate, seed 3", "train/configs/zoo_shinkai_seed3.toml"),
)
ZOO_PREFIX = "zoo:"


def zoo_model(name: str) -> ZooModel:
    for member in ZOO:
        if member.name == name:
            return member
    raise UserError(f"zoo:{name}: no such zoo model; choose one of {', '.join(m.name for m in ZOO)}")


def zoo_checkpoint(name: str) -> Path:
    member = zoo_model(name)
    if not member.path.is_file():
        raise UserError(f"zoo:{name}: {member.path} is missing from this checkout; run `make zoo` to train it")
    return member.path
