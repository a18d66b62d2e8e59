"""LiteRT (TFLite) runner: NHWC files, float or integer I/O, XNNPACK on CPU, a set number of threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from animegan_deploy.errors import UserError
from animegan_deploy.threads import cpu_threads


class TFLiteRunner:
    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if device not in ("cpu", "auto"):
            raise UserError(f"--device {device}: the tflite backend runs on CPU here (XNNPACK); use --device cpu")
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=cpu_threads(threads) or 2)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"{path}: LiteRT cannot load it ({str(exc).splitlines()[0][:160]})") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        shape = [int(d) for d in self.input["shape"]]
        if len(shape) != 4 or shape[3] != 3:
            raise UserError(f"{path}: expected an NHWC input with 3 channels, got shape {shape}")
        self.fixed_batch = shape[0]
        self.fixed_hw = (shape[1], shape[2])
        self.input_dtype = np.dtype(self.input["dtype"])
        self.name = f"tflite-{self.input_dtype.name}"

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        if self.input_dtype.kind == "f":
            return x.astype(self.input_dtype)
        scale, zero = self.input["quantization"]
        info = np.iinfo(self.input_dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        if y.dtype.kind == "f":
            return y.astype(np.float32)
        scale, zero = self.output["quantization"]
        return ((y.astype(np.float32) - zero) * scale).astype(np.float32)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if tuple(batch.shape[2:4]) != self.fixed_hw:
            raise UserError(f"tflite input is fixed at {self.fixed_hw[0]}x{self.fixed_hw[1]}, got "
                            f"{batch.shape[2]}x{batch.shape[3]}")
        outputs = []
        for frame in batch:  # the file's batch is 1
            self.interpreter.set_tensor(self.input["index"], self._quantize(frame.transpose(1, 2, 0)[None]))
            self.interpreter.invoke()
            nhwc = self._dequantize(self.interpreter.get_tensor(self.output["index"]))
            outputs.append(nhwc[0].transpose(2, 0, 1))
        return np.stack(outputs)


def load_tflite_runner(path: Path, device: str = "cpu", threads: int | None = None) -> TFLiteRunner:
    return TFLiteRunner(path, device=device, threads=threads)
