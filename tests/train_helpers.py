"""A tiny training setup (few 48px images, width 0.125, 32px crops) shared by the training tests."""

from pathlib import Path

import cv2

from conftest import photo


def make_dataset(root: Path) -> tuple[Path, Path]:
    photos, style = root / "photos", root / "style"
    photos.mkdir(parents=True, exist_ok=True)
    style.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        cv2.imwrite(str(photos / f"p{i}.png"), photo(48, 56, seed=i))
        cartoon = (photo(48, 48, seed=10 + i) // 64) * 64
        cartoon[20:22, :] = 0  # a dark line so edge smoothing has work to do
        cv2.imwrite(str(style / f"s{i}.png"), cartoon)
    return photos, style


def write_config(root: Path, run_dir: Path, init_steps: int = 2, gan_steps: int = 4, checkpoint_every: int = 1,
                 extra: str = "") -> Path:
    photos, style = make_dataset(root / "data")
    path = root / "tiny.toml"
    path.write_text(f"""
[data]
photo_dir = "{photos}"
style_dir = "{style}"
crop = 32
[model]
width = 0.125
d_channels = 16
[optim]
batch_size = 2
init_steps = {init_steps}
gan_steps = {gan_steps}
[run]
run_dir = "{run_dir}"
vgg_weights = "random"
checkpoint_every = {checkpoint_every}
log_every = 1
sample_every = 1000
threads = 1
tensorboard = false
{extra}
""")
    return path
