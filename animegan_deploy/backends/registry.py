"""The table of inference backends used by ``stylize`` (and the benchmark suite).

A runner takes an NCHW float32 batch in [-1, 1] and returns the generator's output in the same layout
and range, whatever the file's own layout (NHWC for TFLite), so callers never special-case a backend.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from animegan_deploy.errors import MissingDependencyError, UserError


class Runner(Protocol):
    name: str
    fixed_hw: tuple[int, int] | None  # a file with static spatial dims only accepts this HxW
    fixed_batch: int | None

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Backend:
    name: str
    suffixes: tuple[str, ...]
    module: str
    loader: str  # fn(path, device, threads) -> Runner
    requires: tuple[str, ...]  # importable modules the backend needs
    install_hint: str
    description: str

    def missing(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def load(self, path: Path, device: str = "cpu", threads: int | None = None) -> Runner:
        missing = self.missing()
        if missing:
            raise MissingDependencyError(
                f"backend {self.name}: {', '.join(missing)} not installed; {self.install_hint}"
            )
        if not any(path.name.endswith(s) for s in self.suffixes):
            raise UserError(
                f"{path}: backend {self.name} runs {'/'.join(self.suffixes)} files; "
                "pick the backend that matches the file (--backend)"
            )
        loader: Callable[..., Runner] = getattr(importlib.import_module(self.module), self.loader)
        return loader(path, device=device, threads=threads)


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend(
            name="torch",
            suffixes=(".safetensors", ".pt", ".pth", ".ckpt", ".bin"),
            module="animegan_deploy.backends.torch_backend",
            loader="load_torch_runner",
            requires=("torch",),
            install_hint="run `make install`",
            description="PyTorch eager on CPU or CUDA, from a generator checkpoint",
        ),
        Backend(
            name="onnxruntime",
            suffixes=(".onnx",),
            module="animegan_deploy.backends.onnxruntime_backend",
            loader="load_onnxruntime_runner",
            requires=("onnxruntime",),
            install_hint="run `make install`",
            description="ONNX Runtime (CPU, or CUDA when onnxruntime-gpu is installed), FP32 or Q/DQ INT8",
        ),
        Backend(
            name="tflite",
            suffixes=(".tflite",),
            module="animegan_deploy.backends.tflite_backend",
            loader="load_tflite_runner",
            requires=("ai_edge_litert",),
            install_hint="run `make install` (installs ai-edge-litert)",
            description="LiteRT interpreter (TFLite FP32/FP16/INT8, NHWC, XNNPACK) on CPU",
        ),
        Backend(
            name="tensorrt",
            suffixes=(".engine", ".plan"),
            module="animegan_deploy.backends.tensorrt_backend",
            loader="load_tensorrt_runner",
            requires=("tensorrt", "pycuda"),
            install_hint="it needs an NVIDIA GPU with CUDA: pip install -e '.[tensorrt]' from NVIDIA's index",
            description="TensorRT engine (FP32/FP16/INT8) on an NVIDIA GPU, pycuda buffers",
        ),
    )
}


def backend_for_path(path: Path) -> str:
    for backend in BACKENDS.values():
        if any(path.name.endswith(s) for s in backend.suffixes):
            return backend.name
    raise UserError(f"{path}: no backend runs this file type; expected one of "
                    + ", ".join(s for b in BACKENDS.values() for s in b.suffixes))


def load_runner(path: Path, backend: str | None = None, device: str = "cpu", threads: int | None = None) -> Runner:
    name = backend or backend_for_path(path)
    if name not in BACKENDS:
        raise UserError(f"--backend {name}: unknown; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name].load(path, device=device, threads=threads)
