"""`make student`: teacher checkpoint -> fast student -> ONNX FP32/INT8 + TFLite -> benchmark vs the original.

The recipe chains the stage functions (``make_student``, ``export_onnx``, ``quantize_onnx``, ``export_tflite``,
``run_benchmark``) into ``OUT/``. A stage whose artifact is already there and whose sidecar names the same
input (sha256) and config is reused, so a second run (or one after an interruption) only does what is
missing. It ends with ``OUT/pipeline.json``: per stage its status (ran | cached | failed) and seconds, and the
benchmark rows (variant, backend, precision, fps, speedup vs the FP32 torch original measured in the same run,
PSNR/SSIM vs the original on the evaluation photos, file size).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from animegan_deploy.atomic import atomic_write_json, atomic_write_text
from animegan_deploy.configs import option
from animegan_deploy.errors import UserError
from animegan_deploy.inputs import check_checkpoint, check_photo_folder
from animegan_deploy.lock import FolderLock
from animegan_deploy.paths import check_output_dir


from animegan_deploy.benchmarks.report import benchmark_lines, pipeline_row

from .student import StudentConfig, make_student

TFLITE_KINDS = ("float32", "float16", "full_integer_quant")


@dataclass
class StudentRecipeConfig:
    eval_dir: str | None = option(None, "photos the recipe never trains or calibrates on: fidelity vs the original "
                                  "(default: 15 unseen pictures from the installed packages)")
    calib_dir: str | None = option(None, "INT8 calibration photos (default: the student's training photos)")
    size: int = option(256, "input size NxN of the benchmark and of the TFLite files")
    int8_method: str = option("percentile", "INT8 activation range method (entropy, minmax, percentile)")
    tflite: tuple[str, ...] = option(TFLITE_KINDS, "TFLite files of the student (none: skip TFLite)")
    repeats: int = option(5, "timed runs per variant in the benchmark")
    bench_threads: int = option(2, "CPU threads of the benchmark")
    photo_count: int = option(15, "at most this many evaluation photos")
    benchmark: bool = option(True, "end with the benchmark (--no-benchmark: artifacts only, e.g. for a sweep "
                             "measured in one benchmark run afterwards)")

    def __post_init__(self) -> None:
        if isinstance(self.tflite, str):
            self.tflite = tuple(k for k in self.tflite.split(",") if k and k != "none")
        self.tflite = tuple(k for k in self.tflite if k != "none")
        if self.size < 16 or self.size % 4:
            raise UserError(f"--size {self.size}: must be a multiple of 4, at least 16")
        for name in ("repeats", "bench_threads", "photo_count"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        from .calibration import METHODS

        # every option checked here, before the half hour of training: never a late error about an option
        if self.int8_method not in METHODS:
            raise UserError(f"--int8-method {self.int8_method}: choose one of {', '.join(METHODS)}")
        unknown = [k for k in self.tflite if k not in TFLITE_KINDS]
        if unknown:
            raise UserError(f"--tflite {','.join(unknown)}: unknown TFLite file kind; choose from "
                            f"{', '.join(TFLITE_KINDS)} (or none)")
        # the folders' shape here (a typo fails at once); their photos are decoded once, when the recipe starts
        check_photo_folder(self.eval_dir, "--eval-dir", decode=False)
        check_photo_folder(self.calib_dir, "--calib-dir", decode=False)


@dataclass
class StageRecord:
    name: str
    status: str  # ran | cached | failed
    seconds: float
    artifacts: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    reason: str = ""


def _current(artifact: Path, source: Path, config: object | None = None) -> bool:
    """``artifact`` exists and its sidecar (describing this very file) says it was made from this ``source``
    with this config (the benchmark's reuse rule) and from the same pictures in the photo folders the config
    names (a replaced evaluation or calibration photo makes it stale)."""
    from animegan_deploy.benchmarks.variants import _built_from
    from animegan_deploy.sidecar import sidecar_of

    if not _built_from(artifact, source, config=config):
        return False
    return config is None or sidecar_of(artifact).get("photo_digests", {}) == photo_digests(config)


def photo_digests(config: object) -> dict[str, str]:
    from animegan_deploy.pipeline.cache import canonical_json, folder_digests

    return folder_digests(json.loads(canonical_json(config)))


def stamp_photo_digests(artifact: Path, config: object) -> None:
    """Record in ``artifact``'s sidecar the pictures its config's photo folders held when it was made."""
    from animegan_deploy.sidecar import sidecar_path

    path = sidecar_path(artifact)
    if path.is_file():
        atomic_write_json(path, {**json.loads(path.read_text()), "photo_digests": photo_digests(config)})


def run_student_recipe(teacher: str | Path, student_config: StudentConfig, config: StudentRecipeConfig,
                       out_dir: str | Path, progress: Callable[[str], None] = print) -> dict:
    """Run (or resume) the whole recipe into ``out_dir``; returns the ``pipeline.json`` record."""
    started = time.perf_counter()
    teacher, out = check_checkpoint(teacher, "--weights"), check_output_dir(out_dir, "--output", inputs=[teacher])
    from .photos import default_unseen_photos

    eval_dir = config.eval_dir or student_config.eval_dir or str(default_unseen_photos())
    for flag, folder in (("--eval-dir", eval_dir), ("--calib-dir", config.calib_dir),
                         ("--photo-dir", student_config.photo_dir)):
        check_photo_folder(folder, flag, exclude=out)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, ".student-recipe.lock", "student recipe"):
        return _run_recipe(teacher, student_config, config, out, eval_dir, started, progress)


def _run_recipe(teacher: Path, student_config: StudentConfig, config: StudentRecipeConfig, out: Path, eval_dir: str,
                started: float, progress: Callable[[str], None]) -> dict:
    from animegan_deploy.benchmarks.suite import BenchmarkConfig, run_benchmark
    from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx

    from .quantize import QuantizeConfig, quantize_onnx

    student_config = dataclasses.replace(student_config, eval_dir=eval_dir)
    stages: list[StageRecord] = []

    def stage(name: str, artifact: Path, source: Path, stage_config: object | None, build: Callable[[], dict]) -> None:
        began = time.perf_counter()
        if _current(artifact, source, stage_config):
            stages.append(StageRecord(name, "cached", 0.0, [str(artifact)]))
            progress(f"{name}: cached ({artifact})")
            return
        progress(f"{name}: running")
        metrics = build()
        if stage_config is not None:
            stamp_photo_digests(artifact, stage_config)
        stages.append(StageRecord(name, "ran", round(time.perf_counter() - began, 1), [str(artifact)], metrics))

    student_path = out / "student.safetensors"

    def build_student() -> dict:
        result = make_student(teacher, student_config, student_path, progress=True)
        if not result.finished:
            raise UserError("the student stage paused; run the recipe again to continue")
        fid = result.metrics["fidelity_vs_teacher"]
        return {"psnr_db": fid["psnr_db"], "ssim": fid["ssim"], "gmacs": result.metrics["student"]["gmacs"],
                "width_ratio": result.metrics["width_ratio"]}

    stage("student", student_path, teacher, student_config, build_student)

    onnx_path = out / "student.onnx"
    onnx_config = OnnxExportConfig(validate_sizes=((config.size, config.size), (64, 96)))
    stage("export-onnx", onnx_path, student_path, onnx_config,
          lambda: {"nodes": export_onnx(student_path, onnx_config, onnx_path).nodes})

    int8_path = out / "student.int8.onnx"
    quant_config = QuantizeConfig(method=config.int8_method, placement="onnxruntime", size=config.size,
                                  calib_dir=config.calib_dir or student_config.photo_dir, eval_dir=eval_dir)

    def build_int8() -> dict:
        from .report import checkpoint_reference

        reference = checkpoint_reference(teacher)  # fidelity vs the original, not the student
        result = quantize_onnx(onnx_path, quant_config, int8_path, reference=reference, progress=True,
                               provenance=onnx_path)
        return {"psnr_db_vs_original": result.fidelity.psnr, "ssim": result.fidelity.ssim}

    stage("quantize", int8_path, onnx_path, quant_config, build_int8)

    if config.tflite:
        from animegan_deploy.export.tflite import TFLiteConfig, export_tflite

        tflite_dir = out / "tflite"
        tfl_config = TFLiteConfig(size=config.size, precisions=config.tflite, calib_dir=quant_config.calib_dir,
                                  eval_dir=eval_dir, allow_lossy=True)
        wanted = {k: tflite_dir / f"student_{k}.tflite" for k in config.tflite}

        def build_tflite() -> dict:
            result = export_tflite(student_path, tfl_config, tflite_dir)
            return {r.kind: {"status": r.status, "psnr_db_vs_student": r.psnr_db, "reason": r.reason}
                    for r in result.files}

        first = next(iter(wanted.values()))
        if all(_current(p, student_path) for p in wanted.values()):
            stages.append(StageRecord("export-tflite", "cached", 0.0, [str(p) for p in wanted.values()]))
        else:
            try:
                stage("export-tflite", first, student_path, None, build_tflite)
            except UserError as exc:  # TFLite tools missing: the rest of the recipe stands
                stages.append(StageRecord("export-tflite", "failed", 0.0, [], {}, str(exc)))

    variants = student_variants("student", out, config.tflite)
    record = {"teacher": str(teacher), "out": str(out), "eval_dir": str(eval_dir)}
    if not config.benchmark:
        record.update(seconds=round(time.perf_counter() - started, 1), machine={},
                      stages=[dataclasses.asdict(s) for s in stages], benchmark=[])
        atomic_write_json(out / "pipeline.json", record)
        return record
    bench_config = BenchmarkConfig(sizes=(config.size,), threads=(config.bench_threads,), formats=("onnx",),
                                   variants=tuple(variants), repeats=config.repeats, photos=eval_dir,
                                   photo_count=config.photo_count, tflite_dir=None,
                                   work_dir=str(out / "benchmark" / "artifacts"))
    began = time.perf_counter()
    bench = run_benchmark(teacher, bench_config, out / "benchmark", progress=progress)
    stages.append(StageRecord("benchmark", "ran", round(time.perf_counter() - began, 1),
                              [str(p) for p in bench.files.values()]))
    rows = [pipeline_row(r) for r in bench.rows]
    record.update(seconds=round(time.perf_counter() - started, 1), machine=bench.machine,
                  stages=[dataclasses.asdict(s) for s in stages], benchmark=rows,
                  student_int8_vs_fp32_fps=int8_speedup(rows))
    atomic_write_json(out / "pipeline.json", record)
    atomic_write_text(out / "pipeline.md", pipeline_markdown(record))
    return record


def student_variants(label: str, out: Path, tflite_kinds: tuple[str, ...] = TFLITE_KINDS) -> list[str]:
    """``NAME=PATH`` benchmark variants of the recipe artifacts in ``out`` that exist."""
    files = [("torch", out / "student.safetensors"), ("onnx", out / "student.onnx"),
             ("onnx int8", out / "student.int8.onnx")]
    files += [(f"tflite {k}", out / "tflite" / f"student_{k}.tflite") for k in tflite_kinds]
    return [f"{label} {kind}={path}" for kind, path in files if path.is_file()]


def int8_speedup(rows: list[dict], fp32: str = "student onnx", int8: str = "student onnx int8") -> float | None:
    """fps of the student's INT8 ONNX over its FP32 ONNX, both from the same benchmark run."""
    by_name = {r["variant"]: r for r in rows if r.get("status") == "ok" and r.get("fps")}
    return round(by_name[int8]["fps"] / by_name[fp32]["fps"], 3) if fp32 in by_name and int8 in by_name else None


def pipeline_markdown(record: dict) -> str:
    machine = record["machine"]
    ratio = int8_speedup(record["benchmark"])
    lines = [f"# Student recipe: `{Path(record['teacher']).name}`", "",
             f"{record['seconds']:.0f} s in all on {machine.get('cpu', 'this CPU')} (int8 dot product: "
             f"{machine.get('int8_dot_product') or 'none'}).",
             f"Student INT8 / FP32 ONNX Runtime fps in the same run: {ratio if ratio is not None else 'n/a'}.", "",
             "| stage | status | seconds |", "| --- | --- | ---: |"]
    lines += [f"| {s['name']} | {s['status']}{' (' + s['reason'] + ')' if s['reason'] else ''} | {s['seconds']} |"
              for s in record["stages"]]
    return "\n".join(lines + [""] + benchmark_lines(record["benchmark"])) + "\n"
