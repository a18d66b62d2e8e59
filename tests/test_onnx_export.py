"""ONNX export: opset >= 17, dynamic batch/H/W, simplified, metadata, ORT == torch at several sizes."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from animegan_deploy.cli import main
from animegan_deploy.errors import UserError
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.checkpoints import load_generator


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    config = OnnxExportConfig(validate_sizes=((64, 64), (48, 80)))
    return export_onnx(tiny_checkpoint, config, out)


def test_validation_is_run_at_a_square_and_a_non_square_size(exported):
    assert set(exported.max_abs_diff) == {"64x64", "48x80"}
    assert all(diff <= 1e-4 for diff in exported.max_abs_diff.values())


def test_graph_properties(exported):
    model = onnx.load(str(exported.path))
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    ops = {node.op_type for node in model.graph.node}
    assert "ReduceMean" in ops and "InstanceNormalization" not in ops  # explicit norm by default
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["animegan.layout"] == "NCHW"
    assert meta["animegan.normalization"] == "explicit"
    assert meta["animegan.source_checkpoint"] == "tiny.safetensors"
    assert len(meta["animegan.source_sha256"]) == 64


@pytest.mark.parametrize("shape", [(1, 3, 96, 64), (2, 3, 33, 47)])
def test_ort_matches_torch_at_other_sizes_and_batches(exported, tiny_checkpoint, shape):
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    model = load_generator(tiny_checkpoint).model
    x = torch.rand(*shape) * 2 - 1
    with torch.no_grad():
        expected = model(x).numpy()
    actual = session.run(None, {"input": x.numpy()})[0]
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1e-4


def test_sidecar_records_source_and_numbers(exported, tiny_checkpoint):
    side = json.loads(exported.sidecar.read_text())
    assert side["kind"] == "onnx"
    assert side["source"]["path"] == str(tiny_checkpoint)
    assert side["metrics"]["max_abs_diff_vs_torch"] == exported.max_abs_diff
    assert side["generator"]["width"] == 0.25
    assert [p.name for p in exported.path.parent.iterdir() if ".tmp" in p.name] == []


def test_groupnorm_form_exports_too(tiny_checkpoint, tmp_path):
    result = export_onnx(tiny_checkpoint, OnnxExportConfig(norm="group", validate_sizes=((32, 48),)),
                         tmp_path / "g.onnx")
    ops = {node.op_type for node in onnx.load(str(result.path)).graph.node}
    assert "InstanceNormalization" in ops
    assert result.max_abs_diff["32x48"] <= 1e-4


def test_cli_prints_validation_and_rejects_old_opset(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", "onnx", "-w", str(tiny_checkpoint), "-o", str(out), "--no-dynamic", "--size", "40x56"]) == 0
    printed = capsys.readouterr().out
    assert "validate 40x56: max |onnxruntime - torch| =" in printed
    dims = [d.dim_value for d in onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 40, 56]
    with pytest.raises(UserError, match="opset 17 or newer"):
        OnnxExportConfig(opset=13)
