"""JSON sidecars: every artifact ``X`` gets ``X.json`` saying what it is, where it came from and its numbers."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Mapping

from . import __version__
from .atomic import atomic_write_json
from .digest import file_sha256


def sidecar_path(artifact: str | os.PathLike[str]) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def describe_source(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    if path is None:
        return None
    path = Path(path)
    info: dict[str, Any] = {"path": str(path)}
    if path.is_file():
        info["sha256"] = file_sha256(path)
        info["size_bytes"] = path.stat().st_size
    return info


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_sidecar(
    artifact: str | os.PathLike[str],
    kind: str,
    *,
    source: str | os.PathLike[str] | None = None,
    config: Any = None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``artifact``.json atomically and return its path."""
    artifact = Path(artifact)
    record: dict[str, Any] = {
        "artifact": artifact.name,
        "kind": kind,
        "sha256": file_sha256(artifact) if artifact.is_file() else None,
        "size_bytes": artifact.stat().st_size if artifact.is_file() else None,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tool": f"animegan-deploy {__version__}",
        "git_commit": git_commit(),
        "source": describe_source(source),
        "config": _plain(config),
        "metrics": _plain(dict(metrics or {})),
    }
    if extra:
        record.update(_plain(dict(extra)))
    return atomic_write_json(sidecar_path(artifact), record)


def read_sidecar(artifact: str | os.PathLike[str], verify: bool = False) -> dict[str, Any]:
    """The artifact's sidecar. ``verify``: also check that it describes this very file (its sha256), else
    ValueError: a writer killed between the artifact's rename and the sidecar's leaves an old sidecar."""
    record = json.loads(sidecar_path(artifact).read_text())
    if verify and record.get("sha256") != file_sha256(artifact):
        raise ValueError(f"{sidecar_path(artifact)} describes another version of {Path(artifact).name}")
    return record


def sidecar_of(path: str | os.PathLike[str], verify: bool = False) -> dict[str, Any]:
    """The artifact's JSON sidecar, or {} when it has none (a file from elsewhere) or, with ``verify``, when it
    describes another version of the file."""
    try:
        return read_sidecar(path, verify=verify)
    except (OSError, ValueError):
        return {}


CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".bin")


def source_checkpoint(variant: str | os.PathLike[str], hops: int = 4) -> Path | None:
    """The generator checkpoint an exported file was made from: its sidecar's source, followed through
    intermediate files (an INT8 ONNX made from an FP32 ONNX) and checked by sha256; None when unknown."""
    current = variant
    for _ in range(hops):
        source = sidecar_of(current, verify=True).get("source") or {}
        path = Path(source.get("path") or "")
        if not source.get("path") or not path.is_file() or file_sha256(path) != source.get("sha256"):
            return None
        if path.suffix.lower() in CHECKPOINT_SUFFIXES:
            return path
        current = path
    return None
