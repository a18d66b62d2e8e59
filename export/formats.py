"""The single table of export formats: it drives ``animegan export``, the backends that run each file and
(later) the benchmark suite. Adding a format is one entry here plus its exporter module."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class ExportFormat:
    name: str  # CLI name: `animegan export NAME`
    suffix: str  # file suffix of the artifact
    backend: str  # runtime backend (animegan_deploy.backends) that runs the artifact
    module: str  # module holding the exporter
    function: str  # exporter: fn(checkpoint, config, output) -> result with .path
    config: str  # name of the config dataclass in ``module``
    description: str
    directory: bool = False  # the exporter writes several files into a folder

    def load(self) -> tuple[Callable[..., Any], type]:
        mod = importlib.import_module(self.module)
        return getattr(mod, self.function), getattr(mod, self.config)

    def default_output(self, checkpoint: Path) -> Path:
        if self.directory:
            return Path("exports") / f"{checkpoint.stem}_{self.name}"
        return Path("exports") / f"{checkpoint.stem}{self.suffix}"


FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat(
            name="onnx",
            suffix=".onnx",
            backend="onnxruntime",
            module="animegan_deploy.export.onnx_export",
            function="export_onnx",
            config="OnnxExportConfig",
            description="ONNX (opset >= 17, dynamic batch/height/width, onnxsim-simplified, validated vs torch)",
        ),
        ExportFormat(
            name="onnx-int8",
            suffix=".int8.onnx",
            backend="onnxruntime",
            module="animegan_deploy.export.onnx_int8",
            function="export_onnx_int8",
            config="QuantizeConfig",
            description="INT8 Q/DQ ONNX (TensorRT rules) with calibration cache and ranges, checked vs the FP32 torch model",
        ),
        ExportFormat(
            name="tflite",
            suffix=".tflite",
            backend="tflite",
            module="animegan_deploy.export.tflite",
            function="export_tflite",
            config="TFLiteConfig",
            description="TFLite float32/float16/dynamic-range/integer/full-integer via onnx2tf, each checked with "
                        "LiteRT vs torch (output: a folder)",
            directory=True,
        ),
        ExportFormat(
            name="tensorrt",
            suffix=".engine",
            backend="tensorrt",
            module="animegan_deploy.export.tensorrt",
            function="export_tensorrt",
            config="TensorRTConfig",
            description="TensorRT engine FP32/FP16/INT8 (Q/DQ strongly typed, or calibration cache for TensorRT <= 10.0); "
                        "needs the tensorrt extra and a GPU",
        ),
    )
}


def format_for_file(path: Path) -> ExportFormat | None:
    """The most specific format whose suffix the file name ends with (``.int8.onnx`` before ``.onnx``)."""
    matches = [f for f in FORMATS.values() if path.name.endswith(f.suffix)]
    return max(matches, key=lambda f: len(f.suffix)) if matches else None
