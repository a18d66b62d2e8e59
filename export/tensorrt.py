"""`animegan export tensorrt`: FP32 / FP16 / INT8 TensorRT engines (optional extra: tensorrt + pycuda).

INT8 has two paths, chosen by the TensorRT version found:
- explicit quantization (TensorRT >= 10.1; the only INT8 path from TensorRT 11): the Q/DQ ONNX from
  ``animegan quantize`` / ``export onnx-int8``, parsed into a *strongly typed* network, so the Q/DQ pairs
  decide what runs in INT8;
- implicit INT8 with a calibration cache (TensorRT <= 10.0, e.g. JetPack's 8.x): the FP32 ONNX plus the
  ``.calib.cache`` written by the quantizer, read back by a calibrator that never needs image batches.
Engines have one dynamic-shape optimization profile (min/opt/max), use a persistent timing cache, and get a
JSON sidecar recording the TensorRT version, precision, profile and source (the engine's own metadata).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from animegan_deploy.atomic import atomic_path
from animegan_deploy.configs import option
from animegan_deploy.errors import MissingDependencyError, UserError
from animegan_deploy.sidecar import write_sidecar

from .targets import tensorrt_precisions

INSTALL_HINT = ("TensorRT engines need an NVIDIA GPU with CUDA; install the extra with NVIDIA's package index: "
                "pip install -e '.[tensorrt]' (not possible on CPU-only machines)")


def require_tensorrt() -> Any:
    """Import TensorRT or raise one clear line (exit 3) saying what is missing and how to get it."""
    try:
        import tensorrt as trt  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError(f"tensorrt is not installed; {INSTALL_HINT}") from None
    return trt


def trt_version_tuple(version: str) -> tuple[int, int]:
    major, minor = (int(p) for p in version.split(".")[:2])
    return major, minor


PRECISIONS = tensorrt_precisions()  # the engine precisions of export/targets.py's table


@dataclass
class TensorRTConfig:
    precision: Literal[PRECISIONS] = option("fp16", "engine precision")
    onnx: str | None = option(None, "build from this ONNX (FP32, or Q/DQ for int8) instead of exporting the checkpoint")
    calibration_cache: str | None = option(None, "TensorRT <= 10.0 implicit INT8: calibration cache from `animegan quantize`")
    min_shape: tuple[int, int] = option((128, 128), "smallest HxW of the optimization profile", size=True)
    opt_shape: tuple[int, int] = option((256, 256), "HxW TensorRT tunes kernels for", size=True)
    max_shape: tuple[int, int] = option((1024, 1024), "largest HxW of the optimization profile", size=True)
    max_batch: int = option(1, "largest batch of the optimization profile")
    workspace_mb: int = option(2048, "builder workspace memory pool (MiB)")
    timing_cache: str | None = option("exports/tensorrt.timing-cache", "timing cache file, reused and updated across builds")

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UserError(f"--precision {self.precision}: use {', '.join(PRECISIONS)}")
        lo, opt, hi = self.min_shape, self.opt_shape, self.max_shape
        if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
            raise UserError(f"--min-shape/--opt-shape/--max-shape: need min <= opt <= max, got {lo}, {opt}, {hi}")


@dataclass
class TensorRTResult:
    path: Path
    sidecar: Path
    seconds: float
    version: str

    def summary(self) -> list[str]:
        return [f"wrote {self.path} and {self.sidecar} (TensorRT {self.version}, {self.seconds:.1f} s)"]


def _cache_calibrator(trt: Any, cache_path: Path) -> Any:
    """An entropy calibrator that only replays a calibration cache (TensorRT's own format)."""
    data = cache_path.read_bytes()

    class CacheCalibrator(trt.IInt8EntropyCalibrator2):
        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> None:
            return None  # every range comes from the cache

        def read_calibration_cache(self) -> bytes:
            return data

        def write_calibration_cache(self, cache: bytes) -> None:
            return None

    return CacheCalibrator()


def _is_qdq(onnx_path: Path) -> bool:
    import onnx

    return any(n.op_type == "QuantizeLinear" for n in onnx.load(str(onnx_path), load_external_data=False).graph.node)


def build_engine(onnx_path: Path, config: TensorRTConfig, output: Path) -> tuple[str, dict[str, Any]]:
    """Parse ``onnx_path`` and build a serialized engine at ``output``; returns (TensorRT version, build facts)."""
    trt = require_tensorrt()
    version = trt.__version__
    explicit_int8 = _is_qdq(onnx_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH") and trt_version_tuple(version) < (10, 0):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    strongly_typed = explicit_int8 and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    if strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"{onnx_path}: TensorRT cannot parse it ({errors[:300]})")
    build = builder.create_builder_config()
    build.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_mb << 20)
    if explicit_int8 and not strongly_typed:
        build.set_flag(trt.BuilderFlag.INT8)  # TensorRT 8.x reads Q/DQ graphs with the INT8 flag set
    if config.precision == "fp16" and not strongly_typed:
        build.set_flag(trt.BuilderFlag.FP16)
    if config.precision == "int8" and not explicit_int8:
        if not config.calibration_cache:
            raise UserError("--precision int8: pass a Q/DQ ONNX (--onnx X.int8.onnx) or, for TensorRT <= 10.0, "
                            "--calibration-cache X.int8.calib.cache from `animegan quantize`")
        if not hasattr(trt, "IInt8EntropyCalibrator2"):
            raise UserError(f"TensorRT {version} has no implicit INT8 calibration; build from the Q/DQ ONNX (--onnx)")
        build.set_flag(trt.BuilderFlag.INT8)
        build.set_flag(trt.BuilderFlag.FP16)  # layers without a range fall back to FP16, not FP32
        build.int8_calibrator = _cache_calibrator(trt, Path(config.calibration_cache))
    name = network.get_input(0).name
    profile = builder.create_optimization_profile()
    shape = lambda batch, hw: (batch, 3, hw[0], hw[1])  # noqa: E731
    profile.set_shape(name, shape(1, config.min_shape), shape(1, config.opt_shape),
                      shape(config.max_batch, config.max_shape))
    build.add_optimization_profile(profile)
    if config.precision == "int8" and not explicit_int8:
        build.set_calibration_profile(profile)
    timing_path = Path(config.timing_cache) if config.timing_cache else None
    cache = build.create_timing_cache(timing_path.read_bytes() if timing_path and timing_path.is_file() else b"")
    build.set_timing_cache(cache, ignore_mismatch=False)
    engine = builder.build_serialized_network(network, build)
    if engine is None:
        raise UserError(f"{onnx_path}: TensorRT failed to build a {config.precision} engine (see its log above)")
    with atomic_path(output) as tmp:
        tmp.write_bytes(bytes(engine))
    if timing_path:
        timing_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(timing_path) as tmp:
            tmp.write_bytes(bytes(build.get_timing_cache().serialize()))
    facts = {"strongly_typed": strongly_typed, "explicit_quantization": explicit_int8, "input": name,
             "profile": {"min": shape(1, config.min_shape), "opt": shape(1, config.opt_shape),
                         "max": shape(config.max_batch, config.max_shape)}}
    return version, facts


def export_tensorrt(checkpoint: str | Path, config: TensorRTConfig, output: str | Path) -> TensorRTResult:
    """Checkpoint (or a given ONNX) -> TensorRT engine + JSON sidecar."""
    require_tensorrt()
    started = time.perf_counter()
    output = Path(output)
    with tempfile.TemporaryDirectory() as tmp:
        if config.onnx:
            source = Path(config.onnx)
            if not source.is_file():
                raise UserError(f"--onnx {source}: no such file; export it with `animegan export onnx` first")
        else:
            if config.precision == "int8" and not config.calibration_cache:
                raise UserError("--precision int8 from a checkpoint: pass --onnx X.int8.onnx (Q/DQ) or "
                                "--calibration-cache; run `animegan export onnx-int8` first")
            from .onnx_export import OnnxExportConfig, export_onnx

            source = export_onnx(checkpoint, OnnxExportConfig(validate_sizes=((64, 64),)), Path(tmp) / "fp32.onnx").path
        version, facts = build_engine(source, config, output)
    seconds = time.perf_counter() - started
    sidecar = write_sidecar(output, "tensorrt-engine", source=config.onnx or checkpoint, config=config,
                            metrics={"build_seconds": round(seconds, 2)},
                            extra={"tensorrt": version, "precision": config.precision, "backend": "tensorrt",
                                   "layout": "NCHW", "normalization": "[-1, 1]", **facts})
    return TensorRTResult(output, sidecar, seconds, version)
