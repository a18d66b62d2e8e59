"""`animegan benchmark`: every variant x backend x resolution x thread count against the FP32 torch original.

Per (size, threads) all runnable variants are loaded side by side, warmed up, and then timed round-robin
(``interleaved_latency``) so machine noise hits all of them alike; speedups are ratios to the original's
median measured in that same loop. Fidelity (PSNR/SSIM on [0, 255] vs the original's output) is measured
once per variant and size on the photo set. Rows that cannot be measured keep their status and reason.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from animegan_deploy.configs import option
from animegan_deploy.errors import MissingDependencyError, UserError, failure_reason
from animegan_deploy.export.targets import benchmark_groups

from .row import benchmark_row
from .variants import Variant, build_variants


@dataclass
class BenchmarkConfig:
    sizes: tuple[int, ...] = option((256,), "square input sizes to measure, e.g. --sizes 256 512")
    threads: tuple[int, ...] = option((2,), "CPU thread counts to measure, e.g. --threads 1 2")
    formats: tuple[str, ...] = option(benchmark_groups(), "export formats to build (or reuse) and measure: "
                                      + ", ".join(benchmark_groups()))
    variants: tuple[str, ...] = option((), "extra variants NAME=PATH (a pruned/distilled checkpoint, any exported "
                                       "file)")
    warmup: int = option(1, "untimed runs per variant before timing")
    repeats: int = option(5, "timed runs per variant (round-robin across variants)")
    photos: str | None = option(None, "photos for PSNR/SSIM vs the original (default: the 15 unseen pictures)",
                                flag="eval-dir", aliases=("photos",))
    photo_count: int = option(15, "at most this many photos for fidelity")
    tflite_dir: str | None = option("exports/tflite_{size}", "where `make export-tflite` put the TFLite files "
                                    "({size} is replaced); missing files are exported")
    work_dir: str | None = option(None, "where built variants are kept (default: OUTPUT/artifacts)")
    merge: tuple[str, ...] = option((), "device JSON files (benchmarks/device_runner.py, --android) to merge")
    compare: str | None = option(None, "an earlier benchmark.json: print regressions against it")
    device_bundle: str | None = option(None, "also write a folder to copy to a device: device_runner.py, the "
                                       "exported files and reference_<size>.npz (inputs + original outputs)")
    android: bool = option(False, "also run the TFLite files on an adb-connected Android device")
    benchmark_model: str | None = option(None, "TFLite's benchmark_model binary for the device (--android)")
    profile: bool = option(False, "also profile every ONNX Runtime variant per operator type (ORT's profiler, first "
                           "size and thread count) into ort-profile.md/json: where the time goes")

    def __post_init__(self) -> None:
        for name in ("sizes", "threads", "formats", "variants", "merge"):
            value = getattr(self, name)
            if isinstance(value, str):
                parts = tuple(p.strip() for p in value.split(",") if p.strip())
                setattr(self, name, tuple(int(p) for p in parts) if name in ("sizes", "threads") else parts)
        if not self.sizes or min(self.sizes) < 16 or any(s % 4 for s in self.sizes):
            raise UserError(f"--sizes {self.sizes}: each must be a multiple of 4, at least 16")
        if not self.threads or min(self.threads) < 1:
            raise UserError(f"--threads {self.threads}: each must be at least 1")
        if self.repeats < 1 or self.warmup < 0:
            raise UserError("--repeats must be >= 1 and --warmup >= 0")


@dataclass
class BenchmarkResult:
    folder: Path
    machine: dict
    rows: list[dict]
    seconds: float
    regressions: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder

    def summary(self) -> list[str]:
        from .report import markdown_table, with_peak_share

        lines = markdown_table(with_peak_share(self.rows, self.machine)).splitlines()
        lines += [f"REGRESSION {r}" for r in self.regressions]
        return lines + [f"wrote {', '.join(str(p) for p in self.files.values())} ({self.seconds:.0f} s)"]


class PeakRss:
    """Peak resident memory growth of this process while the block runs (sampled every 5 ms)."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakRss":
        self.base = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def grown_mb(self) -> float:
        return (self.peak - self.base) / 2**20


class _Memo:
    """The original's outputs, computed once per input array (the photo set is reused for every variant)."""

    def __init__(self, runner) -> None:
        self.runner = runner
        self.outputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if id(x) not in self.outputs:
            self.outputs[id(x)] = (x, self.runner(x))  # keeps x alive, so its id stays unique
        return self.outputs[id(x)][1]


def _cost(checkpoint: Path | None, size: int, cache: dict) -> tuple[int | None, float | None]:
    if checkpoint is None:
        return None, None
    key = (checkpoint, size)
    if key not in cache:
        from animegan_deploy.models.checkpoints import load_generator

        from .cost import count_parameters, gmacs

        model = load_generator(checkpoint).model
        cache[key] = (count_parameters(model), round(gmacs(model, size), 3))
    return cache[key]


def _row(v: Variant, size: int, threads: int | None, **values: object) -> dict:
    row = dict(variant=v.name, backend=v.backend, precision=v.precision, where="local", size=size, threads=threads,
               status=v.status, reason=v.reason,
               file_mb=round(v.path.stat().st_size / 1e6, 3) if v.path and v.path.is_file() else None)
    row.update(values)
    return benchmark_row(**row)


def measure(variants: list[Variant], config: BenchmarkConfig, photos: list[Path], progress=print) -> list[dict]:
    """Rows for every variant at every size and thread count (see the module docstring)."""
    from animegan_deploy.backends import load_runner

    from .cost import interleaved_latency
    from .fidelity import compare, eval_inputs

    rows: list[dict] = []
    costs: dict = {}
    original = variants[0]
    for size in config.sizes:
        inputs = eval_inputs(photos, size, square=True)
        timing_input = inputs[0][1]
        fidelity: dict[str, tuple[float, float, float]] = {}
        reference = _Memo(load_runner(original.path, backend="torch", threads=config.threads[0]))

        for threads in config.threads:
            progress(f"size {size}, {threads} thread(s): loading and warming up {len(variants)} variants")
            runners, loaded, memory, done = {}, [], {}, {}
            for v in variants:
                if v.status != "ready":
                    done[v.name] = _row(v, size, threads)
                    continue
                if v.fixed_size is not None and v.fixed_size != size:
                    done[v.name] = _row(v, size, threads, status="unavailable",
                                        reason=f"the file's input is fixed at {v.fixed_size}x{v.fixed_size}")
                    continue
                try:
                    with PeakRss() as rss:
                        runner = load_runner(v.path, backend=v.backend, threads=threads)
                        for _ in range(config.warmup):
                            runner(timing_input)
                        if v.name not in fidelity:
                            fid = compare(reference, runner, inputs, labels=(f"the original {original.path.name}",
                                                                             f"{v.name} ({v.path.name})"))
                            fidelity[v.name] = (fid.psnr, fid.ssim, fid.psnr_min)
                except MissingDependencyError as exc:
                    done[v.name] = _row(v, size, threads, status="unavailable", reason=str(exc))
                    continue
                except Exception as exc:  # one broken variant must not stop the suite
                    done[v.name] = _row(v, size, threads, status="failed", reason=failure_reason(exc))
                    continue
                memory[v.name] = rss.grown_mb
                runners[v.name] = (lambda r=runner: r(timing_input))
                loaded.append(v)
            progress(f"size {size}, {threads} thread(s): timing {len(runners)} variants round-robin, "
                     f"{config.repeats} runs each")
            times = interleaved_latency(runners, repeats=config.repeats, warmup=0)
            base = float(np.median(times[original.name])) if original.name in times else None
            for v in loaded:
                t = np.asarray(times[v.name]) * 1e3
                params, macs = _cost(v.cost_checkpoint, size, costs)
                psnr, ssim, worst = fidelity[v.name]
                median = float(np.median(t))
                done[v.name] = _row(
                    v, size, threads, status="ok", latency_ms_median=round(median, 2),
                    latency_ms_p10=round(float(np.percentile(t, 10)), 2),
                    latency_ms_p90=round(float(np.percentile(t, 90)), 2), fps=round(1e3 / median, 3),
                    speedup_vs_original=round(base * 1e3 / median, 3) if base else None, params=params,
                    gmacs=macs, peak_rss_mb=round(memory[v.name], 1),
                    psnr_db=None if not np.isfinite(psnr) else round(psnr, 2),
                    psnr_min_db=None if not np.isfinite(worst) else round(worst, 2), ssim=round(ssim, 4),
                    photos=len(inputs))
            rows += [done[v.name] for v in variants]
            del runners
    return rows


def run_benchmark(checkpoint: str | Path, config: BenchmarkConfig, output: str | Path, progress=print) -> BenchmarkResult:
    """Build or reuse the variants, measure them, merge device results, write the reports into ``output``."""
    from animegan_deploy.compress.photos import default_eval_photos

    from animegan_deploy.inputs import check_photo_folder

    from .device import merge_device_results, run_android, write_device_bundle
    from .machine import machine_info
    from animegan_deploy.ownership import check_replaceable

    from .ort_profile import PROFILE_FILES
    from .report import REPORT_FILES, compare_results, write_reports

    started = time.perf_counter()
    checkpoint, folder = Path(checkpoint), Path(output)
    photo_dir = Path(config.photos) if config.photos else default_eval_photos()
    photos = check_photo_folder(photo_dir, "--eval-dir")[: config.photo_count]  # every photo decodes, before work
    device_rows = merge_device_results(config.merge)  # --merge / --compare files checked before any work
    if config.compare:
        compare_results(Path(config.compare), [])
    for name in [*REPORT_FILES.values(), *(PROFILE_FILES if config.profile else ())]:
        check_replaceable(folder / name, "--output")  # a user's file there is refused now, not after the work
    workdir = Path(config.work_dir) if config.work_dir else folder / "artifacts"
    variants = build_variants(checkpoint, config.formats, config.variants, config.sizes, workdir,
                              tflite_dir=config.tflite_dir, progress=progress)
    rows = measure(variants, config, photos, progress=progress)
    if config.android:
        rows += run_android([v for v in variants if v.backend == "tflite" and v.status == "ready"],
                            config.benchmark_model, progress=progress)
    rows += device_rows
    if config.device_bundle:
        write_device_bundle(Path(config.device_bundle), variants, config.sizes, photos)
        progress(f"device bundle in {config.device_bundle}: copy it over and run device_runner.py (see its --help)")
    machine = machine_info()
    machine["peak_rss_mb_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result = BenchmarkResult(folder, machine, rows, time.perf_counter() - started)
    result.files = write_reports(result, checkpoint, config, photos)
    if config.profile:
        from .ort_profile import profile_variants, write_profile

        progress("profiling the ONNX Runtime variants per operator type")
        profiles = profile_variants(variants, config.sizes[0], config.threads[0])
        result.files.update(zip(("ort profile json", "ort profile md"),
                                write_profile(folder, profiles, config.sizes[0], config.threads[0])))
    if config.compare:
        result.regressions = compare_results(Path(config.compare), rows)
    return result
