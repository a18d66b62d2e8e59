"""Checkpoint -> INT8 Q/DQ ONNX: export the FP32 graph (explicit norm), then calibrate and quantize it,
with fidelity measured against the FP32 torch model itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

from animegan_deploy.compress.quantize import QuantizeConfig, QuantizeResult, quantize_onnx
from animegan_deploy.compress.report import torch_model_fn
from animegan_deploy.models.checkpoints import load_generator

from .onnx_export import OnnxExportConfig, export_onnx

__all__ = ["QuantizeConfig", "export_onnx_int8"]


def export_onnx_int8(checkpoint: str | Path, config: QuantizeConfig, output: str | Path, progress: bool = True) -> QuantizeResult:
    checkpoint = Path(checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_config = OnnxExportConfig(validate_sizes=((64, 64),), equalize=config.equalize,
                                       equalize_photos=config.calib_dir, equalize_count=config.calib_count)
        fp32 = export_onnx(checkpoint, onnx_config, Path(tmp) / "fp32.onnx").path
        reference = torch_model_fn(load_generator(checkpoint).model)
        result = quantize_onnx(fp32, config, output, reference=reference, progress=progress, provenance=checkpoint)
    return result
