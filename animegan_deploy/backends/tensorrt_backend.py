"""TensorRT runner: a serialized engine with pycuda device buffers (optional extra: tensorrt + pycuda)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from animegan_deploy.errors import UserError


class TensorRTRunner:
    fixed_batch = None

    def __init__(self, path: Path, device: str = "cuda", threads: int | None = None) -> None:
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as cuda
        import tensorrt as trt

        self.cuda = cuda
        self.trt = trt
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise UserError(f"{path}: TensorRT cannot deserialize it (built by another TensorRT version or GPU?); "
                            "rebuild it with `animegan export tensorrt`")
        self.context = self.engine.create_execution_context()
        self.stream = cuda.Stream()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.fixed_hw = None
        self.name = "tensorrt"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        cuda = self.cuda
        host_in = np.ascontiguousarray(batch, dtype=np.float32)
        self.context.set_input_shape(self.input, host_in.shape)
        out_shape = tuple(self.context.get_tensor_shape(self.output))
        host_out = cuda.pagelocked_empty(out_shape, dtype=np.float32)
        dev_in, dev_out = cuda.mem_alloc(host_in.nbytes), cuda.mem_alloc(host_out.nbytes)
        cuda.memcpy_htod_async(dev_in, host_in, self.stream)
        self.context.set_tensor_address(self.input, int(dev_in))
        self.context.set_tensor_address(self.output, int(dev_out))
        if not self.context.execute_async_v3(self.stream.handle):
            raise RuntimeError("TensorRT execution failed")
        cuda.memcpy_dtoh_async(host_out, dev_out, self.stream)
        self.stream.synchronize()
        return np.array(host_out)


def load_tensorrt_runner(path: Path, device: str = "cuda", threads: int | None = None) -> TensorRTRunner:
    return TensorRTRunner(path, device=device, threads=threads)
