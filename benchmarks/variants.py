"""The variants a benchmark compares, and how the missing ones are built from the checkpoint.

A variant is one file run by one backend at one precision. The FP32 torch original is always first (every
speedup and PSNR is relative to it). The others come from the user (``--variant NAME=PATH``: a pruned or
distilled checkpoint, any exported file) and from the targets table (export/targets.py): each ``--formats``
entry's targets are built by their format's build function, which reuses a file already built from the same
checkpoint with the same settings. A target that cannot be built here (TensorRT without a GPU) comes back
marked unavailable with the reason, so the table still has its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from animegan_deploy.errors import MissingDependencyError, UserError, failure_reason
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


def _variants(checkpoint: Path, built: list) -> list[Variant]:
    return [Variant(b.target.name, b.target.backend, b.target.precision, b.path, checkpoint, b.size, b.status,
                    b.reason) for b in built]


def build_group(group: str, checkpoint: Path, sizes: tuple[int, ...], workdir: Path,
                tflite_dir: str | None = None) -> list[Variant]:
    """The benchmarked targets of one ``--formats`` entry (export/targets.py), built by their format's build
    function (or reused: export/builds.py)."""
    from animegan_deploy.export.targets import FORMATS, resolve, targets

    wanted = targets(group=group, benchmarked_only=True)
    built = []
    for fmt in dict.fromkeys(t.format for t in wanted):
        search = (Path(tflite_dir),) if tflite_dir and fmt == "tflite" else ()
        built += resolve(FORMATS[fmt].build)(checkpoint, tuple(t for t in wanted if t.format == fmt), sizes, workdir,
                                             search)
    return _variants(checkpoint, built)


def build_variants(checkpoint: Path, formats: tuple[str, ...], user: tuple[str, ...], sizes: tuple[int, ...],
                   workdir: Path, tflite_dir: str | None = None, progress: Callable[[str], None] = print) -> list[Variant]:
    """The original, the user's variants, then each format's; a builder that fails gives a failed row."""
    from animegan_deploy.export.targets import benchmark_groups

    unknown = [f for f in formats if f not in benchmark_groups()]
    if unknown:
        raise UserError(f"--formats {','.join(unknown)}: choose from {', '.join(benchmark_groups())}")
    variants = [Variant("original", "torch", "fp32", checkpoint, checkpoint)]
    variants += [user_variant(spec) for spec in user]
    workdir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        progress(f"preparing {fmt} variants")
        try:
            variants += build_group(fmt, checkpoint, sizes, workdir, tflite_dir)
        except (MissingDependencyError, UserError) as exc:
            variants.append(Variant(fmt, fmt, "-", None, checkpoint, None, "unavailable", str(exc)))
        except Exception as exc:  # the suite goes on; the row says why this format is missing
            variants.append(Variant(fmt, fmt, "-", None, checkpoint, None, "failed", failure_reason(exc)))
    names = [v.name for v in variants]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise UserError(f"--variants: the name(s) {', '.join(clash)} are taken; give each variant its own NAME=PATH")
    return variants
