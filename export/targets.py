"""The one table of export targets: what `animegan export`, `check-fidelity`, the backends, the benchmark, the
pipeline's plan and its gate know about the files this project makes.

A ``Format`` is one exporter (`animegan export NAME`): its module, function and typed config, the backend that runs
its files, the function that builds its targets for a benchmark, and the pipeline stage that makes it (none for
``onnx-int8``: that is the [quantize] stage's file). A ``Target`` is one file kind of a format (format x precision):
its precision label, the fidelity threshold set it is held to, its file name, and what it needs to be built.

Every other list is a view of these two: the CLI's export subcommands, ``check-fidelity``'s threshold sets, TFLite's
kinds, TensorRT's precisions, the benchmark's ``--formats`` and its rows, the pipeline's ``[export] formats`` and
its plan. Adding a target is one entry here plus its build function (tests/test_fake_target.py adds one).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from animegan_deploy.lazy_import import resolve

__all__ = ["FORMATS", "TARGETS", "Format", "Target", "resolve", "targets", "threshold_set", "threshold_sets"]


@dataclass(frozen=True)
class Format:
    name: str  # CLI name: `animegan export NAME`
    suffix: str  # how the exporter's default file name ends
    backend: str  # runtime backend (animegan_deploy.backends) that runs its files
    module: str  # module holding the exporter
    function: str  # exporter: fn(checkpoint, config, output) -> result with .path and .summary()
    config: str  # name of the config dataclass in ``module``
    description: str
    build: str | Callable[..., Any]  # fn(checkpoint, targets, size, folder) -> list[Built]: makes its targets' files
    stage: str | Callable[..., Any] | None = None  # fn(PlanContext) -> Planned: the pipeline stage; None: not one
    needs: tuple[str, ...] = ("model",)  # pipeline inputs: model (checkpoint), onnx (FP32 ONNX), onnx int8 (Q/DQ)
    directory: bool = False  # the exporter writes several files into a folder

    def load(self) -> tuple[Callable[..., Any], type]:
        mod = importlib.import_module(self.module)
        return getattr(mod, self.function), getattr(mod, self.config)

    def default_output(self, checkpoint: Path) -> Path:
        if self.directory:
            return Path("exports") / f"{checkpoint.stem}_{self.name}"
        return Path("exports") / f"{checkpoint.stem}{self.suffix}"


@dataclass(frozen=True)
class Target:
    format: str  # FORMATS key
    precision: str  # label in sidecars, benchmark rows and gate checks
    suffix: str  # file name: <checkpoint stem><suffix>
    thresholds: str  # section of benchmarks/fidelity_thresholds.toml it is held to
    group: str = ""  # the benchmark's --formats entry that builds it (default: the format)
    kind: str | None = None  # TFLite: the onnx2tf kind
    placement: str | None = None  # INT8 ONNX: the Q/DQ placement (compress/quantize.py)
    row: str = ""  # benchmark row name (default "<format> <precision>")
    benchmarked: bool = True  # built by the benchmark's default --formats

    @property
    def name(self) -> str:
        return self.row or f"{self.format} {self.precision}"

    @property
    def builder(self) -> str:
        return self.group or self.format

    @property
    def backend(self) -> str:
        return FORMATS[self.format].backend

    @property
    def gpu(self) -> bool:
        """Needs an NVIDIA GPU to build and run (its backend needs pycuda)."""
        from animegan_deploy.backends.registry import BACKENDS

        return "pycuda" in BACKENDS[self.backend].requires

    def file(self, checkpoint: Path, folder: Path) -> Path:
        return folder / f"{checkpoint.stem}{self.suffix}"


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("onnx", ".onnx", "onnxruntime", "animegan_deploy.export.onnx_export", "export_onnx", "OnnxExportConfig",
           "ONNX (opset >= 17, dynamic batch/height/width, onnxsim-simplified, validated vs torch)",
           build="animegan_deploy.export.builds:build_onnx", stage="animegan_deploy.pipeline.stages:plan_onnx"),
    Format("onnx-int8", ".int8.onnx", "onnxruntime", "animegan_deploy.export.onnx_int8", "export_onnx_int8",
           "QuantizeConfig",
           "INT8 Q/DQ ONNX (TensorRT rules) with calibration cache and ranges, checked vs the FP32 torch model",
           build="animegan_deploy.export.builds:build_onnx_int8"),
    Format("onnx-dynamic", ".int8-dyn.onnx", "onnxruntime", "animegan_deploy.export.onnx_dynamic",
           "export_onnx_dynamic", "DynamicQuantizeConfig",
           "INT8 ONNX with activation scales computed per picture at run time (ONNX Runtime ConvInteger; no "
           "calibration), checked vs the FP32 torch model", build="animegan_deploy.export.builds:build_onnx_dynamic",
           stage="animegan_deploy.pipeline.stages:plan_onnx_dynamic"),
    Format("tflite", ".tflite", "tflite", "animegan_deploy.export.tflite", "export_tflite", "TFLiteConfig",
           "TFLite float32/float16/dynamic-range/integer/full-integer via onnx2tf, each checked with LiteRT vs torch "
           "(output: a folder)", build="animegan_deploy.export.builds:build_tflite",
           stage="animegan_deploy.pipeline.stages:plan_tflite", directory=True),
    Format("tensorrt", ".engine", "tensorrt", "animegan_deploy.export.tensorrt", "export_tensorrt", "TensorRTConfig",
           "TensorRT engine FP32/FP16/INT8 (Q/DQ strongly typed, or calibration cache for TensorRT <= 10.0); needs the "
           "tensorrt extra and a GPU", build="animegan_deploy.export.builds:build_tensorrt",
           stage="animegan_deploy.pipeline.stages:plan_tensorrt", needs=("model", "onnx", "onnx int8")),
)}

TARGETS: tuple[Target, ...] = (
    Target("onnx", "fp32", ".onnx", "fp32"),
    Target("onnx", "fp16", ".fp16.onnx", "fp16", group="onnx-fp16"),
    # the INT8 ONNX files: TensorRT's (what an engine builds from), ONNX Runtime CPU's (one QLinearConv per conv),
    # and TensorRT's with two-digit conv inputs (fidelity on outlier photos for twice the int8 conv work)
    Target("onnx-int8", "int8", ".int8.onnx", "int8", placement="tensorrt", row="onnx int8 q/dq"),
    # (each keeps its most sensitive convs float until its placement's target PSNR on the validation photos:
    # TensorRT's 40 dB, ONNX Runtime's 36, compress/quantize.py PLACEMENTS)
    Target("onnx-int8", "int8", ".int8-ort.onnx", "int8", placement="onnxruntime-conv", row="onnx int8 qlinearconv"),
    Target("onnx-int8", "int8", ".int8-2d.onnx", "int8", placement="tensorrt-two-digit", row="onnx int8 two-digit"),
    # and TensorRT's with each conv input scaled to its picture's own range before a constant-scale Q/DQ: a flat
    # photo's normalized edges kept (default model, every conv int8: worst unseen picture 29.25 -> 39.95 dB)
    Target("onnx-int8", "int8", ".int8-pp.onnx", "int8", placement="tensorrt-per-picture",
           row="onnx int8 per-picture"),
    # ONNX Runtime's dynamic quantization: a scale per picture, so low-contrast pictures keep their int8 levels
    # (moon.png 19.6 -> 38.8 dB on the default, reports/int8); ConvInteger runs on the CPU only
    Target("onnx-dynamic", "int8", ".int8-dyn.onnx", "int8", row="onnx int8 dynamic"),
    Target("tflite", "fp32", "_float32.tflite", "fp32", kind="float32", row="tflite float32"),
    Target("tflite", "fp16", "_float16.tflite", "fp16", kind="float16", row="tflite float16"),
    Target("tflite", "int8-weights", "_dynamic_range_quant.tflite", "int8", kind="dynamic_range_quant",
           row="tflite dynamic_range_quant"),
    Target("tflite", "int8-float-io", "_integer_quant.tflite", "int8", kind="integer_quant", row="tflite integer_quant",
           benchmarked=False),
    Target("tflite", "int8", "_full_integer_quant.tflite", "int8", kind="full_integer_quant",
           row="tflite full_integer_quant"),
    # TFLite's 16x8 mode: int16 activations, int8 weights, float I/O (spends speed for fidelity)
    Target("tflite", "int16x8", "_int16x8_quant.tflite", "int16x8", kind="int16x8_quant", row="tflite int16x8_quant",
           benchmarked=False),
    Target("tensorrt", "fp32", ".fp32.engine", "fp32"),
    Target("tensorrt", "fp16", ".fp16.engine", "fp16"),
    Target("tensorrt", "int8", ".int8.engine", "int8"),
)


def targets(fmt: str | None = None, group: str | None = None, benchmarked_only: bool = False) -> tuple[Target, ...]:
    return tuple(t for t in TARGETS if (fmt is None or t.format == fmt) and (group is None or t.builder == group)
                 and (t.benchmarked or not benchmarked_only))


def benchmark_groups() -> tuple[str, ...]:
    """The benchmark's ``--formats`` names, in table order."""
    return tuple(dict.fromkeys(t.builder for t in TARGETS))


def pipeline_formats() -> tuple[str, ...]:
    """The formats a pipeline's [export] stage can make (those with a stage)."""
    return tuple(name for name, f in FORMATS.items() if f.stage is not None)


def tflite_kinds(benchmarked_only: bool = False) -> dict[str, tuple[str, str]]:
    """onnx2tf kind -> (precision label, threshold set)."""
    return {t.kind: (t.precision, t.thresholds) for t in targets("tflite", benchmarked_only=benchmarked_only)
            if t.kind}


def tensorrt_precisions() -> tuple[str, ...]:
    return tuple(t.precision for t in targets("tensorrt"))


def threshold_sets() -> tuple[str, ...]:
    """The sections of benchmarks/fidelity_thresholds.toml the targets are held to, in table order."""
    return tuple(dict.fromkeys(t.thresholds for t in TARGETS))


def threshold_set(precision: str) -> str:
    """The thresholds section a precision label is held to (TFLite's int8-weights / int8-float-io are int8)."""
    return {t.precision: t.thresholds for t in TARGETS}.get(precision, precision)
