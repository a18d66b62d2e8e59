"""Checkpoint -> INT8 Q/DQ ONNX: export the FP32 graph (explicit norm), then calibrate and quantize it,
with fidelity measured against the FP32 torch model itself.

Equalization is one of the settings chosen per model (compress/choose.py): when it is left unset, both FP32
graphs (equalized and plain) are exported and calibrated, and every combination of the open settings is measured
on the validation photos; the winner's graph is the one quantized."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from animegan_deploy.benchmarks.fidelity import eval_inputs
from animegan_deploy.compress.calibration import Calibration
from animegan_deploy.compress.choose import Choice, candidate_values, choose_settings, defaults_of
from animegan_deploy.compress.photos import calibration_split
from animegan_deploy.compress.quantize import (QuantizeConfig, QuantizeResult, calibrate, ensure_node_names,
                                               qdq_builder, quantize_onnx, session_fn)
from animegan_deploy.compress.measurements import checkpoint_reference
from animegan_deploy.onnx_checks import load_generator_onnx

from .onnx_export import OnnxExportConfig, export_onnx

__all__ = ["QuantizeConfig", "export_onnx_int8", "choose_for_checkpoint"]


@dataclass
class Prepared:
    """The FP32 graphs of a checkpoint (equalize flag -> file, graph, calibration), the choice made among them
    (None: nothing to choose) and the equalize flag of the graph to quantize."""

    graphs: dict[bool, tuple[Path, onnx.ModelProto, Calibration]]
    choice: Choice | None
    equalize: bool
    reference: object
    validation: list  # the validation photos (name, NCHW)


def choose_for_checkpoint(checkpoint: Path, config: QuantizeConfig, workdir: Path, progress: bool = True,
                          also: dict[str, list] | None = None) -> Prepared:
    """Export and calibrate the FP32 graph(s) ``config`` leaves open into ``workdir``, and choose the settings on
    the validation photos (``also``: more photo sets every candidate is measured on, for reports)."""
    split = calibration_split(config.calib_dir, config.calib_count)
    validation = eval_inputs(split.validation, config.size)
    choosing = config.choose and bool(validation)
    options = candidate_values(config, can_equalize=True)["equalize"] if choosing else (
        defaults_of(config, can_equalize=True).equalize,)
    reference = checkpoint_reference(checkpoint)
    calib_images = eval_inputs(split.calibration, config.size)
    choosing = choosing and any(len(v) > 1 for v in candidate_values(config, can_equalize=True).values())
    # choosing needs the quantized tensors' statistics only; a complete TensorRT cache comes from the chosen graph
    lean = dataclasses.replace(config, cache_all_tensors=False) if choosing else config
    graphs = {}
    for equalize in options:
        onnx_config = OnnxExportConfig(validate_sizes=((64, 64),), equalize=equalize,
                                       equalize_photos=config.calib_dir, equalize_count=config.calib_count)
        fp32 = export_onnx(checkpoint, onnx_config, workdir / f"fp32-{'eq' if equalize else 'plain'}.onnx").path
        model = ensure_node_names(load_generator_onnx(fp32))
        graphs[equalize] = (fp32, model, calibrate(fp32, model, lean, calib_images, progress))
    choice = None
    if choosing:
        choice = choose_settings({eq: (m, c) for eq, (_, m, c) in graphs.items()}, config, validation, reference,
                                 qdq_builder(config), lambda m: session_fn(m, config.threads), progress, also,
                                 config.choose_search)
    equalize = choice.chosen.equalize if choice is not None else options[0]
    if lean is not config and config.cache_all_tensors:
        fp32, model, _ = graphs[equalize]
        graphs[equalize] = (fp32, model, calibrate(fp32, model, config, calib_images, progress))
    return Prepared(graphs, choice, equalize, reference, validation)


def export_onnx_int8(checkpoint: str | Path, config: QuantizeConfig, output: str | Path, progress: bool = True) -> QuantizeResult:
    checkpoint = Path(checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = choose_for_checkpoint(checkpoint, config, Path(tmp), progress)
        fp32, _, calibration = prepared.graphs[prepared.equalize]
        return quantize_onnx(fp32, dataclasses.replace(config, equalize=prepared.equalize), output,
                             reference=prepared.reference, progress=progress, calibration=calibration,
                             provenance=checkpoint, choice=prepared.choice, sidecar_config=config)
