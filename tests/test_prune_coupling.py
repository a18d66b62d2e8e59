"""Residual, depthwise and norm coupling stay consistent after pruning: forward at several sizes, ONNX export."""

import numpy as np
import onnxruntime as ort
import torch

from animegan_deploy.compress.prune import prune_model
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.checkpoints import save_checkpoint
from conftest import randomized_generator


def scattered_small_scales(seed=3):
    model = randomized_generator(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.GroupNorm):
                mask = torch.rand(module.weight.shape, generator=gen) < 0.4
                module.weight[mask] = 0.001
    return model


def test_coupled_layers_agree_and_forward_runs():
    outcome = prune_model(scattered_small_scales(), 0.01)
    model = outcome.model
    plan = model.plan
    assert plan.trunk < 64 and plan.c3_hidden < 128
    for block in list(model.block_c)[1:5]:
        expand, depthwise, project, norm = block.layers
        assert depthwise[1].groups == depthwise[1].in_channels == depthwise[1].out_channels == expand[1].out_channels
        assert project.out_channels == norm.num_channels == plan.trunk
    assert [b.use_res_connect for b in list(model.block_c)[1:5]] == [False, True, True, True]
    for size in [(32, 32), (44, 60), (33, 47)]:
        with torch.no_grad():
            y = model(torch.rand(1, 3, *size))
        assert y.shape == (1, 3, *size) and torch.isfinite(y).all()


def test_pruned_model_exports_to_onnx(tmp_path):
    model = prune_model(scattered_small_scales(), 0.01).model
    path = save_checkpoint(model, tmp_path / "pruned.safetensors")
    result = export_onnx(path, OnnxExportConfig(validate_sizes=((32, 32), (40, 56))), tmp_path / "p.onnx")
    assert max(result.max_abs_diff.values()) <= 1e-4
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 36, 44)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.abs(session.run(None, {"input": x})[0] - expected).max() <= 1e-4
