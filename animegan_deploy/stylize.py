"""Stylize images, folders, globs and videos with any backend's runner.

Each picture is resized so its longest side is ``size`` (0 keeps it), padded by reflection to a multiple
of 4, run in batches of equal shapes, cropped, and restored to its original size and alpha. Inputs that
cannot be read are reported one line each; the rest are still processed.
"""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np
from tqdm import tqdm

from .backends import Runner, load_runner
from .backends.registry import BACKENDS
from .configs import at_least, option
from .errors import UserError
from .finite import check_finite_output
from .ownership import check_replaceable
from .imageio import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputError,
    Picture,
    VideoWriter,
    is_video,
    iter_frames,
    media_in,
    open_video,
    read_image,
    write_image,
)

PAD_MULTIPLE = 4  # two stride-2 stages: sizes divisible by 4 upsample back exactly
MIN_SIDE = 8  # the reflection pads need every side > 1 pixel after both stride-2 stages (a 1-pixel-thin photo)


def padded_side(side: int) -> int:
    """The side a picture is padded to: a multiple of PAD_MULTIPLE, at least MIN_SIDE."""
    return max(MIN_SIDE, side + (-side) % PAD_MULTIPLE)


@dataclass
class StylizeConfig:
    size: int = option(512, "longest side, in pixels, the model runs at (0 = the input's own size)")
    batch_size: int = option(4, "images or video frames per forward pass")
    device: str = option("cpu", "torch/ORT device: cpu, cuda, cuda:N or auto")
    threads: int | None = option(None, "CPU threads for the backend (default: the runtime's own choice)")
    backend: str | None = option(None, f"runtime for --weights: {', '.join(BACKENDS)} (default: from the file type)")
    output_format: str = option("png", "file type of stylized images: png, jpg or webp (videos keep theirs)")

    def __post_init__(self) -> None:
        if self.size < 0:
            raise UserError(f"--size {self.size}: must be 0 (native) or a positive number of pixels")
        at_least(self, ("batch_size", "threads"))
        if self.output_format.lower().lstrip(".") not in ("png", "jpg", "jpeg", "webp"):
            raise UserError(f"--output-format {self.output_format}: use png, jpg or webp")


@dataclass
class StylizeReport:
    written: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and folder.resolve() in path.resolve().parents


def expand_inputs(specs: Iterable[str], report: StylizeReport, output_dir: Path | None = None) -> list[Path]:
    """Files named, every image/video under named folders, and glob matches, in a stable order. Files under
    ``output_dir`` found by a folder or pattern are skipped: they are earlier outputs, not photos."""
    found: list[Path] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir() and output_dir is not None and path.resolve() == output_dir.resolve():
            raise UserError(f"--output {output_dir}: is the input folder {spec}; the outputs would mix with the photos "
                            "(and be read as photos next time): write them to another folder")
        if path.is_dir():
            media = [p for p in media_in(path, IMAGE_SUFFIXES + VIDEO_SUFFIXES) if not _inside(p, output_dir)]
            if not media:
                report.failed.append((spec, "folder holds no images or videos"))
            found.extend(media)
        elif path.exists():
            found.append(path)
        elif any(ch in spec for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))
                       if Path(m).is_file() and not _inside(Path(m), output_dir)]
            if not matches:
                report.failed.append((spec, "no files match this pattern"))
            found.extend(matches)
        else:
            report.failed.append((spec, "no such file or folder"))
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def working_size(height: int, width: int, size: int, fixed_hw: tuple[int, int] | None) -> tuple[int, int]:
    if fixed_hw is not None:
        return fixed_hw
    if size <= 0:
        return height, width
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_model_input(rgb: np.ndarray, target_hw: tuple[int, int], pad: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """HxWx3 [0,1] -> 3xH'xW' [-1,1] at ``target_hw`` (mirror-padded to :func:`padded_side` when ``pad``)."""
    h, w = rgb.shape[:2]
    th, tw = target_hw
    if (h, w) != (th, tw):
        interp = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_CUBIC
        rgb = cv2.resize(rgb, (tw, th), interpolation=interp)
    pad_h = padded_side(th) - th if pad else 0
    pad_w = padded_side(tw) - tw if pad else 0
    if pad_h or pad_w:
        rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
    return np.ascontiguousarray(rgb.transpose(2, 0, 1) * 2.0 - 1.0, dtype=np.float32), (th, tw)


def from_model_output(out: np.ndarray, valid_hw: tuple[int, int], original_hw: tuple[int, int]) -> np.ndarray:
    """3xH'xW' [-1,1] -> HxWx3 [0,1] at the original size."""
    rgb = (out[:, : valid_hw[0], : valid_hw[1]].transpose(1, 2, 0) + 1.0) * 0.5
    rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    if valid_hw != original_hw:
        h, w = original_hw
        interp = cv2.INTER_AREA if h * w < valid_hw[0] * valid_hw[1] else cv2.INTER_CUBIC
        rgb = np.clip(cv2.resize(rgb, (w, h), interpolation=interp), 0.0, 1.0)
    return rgb


class _Stylizer:
    def __init__(self, runner: Runner, config: StylizeConfig, weights: Path | None = None) -> None:
        self.runner = runner
        self.config = config
        self.weights = weights
        self.batch_size = runner.fixed_batch or config.batch_size

    def prepare(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        h, w = rgb.shape[:2]
        target = working_size(h, w, self.config.size, self.runner.fixed_hw)
        return to_model_input(rgb, target, pad=self.runner.fixed_hw is None)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        batch = np.stack(inputs)
        if self.runner.fixed_batch and len(inputs) < self.runner.fixed_batch:
            filler = np.repeat(batch[-1:], self.runner.fixed_batch - len(inputs), axis=0)
            batch = np.concatenate([batch, filler])
        out = self.runner(batch)
        # a broken model (NaN weights, an overflow) is the error, not each picture: stop before writing black images
        check_finite_output(out[: len(inputs)], f"--weights {self.weights}")
        return [out[i] for i in range(len(inputs))]


def output_name(src: Path, used: set[str], suffix: str) -> str:
    name = f"{src.stem}{suffix}"
    if name in used:
        name = f"{src.stem}_{src.suffix.lstrip('.').lower() or 'file'}{suffix}"
    counter = 2
    while name in used:
        name = f"{src.stem}_{counter}{suffix}"
        counter += 1
    used.add(name)
    return name


def stylize(
    inputs: Iterable[str],
    weights: Path,
    config: StylizeConfig,
    output_dir: Path,
    log: Callable[[str], None] | None = None,
) -> StylizeReport:
    """Stylize every input into ``output_dir``; unreadable inputs are logged and listed in the report."""
    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    report = StylizeReport()
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output {output_dir}: is a file; name a folder for the stylized outputs")
    blocker = next((p for p in output_dir.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise UserError(f"--output {output_dir}: {blocker} is a file, so no folder can be made there; name a folder")
    files = expand_inputs(inputs, report, output_dir)
    for spec, reason in report.failed:
        log(f"error: {spec}: {reason}")
    if not files:
        return report
    image_suffix = "." + config.output_format.lower().lstrip(".")
    # output names never take an input's place: a photo in the output folder is not written over
    used: set[str] = {p.name for p in files if p.resolve().parent == output_dir.resolve()}
    images = [p for p in files if not is_video(p)]
    videos = [p for p in files if is_video(p)]
    destination = {p: output_dir / output_name(p, used, p.suffix.lower() if is_video(p) else image_suffix)
                   for p in images + videos}
    for dst in destination.values():  # a file there that this tool did not write is kept: say so before any work
        check_replaceable(dst, "--output")
    runner = load_runner(Path(weights), backend=config.backend, device=config.device, threads=config.threads)
    stylizer = _Stylizer(runner, config, Path(weights))
    output_dir.mkdir(parents=True, exist_ok=True)

    def fail(path: Path, reason: str) -> None:
        report.failed.append((str(path), reason))
        log(f"error: {path}: {reason}")

    pending: list[tuple[Path, Picture, np.ndarray, tuple[int, int]]] = []

    def flush() -> None:
        try:
            outs = stylizer.run([item[2] for item in pending])
        except (RuntimeError, ValueError, MemoryError) as exc:  # this batch's pictures, not the model, are at fault
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            for src, picture, _, _ in pending:
                h, w = picture.rgb.shape[:2]
                fail(src, f"the model could not run on this {w}x{h} picture ({first})")
            pending.clear()
            return
        for (src, picture, _, valid_hw), out in zip(pending, outs):
            rgb = from_model_output(out, valid_hw, picture.rgb.shape[:2])
            dst = destination[src]
            write_image(dst, rgb, picture.alpha)
            report.written.append((src, dst))
        pending.clear()

    with tqdm(total=len(images), desc="images", unit="img", disable=not images, file=sys.stderr) as bar:
        for path in images:
            try:
                picture = read_image(path)
            except InputError as exc:
                fail(path, str(exc))
                bar.update(1)
                continue
            array, valid_hw = stylizer.prepare(picture.rgb)
            if pending and (pending[0][2].shape != array.shape or len(pending) >= stylizer.batch_size):
                flush()
            pending.append((path, picture, array, valid_hw))
            bar.update(1)
        if pending:
            flush()

    for path in videos:
        try:
            dst = destination[path]
            _stylize_video(path, dst, stylizer)
            report.written.append((path, dst))
        except InputError as exc:
            fail(path, str(exc))
    return report


def _stylize_video(path: Path, dst: Path, stylizer: _Stylizer) -> None:
    capture, info = open_video(path)
    writer: VideoWriter | None = None
    frame_hw = (info.height, info.width)
    ok = False
    try:
        batch: list[tuple[np.ndarray, tuple[int, int]]] = []
        with tqdm(total=info.frames or None, desc=path.name, unit="frame", file=sys.stderr) as bar:
            for frame in iter_frames(capture):
                if writer is None:
                    frame_hw = frame.shape[:2]
                    writer = VideoWriter(dst, info.fps, frame_hw[1], frame_hw[0])
                batch.append(stylizer.prepare(frame))
                if len(batch) >= stylizer.batch_size:
                    _write_frames(batch, stylizer, writer, frame_hw)
                    bar.update(len(batch))
                    batch.clear()
            if batch and writer is not None:
                _write_frames(batch, stylizer, writer, frame_hw)
                bar.update(len(batch))
        if writer is None or writer.frames == 0:
            raise InputError("video has no decodable frames")
        ok = True
    finally:
        capture.release()
        if writer is not None:
            writer.close(ok=ok)


def _write_frames(
    batch: list[tuple[np.ndarray, tuple[int, int]]], stylizer: _Stylizer, writer: VideoWriter, hw: tuple[int, int]
) -> None:
    outs = stylizer.run([item[0] for item in batch])
    for (_, valid_hw), out in zip(batch, outs):
        writer.write(from_model_output(out, valid_hw, hw))
