"""`animegan export tflite`: checkpoint -> explicit-norm ONNX (static NxN) -> onnx2tf -> TFLite files, each
verified with the LiteRT interpreter against the FP32 torch model.

One onnx2tf run in a scratch folder writes the float32 and float16 files and the TensorFlow saved model. The
quantized files are made from those (:mod:`.tflite_int8`): dynamic-range from the saved model, integer and
full-integer by calibrating the float32 file on photos with a choice of range method (``--calibration``).
Each precision is built and checked on its own, so a failing one never loses the others. onnx2tf is used
offline: its sample calibration file is written where it looks for it (it would download it otherwise), it
gets a copy of the ONNX (it rewrites its input), and it runs without strict mode (exact for the
explicit-norm graph; strict mode costs 10+ minutes). TFLite I/O is NHWC in [-1, 1], and so are the
calibration photos.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from animegan_deploy.atomic import atomic_path, atomic_write_json, atomic_write_text
from animegan_deploy.compress.photos import TARGET_MARGIN_DB
from animegan_deploy.compress.prefix_search import FidelityTarget
from animegan_deploy.configs import at_least, option
from animegan_deploy.digest import file_sha256
from animegan_deploy.lock import die_with_parent
from animegan_deploy.memo import Memo, content_key
from animegan_deploy.errors import MissingDependencyError, UserError
from animegan_deploy.sidecar import write_sidecar

from .targets import tflite_kinds
from .tflite_int8 import CALIBRATIONS, CONV_FALLBACKS

# onnx2tf output suffix -> (precision label, threshold set in benchmarks/fidelity_thresholds.toml): a view of
# the targets table (targets.py)
PRECISIONS: dict[str, tuple[str, str]] = tflite_kinds()
FLOAT_RUN = ("float32", "float16")  # written by onnx2tf itself
CALIBRATED = {"integer_quant": "float32", "full_integer_quant": "int8"}  # kind -> input/output type
ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"  # onnx2tf downloads it otherwise
INPUT_NAME = "input"
ONNX2TF_OPSET = 17


@dataclass
class TFLiteConfig:
    size: int = option(256, "static input size NxN of the TFLite files")
    precisions: tuple[str, ...] = option(tuple(k for k in PRECISIONS if k != "int16x8_quant"),
                                         "files to produce: " + ", ".join(PRECISIONS) + " (int16x8_quant: int16 "
                                         "activations, int8 weights; slower, far closer to float)")
    calib_dir: str | None = option(None, "calibration photos for the integer files, split into calibration and "
                                   "validation (--target-psnr is judged on the validation side) (default: the bundled "
                                   "calibration set)")
    calib_count: int = option(32, "at most this many calibration photos")
    calib_augment: Literal["int16x8", "all", "none"] = option(
        "int16x8", "which files calibrate on each photo plus a high-contrast, a zoomed-out (2x2 tiled) and a sharpened "
        "copy (ranges that hold on textures and hard photos): 16x8 on the default model 42.7 -> 45.2 dB on 15 unseen "
        "pictures; the int8 kinds measured 0.1 dB worse with it, so by default only int16x8")
    calibration: str | None = option(None, "activation ranges of the integer files: " + "; ".join(
        f"{k} = {v}" for k, v in CALIBRATIONS.items()) + " (default: chosen per model: each one's file after the "
        "fallback ladder measured on the validation photos, the highest 0.8 x mean + 0.2 x worst-photo PSNR kept)")
    eval_dir: str | None = option(None, "photos for the LiteRT-vs-torch check (default: the 15 unseen pictures)")
    thresholds: str | None = option(None, "TOML of per-precision PSNR/SSIM minimums (default: the project's)")
    allow_lossy: bool = option(False, "write files below their fidelity threshold instead of failing")
    threads: int = option(2, "LiteRT interpreter threads for the check")
    timeout: int = option(1800, "seconds one onnx2tf run may take")
    target_psnr: float | None = option(None, "integer files: keep the normalizations' ops in float, one rung of "
                                       "tflite_int8.FALLBACK_LADDER at a time, then keep out of static int8 the "
                                       "convs that lose most as int8 (measured one at a time; see --conv-fallback), "
                                       "until this PSNR (dB) vs torch is met with a 0.5 dB margin on the validation "
                                       "photos of the calibration split, never the evaluation photos (default: the "
                                       "kind's threshold, int8 30 dB; 0: every op int8); the sidecar records them")
    conv_fallback: str = option("dynamic-then-float", "integer files: how the convs --target-psnr keeps out of "
                                "static int8 run: " + "; ".join(f"{k} = {v}" for k, v in CONV_FALLBACKS.items()))
    target_worst_psnr: float | None = option(None, "integer files: the fallback also goes on until the worst "
                                             "validation photo reaches this PSNR (dB) vs torch, with the same margin "
                                             "(e.g. 30: a dark, flat photo loses most in int8)")

    def __post_init__(self) -> None:
        if isinstance(self.precisions, str):
            self.precisions = tuple(p for p in self.precisions.split(",") if p)
        unknown = [p for p in self.precisions if p not in PRECISIONS]
        if unknown or not self.precisions:
            raise UserError(f"--precisions {','.join(self.precisions)}: choose from {', '.join(PRECISIONS)}")
        if self.calib_augment not in ("int16x8", "all", "none"):
            raise UserError(f"--calib-augment {self.calib_augment}: choose int16x8, all or none")
        if self.calibration is not None and self.calibration not in CALIBRATIONS:
            raise UserError(f"--calibration {self.calibration}: choose one of {', '.join(CALIBRATIONS)}")
        if self.size < 16 or self.size % 4:
            raise UserError(f"--size {self.size}: must be a multiple of 4, at least 16")
        if self.timeout < 1:
            raise UserError(f"--timeout {self.timeout}: must be at least 1 second (onnx2tf takes minutes at 256)")
        if self.target_psnr is not None and not 0 <= self.target_psnr < 100:
            raise UserError(f"--target-psnr {self.target_psnr}: must be in [0, 100) dB (0: no float fallback)")
        if self.conv_fallback not in CONV_FALLBACKS:
            raise UserError(f"--conv-fallback {self.conv_fallback}: choose one of {', '.join(CONV_FALLBACKS)}")
        if self.target_worst_psnr is not None and not 0 <= self.target_worst_psnr < 100:
            raise UserError(f"--target-worst-psnr {self.target_worst_psnr}: must be in [0, 100) dB")
        at_least(self, ("calib_count", "threads"))


@dataclass
class TFLiteFile:
    kind: str  # onnx2tf suffix, e.g. full_integer_quant
    precision: str
    path: Path | None = None
    status: str = "pending"  # ok | below-threshold | failed
    reason: str = ""
    size_mb: float | None = None
    psnr_db: float | None = None
    psnr_min_db: float | None = None  # the worst evaluation photo
    worst_photo: str | None = None
    ssim: float | None = None
    min_psnr: float | None = None
    min_ssim: float | None = None
    convert_seconds: float | None = None
    float_fallback: str | None = None  # integer kinds: the fallback rung kept float ("nothing": every op int8)

    def row(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self).items()}


@dataclass
class TFLiteResult:
    folder: Path
    files: list[TFLiteFile] = field(default_factory=list)
    seconds: float = 0.0
    report: Path | None = None
    allow_lossy: bool = False

    @property
    def path(self) -> Path:
        return self.folder

    @property
    def ok(self) -> bool:
        """Every requested file produced and at its threshold (``--allow-lossy`` accepts those below it)."""
        accepted = {"ok", "below-threshold"} if self.allow_lossy else {"ok"}
        return all(f.status in accepted for f in self.files)

    def summary(self) -> list[str]:
        lines = []
        for f in self.files:
            if f.psnr_db is not None:
                lines.append(f"{f.kind:>20}: {f.status:<15} {f.size_mb:6.2f} MB  PSNR {f.psnr_db:6.2f} dB "
                             f"(min {f.min_psnr})  SSIM {f.ssim:.4f}  converted in {f.convert_seconds:.0f} s")
            else:
                lines.append(f"{f.kind:>20}: {f.status:<15} {f.reason}")
        return lines + [f"wrote {self.folder} (report {self.report}, {self.seconds:.0f} s in all)"]


def require_converter() -> None:
    import importlib.util

    missing = [m for m in ("onnx2tf", "tensorflow", "ai_edge_litert") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(f"TFLite export needs {', '.join(missing)}; run `make install` "
                                     "(installs tensorflow-cpu, onnx2tf and ai-edge-litert)")


def calibration_array(paths: Sequence[Path], size: int) -> np.ndarray:
    """N x size x size x 3 float32 in the model's [-1, 1] input range: photos resized as inference does (center
    crop), NHWC like the TFLite input."""
    from animegan_deploy.benchmarks.fidelity import eval_inputs

    batch = np.concatenate([x for _, x in eval_inputs(paths, size, square=True)])
    return np.ascontiguousarray(batch.transpose(0, 2, 3, 1), dtype=np.float32)


def augmented_calibration(images: np.ndarray) -> np.ndarray:
    """``images`` (N x H x W x 3 in [-1, 1]) followed by three copies of each that reach further into the ranges
    real photos produce: contrast x1.6, zoomed out (half size, tiled 2x2: twice the detail per pixel, as in
    textures) and unsharp-masked. 16-bit activations lose nothing to the wider ranges; the 10 bundled photos alone
    left brick, gravel and grass textures clipped (16x8: 27-30 dB on them, 45-55 on the rest)."""
    import cv2

    h, w = images.shape[1:3]
    contrast = np.clip(images * 1.6, -1.0, 1.0)
    small = np.stack([cv2.resize(x, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for x in images])
    zoomed = np.tile(small, (1, 2, 2, 1))[:, :h, :w]
    blurred = np.stack([cv2.GaussianBlur(x, (0, 0), 2.0) for x in images])
    sharpened = np.clip(images + 1.5 * (images - blurred), -1.0, 1.0)
    return np.ascontiguousarray(np.concatenate([images, contrast, zoomed, sharpened]), dtype=np.float32)


def run_onnx2tf(onnx_path: Path, workdir: Path, timeout: int) -> tuple[float, str]:
    """The onnx2tf conversion in ``workdir``: float32 and float16 files plus the saved model.
    Returns (seconds, error or "")."""
    args = [sys.executable, "-m", "onnx2tf", "-i", str(onnx_path), "-o", str(workdir / "out"),
            "-dsm", "-coion", "-osd", "-v", "error"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    started = time.perf_counter()
    try:
        proc = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, f"onnx2tf took longer than {timeout} s"
    log = (proc.stdout + proc.stderr).strip().splitlines()
    tail = " | ".join(line.strip() for line in log[-3:])
    return time.perf_counter() - started, ("" if proc.returncode == 0 else f"onnx2tf exit {proc.returncode}: {tail}")


# onnx2tf's outputs (float32 and float16 files, the saved model) by the ONNX file's bytes: one process converts a
# graph once (the export of several precisions in turn, a test session's exports of one model)
_CONVERTED: Memo[dict[str, bytes]] = Memo(limit=2)


def convert_with_onnx2tf(onnx_path: Path, workdir: Path, timeout: int) -> tuple[float, str, bool]:
    """:func:`run_onnx2tf`, or its outputs for the same ONNX bytes written again from memory.
    Returns (seconds, error or "", reused)."""
    key = content_key("onnx2tf", file_sha256(onnx_path), onnx_path.name, file_sha256(workdir / ONNX2TF_SAMPLE))
    known = _CONVERTED.get(key)
    out = workdir / "out"
    started = time.perf_counter()
    if known is not None:
        for name, data in known.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
        return time.perf_counter() - started, "", True
    seconds, error = run_onnx2tf(onnx_path, workdir, timeout)
    if not error and out.is_dir():
        _CONVERTED.put(key, {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file()})
    return seconds, error, False


WORK_PREFIX = "animegan-tflite-"


def remove_dead_work_folders() -> list[Path]:
    """Work folders (tens of MB each) that a killed export left in the temp folder: their pid is gone."""
    from animegan_deploy.atomic import _alive

    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        pid = folder.name[len(WORK_PREFIX):].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def export_tflite(checkpoint: str | Path, config: TFLiteConfig, output: str | Path,
                  progress: bool = True) -> TFLiteResult:
    """Write ``output``/<stem>_<kind>.tflite for each requested kind, with sidecars and a fidelity report
    (``progress``: bars and step messages on stderr)."""
    require_converter()
    from animegan_deploy.benchmarks.fidelity import eval_inputs, photo_inputs
    from animegan_deploy.compress.photos import calibration_split, default_eval_photos
    from animegan_deploy.compress.measurements import checkpoint_reference

    from .onnx_export import OnnxExportConfig, export_onnx

    started = time.perf_counter()
    checkpoint, folder = Path(checkpoint), Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    stem = checkpoint.stem
    files = {kind: TFLiteFile(kind, PRECISIONS[kind][0]) for kind in config.precisions}
    reference = checkpoint_reference(checkpoint)  # compared with many candidates
    eval_dir = Path(config.eval_dir) if config.eval_dir else default_eval_photos()
    eval_set = photo_inputs(eval_dir, config.size, square=True, argument="--eval-dir")
    s = config.size
    images, validation, split = None, [], None
    if any(kind in CALIBRATED or kind == "int16x8_quant" for kind in files):
        split = calibration_split(config.calib_dir, config.calib_count)
        images = calibration_array(split.calibration, s)
        validation = eval_inputs(split.validation, s, square=True)
    remove_dead_work_folders()
    with tempfile.TemporaryDirectory(prefix=f"{WORK_PREFIX}{os.getpid()}-") as tmp:
        tmp = Path(tmp)
        # opset 17: onnx2tf maps Resize(align_corners) to TF's align_corners only up to opset 17; at 18 it
        # falls back to half-pixel resizing and every pixel after the first upsample is off. Norm scale/shift
        # as 1x1 depthwise convs: a Mul by a (1,C,1,1) constant is mis-broadcast by onnx2tf when C == H == W.
        # Norm means staged per axis (and not fused back by onnxsim): TFLite's int8 MEAN over a whole
        # 32x256x256 map gives garbage (full-integer default model: 11 dB).
        onnx_cfg = OnnxExportConfig(norm="explicit", affine="conv", staged_mean=True, fuse=False, dynamic=False,
                                    size=(s, s), opset=ONNX2TF_OPSET)
        master = export_onnx(checkpoint, onnx_cfg, tmp / f"{stem}.onnx").path
        workdir = tmp / "onnx2tf"
        workdir.mkdir()
        rng = np.random.default_rng(0)
        np.save(workdir / ONNX2TF_SAMPLE, rng.uniform(0, 1, (20, 128, 128, 3)).astype(np.float32))
        onnx_copy = workdir / f"{stem}.onnx"
        shutil.copyfile(master, onnx_copy)
        seconds, error, reused = convert_with_onnx2tf(onnx_copy, workdir, config.timeout)
        produced_dir = workdir / "out"
        float_file = produced_dir / f"{stem}_float32.tflite"
        fidelity_of = _file_fidelity(reference, eval_set, config)
        builder = _IntegerBuilder(float_file, produced_dir, config, images, fidelity_of, validation, progress)
        builder.say(f"onnx2tf float conversion (float32, float16, saved model): {seconds:.0f} s"
                    f"{' (this process converted the same graph before)' if reused else ''}")
        for kind, record in files.items():
            produced = produced_dir / f"{stem}_{kind}.tflite"
            if kind in FLOAT_RUN:
                record.convert_seconds = round(seconds, 1)
                if not produced.is_file():
                    record.status, record.reason = "failed", error or f"onnx2tf produced no {produced.name}"
                    continue
            else:
                if not float_file.is_file():
                    record.status, record.reason = "failed", error or "onnx2tf produced no float32 file to quantize"
                    continue
                try:
                    record.convert_seconds = builder.build(kind, produced)
                    if kind in builder.fallback:
                        record.float_fallback = builder.fallback[kind].label
                except Exception as exc:  # one failed precision never loses the others
                    record.status, record.reason = "failed", f"{kind} quantization failed: {_first_line(exc)}"
                    continue
                builder.say(f"{kind}: {record.convert_seconds:.0f} s")
            _verify(record, produced, fidelity_of, config)
            final = folder / produced.name
            if record.status == "ok" or config.allow_lossy:
                with atomic_path(final) as out:
                    shutil.copyfile(produced, out)
                record.path = final
                extra = {"precision": record.precision, "onnx2tf_kind": kind, "backend": "tflite",
                         "layout": "NHWC", "size": [1, s, s, 3], "normalization": "[-1,1] = pixel/127.5 - 1",
                         "input": INPUT_NAME, "output": "output"}
                if kind in CALIBRATED:
                    extra["calibration"] = builder.method
                    if builder.method_choice:
                        extra["calibration_choice"] = builder.method_choice
                    fallback = builder.fallback.get(kind, Fallback("nothing", {}))
                    extra["float_fallback"], extra["float_ops"] = fallback.label, fallback.op_counts
                    if fallback.convs:  # past the ladder: the convs kept out of static int8, and how they run
                        extra["fallback_convs"], extra["conv_fallback"] = fallback.convs, config.conv_fallback
                        if config.conv_fallback == "dynamic-then-float":
                            extra["float_convs"] = fallback.float_convs
                elif kind == "int16x8_quant":
                    extra["calibration"] = "minmax (int16 activations)" + (
                        ", photos + augmented copies" if config.calib_augment != "none" else "")
                write_sidecar(final, "tflite", source=checkpoint, config=config, metrics={
                    "psnr_db_vs_torch_fp32": record.psnr_db, "identical_to_torch_fp32": record.psnr_db == float("inf"),
                    "ssim_vs_torch_fp32": record.ssim,
                    "size_mb": record.size_mb, "convert_seconds": record.convert_seconds,
                }, extra=extra)
    result = TFLiteResult(folder, list(files.values()), time.perf_counter() - started, allow_lossy=config.allow_lossy)
    report = {"checkpoint": str(checkpoint), "size": s, "eval_photos": [n for n, _ in eval_set],
              "calibration": builder.method, "calibration_choice": builder.method_choice,
              "calibration_photos": 0 if images is None else len(images),
              "split": split.record() if split else None, "target_margin_db": TARGET_MARGIN_DB,
              "seconds": round(result.seconds, 1), "files": [f.row() for f in result.files]}
    result.report = atomic_write_json(folder / f"{stem}.tflite-report.json", report)
    atomic_write_text(folder / f"{stem}.tflite-report.md", tflite_markdown(report))
    return result


@dataclass
class Fallback:
    """What an integer file keeps out of static int8: the ladder's rung (plus convs past it), op type -> count, and
    the convs chosen by measured loss (their output tensor names, most loss as int8 first; float or dynamic-range
    as --conv-fallback says)."""

    label: str
    op_counts: dict[str, int]
    convs: list[str] = field(default_factory=list)
    float_convs: list[str] = field(default_factory=list)  # of ``convs``, those float where the others are dynamic


@dataclass
class _LadderEnd:
    """Where the fallback ladder stopped: its rung's label and float nodes, the file, and whether it met the target."""

    label: str
    nodes: list[str]
    model: bytes
    met: bool


class _IntegerBuilder:
    """Writes the quantized kinds from onnx2tf's float outputs; the calibration is run once, when first needed."""

    def __init__(self, float_file: Path, produced_dir: Path, config: TFLiteConfig, images: np.ndarray | None,
                 fidelity_of=None, validation=(), progress: bool = True) -> None:
        """``images``: the calibration photos, N x H x W x 3 in the model's [-1, 1] input range; ``fidelity_of``:
        (file, photos=None) -> Fidelity vs torch on ``photos`` (NCHW inputs as eval_inputs makes them), by default
        the evaluation photos; ``validation``: the photos --target-psnr and --target-worst-psnr are judged on, with
        TARGET_MARGIN_DB to spare (the calibration split's validation side; none: the calibration photos)."""
        self.float_file, self.produced_dir, self.config, self.images = float_file, produced_dir, config, images
        self.fidelity_of = fidelity_of
        self.progress = progress
        self.validation = list(validation) or ([] if images is None else [
            (f"calibration photo {i}", np.ascontiguousarray(images[i : i + 1].transpose(0, 3, 1, 2)))
            for i in range(len(images))])
        self.calibration = None
        self.method = config.calibration  # the activation-range calibration: the user's, else chosen when first needed
        self.method_choice: dict | None = None  # how it was chosen: every method's validation figures
        self.graph = None  # tflite_int8.FloatGraph of the float file, parsed with the calibration
        self.conv_ranking: list[str] | None = None  # convs past the ladder, most loss as int8 first
        self.calibration_seconds = 0.0
        self.fallback: dict[str, Fallback] = {}

    def build(self, kind: str, target: Path) -> float:
        """Write ``kind`` to ``target``; returns the seconds it took (a shared calibration counted in each)."""
        from . import tflite_int8

        started = time.perf_counter()
        if kind == "dynamic_range_quant":
            target.write_bytes(tflite_int8.dynamic_range(self.produced_dir))
            return round(time.perf_counter() - started, 1)
        if kind == "int16x8_quant":
            images = augmented_calibration(self.images) if self.config.calib_augment != "none" else self.images
            target.write_bytes(tflite_int8.int16x8(self.float_file.read_bytes(), images, self.progress))
            return round(time.perf_counter() - started, 1)
        if self.calibration is None:
            images = augmented_calibration(self.images) if self.config.calib_augment == "all" else self.images
            float_model = self.float_file.read_bytes()
            self.calibration = tflite_int8.calibrate(float_model, images, self.progress)
            self.graph = tflite_int8.FloatGraph.parse(float_model)
            self.calibration_seconds = time.perf_counter() - started
            started = time.perf_counter()
        goal = self.target(kind)
        if self.method is None:  # each method's file after the ladder; the best one's
            end = self._choose_method(kind, target, goal)
        else:
            end = self._ladder(kind, target, goal)
        target.write_bytes(end.model)
        self.fallback[kind] = Fallback(end.label, self.graph.op_counts(end.nodes))
        if not end.met:  # past the last rung: the convs that lose most as int8, as few as meet the target
            self._sensitive_convs(kind, target, end.label, end.nodes, goal)
        return round(time.perf_counter() - started + self.calibration_seconds, 1)

    def _ladder(self, kind: str, target: Path, goal: FidelityTarget, note: str = "") -> _LadderEnd:
        """The first rung of the fallback ladder (with ``self.method``'s ranges) whose file meets ``goal`` on the
        validation photos, else the last rung's file; without a goal, the first rung (every op int8)."""
        from . import tflite_int8

        ladder = tflite_int8.FALLBACK_LADDER if goal.wanted else tflite_int8.FALLBACK_LADDER[:1]
        for label, level in ladder:
            nodes = self.graph.fallback_nodes(level)
            model = self._quantize(kind, nodes)
            target.write_bytes(model)
            if not goal.wanted or self._meets(kind, target, f"{label} in float{note}", goal):
                return _LadderEnd(label, nodes, model, met=True)
        return _LadderEnd(label, nodes, model, met=False)

    def _quantize(self, kind: str, float_nodes: list[str], convs: Sequence[str] = (),
                  float_convs: Sequence[str] = ()) -> bytes:
        """``kind`` with ``float_nodes`` float and ``convs`` kept out of static int8, each with the pads/resizes that
        feed it: dynamic-range unless --conv-fallback is float; ``float_convs`` (of ``convs``) float regardless."""
        from . import tflite_int8

        model = self.calibration.quantize(self.method, io=CALIBRATED[kind],
                                          float_nodes=self.graph.with_inputs([*float_nodes, *convs]))
        floats = set(float_convs)
        dynamic = [c for c in convs if c not in floats] if self.config.conv_fallback != "float" else []
        if dynamic:
            model = tflite_int8.dynamic_range_convs(model, dynamic)
        return model

    def say(self, message: str) -> None:
        """A step's figures on stderr (``progress``)."""
        if self.progress:
            print(message, file=sys.stderr)

    def _choose_method(self, kind: str, target: Path, goal: FidelityTarget) -> _LadderEnd:
        """Each calibration method's file after the fallback ladder (the first rung that meets ``goal``), measured
        on the validation photos; the method whose file meets the goal with the best ``choice_score`` (none meets:
        the best score) is the method of every integer kind. Judged after the ladder, not with every op int8: on
        reports/zoo/tflite-options the method whose all-int8 file scored higher was the one that needed no float
        rung and ended up to 4.5 dB under the other on unseen pictures (zoo:hinge_seed1)."""
        from animegan_deploy.compress.choose import choice_rule, choice_score

        ends, tried = {}, []
        try:
            for method in CALIBRATIONS:
                self.method = method  # what _quantize uses
                end = ends[method] = self._ladder(kind, target, goal, f" ({method} ranges)")
                fid = self.fidelity_of(target, self.validation)  # the ladder's last file (remembered if measured)
                tried.append({"calibration": method, "float_fallback": end.label, "meets_target": end.met,
                              "psnr_db": round(fid.psnr, 3), "psnr_min_db": round(fid.psnr_min, 3),
                              "ssim": round(fid.ssim, 5), "score": choice_score(fid)})
        except BaseException:
            self.method = None  # a failed choice leaves nothing chosen: the next integer kind chooses again
            raise
        best = max(tried, key=lambda t: (t["meets_target"], t["score"], -tried.index(t)))
        self.method = best["calibration"]
        self.method_choice = {"chosen": self.method, "by": f"{choice_rule()}, each method's file after the fallback "
                                                           f"ladder ({goal}), one that meets it first",
                              "validation_photos": [name for name, _ in self.validation],
                              "tried": [{k: v for k, v in t.items() if k != "score"} for t in tried]}
        self.say(f"{kind}: {self.method} calibration chosen (" + ", ".join(
            f"{t['calibration']} {t['psnr_db']:.2f} dB, worst {t['psnr_min_db']:.2f}" for t in tried)
            + f" on {len(self.validation)} validation photos, after the fallback ladder)")
        return ends[self.method]

    def _meets(self, kind: str, target: Path, what: str, goal: FidelityTarget) -> bool:
        fid = self.fidelity_of(target, self.validation)
        self.say(f"{kind} with {what}: {fid.psnr:.2f} dB, worst photo {fid.psnr_min:.2f} dB on "
                 f"{len(self.validation)} validation photos ({goal}, +{TARGET_MARGIN_DB:g} dB margin)")
        return goal.met_by(fid, TARGET_MARGIN_DB)

    def _sensitive_convs(self, kind: str, target: Path, label: str, nodes: list[str], goal: FidelityTarget) -> None:
        """Rank the remaining convs by the PSNR each loses as the only int8 one (with its input pads; on a few
        calibration photos: every third, 4 at most), then keep the fewest leading ones out of static int8 that
        meet ``goal`` on the validation photos (bisection over the ranking: a handful of evaluations)."""
        from animegan_deploy.compress.prefix_search import smallest_measured_prefix

        from . import tflite_int8

        sample = [(f"calibration photo {i}", np.ascontiguousarray(self.images[i : i + 1].transpose(0, 3, 1, 2)))
                  for i in range(0, len(self.images), 3)][:4]
        probe = target.with_name(target.stem + ".probe.tflite")

        def score(kept: list[str]) -> float:
            probe.write_bytes(self._quantize(kind, nodes, kept))
            return self.fidelity_of(probe, sample).psnr

        if self.conv_ranking is None:  # the kinds differ only at the edges: one ranking serves both
            self.conv_ranking = [name for name, _ in tflite_int8.rank_by_loss(self.graph.convs(besides=nodes), score,
                                                                              progress=self.progress)]
            probe.unlink(missing_ok=True)
        ranking, n = self.conv_ranking, len(self.conv_ranking)
        how = "float" if self.config.conv_fallback == "float" else "dynamic-range"

        def search(quantized: Callable[[int], bytes], what: Callable[[int], str]) -> tuple[int, bool]:
            """The fewest leading convs of the ranking for which ``quantized(k)`` meets the goal, and whether it
            does (with k = all: maybe not)."""
            def meets(k: int) -> bool:
                target.write_bytes(quantized(k))
                return self._meets(kind, target, f"{label} in float + {what(k)}", goal)

            return smallest_measured_prefix(ranking, meets, bool)

        k, reached = search(lambda k: self._quantize(kind, nodes, ranking[:k]), lambda k: f"{k} of {n} convs {how}")
        floats: list[str] = []
        if self.config.conv_fallback == "dynamic-then-float" and not reached:
            # every conv dynamic-range still misses the target: the most lossy ones float, as few as meet it
            j, reached = search(lambda j: self._quantize(kind, nodes, ranking, ranking[:j]),
                                lambda j: f"{j} of {n} convs float, the other {n - j} dynamic-range")
            floats = ranking[:j]
        if not reached:
            self.say(f"{kind}: {goal} is not met on the validation photos even with every conv kept out of static "
                     "int8; the file keeps the most the fallback can (its size shows it)")
        target.write_bytes(self._quantize(kind, nodes, ranking[:k], floats))  # the search's last file may differ
        what = (f"{len(floats)} of {n} convs float, the other {n - len(floats)} dynamic-range" if floats else
                f"{k} of {n} convs {how}")
        self.fallback[kind] = Fallback(f"{label} + {what} (by measured loss)",
                                       self.graph.op_counts(self.graph.with_inputs([*nodes, *ranking[:k]])),
                                       ranking[:k], floats)

    def target(self, kind: str) -> FidelityTarget:
        """What the fallback ladder aims at: --target-psnr (else the kind's threshold; 0: no fallback) for the
        mean, and --target-worst-psnr for the worst photo."""
        worst = self.config.target_worst_psnr or 0.0
        if self.config.target_psnr is not None:
            return FidelityTarget(self.config.target_psnr, worst)
        from animegan_deploy.benchmarks.thresholds import load_thresholds

        return FidelityTarget(load_thresholds(self.config.thresholds, PRECISIONS[kind][1])[0], worst)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _file_fidelity(reference, eval_set, config: TFLiteConfig):
    """(file, photos=None) -> its Fidelity vs ``reference`` under LiteRT, on ``photos`` or by default ``eval_set``.
    Figures are remembered by the file's bytes and the photos' names: the all-int8 file the calibration choice
    measured is not measured again by the fallback ladder, nor the file the search settled on when it is verified."""
    import hashlib

    from animegan_deploy.backends import load_runner
    from animegan_deploy.benchmarks.fidelity import Fidelity, compare

    seen: dict[tuple, Fidelity] = {}

    def fidelity_of(path: Path, photos=None) -> Fidelity:
        photos = eval_set if photos is None else photos
        key = (hashlib.blake2b(path.read_bytes(), digest_size=16).digest(), tuple(name for name, _ in photos))
        if key not in seen:
            seen[key] = compare(reference, load_runner(path, backend="tflite", threads=config.threads), photos)
        return seen[key]

    return fidelity_of


def _verify(record: TFLiteFile, produced: Path, fidelity_of, config: TFLiteConfig) -> None:
    """Run ``produced`` with LiteRT on the evaluation photos (``fidelity_of``) and fill ``record``'s size,
    PSNR/SSIM and status."""
    from animegan_deploy.benchmarks.thresholds import load_thresholds

    record.size_mb = round(produced.stat().st_size / 1e6, 3)
    record.min_psnr, record.min_ssim = load_thresholds(config.thresholds, PRECISIONS[record.kind][1])
    try:
        fid = fidelity_of(produced)
    except Exception as exc:  # a file LiteRT cannot run is a failed precision, the others go on
        record.status, record.reason = "failed", f"LiteRT cannot run it: {_first_line(exc)}"
        return
    record.psnr_db, record.ssim = round(fid.psnr, 2), round(fid.ssim, 4)
    record.psnr_min_db, record.worst_photo = round(fid.psnr_min, 2), fid.worst_photo
    if fid.psnr >= record.min_psnr and fid.ssim >= record.min_ssim:
        record.status = "ok"
    else:
        record.status = "below-threshold"
        record.reason = f"PSNR {fid.psnr:.2f} dB / SSIM {fid.ssim:.4f} below {record.min_psnr} / {record.min_ssim}"


def tflite_markdown(report: dict) -> str:
    lines = [f"# TFLite export of `{Path(report['checkpoint']).name}` at {report['size']}x{report['size']}", "",
             f"LiteRT (XNNPACK) output vs the FP32 torch model on {len(report['eval_photos'])} photos "
             f"({', '.join(report['eval_photos'])}); {report['seconds']} s in all.", ""]
    if report.get("calibration_photos") and report.get("calibration"):
        choice = report.get("calibration_choice")
        how = "" if not choice else " chosen on {} validation photos, every op int8: {}".format(
            len(choice["validation_photos"]), ", ".join(f"{t['calibration']} {t['psnr_db']:.2f} dB (worst "
                                                        f"{t['psnr_min_db']:.2f})" for t in choice["tried"]))
        lines += [f"Integer files calibrated on {report['calibration_photos']} photos, activation ranges "
                  f"`{report['calibration']}` ({CALIBRATIONS[report['calibration']]}){how}.", ""]
    lines += ["| file | precision | status | size (MB) | PSNR (dB) | worst photo (dB) | SSIM | min PSNR | float "
              "fallback | build (s) |", "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- | ---: |"]
    for f in report["files"]:
        name = Path(f["path"]).name if f["path"] else f["kind"]
        worst = f"{f['psnr_min_db']} ({f['worst_photo']})" if f.get("worst_photo") else ""
        cells = [name, f["precision"], f["status"] + (f" ({f['reason']})" if f["reason"] else ""),
                 f["size_mb"], f["psnr_db"], worst, f["ssim"], f["min_psnr"], f.get("float_fallback") or "",
                 f["convert_seconds"]]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
