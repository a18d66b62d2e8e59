"""Tiny torch modules as ONNX graphs for the quantization tests."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch


def export_named(module: torch.nn.Module, input_shape: tuple[int, ...], path: Path) -> onnx.ModelProto:
    """``module`` exported to ONNX (opset 17, input "input", output "output", constants folded) with every node
    named, as the quantizer's exclude lists and reports need."""
    torch.onnx.export(module.eval(), torch.zeros(*input_shape), str(path), opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["output"])
    model = onnx.load(str(path))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{i}"
    return model
