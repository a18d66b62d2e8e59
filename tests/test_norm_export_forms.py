"""The TFLite-oriented forms of the explicit norm (scale/shift as a 1x1 depthwise conv, per-axis staged means)
compute the same outputs and survive ONNX simplification as separate ops."""

from __future__ import annotations

from collections import Counter

import onnx
import torch

from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.norms import set_export_form
from conftest import randomized_generator


def test_export_forms_match_the_plain_explicit_norm():
    model = randomized_generator().set_norm("explicit")
    x = torch.rand(2, 3, 40, 56) * 2 - 1
    with torch.no_grad():
        plain = model(x)
        set_export_form(model, affine_as_conv=True, staged_mean=True)
        staged = model(x)
    assert float((staged - plain).abs().max()) < 1e-5


def test_staged_means_stay_apart_in_the_exported_graph(tmp_path, tiny_checkpoint):
    base = dict(norm="explicit", affine="conv", staged_mean=True, dynamic=False, size=(32, 32), opset=17)
    fused = export_onnx(tiny_checkpoint, OnnxExportConfig(**base), tmp_path / "fused.onnx").path
    kept = export_onnx(tiny_checkpoint, OnnxExportConfig(**base, fuse=False), tmp_path / "kept.onnx").path
    ops_fused = Counter(n.op_type for n in onnx.load(str(fused)).graph.node)
    ops_kept = Counter(n.op_type for n in onnx.load(str(kept)).graph.node)
    assert ops_fused["ReduceMean"] == 48  # onnxsim's optimizer merges the three means back into one
    assert ops_kept["ReduceMean"] == 144  # 24 norms x 2 statistics x 3 axes
    assert ops_kept["Constant"] == 0  # moved into initializers (onnx2tf cannot take Constant nodes)
    assert ops_kept["Conv"] == 25 + 24  # the norms' scale/shift as depthwise 1x1 convs
    assert onnx.load(str(kept)).opset_import[0].version == 17
