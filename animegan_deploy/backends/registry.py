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
from animegan_deploy.lazy_import import resolve


class Runner(Protocol):
    name: str
    fixed_hw: tuple[int, int] | None  # a file with static spatial dims only accepts this HxW
    fixed_batch: int | None

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Backend:
    name: str
    suffixes: tuple[str, ...]
    requires: tuple[str, ...]  # importable modules the backend needs
    install_hint: str
    description: str
    # fn(path, device, threads) -> Runner: "module:function" or a callable; by default the project's own
    # animegan_deploy.backends.<name>_backend:load_<name>_runner
    runner: str | Callable[..., Runner] = ""

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
        loader = resolve(self.runner or f"animegan_deploy.backends.{self.name}_backend:load_{self.name}_runner")
        return loader(path, device=device, threads=threads)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("torch", (".safetensors", ".pt", ".pth", ".ckpt", ".bin"), ("torch",), "run `make install`",
            "PyTorch eager on CPU or CUDA, from a generator checkpoint"),
    Backend("onnxruntime", (".onnx",), ("onnxruntime",), "run `make install`",
            "ONNX Runtime (CPU, or CUDA when onnxruntime-gpu is installed), FP32 or Q/DQ INT8"),
    Backend("tflite", (".tflite",), ("ai_edge_litert",), "run `make install` (installs ai-edge-litert)",
            "LiteRT interpreter (TFLite FP32/FP16/INT8, NHWC, XNNPACK) on CPU"),
    Backend("tensorrt", (".engine", ".plan"), ("tensorrt", "pycuda"),
            "it needs an NVIDIA GPU with CUDA: pip install -e '.[tensorrt]' from NVIDIA's index",
            "TensorRT engine (FP32/FP16/INT8) on an NVIDIA GPU, pycuda buffers"),
)}


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
