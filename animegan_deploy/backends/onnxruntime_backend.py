"""ONNX Runtime runner for exported (FP32 or Q/DQ INT8) generator graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from animegan_deploy.errors import UserError
from animegan_deploy.threads import ort_session_options


class OnnxRuntimeRunner:
    def __init__(self, path: Path | bytes, device: str = "cpu", threads: int | None = None) -> None:
        """``path``: an .onnx file, or a serialized model (bytes) already in memory."""
        import onnxruntime as ort

        options = ort_session_options(threads)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") or device == "auto":
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" in available:
                providers.insert(0, "CUDAExecutionProvider")
            elif device.startswith("cuda"):
                raise UserError(f"--device {device}: this onnxruntime has no CUDA provider; use --device cpu")
        try:
            self.session = ort.InferenceSession(path if isinstance(path, bytes) else str(path), options,
                                                providers=providers)
        except Exception as exc:  # ORT raises its own exception types for bad files
            label = "in-memory model" if isinstance(path, bytes) else path
            raise UserError(f"{label}: ONNX Runtime cannot load it ({str(exc).splitlines()[0][:160]})") from None
        if not isinstance(path, bytes):  # in-memory models are the project's own (calibration, sensitivity)
            _require_generator(path)
        node = self.session.get_inputs()[0]
        self.input_name = node.name
        dims = node.shape
        self.fixed_batch = dims[0] if isinstance(dims[0], int) else None
        static = all(isinstance(d, int) for d in dims[2:4])
        self.fixed_hw = (int(dims[2]), int(dims[3])) if static else None
        self.name = f"onnxruntime-{self.session.get_providers()[0].replace('ExecutionProvider', '').lower()}"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]


def _require_generator(path: Path) -> None:
    """One image in, one image out, convolutions inside: a lone Add or a 2-input graph runs, but is not a
    generator."""
    import onnx

    from animegan_deploy.onnx_checks import check_generator_graph

    check_generator_graph(onnx.load(str(path), load_external_data=False), path)


def load_onnxruntime_runner(path: Path, device: str = "cpu", threads: int | None = None) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(path, device=device, threads=threads)
