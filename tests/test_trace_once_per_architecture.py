"""One torch.onnx trace per architecture in a process (export/traced_graphs.py): a second checkpoint of the same
architecture gets the traced graph with its own weights written in, byte-identical to a trace of its own in a fresh
process, and a graph whose initializers the exporter computed from the weights is not taken for another model."""

import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import torch

from animegan_deploy.export import traced_graphs
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx, trace_to_onnx
from animegan_deploy.models.checkpoints import save_checkpoint

from conftest import randomized_generator

SIZE = "--validate-sizes", "32x32"


def test_a_second_checkpoint_is_written_into_the_first_ones_graph(tmp_path):
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    save_checkpoint(randomized_generator(seed=11), first, style="test")
    save_checkpoint(randomized_generator(seed=12), second, style="test")
    config = OnnxExportConfig(validate_sizes=((32, 32),))
    export_onnx(first, config, tmp_path / "first.onnx")
    started = time.perf_counter()
    written = export_onnx(second, config, tmp_path / "second.onnx")
    seconds = time.perf_counter() - started
    assert max(written.max_abs_diff.values()) < 1e-4  # validated against its own torch model
    # the same file as a process that never traced the first checkpoint writes (the user's command)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "ANIMEGAN_TRACE_CACHE": "off"}  # a trace of its own
    subprocess.run([sys.executable, "-m", "animegan_deploy.cli", "export", "onnx", "-w", str(second), "-o",
                    str(tmp_path / "fresh.onnx"), *SIZE], check=True, capture_output=True, env=env)
    assert written.path.read_bytes() == (tmp_path / "fresh.onnx").read_bytes()
    assert written.path.read_bytes() != (tmp_path / "first.onnx").read_bytes()
    print(f"second checkpoint of the architecture exported in {seconds:.2f} s")


class FoldedGain(torch.nn.Module):
    """The exporter folds ``gain * 2 + 1`` into one constant: an initializer not found among the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)
        self.gain = torch.nn.Parameter(torch.randn(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * (self.gain * 2 + 1).view(1, 3, 1, 1)


def _max_diff(proto, model) -> float:
    x = torch.rand(1, 3, 16, 16)
    out = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})[0]
    with torch.no_grad():
        return float(np.abs(out - model(x).numpy()).max())


def test_a_graph_with_constants_computed_from_the_weights_goes_back_to_plain_tracing():
    torch.manual_seed(0)
    model = FoldedGain().eval()
    config = OnnxExportConfig(size=(16, 16), dynamic=False)
    proto, written = traced_graphs.traced(model, config, trace_to_onnx)
    assert written and _max_diff(proto, model) > 0.1  # the folded constant holds the probe's values: validation fails
    traced_graphs.forget(model, config)
    proto, written = traced_graphs.traced(model, config, trace_to_onnx)
    assert not written and _max_diff(proto, model) < 1e-5
    # a model whose every initializer is a weight as it is, or reshaped, takes them all
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.GroupNorm(1, 4)).eval()
    proto, written = traced_graphs.traced(plain, config, trace_to_onnx)
    assert written and _max_diff(proto, plain) < 1e-5
