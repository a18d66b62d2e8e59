"""The pipeline's stages, each ``stage(inputs, config, output) -> StageResult``.

A stage takes its input artifacts, its typed config and its output folder, calls the library function that
does the work (``prune_checkpoint``, ``distill``, ``export_onnx``, ``quantize_onnx``, ``export_tflite``,
``export_tensorrt``, ``run_benchmark``) and returns what it wrote and its numbers. Caching, ordering and the
report are the runner's (``runner.py``); a stage never looks at other stages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from animegan_deploy.errors import MissingDependencyError, UserError

from .cache import artifact_current, cache_key, stamp_key

Progress = Callable[[str], None]


@dataclass
class StageResult:
    name: str  # the stage's config section: train, prune, distill, quantize, export, benchmark, gate
    path: Path | None  # the main artifact (None when the stage made none)
    outputs: dict[str, Path] = field(default_factory=dict)  # label -> file
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "ran"  # ran | cached | unavailable | failed
    seconds: float = 0.0
    reason: str = ""
    format: str | None = None  # export stages: which format

    @property
    def label(self) -> str:
        return f"{self.name} {self.format}" if self.format else self.name

    def summary(self) -> list[str]:
        head = f"{self.label}: {self.status}"
        if self.status in ("ran", "cached"):
            head += f" ({self.seconds:.1f} s)" if self.status == "ran" else ""
            shown = {k: v for k, v in self.metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
            if shown:
                head += "; " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items())
        elif self.reason:
            head += f": {self.reason}"
        shown_outputs = {k: v for k, v in self.outputs.items() if not k.startswith("sample ")}
        lines = [head] + [f"  {label}: {path}" for label, path in shown_outputs.items()]
        samples = len(self.outputs) - len(shown_outputs)
        if samples:
            folder = next(v for k, v in self.outputs.items() if k.startswith("sample ")).parent
            lines.append(f"  samples: {samples} images in {folder}")
        return lines


def _fid(fidelity: dict) -> dict:
    return {"psnr_db": round(fidelity["psnr_db"], 2), "ssim": round(fidelity["ssim"], 4),
            "psnr_min_db": round(fidelity["psnr_min_db"], 2) if fidelity.get("psnr_min_db") is not None else None}


@dataclass
class PlanContext:
    """What an export format's plan hook (``targets.Format.stage``) sees: the run's config, the model its export
    starts from (a path, or ``@stage:label`` of an earlier stage) and the evaluation photos."""
    config: Any  # PipelineConfig
    model: Path | str
    eval_dir: str


@dataclass
class ExportPlan:
    fn: Callable[..., StageResult]
    inputs: dict[str, Path | str | None]
    config: Any


def train_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    """Train the base model with the existing recipe into ``output`` (the run folder); resumes its checkpoints."""
    from animegan_deploy.train.config import load_config
    from animegan_deploy.train.loop import FINAL_GENERATOR, train

    train_config = load_config(config.config, [*config.set, f"run.run_dir={output}"])
    result = train(train_config, resume=resume, progress=True)
    if result.steps < train_config.total_steps:
        raise UserError(f"[train] stopped at step {result.steps}/{train_config.total_steps}; run the pipeline again")
    final = output / FINAL_GENERATOR
    return StageResult("train", final, {"generator": final},
                       {"steps": result.steps, **{k: round(v, 4) for k, v in result.last_losses.items()}})


def prune_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    from animegan_deploy.compress.prune import prune_checkpoint

    out = output / "model.pruned.safetensors"
    r = prune_checkpoint(inputs["model"], config, out, progress=True).report
    return StageResult("prune", out, {"model": out}, {
        **_fid(r["fidelity_vs_original"]), "removed_channels": r["removed_channels"],
        "params": r["pruned"]["params"], "gmacs": round(r["pruned"]["gmacs"], 3),
        "params_removed_fraction": round(r["params_removed_fraction"], 4)})


def distill_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    from animegan_deploy.compress.distill import distill
    from animegan_deploy.sidecar import read_sidecar

    out = output / "model.distilled.safetensors"
    config = dataclasses.replace(config, teacher=str(inputs["teacher"]))
    result = distill(str(inputs["student"]), config, out, resume=resume, progress=True)
    metrics = read_sidecar(out)["metrics"]
    return StageResult("distill", out, {"model": out}, {
        **_fid(metrics["fidelity_vs_teacher"]), "steps": result.steps, "params": metrics["student"]["params"],
        "gmacs": round(metrics["student"]["gmacs"], 3)})


def student_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    """The fast deploy student of the model so far (narrowing in its normalization, distillation, pruning at the
    threshold; a BatchNorm student folded); resumes its own checkpoints. Its deploy form is what later stages export."""
    from animegan_deploy.compress.student import make_student

    result = make_student(inputs["teacher"], config, output / "student.safetensors", progress=True)
    if not result.finished:
        raise UserError("[student] paused; run the pipeline again to continue")
    fid = result.metrics["fidelity_vs_teacher"]
    outputs = {"model": result.deploy}
    if result.path != result.deploy:  # a BatchNorm student: the trainable form beside its folded twin
        outputs["trainable"] = result.path
    return StageResult("student", result.deploy, outputs, {
        **_fid(fid), "gmacs": round(result.metrics["student"]["gmacs"], 3),
        "width_ratio": result.metrics["width_ratio"], "norm": result.metrics["norm"]})


ONNX_FILE = "model.onnx"


def onnx_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    """The FP32 ONNX of the final model: the file ``quantize`` calibrates and the ONNX export."""
    from animegan_deploy.export.onnx_export import export_onnx

    out = output / ONNX_FILE
    result = export_onnx(inputs["model"], config, out)
    return StageResult("export", out, {"onnx fp32": out}, {
        "nodes": result.nodes, "max_abs_diff_vs_torch": max(result.max_abs_diff.values()), "precision": "fp32"},
        format="onnx")


def plan_onnx(ctx: PlanContext) -> ExportPlan:
    from animegan_deploy.export.onnx_export import OnnxExportConfig

    size = ctx.config.data.size
    return ExportPlan(onnx_stage, {"model": ctx.model}, OnnxExportConfig(validate_sizes=((size, size), (64, 96))))


def quantize_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    from animegan_deploy.export.onnx_int8 import export_onnx_int8

    out = output / "model.int8.onnx"
    result = export_onnx_int8(inputs["model"], config, out, progress=True)
    return StageResult("quantize", out, {"onnx int8": out}, {
        "precision": "int8", "psnr_db": round(result.fidelity.psnr, 2), "ssim": round(result.fidelity.ssim, 4),
        "psnr_min_db": round(result.fidelity.psnr_min, 2), "float_layers": len(result.float_layers),
        "method": result.report["method"], "photos": len(result.fidelity.per_image),
        "settings": result.report["settings"]["chosen"]})


def onnx_dynamic_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress,
                       resume: bool) -> StageResult:
    """The dynamic-scale INT8 ONNX of the final model (no calibration), measured against it."""
    from animegan_deploy.export.onnx_dynamic import export_onnx_dynamic
    from animegan_deploy.export.targets import targets

    (target,) = targets("onnx-dynamic")
    out = target.file(inputs["model"], output)
    result = export_onnx_dynamic(inputs["model"], config, out)
    return StageResult("export", out, {target.name: out}, {
        "precision": target.precision, **_fid(result.fidelity.to_dict()), "quantized_convs": result.quantized_convs,
        "photos": len(result.fidelity.per_image)}, format=target.format)


def plan_onnx_dynamic(ctx: PlanContext) -> ExportPlan:
    from animegan_deploy.export.onnx_dynamic import DynamicQuantizeConfig

    return ExportPlan(onnx_dynamic_stage, {"model": ctx.model},
                      DynamicQuantizeConfig(size=ctx.config.data.size, eval_dir=ctx.eval_dir))


def tflite_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    """TFLite files of the final model; a kind already built from the same model and settings is kept, so a
    stage interrupted after some conversions only converts the rest."""
    from animegan_deploy.export.tflite import export_tflite, require_converter
    from animegan_deploy.sidecar import read_sidecar

    model = inputs["model"]
    try:
        require_converter()
    except MissingDependencyError as exc:
        return StageResult("export", None, status="unavailable", reason=str(exc), format="tflite")
    files = {kind: output / f"{model.stem}_{kind}.tflite" for kind in config.precisions}
    keys = {kind: cache_key({"model": model}, dataclasses.replace(config, precisions=(kind,))) for kind in files}
    missing = tuple(k for k, p in files.items() if not artifact_current(p, keys[k]))
    if missing:
        result = export_tflite(model, dataclasses.replace(config, precisions=missing), output)
        for record in result.files:
            if record.path is None:
                raise UserError(f"[export] tflite {record.kind}: {record.reason}")
            stamp_key(record.path, keys[record.kind])
    metrics = {}
    for kind, path in files.items():
        meta = read_sidecar(path)
        m = meta.get("metrics") or {}
        metrics[kind] = {"precision": meta.get("precision"), "psnr_db": m.get("psnr_db_vs_torch_fp32"),
                         "ssim": m.get("ssim_vs_torch_fp32"), "size_mb": round(path.stat().st_size / 2**20, 3)}
    flat = {f"{kind} psnr_db": m["psnr_db"] for kind, m in metrics.items() if m["psnr_db"] is not None}
    return StageResult("export", output, {f"tflite {k}": p for k, p in files.items()}, {**flat, "files": metrics},
                       format="tflite")


def plan_tflite(ctx: PlanContext) -> ExportPlan:
    from animegan_deploy.export.tflite import TFLiteConfig

    data, export = ctx.config.data, ctx.config.export
    return ExportPlan(tflite_stage, {"model": ctx.model}, TFLiteConfig(
        size=data.size, precisions=export.tflite_precisions, calib_dir=data.calib_dir, calib_count=data.calib_count,
        calibration=export.tflite_calibration, eval_dir=ctx.eval_dir, allow_lossy=True, timeout=export.timeout,
        target_psnr=export.tflite_target_psnr, target_worst_psnr=export.tflite_target_worst_psnr,
        conv_fallback=export.tflite_conv_fallback))


@dataclass
class TensorRTStageConfig:
    precisions: tuple[str, ...]


def plan_tensorrt(ctx: PlanContext) -> ExportPlan:
    inputs = {"model": ctx.model, "onnx": "@onnx:onnx fp32"}
    if ctx.config.quantize.enabled:
        inputs["onnx int8"] = "@quantize:onnx int8"
    return ExportPlan(tensorrt_stage, inputs, TensorRTStageConfig(ctx.config.export.tensorrt_precisions))


def tensorrt_stage(inputs: dict[str, Path], config: Any, output: Path, progress: Progress, resume: bool) -> StageResult:
    """TensorRT engines (the INT8 one from the Q/DQ ONNX); unavailable without TensorRT and a GPU."""
    from animegan_deploy.backends.registry import BACKENDS

    backend = BACKENDS["tensorrt"]
    if backend.missing():
        return StageResult("export", None, status="unavailable", format="tensorrt",
                           reason=f"{', '.join(backend.missing())} not installed; {backend.install_hint}")
    from animegan_deploy.export.tensorrt import TensorRTConfig, export_tensorrt

    outputs, metrics = {}, {}
    for precision in config.precisions:
        onnx = inputs.get("onnx int8") if precision == "int8" else inputs.get("onnx")
        if onnx is None:
            metrics[precision] = {"status": "unavailable", "reason": "no INT8 ONNX: enable [quantize]"}
            continue
        out = output / f"model.{precision}.engine"
        export_tensorrt(inputs["model"], TensorRTConfig(precision=precision, onnx=str(onnx),
                                                        timing_cache=str(output / "timing.cache")), out)
        outputs[f"tensorrt {precision}"] = out
        metrics[precision] = {"status": "ok", "precision": precision}
    return StageResult("export", output, outputs, {"engines": metrics}, format="tensorrt")


@dataclass
class BenchmarkStageConfig:
    """The benchmark stage's settings: [benchmark] plus the [data] keys it measures on."""
    size: int
    eval_dir: str
    eval_count: int
    repeats: int
    warmup: int
    threads: int
    sample_photos: int


def benchmark_stage(inputs: dict[str, Path], config: BenchmarkStageConfig, output: Path, progress: Progress,
                    resume: bool) -> StageResult:
    """Every artifact of the run against the FP32 original (``inputs["original"]``) in one interleaved run, then
    each variant's output on a few evaluation photos beside the original's (``samples/``, for report.html)."""
    from animegan_deploy.benchmarks.suite import BenchmarkConfig, run_benchmark

    variants = tuple(f"{name}={path}" for name, path in inputs.items() if name != "original")
    bench = BenchmarkConfig(sizes=(config.size,), threads=(config.threads,), formats=(), variants=variants,
                            warmup=config.warmup, repeats=config.repeats, photos=config.eval_dir,
                            photo_count=config.eval_count, tflite_dir=None, work_dir=str(output / "artifacts"))
    result = run_benchmark(inputs["original"], bench, output, progress=progress)
    samples = write_samples(inputs, config, output / "samples") if config.sample_photos else {}
    outputs = {f"benchmark {k}": p for k, p in result.files.items()}
    outputs.update({f"sample {k}": p for k, p in samples.items()})
    return StageResult("benchmark", result.files["json"], outputs, {"rows": len(result.rows)})


def sample_keys(paths: list[Path], folder: Path) -> list[str]:
    """A name per photo for its sample files, never shared: the stem when that is unique, else the path inside
    ``folder`` with its suffix (``x.png``, ``x.jpg`` and ``sub/x.png`` stay three photos)."""
    stems = [p.stem for p in paths]
    keys = []
    for path in paths:
        if stems.count(path.stem) == 1:
            keys.append(path.stem)
        else:
            relative = path.relative_to(folder) if folder in path.parents else Path(path.name)
            keys.append("-".join(relative.with_suffix("").parts) + "-" + path.suffix.lstrip(".").lower())
    return [k.replace("__", "_") for k in keys]  # "__" separates photo and variant in the file names


def write_samples(inputs: dict[str, Path], config: BenchmarkStageConfig, folder: Path) -> dict[str, Path]:
    """For the first photos of the evaluation set: the original's output, each variant's output and a heat map
    of |variant - original| (mean over channels, 0 .. 32 levels of 255), as PNGs named ``<photo>__<variant>``."""
    import numpy as np
    from matplotlib import colormaps

    from animegan_deploy.atomic import atomic_path
    from animegan_deploy.backends import load_runner
    from animegan_deploy.benchmarks.fidelity import eval_inputs, to_pixels
    from animegan_deploy.train.preprocess import list_images
    from PIL import Image

    paths = list_images(Path(config.eval_dir))[: config.sample_photos]
    keys = sample_keys(paths, Path(config.eval_dir))
    photos = [(keys[i], batch) for i, (_, batch) in enumerate(eval_inputs(paths, config.size, square=True))]
    heat = colormaps["inferno"]
    written: dict[str, Path] = {}

    def save(name: str, pixels: np.ndarray) -> None:
        target = folder / f"{name}.png"
        with atomic_path(target) as tmp:
            Image.fromarray(pixels).save(tmp, format="PNG")
        written[name] = target

    folder.mkdir(parents=True, exist_ok=True)
    original = load_runner(inputs["original"], threads=config.threads)
    references = {}
    for stem, batch in photos:
        references[stem] = to_pixels(original(batch))[0].astype(np.uint8)
        save(f"{stem}__input", to_pixels(batch)[0].astype(np.uint8))
        save(f"{stem}__original", references[stem])
    for name, path in inputs.items():
        if name == "original":
            continue
        try:
            runner = load_runner(path, threads=config.threads)
        except UserError:  # not runnable here (its benchmark row says why)
            continue
        safe = name.replace(" ", "-")
        for stem, batch in photos:
            out = to_pixels(runner(batch))[0].astype(np.uint8)
            error = np.abs(out.astype(np.float32) - references[stem].astype(np.float32)).mean(axis=2)
            save(f"{stem}__{safe}", out)
            save(f"{stem}__{safe}__error", (heat(np.clip(error / 32.0, 0, 1))[..., :3] * 255).astype(np.uint8))
    return written
