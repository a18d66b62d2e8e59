"""The variants a benchmark compares, and how the missing ones are built from the checkpoint.

A variant is one file run by one backend at one precision. The FP32 torch original is always first (every
speedup and PSNR is relative to it). The others come from the user (``--variant NAME=PATH``: a pruned or
distilled checkpoint, any exported file) and from ``BUILDERS``, one entry per export format: it reuses a file
already built from the same checkpoint (same sha256 in its sidecar) or builds it. A builder that cannot run
here (TensorRT without a GPU) returns its variants marked unavailable with the reason, so the table still has
their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from animegan_deploy.errors import MissingDependencyError, UserError
from animegan_deploy.sidecar import sidecar_of, source_checkpoint


@dataclass
class Variant:
    name: str
    backend: str
    precision: str
    path: Path | None
    cost_checkpoint: Path | None  # the generator checkpoint behind the file (params, GMACs)
    fixed_size: int | None = None  # files with a static NxN input only run at that size
    status: str = "ready"  # ready | unavailable | failed
    reason: str = ""


def _built_from(path: Path, checkpoint: Path, input_shape: list[int] | None = None, config: object = None) -> bool:
    """``path`` exists and its sidecar says it was made from exactly this checkpoint (at this input shape, with
    these settings: an INT8 file calibrated another way is not the one asked for)."""
    if not path.is_file():
        return False
    meta = sidecar_of(path, verify=True)
    if input_shape is not None and meta.get("size") != input_shape:
        return False
    if config is not None:
        from animegan_deploy.pipeline.cache import canonical_json

        if canonical_json(meta.get("config")) != canonical_json(config):
            return False
    from animegan_deploy.pipeline.cache import content_hash  # memoized: every builder asks about one checkpoint

    return (meta.get("source") or {}).get("sha256") == content_hash(checkpoint)


def user_variant(spec: str) -> Variant:
    """``NAME=PATH`` (or just PATH) -> a Variant; the backend comes from the file type."""
    from animegan_deploy.backends.registry import backend_for_path

    name, sep, path_text = spec.partition("=")
    if not sep:
        name, path_text = Path(spec).stem, spec
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"--variant {spec}: no such file {path}")
    backend = backend_for_path(path)
    meta = sidecar_of(path)
    precision = meta.get("precision") or ("fp32" if backend == "torch" else "unknown")
    if backend == "torch":
        cost = path
    else:  # the checkpoint behind the file, followed through intermediate files (INT8 <- FP32 ONNX <- checkpoint)

        cost = source_checkpoint(path)
    fixed = meta.get("size")
    fixed_size = int(fixed[1]) if backend == "tflite" and isinstance(fixed, list) and len(fixed) == 4 else None
    return Variant(name, backend, precision, path, cost, fixed_size)


def _onnx(precision: str) -> Callable[..., list[Variant]]:
    def build(checkpoint: Path, sizes: tuple[int, ...], workdir: Path, **_: object) -> list[Variant]:
        from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx

        out = workdir / f"{checkpoint.stem}.{precision}.onnx"
        if not _built_from(out, checkpoint):
            export_onnx(checkpoint, OnnxExportConfig(precision=precision, validate_sizes=((64, 64),)), out)
        return [Variant(f"onnx {precision}", "onnxruntime", precision, out, checkpoint)]

    return build


# the INT8 ONNX files a benchmark compares: (row name, file suffix, placement); the first is the one TensorRT
# builds from, the second the one made for ONNX Runtime's CPU provider (one QLinearConv per conv), the third
# TensorRT's with two-digit conv inputs (fidelity on outlier photos for twice the int8 conv work)
ONNX_INT8_ROWS: tuple[tuple[str, str, str], ...] = (
    ("onnx int8 q/dq", "int8", "tensorrt"),
    ("onnx int8 qlinearconv", "int8-ort", "onnxruntime-conv"),
    ("onnx int8 two-digit", "int8-2d", "tensorrt-two-digit"),
)


def _onnx_int8(checkpoint: Path, sizes: tuple[int, ...], workdir: Path, **_: object) -> list[Variant]:
    from animegan_deploy.compress.quantize import QuantizeConfig
    from animegan_deploy.export.onnx_int8 import export_onnx_int8

    variants = []
    for name, suffix, placement in ONNX_INT8_ROWS:
        out = workdir / f"{checkpoint.stem}.{suffix}.onnx"
        config = QuantizeConfig(size=sizes[0], placement=placement)
        if not _built_from(out, checkpoint, config=config):
            export_onnx_int8(checkpoint, config, out, progress=False)
        variants.append(Variant(name, "onnxruntime", "int8", out, checkpoint))
    return variants


def _tflite_kinds() -> tuple[str, ...]:
    from animegan_deploy.export.table import tflite_kinds

    return tuple(tflite_kinds(benchmarked_only=True))


TFLITE_KINDS = _tflite_kinds()


def _tflite(checkpoint: Path, sizes: tuple[int, ...], workdir: Path, tflite_dir: str | None = None,
            **_: object) -> list[Variant]:
    """TFLite files are fixed-size: one set per requested size, taken from ``tflite_dir`` (what
    ``make export-tflite`` wrote) when they match the checkpoint, otherwise exported into ``workdir``."""
    from animegan_deploy.export.tflite import PRECISIONS, TFLiteConfig, export_tflite, require_converter

    variants = []
    for size in sizes:
        folders = [Path(tflite_dir.format(size=size))] if tflite_dir else []
        folders.append(workdir / f"tflite_{size}")
        found = {}
        for kind in TFLITE_KINDS:
            for folder in folders:
                path = folder / f"{checkpoint.stem}_{kind}.tflite"
                if _built_from(path, checkpoint, input_shape=[1, size, size, 3]):
                    found[kind] = path
                    break
        missing = [k for k in TFLITE_KINDS if k not in found]
        if missing:
            try:
                require_converter()
            except MissingDependencyError as exc:
                variants += [Variant(f"tflite {k}", "tflite", PRECISIONS[k][0], None, checkpoint, size,
                                     "unavailable", str(exc)) for k in missing]
            else:
                config = TFLiteConfig(size=size, precisions=tuple(missing), allow_lossy=True)
                result = export_tflite(checkpoint, config, folders[-1])
                for record in result.files:
                    if record.path is not None:
                        found[record.kind] = record.path
                    else:
                        variants.append(Variant(f"tflite {record.kind}", "tflite", record.precision, None,
                                                checkpoint, size, "failed", record.reason))
        variants += [Variant(f"tflite {k}", "tflite", PRECISIONS[k][0], p, checkpoint, size) for k, p in found.items()]
    return variants


def _tensorrt(checkpoint: Path, sizes: tuple[int, ...], workdir: Path, **_: object) -> list[Variant]:
    """One engine per precision; INT8 is built from the Q/DQ ONNX (explicit quantization, what TensorRT 10+
    needs), made here when the onnx-int8 builder has not made it. A precision that fails keeps the others."""
    from animegan_deploy.backends.registry import BACKENDS

    backend = BACKENDS["tensorrt"]
    missing = backend.missing()
    from animegan_deploy.export.table import tensorrt_precisions

    precisions = tensorrt_precisions()
    if missing:
        reason = f"{', '.join(missing)} not installed; {backend.install_hint}"
        return [Variant(f"tensorrt {p}", "tensorrt", p, None, checkpoint, None, "unavailable", reason)
                for p in precisions]
    from animegan_deploy.export.tensorrt import TensorRTConfig, export_tensorrt

    variants = []
    for precision in precisions:
        out = workdir / f"{checkpoint.stem}.{precision}.engine"
        try:
            if not _built_from(out, checkpoint):
                qdq = BUILDERS["onnx-int8"](checkpoint, sizes, workdir)[0].path if precision == "int8" else None
                export_tensorrt(checkpoint, TensorRTConfig(precision=precision, onnx=str(qdq) if qdq else None), out)
        except Exception as exc:  # this precision's row says why; the other engines stand
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            variants.append(Variant(f"tensorrt {precision}", "tensorrt", precision, None, checkpoint, None, "failed",
                                    f"{type(exc).__name__}: {first}"))
            continue
        variants.append(Variant(f"tensorrt {precision}", "tensorrt", precision, out, checkpoint))
    return variants


# format name -> builder(checkpoint, sizes, workdir, **options) -> variants. Adding a format is one entry.
BUILDERS: dict[str, Callable[..., list[Variant]]] = {
    "onnx": _onnx("fp32"),
    "onnx-fp16": _onnx("fp16"),
    "onnx-int8": _onnx_int8,
    "tflite": _tflite,
    "tensorrt": _tensorrt,
}


def build_variants(checkpoint: Path, formats: tuple[str, ...], user: tuple[str, ...], sizes: tuple[int, ...],
                   workdir: Path, tflite_dir: str | None = None, progress: Callable[[str], None] = print) -> list[Variant]:
    """The original, the user's variants, then each format's; a builder that fails gives a failed row."""
    unknown = [f for f in formats if f not in BUILDERS]
    if unknown:
        raise UserError(f"--formats {','.join(unknown)}: choose from {', '.join(BUILDERS)}")
    variants = [Variant("original", "torch", "fp32", checkpoint, checkpoint)]
    variants += [user_variant(spec) for spec in user]
    workdir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        progress(f"preparing {fmt} variants")
        try:
            variants += BUILDERS[fmt](checkpoint, sizes, workdir, tflite_dir=tflite_dir)
        except (MissingDependencyError, UserError) as exc:
            variants.append(Variant(fmt, fmt, "-", None, checkpoint, None, "unavailable", str(exc)))
        except Exception as exc:  # the suite goes on; the row says why this format is missing
            variants.append(Variant(fmt, fmt, "-", None, checkpoint, None, "failed",
                                    f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"))
    names = [v.name for v in variants]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise UserError(f"--variants: the name(s) {', '.join(clash)} are taken; give each variant its own NAME=PATH")
    return variants
