"""Each format's build function (``targets.Format.build``): a checkpoint and some of the format's targets in, their
files out. A file is built again unless it is current by the pipeline's one reuse rule (pipeline/cache.py): its
sidecar carries the key of the checkpoint's content, the canonical config it was built with (photo folders by
their pictures' content) and the project version.

``build(checkpoint, targets, sizes, folder, search=()) -> list[Built]``: ``sizes`` are the input sizes asked for
(fixed-size files are made per size, the others at the first), ``search`` more folders holding files given to be
measured (what ``make export-tflite`` or a pipeline's export stage wrote): one made from this checkpoint at that size
is taken as it is. A target that cannot be built here (TensorRT without a GPU) comes back unavailable with the
reason, one that failed comes back failed: the caller still has its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from animegan_deploy.errors import MissingDependencyError, failure_reason
from animegan_deploy.sidecar import sidecar_of

from .targets import Target, targets


@dataclass
class Built:
    target: Target
    path: Path | None
    size: int | None = None  # files with a static NxN input only run at that size
    status: str = "ready"  # ready | unavailable | failed
    reason: str = ""


def build_once(out: Path, inputs: dict[str, Path], config: object, make: Callable[[], object]) -> None:
    """``make()`` writes ``out`` unless ``out`` is current for ``inputs`` and ``config``; the key goes into its
    sidecar."""
    from animegan_deploy.pipeline.cache import artifact_current, cache_key, stamp_key

    key = cache_key(inputs, config)
    if not artifact_current(out, key):
        make()
        stamp_key(out, key)


def made_from(path: Path, checkpoint: Path, input_shape: list[int]) -> bool:
    """A given file (``search``): it exists, its sidecar describes it and says it was made from exactly this
    checkpoint at this input shape."""
    if not path.is_file():
        return False
    meta = sidecar_of(path, verify=True)
    from animegan_deploy.pipeline.cache import content_hash  # memoized per checkpoint

    return meta.get("size") == input_shape and (meta.get("source") or {}).get("sha256") == content_hash(checkpoint)


def one_file_per_target(checkpoint: Path, wanted: tuple[Target, ...], folder: Path,
                        config_of: Callable[[Target], object], export: Callable[..., object]) -> list[Built]:
    """Formats whose targets are one file each: ``export(checkpoint, config, out)`` with ``config_of(target)``,
    unless the file is current."""
    built = []
    for target in wanted:
        out, config = target.file(checkpoint, folder), config_of(target)
        build_once(out, {"model": checkpoint}, config, lambda: export(checkpoint, config, out))
        built.append(Built(target, out))
    return built


def build_onnx(checkpoint: Path, wanted: tuple[Target, ...], sizes: tuple[int, ...], folder: Path,
               search: tuple[Path, ...] = ()) -> list[Built]:
    from .onnx_export import OnnxExportConfig, export_onnx

    return one_file_per_target(checkpoint, wanted, folder, lambda t: OnnxExportConfig(
        precision=t.precision, validate_sizes=((64, 64),)), export_onnx)


def build_onnx_int8(checkpoint: Path, wanted: tuple[Target, ...], sizes: tuple[int, ...], folder: Path,
                    search: tuple[Path, ...] = ()) -> list[Built]:
    """One INT8 ONNX per placement, each with its settings chosen per model (compress/choose.py)."""
    from animegan_deploy.compress.quantize import QuantizeConfig

    from .onnx_int8 import export_onnx_int8

    def config_of(target: Target) -> QuantizeConfig:
        # the sensitivity pass (where the placement's target is missed) at the working size when that is smaller
        return QuantizeConfig(size=sizes[0], placement=target.placement,
                              sensitivity_size=min(sizes[0], QuantizeConfig.sensitivity_size))

    return one_file_per_target(checkpoint, wanted, folder, config_of,
                               lambda c, config, out: export_onnx_int8(c, config, out, progress=False))


def build_onnx_dynamic(checkpoint: Path, wanted: tuple[Target, ...], sizes: tuple[int, ...], folder: Path,
                       search: tuple[Path, ...] = ()) -> list[Built]:
    """The dynamic-scale INT8 ONNX (no calibration; measured at the working size)."""
    from .onnx_dynamic import DynamicQuantizeConfig, export_onnx_dynamic

    return one_file_per_target(checkpoint, wanted, folder,
                               lambda t: DynamicQuantizeConfig(size=sizes[0]), export_onnx_dynamic)


def build_tflite(checkpoint: Path, wanted: tuple[Target, ...], sizes: tuple[int, ...], folder: Path,
                 search: tuple[Path, ...] = ()) -> list[Built]:
    """TFLite files are fixed-size: one set per size, taken from ``search`` (``{size}`` in a folder name is the
    size) when they match the checkpoint, the missing kinds converted together into ``folder/tflite_<size>``."""
    from animegan_deploy.pipeline.cache import artifact_current, cache_key, stamp_key

    from .tflite import TFLiteConfig, export_tflite, require_converter

    built = []
    for size in sizes:
        given = [Path(str(f).format(size=size)) for f in search]
        own = folder / f"tflite_{size}"
        keys = {t: cache_key({"model": checkpoint}, TFLiteConfig(size=size, precisions=(t.kind,), allow_lossy=True))
                for t in wanted}  # per kind, as the pipeline's export stage keys them
        found: dict[Target, Path] = {}
        for target in wanted:
            path = next((p for p in (target.file(checkpoint, f) for f in given)
                         if made_from(p, checkpoint, [1, size, size, 3])), None)
            if path is None and artifact_current(target.file(checkpoint, own), keys[target]):
                path = target.file(checkpoint, own)
            if path is not None:
                found[target] = path
        missing = [t for t in wanted if t not in found]
        if missing:
            try:
                require_converter()
            except MissingDependencyError as exc:
                built += [Built(t, None, size, "unavailable", str(exc)) for t in missing]
            else:
                config = TFLiteConfig(size=size, precisions=tuple(t.kind for t in missing), allow_lossy=True)
                result = export_tflite(checkpoint, config, own)
                by_kind = {t.kind: t for t in missing}
                for record in result.files:
                    if record.path is not None:
                        stamp_key(record.path, keys[by_kind[record.kind]])
                        found[by_kind[record.kind]] = record.path
                    else:
                        built.append(Built(by_kind[record.kind], None, size, "failed", record.reason))
        built += [Built(t, p, size) for t, p in found.items()]
    return built


def build_tensorrt(checkpoint: Path, wanted: tuple[Target, ...], sizes: tuple[int, ...], folder: Path,
                   search: tuple[Path, ...] = ()) -> list[Built]:
    """One engine per precision; INT8 from the TensorRT-placement Q/DQ ONNX (explicit quantization, what TensorRT
    10+ needs), built here when missing. A precision that fails keeps the others."""
    from animegan_deploy.backends.registry import BACKENDS

    backend = BACKENDS["tensorrt"]
    missing = backend.missing()
    if missing:
        reason = f"{', '.join(missing)} not installed; {backend.install_hint}"
        return [Built(t, None, None, "unavailable", reason) for t in wanted]
    from .tensorrt import TensorRTConfig, export_tensorrt

    built = []
    for target in wanted:
        out = target.file(checkpoint, folder)
        try:
            inputs, qdq = {"model": checkpoint}, None
            if target.precision == "int8":  # the engine is made from the Q/DQ file: its content is an input
                source = next(t for t in targets("onnx-int8") if t.placement == "tensorrt")
                qdq = inputs["onnx int8"] = build_onnx_int8(checkpoint, (source,), sizes, folder)[0].path
            config = TensorRTConfig(precision=target.precision, onnx=str(qdq) if qdq else None)
            build_once(out, inputs, config, lambda: export_tensorrt(checkpoint, config, out))
        except Exception as exc:  # this precision's row says why; the other engines stand
            built.append(Built(target, None, None, "failed", failure_reason(exc)))
            continue
        built.append(Built(target, out))
    return built
