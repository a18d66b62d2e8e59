"""The one table of deployable variants: format, precision, file suffix, backend, fidelity threshold set, GPU
need and the benchmark builder that makes it. Export (TFLite kinds), ``check-fidelity`` (threshold sets), the
benchmark (which TFLite kinds and TensorRT precisions it builds) and the pipeline's choices are views of it;
``tests/test_variant_table.py`` walks it. Adding a variant is one entry here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VariantSpec:
    format: str  # export format (export/formats.py FORMATS)
    precision: str  # label in sidecars and benchmark rows
    suffix: str  # how the file name ends
    backend: str  # animegan_deploy.backends name that runs it
    thresholds: str  # section of benchmarks/fidelity_thresholds.toml it is held to
    gpu: bool  # needs an NVIDIA GPU to build and run
    builder: str  # benchmarks/variants.py BUILDERS entry that makes it
    kind: str | None = None  # TFLite: the onnx2tf kind (file <stem>_<kind>.tflite)
    benchmarked: bool = True  # built by default in `animegan benchmark`


VARIANTS: tuple[VariantSpec, ...] = (
    VariantSpec("onnx", "fp32", ".onnx", "onnxruntime", "fp32", False, "onnx"),
    VariantSpec("onnx", "fp16", ".fp16.onnx", "onnxruntime", "fp16", False, "onnx-fp16"),
    VariantSpec("onnx-int8", "int8", ".int8.onnx", "onnxruntime", "int8", False, "onnx-int8"),
    VariantSpec("tflite", "fp32", "_float32.tflite", "tflite", "fp32", False, "tflite", "float32"),
    VariantSpec("tflite", "fp16", "_float16.tflite", "tflite", "fp16", False, "tflite", "float16"),
    VariantSpec("tflite", "int8-weights", "_dynamic_range_quant.tflite", "tflite", "int8", False, "tflite",
                "dynamic_range_quant"),
    VariantSpec("tflite", "int8-float-io", "_integer_quant.tflite", "tflite", "int8", False, "tflite",
                "integer_quant", benchmarked=False),
    VariantSpec("tflite", "int8", "_full_integer_quant.tflite", "tflite", "int8", False, "tflite",
                "full_integer_quant"),
    # TFLite's 16x8 mode: int16 activations, int8 weights, float I/O (spends speed for fidelity)
    VariantSpec("tflite", "int16x8", "_int16x8_quant.tflite", "tflite", "int16x8", False, "tflite",
                "int16x8_quant", benchmarked=False),
    VariantSpec("tensorrt", "fp32", ".fp32.engine", "tensorrt", "fp32", True, "tensorrt"),
    VariantSpec("tensorrt", "fp16", ".fp16.engine", "tensorrt", "fp16", True, "tensorrt"),
    VariantSpec("tensorrt", "int8", ".int8.engine", "tensorrt", "int8", True, "tensorrt"),
)


def of_format(fmt: str) -> tuple[VariantSpec, ...]:
    return tuple(v for v in VARIANTS if v.format == fmt)


def tflite_kinds(benchmarked_only: bool = False) -> dict[str, tuple[str, str]]:
    """onnx2tf kind -> (precision label, threshold set)."""
    return {v.kind: (v.precision, v.thresholds) for v in of_format("tflite")
            if v.kind and (v.benchmarked or not benchmarked_only)}


def tensorrt_precisions() -> tuple[str, ...]:
    return tuple(v.precision for v in of_format("tensorrt"))


def threshold_set(precision: str) -> str:
    """The thresholds section a precision label is held to (TFLite's int8-weights / int8-float-io are int8)."""
    return {v.precision: v.thresholds for v in VARIANTS}.get(precision, precision)
