"""``animegan pipeline run``: the stages in order, each reused when its cache key matches, into one folder.

Order: train (optional) -> prune -> distill -> student (optional) -> export onnx (the FP32 ONNX quantize
calibrates) -> export tflite -> quantize -> export tensorrt (its INT8 engine from quantize's file) -> benchmark -> gate. Each stage's record (``DIR/<stage>/stage.json``: cache key,
outputs with their sha256, metrics) is written last, atomically, so a run killed at any moment and started again
reuses exactly the stages that finished; a long stage (train, distill) resumes its own checkpoints. The run ends
with ``pipeline.json``, ``report.md`` and ``report.html`` (written even when a stage or the gate failed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from animegan_deploy.atomic import atomic_write_json, remove_dead_temporaries
from animegan_deploy.errors import MissingDependencyError, UserError, failure_reason
from animegan_deploy.lock import FolderLock
from animegan_deploy.inputs import check_checkpoint, check_photo_folder

from . import stages as S
from animegan_deploy.benchmarks.report import pipeline_row

from .cache import cache_key, canonical_json, record_current, stamp_key
from .report import relative
from .config import PipelineConfig

EXPORT = "export"  # the config section of every export format's stage


def _export_ids(after_quantize: bool) -> tuple[str, ...]:
    """The pipeline formats (export/targets.py) whose stage runs before [quantize] (TFLite calibrates on its own,
    so a changed [quantize] re-runs only what follows it) or after it (those that need its INT8 ONNX)."""
    from animegan_deploy.export.targets import FORMATS, pipeline_formats

    return tuple(f for f in pipeline_formats() if ("onnx int8" in FORMATS[f].needs) == after_quantize)


def stage_ids() -> tuple[str, ...]:
    return ("train", "prune", "distill", "student", *_export_ids(False), "quantize", *_export_ids(True), "benchmark",
            "gate")


def section_of(stage_id: str) -> str:
    from animegan_deploy.export.targets import pipeline_formats

    return EXPORT if stage_id in pipeline_formats() else stage_id


RECORD = "stage.json"


@dataclass
class Planned:
    id: str
    folder: str
    fn: Callable[..., S.StageResult] | None  # None: the gate (evaluated by the runner)
    inputs: dict[str, Path | str | None]
    config: Any

    @property
    def section(self) -> str:
        return section_of(self.id)


@dataclass
class PipelineRun:
    out: Path
    stages: list[S.StageResult] = field(default_factory=list)
    benchmark: list[dict] = field(default_factory=list)
    machine: dict = field(default_factory=dict)
    gate: dict = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(s.status in ("ran", "cached", "unavailable", "would run") for s in self.stages) and \
            self.gate.get("passed", True)


def stage_ids_for(name: str) -> list[str]:
    """A --from/--until name (a config section or a stage id) -> the stage ids it stands for."""
    from animegan_deploy.export.targets import pipeline_formats

    ids = [i for i in stage_ids() if i == name or section_of(i) == name]
    if not ids:
        sections = dict.fromkeys(section_of(i) for i in stage_ids())  # the plan's order, each section once
        raise UserError(f"--from/--until {name}: choose one of {', '.join(sections)} (or {', '.join(pipeline_formats())})")
    return ids


SCRATCH_PREFIX = ".animegan-scratch-"  # + the run's pid; holds SCRATCH_MARK, written when the run made it
SCRATCH_MARK = ".made-by-animegan-pipeline"


def make_scratch(out: Path) -> Path:
    """This run's own temporary folder in ``out`` (library temp folders die with the run folder)."""
    scratch = out / f"{SCRATCH_PREFIX}{os.getpid()}"
    scratch.mkdir(exist_ok=True)
    (scratch / SCRATCH_MARK).write_text(str(os.getpid()))
    return scratch


def clean_leftovers(out: Path) -> list[Path]:
    """Temporary files and scratch folders a killed run of this tool left in ``out`` (their writer is gone):
    only what is journaled or marked as ours, never a user's file or folder that looks temporary."""
    from animegan_deploy.atomic import _alive

    removed = remove_dead_temporaries(out)
    for scratch in out.glob(f"{SCRATCH_PREFIX}*"):
        pid = scratch.name[len(SCRATCH_PREFIX):]
        if (scratch / SCRATCH_MARK).is_file() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(scratch, ignore_errors=True)
            removed.append(scratch)
    return removed


def _plan(config: PipelineConfig, source: Path, eval_dir: str) -> list[Planned]:
    """The enabled stages with their inputs and configs; inputs named ``@stage:label`` are filled in from
    earlier stages' outputs as the run goes."""
    from animegan_deploy.export.targets import FORMATS, resolve

    data, export = config.data, config.export
    plan: list[Planned] = []
    model: Path | str = source
    if config.train.enabled:
        # the train TOML's content is an input: editing it re-runs training
        plan.append(Planned("train", "train", S.train_stage, {"train config": Path(config.train.config)}, config.train))
        model = "@train:generator"
    original = model
    if config.prune.enabled:
        plan.append(Planned("prune", "prune", S.prune_stage, {"model": model}, config.prune.config))
        model = "@prune:model"
    if config.distill.enabled:
        student = config.distill.extras["student"]
        plan.append(Planned("distill", "distill", S.distill_stage,
                            {"student": model if student == "pruned" else student, "teacher": original},
                            config.distill.config))
        model = "@distill:model"
    if config.student.enabled:
        plan.append(Planned("student", "student", S.student_stage, {"teacher": model}, config.student.config))
        model = "@student:model"
    context = S.PlanContext(config, model, eval_dir)
    # each export format's stage, from the targets table; a format another needs (TensorRT: the FP32 ONNX) comes too
    wanted = set(export.formats) | {"onnx" for f in export.formats if "onnx" in FORMATS[f].needs}
    for after_quantize in (False, True):
        if after_quantize and config.quantize.enabled:
            quantize = dataclasses.replace(config.quantize.config, eval_dir=config.quantize.config.eval_dir or eval_dir)
            # from the checkpoint: equalization (chosen per model) changes the FP32 graph that is calibrated
            plan.append(Planned("quantize", "quantize", S.quantize_stage, {"model": model}, quantize))
        for name in _export_ids(after_quantize):
            if name in wanted:
                made = resolve(FORMATS[name].stage)(context)
                plan.append(Planned(name, f"{EXPORT}/{name}", made.fn, made.inputs, made.config))
    if config.benchmark.enabled:
        b = config.benchmark
        plan.append(Planned("benchmark", "benchmark", S.benchmark_stage, {"original": original, "@all": None},
                            S.BenchmarkStageConfig(data.size, eval_dir, data.eval_count, b.repeats, b.warmup,
                                                   b.threads, b.sample_photos)))
    if config.gate.enabled:
        plan.append(Planned("gate", "gate", None, {}, config.gate))
    return plan


# torch variants the benchmark measures besides the exported files
VARIANT_NAMES = {"prune": "pruned", "distill": "distilled", "student": "student"}


def run_pipeline(config: PipelineConfig, out: str | Path, *, from_stage: str | None = None,
                 until: str | None = None, dry_run: bool = False, force: bool = False, break_lock: bool = False,
                 progress: Callable[[str], None] = print) -> PipelineRun:
    """Run (or resume) the pipeline into ``out``; returns the record also written as ``pipeline.json``."""
    from animegan_deploy.compress.photos import default_unseen_photos

    started = time.perf_counter()
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: a file is there; the pipeline writes a folder")
    for option, value in (("--from", from_stage), ("--until", until)):
        if value is not None and not value.strip():
            raise UserError(f"{option} is empty; name a stage (train, prune, distill, student, quantize, export, "
                            "benchmark, gate) or leave the option out")
    source = None if config.train.enabled else check_checkpoint(config.source.weights, "[source] weights")
    eval_dir = config.data.eval_dir or str(default_unseen_photos())
    _check_photo_folders(config, out, eval_dir)
    plan = _plan(config, source, eval_dir)
    ids = [p.id for p in plan]
    first = min((ids.index(i) for i in stage_ids_for(from_stage) if i in ids), default=None) if from_stage else None
    last = max((ids.index(i) for i in stage_ids_for(until) if i in ids), default=None) if until else None
    if from_stage and first is None:
        raise UserError(f"--from {from_stage}: that stage is not enabled in {config.path.name}")
    if until and last is None:
        raise UserError(f"--until {until}: that stage is not enabled in {config.path.name}")
    if first is not None and last is not None and last < first:
        raise UserError(f"--until {until} comes before --from {from_stage}; nothing would run")
    run = PipelineRun(out, dry_run=dry_run)
    if not dry_run:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"-o {out}: cannot create the folder ({exc.strerror})") from None
        if not os.access(out, os.W_OK):
            raise UserError(f"-o {out}: not writable; choose another folder")
    lock = FolderLock(out, ".pipeline.lock", "pipeline", break_lock=break_lock)
    with (lock if not dry_run else contextlib.nullcontext()):
        scratch = None
        if not dry_run:
            clean_leftovers(out)
            scratch = make_scratch(out)
        previous_tmp = tempfile.tempdir
        tempfile.tempdir = None if scratch is None else str(scratch)  # library temp folders die with the run folder
        try:
            _run_stages(plan, run, out, first, last, dry_run, force, progress)
        finally:
            tempfile.tempdir = previous_tmp
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        run.seconds = round(time.perf_counter() - started, 1)
        if not dry_run:
            from .report import write_reports

            write_reports(run, config)
    return run


def _check_photo_folders(config: PipelineConfig, out: Path, eval_dir: str) -> None:
    """The photo folders the stages will read: there, holding readable photos, not around the run folder."""
    from animegan_deploy.compress.photos import default_calibration_photos

    folders = {"[data] eval_dir": eval_dir, "[data] calib_dir": config.data.calib_dir or
               str(default_calibration_photos()), "[data] photo_dir": config.data.photo_dir}
    if config.quantize.config.eval_dir:
        folders["[quantize] eval_dir"] = config.quantize.config.eval_dir
    for option, folder in folders.items():
        check_photo_folder(folder, option, exclude=out)


def _run_stages(plan: list[Planned], run: PipelineRun, out: Path, first: int | None, last: int | None,
                dry_run: bool, force: bool, progress: Callable[[str], None]) -> None:
    produced: dict[str, dict[str, Path]] = {}  # stage id -> its outputs
    variants: dict[str, Path] = {}
    failed: set[str] = set()
    pending: set[str] = set()  # dry run: stages that would run (their outputs are not known yet)
    for index, stage in enumerate(plan):
        if last is not None and index > last:
            break
        inputs, missing = _resolve(stage, produced, variants, failed)
        tag = f"[{index + 1}/{len(plan)}] {stage.id}"
        if dry_run and (missing in pending or (stage.fn is None and pending)
                        or (stage.id == "benchmark" and pending)):
            pending.add(stage.id)
            run.stages.append(S.StageResult(stage.section, None, status="would run", format=_fmt(stage)))
            progress(f"{tag}: would run")
            continue
        if missing:
            result = S.StageResult(stage.section, None, status="failed", reason=f"needs {missing}, which did not finish",
                                   format=stage.id if stage.section == "export" else None)
            _finish(run, result, failed, stage, progress, tag)
            continue
        if stage.fn is None:  # the gate
            try:
                result = _gate(stage, run, out, dry_run)
            except (UserError, KeyError, ValueError, TypeError) as exc:  # the report is still written, saying why
                result = S.StageResult("gate", None, {}, {"passed": False}, status="failed",
                                       reason=f"the gate could not judge the run ({type(exc).__name__}: {exc})")
                run.gate = {"passed": False, "checks": [], "reason": result.reason}
            _finish(run, result, failed, stage, progress, tag)
            continue
        key = cache_key({k: v for k, v in inputs.items()}, stage.config)
        folder = out / stage.folder
        record = None if (force or (first is not None and index >= first)) else record_current(folder / RECORD, key, out)
        if record is not None:
            result = _from_record(record, out, stage)
        elif dry_run:
            result = S.StageResult(stage.section, None, status="would run", format=_fmt(stage))
            pending.add(stage.id)  # later stages cannot know their inputs yet
            run.stages.append(result)
            progress(f"{tag}: would run")
            continue
        else:
            if first is not None and index < first:
                raise UserError(f"--from {plan[first].id}: {stage.id} has no finished result for these settings; run "
                                "without --from first")
            result = _execute(stage, inputs, key, folder, out, progress, tag, restart=force)
        if result.status in ("ran", "cached"):
            produced[stage.id] = result.outputs
            if stage.id in VARIANT_NAMES and result.path is not None:
                variants[VARIANT_NAMES[stage.id]] = result.path
            elif stage.section in ("export", "quantize"):
                variants.update(result.outputs)
        if stage.id == "benchmark" and result.path is not None and result.path.is_file():
            bench = json.loads(result.path.read_text())
            run.machine = bench.get("machine", {})
            run.benchmark = [pipeline_row(r) for r in bench.get("rows", [])]
            run.benchmark += [{"variant": r.label, "backend": r.format, "precision": "-", "status": r.status,
                               "fps": None, "speedup": None, "psnr_db": None, "psnr_min_db": None, "ssim": None,
                               "size_mb": None, "gmacs": None, "photos": None, "reason": r.reason}
                              for r in run.stages if r.name == "export" and r.status == "unavailable"]
        _finish(run, result, failed, stage, progress, tag)


def _fmt(stage: Planned) -> str | None:
    return stage.id if stage.section == "export" else None


def _resolve(stage: Planned, produced: dict, variants: dict, failed: set) -> tuple[dict[str, Path | str], str | None]:
    inputs: dict[str, Path | str] = {}
    for name, value in stage.inputs.items():
        if name == "@all":
            inputs.update(variants)
            continue
        if isinstance(value, str) and value.startswith("@"):
            sid, _, label = value[1:].partition(":")
            if sid in failed or label not in produced.get(sid, {}):
                return inputs, sid
            inputs[name] = produced[sid][label]
        else:
            inputs[name] = value
    return inputs, None


def _finish(run: PipelineRun, result: S.StageResult, failed: set, stage: Planned, progress, tag: str) -> None:
    if result.status not in ("ran", "cached"):
        failed.add(stage.id)
    run.stages.append(result)
    detail = f" ({result.seconds:.1f} s)" if result.status == "ran" else ""
    reason = f": {result.reason}" if result.reason else ""
    progress(f"{tag}: {result.status}{detail}{reason}")


def _execute(stage: Planned, inputs: dict, key: str, folder: Path, out: Path, progress, tag: str,
             restart: bool = False) -> S.StageResult:
    """Run one stage; its record is written last, so a kill before that leaves the stage to run again. A stage
    that was killed with the same key resumes its own checkpoints (train, distill), unless ``restart``."""
    from animegan_deploy.sidecar import file_sha256

    progress(f"{tag}: running")
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".in-progress.json"
    resume = False
    try:
        resume = not restart and json.loads(marker.read_text()).get("cache_key") == key
    except (OSError, ValueError):
        pass
    if not resume:
        for partial in resumable_work(folder):
            shutil.rmtree(partial, ignore_errors=True)
    atomic_write_json(marker, {"cache_key": key, "pid": os.getpid()})
    began = time.perf_counter()
    try:
        result = stage.fn(inputs, stage.config, folder, progress, resume)
    except MissingDependencyError as exc:
        marker.unlink(missing_ok=True)
        return S.StageResult(stage.section, None, status="unavailable", reason=str(exc), format=_fmt(stage))
    except UserError as exc:  # a finished failure, not a kill: the marker stays only to resume checkpoints
        _drop_marker(marker)
        return S.StageResult(stage.section, None, status="failed", reason=str(exc), format=_fmt(stage))
    except Exception as exc:  # a bug in one stage: its row says what, the report is still written
        _drop_marker(marker)
        return S.StageResult(stage.section, None, status="failed", reason=failure_reason(exc), format=_fmt(stage))
    result.seconds = round(time.perf_counter() - began, 1)
    if result.status == "unavailable":
        marker.unlink(missing_ok=True)
        return result
    files = {str(p.relative_to(out)): file_sha256(p) for p in result.outputs.values() if p.is_file()}
    for artifact in result.outputs.values():  # the stage's key in each artifact's own sidecar too
        sidecar = artifact.with_name(artifact.name + ".json")
        if artifact.is_file() and sidecar.is_file() and "cache_key" not in json.loads(sidecar.read_text()):
            stamp_key(artifact, key)
    atomic_write_json(folder / RECORD, {
        "stage": stage.id, "section": stage.section, "format": result.format, "status": result.status,
        "cache_key": key, "inputs": {k: str(v) for k, v in inputs.items()},
        "config": json.loads(canonical_json(stage.config)), "path": relative(result.path, out),
        "outputs": {k: relative(v, out) for k, v in result.outputs.items()}, "output_sha256": files,
        "metrics": result.metrics, "seconds": result.seconds, "reason": result.reason})
    marker.unlink(missing_ok=True)
    return result


def resumable_work(folder: Path) -> list[Path]:
    """What a killed or failed stage leaves that a rerun with the same key resumes: training and sparsity runs'
    folders and the checkpoints folder (those that exist)."""
    found = list(folder.glob("*.run")) + list(folder.glob("*.sparsity-run")) + [folder / "checkpoints"]
    return [p for p in found if p.exists()]


def _drop_marker(marker: Path) -> None:
    """After a failed stage: the in-progress marker goes unless the stage left checkpoints a rerun resumes."""
    if not resumable_work(marker.parent):
        marker.unlink(missing_ok=True)


def _from_record(record: dict, out: Path, stage: Planned) -> S.StageResult:
    def path(text: str | None) -> Path | None:
        return None if text is None else (out / text if not Path(text).is_absolute() else Path(text))

    return S.StageResult(stage.section, path(record.get("path")), {k: path(v) for k, v in record["outputs"].items()},
                         record.get("metrics") or {}, status="cached" if record.get("status") == "ran" else
                         record.get("status", "cached"), seconds=0.0, reason=record.get("reason", ""),
                         format=record.get("format"))


def _gate(stage: Planned, run: PipelineRun, out: Path, dry_run: bool) -> S.StageResult:
    """Floors per precision on the exports (vs the model they were made from, on the evaluation photos) and
    optionally on the compressed model (vs the original). Cheap, so evaluated every time; ``cached`` when the
    verdict is the one recorded for the same inputs."""
    from animegan_deploy.benchmarks.thresholds import threshold_set

    gate = stage.config
    checks = []
    for result in run.stages:
        if result.status not in ("ran", "cached"):
            continue
        # every measured file: a stage's own figures, or each of its files' ("files": label -> figures)
        entries = [(f"{result.format or result.name} {k}", m) for k, m in result.metrics.get("files", {}).items()]
        entries.append((result.label, result.metrics))
        for label, m in entries:
            if m.get("precision") is None or "psnr_db" not in m:  # not measured against the model (FP32 ONNX)
                continue
            min_psnr, min_ssim = gate.floors(threshold_set(m["precision"]))
            psnr, ssim = m.get("psnr_db"), m.get("ssim")
            # null PSNR is "identical" only with SSIM 1; anything else unmeasured fails, never passes unchecked
            passed = (psnr is None and ssim == 1.0) or (psnr is not None and ssim is not None and psnr >= min_psnr
                                                        and ssim >= min_ssim)
            checks.append({"what": label, "precision": m["precision"], "psnr_db": psnr, "ssim": ssim,
                           "min_psnr": min_psnr, "min_ssim": min_ssim, "passed": passed, "vs": "the FP32 model"})
    if gate.model_min_psnr is not None or gate.model_min_ssim is not None:
        final = next((r for r in reversed(run.benchmark) if r["variant"] in ("distilled", "pruned", "student")
                      and r["status"] == "ok"), None)
        if final is not None:
            mp, ms = gate.model_min_psnr or 0.0, gate.model_min_ssim or 0.0
            checks.append({"what": final["variant"], "precision": "fp32", "psnr_db": final["psnr_db"],
                           "ssim": final["ssim"], "min_psnr": mp, "min_ssim": ms, "vs": "the original",
                           "passed": (final["psnr_db"] or 0) >= mp and (final["ssim"] or 0) >= ms})
    failures = [c for c in checks if not c["passed"]]
    verdict = {"passed": not failures, "checks": checks}
    key = cache_key({}, {"gate": gate, "checks": checks})
    record_path = out / "gate" / RECORD
    status = "ran"
    if not dry_run:
        previous = record_current(record_path, key, out)
        status = "cached" if previous is not None else "ran"
        if previous is None:
            atomic_write_json(record_path, {"stage": "gate", "cache_key": key, "metrics": verdict, "status": "ran"})
    run.gate = verdict
    reason = "; ".join(f"{c['what']} {c['psnr_db']} dB / SSIM {c['ssim']} below {c['min_psnr']} dB / {c['min_ssim']}"
                       for c in failures)
    return S.StageResult("gate", None, {}, {"passed": not failures, "checks": len(checks)},
                         status="failed" if failures else status, reason=reason)
