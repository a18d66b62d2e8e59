"""Where generator weights come from: the embedded default, a local path, a known public name, or a URL.

Downloads go to a cache folder (``$ANIMEGAN_CACHE`` or ``~/.cache/animegan-deploy``) through
``torch.hub.download_url_to_file``, which writes a temporary file and renames it when complete.
Nothing is fetched unless the user names a URL or a public checkpoint that is not cached yet.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path
from urllib.parse import urlparse

from animegan_deploy.errors import UserError

PUBLIC_RELEASE = "https://github.com/bryandlee/animegan2-pytorch/raw/main/weights"
PUBLIC_CHECKPOINTS: dict[str, str] = {
    name: f"{PUBLIC_RELEASE}/{name}.pt"
    for name in ("celeba_distill", "face_paint_512_v1", "face_paint_512_v2", "paprika")
}

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_CHECKPOINT = WEIGHTS_DIR / "animegan_demo.safetensors"


def cache_dir() -> Path:
    root = os.environ.get("ANIMEGAN_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "animegan-deploy"


def default_checkpoint() -> Path:
    if not DEFAULT_CHECKPOINT.is_file():
        raise UserError(
            f"{DEFAULT_CHECKPOINT}: the embedded default checkpoint is missing from this checkout; "
            "run `make train-demo` to rebuild it or pass --weights PATH"
        )
    return DEFAULT_CHECKPOINT


def resolve_weights(spec: str | os.PathLike[str] | None) -> Path:
    """Turn a --weights value into a local file: None/'default', a path, a public name, or a URL."""
    if spec is None or str(spec) == "default":
        return default_checkpoint()
    text = str(spec)
    if not text.strip():  # Path("") would be the current folder
        raise UserError("--weights is empty; name a checkpoint (a path, a URL, a public name or 'default')")
    if text.startswith("zoo:"):
        from .zoo import zoo_checkpoint

        return zoo_checkpoint(text[len("zoo:"):])
    if text in PUBLIC_CHECKPOINTS:
        return download(PUBLIC_CHECKPOINTS[text])
    if urlparse(text).scheme in ("http", "https", "file"):
        return download(text)
    path = Path(text).expanduser()
    if not path.exists():
        known = ", ".join(sorted(PUBLIC_CHECKPOINTS))
        raise UserError(
            f"--weights {text}: no such file; give a checkpoint path, a URL, 'default', or one of: {known}"
        )
    return path


def download(url: str, directory: Path | None = None) -> Path:
    """Fetch ``url`` into the cache once; later calls return the cached file without network access."""
    import torch.hub

    import hashlib

    directory = directory or cache_dir() / "checkpoints"
    name = Path(urlparse(url).path).name or "checkpoint.pt"
    # keyed by the full URL: two URLs that end in the same file name are two models
    target = directory / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    if directory.exists() and not directory.is_dir():
        raise UserError(f"ANIMEGAN_CACHE {cache_dir()}: {directory} is a file, not a folder; point ANIMEGAN_CACHE at a "
                        "folder")
    if target.is_file() and target.stat().st_size > 0:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{url}: cannot make the download cache {target.parent} ({exc.strerror or exc}); set "
                        "ANIMEGAN_CACHE to a writable folder") from None
    try:
        torch.hub.download_url_to_file(url, str(target), progress=True)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UserError(
            f"{url}: download failed ({exc}); fetch the file by other means and pass its path with --weights"
        ) from None
    return target
