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

    def load(self) -> tuple[Callable[..., Any], type]:
        mod = importlib.import_module(self.module)
        return getattr(mod, self.function), getattr(mod, self.config)

    def default_output(self, checkpoint: Path) -> Path:
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
    )
}


def format_for_file(path: Path) -> ExportFormat | None:
    return next((f for f in FORMATS.values() if path.name.endswith(f.suffix)), None)
