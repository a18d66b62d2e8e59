"""Cache keys of pipeline stages and artifacts.

A key is the sha256 of the input artifacts' contents, the stage config as canonical JSON and the project
version. A stage whose record (``stage.json`` in its folder) carries the same key, and whose every output is
still the very file the record describes (sha256), is reused; anything else runs again. Artifacts built inside a
stage carry their own key in their sidecar (``cache_key``), so a stage interrupted halfway keeps what it finished.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from animegan_deploy import __version__
from animegan_deploy.atomic import atomic_write_json
from animegan_deploy.sidecar import _plain, file_sha256, read_sidecar, sidecar_path


@functools.lru_cache(maxsize=64)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(path)


def content_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of a file (memoized on its mtime and size: stages ask about the same checkpoint many times)."""
    stat = os.stat(path)
    return _sha256(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def canonical_json(value: Any) -> str:
    from animegan_deploy.finite import strict

    return json.dumps(strict(_plain(value)), sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)


def cache_key(inputs: Mapping[str, str | os.PathLike[str] | None], config: Any) -> str:
    """sha256 over the inputs' contents (a non-file input, e.g. ``width:0.5``, by its text), the config's
    canonical JSON and the project version."""
    described = {}
    for name, value in sorted(inputs.items()):
        if value is None:
            described[name] = None
        elif Path(value).is_file():
            described[name] = content_hash(value)
        else:
            described[name] = f"text:{value}"
    plain = json.loads(canonical_json(config))
    payload = {"inputs": described, "config": plain, "folders": folder_digests(plain), "version": __version__}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def folder_digests(plain: Any) -> dict[str, str]:
    """For every config value naming a photo folder: a digest of its pictures' names and contents, so replacing,
    adding or removing an evaluation or calibration photo re-runs what measured or calibrated on it."""
    from animegan_deploy.train.preprocess import list_images

    found: dict[str, str] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value and len(value) < 4096 and Path(value).is_dir() and value not in found:
            folder = Path(value)
            digest = hashlib.sha256()
            for image in list_images(folder):
                digest.update(f"{image.relative_to(folder).as_posix()}:{content_hash(image)}\n".encode())
            found[value] = digest.hexdigest()

    walk(plain)
    return found


def artifact_current(artifact: Path, key: str) -> bool:
    """``artifact`` exists, its sidecar describes this very file and carries ``key``."""
    if not artifact.is_file():
        return False
    try:
        meta = read_sidecar(artifact, verify=True)
    except (OSError, ValueError):
        return False
    return meta.get("cache_key") == key


def stamp_key(artifact: Path, key: str) -> None:
    """Record ``key`` in the artifact's sidecar (written by the stage's library function)."""
    path = sidecar_path(artifact)
    meta = json.loads(path.read_text()) if path.is_file() else {"artifact": artifact.name, "sha256": file_sha256(artifact)}
    meta["cache_key"] = key
    atomic_write_json(path, meta)


def record_current(record_path: Path, key: str, root: Path) -> dict | None:
    """The stage record at ``record_path`` when it carries ``key`` and each output it lists (paths relative to
    ``root``, the pipeline's folder, so a moved folder keeps its cache) is unchanged."""
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("cache_key") != key:
        return None
    for path, digest in (record.get("output_sha256") or {}).items():
        if not (root / path).is_file() or content_hash(root / path) != digest:
            return None
    return record
