"""PyTorch eager runner for generator checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from animegan_deploy.errors import UserError
from animegan_deploy.models.checkpoints import load_generator


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device}: not a torch device; use cpu, cuda, cuda:N or auto") from None


class TorchRunner:
    fixed_hw = None
    fixed_batch = None

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None) -> None:
        self.device = resolve_device(device)
        if threads:
            torch.set_num_threads(threads)
        loaded = load_generator(path)
        self.model = loaded.model.to(self.device).eval()
        self.info = loaded.info
        self.name = f"torch-{self.device.type}"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            return self.model(x).float().cpu().numpy()


def load_torch_runner(path: Path, device: str = "cpu", threads: int | None = None) -> TorchRunner:
    return TorchRunner(path, device=device, threads=threads)
