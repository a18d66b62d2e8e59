"""Every user-facing input checked before work starts, one function per kind, shared by the CLI, the pipeline and
the student recipe: a generator checkpoint, a folder of photos, one photo. Each failure is one line naming the
input (its option and path) and the fix."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError


def check_checkpoint(spec: str | os.PathLike[str] | None, option: str = "--weights") -> Path:
    """``spec`` resolves to a generator checkpoint that loads (shapes fit, weights finite); returns its path."""
    from .models.checkpoints import PUBLIC_SUFFIXES, load_generator
    from .models.hub import resolve_weights

    if spec is not None and not str(spec).strip():
        raise UserError(f"{option} is empty; name a checkpoint (a .safetensors/.pt path, a public name or 'default')")
    path = resolve_weights(spec)
    if path.is_dir():
        raise UserError(f"{option} {path}: is a folder; name the checkpoint file inside it")
    suffix = path.suffix.lower()
    if suffix in (".onnx", ".tflite", ".engine", ".plan"):
        raise UserError(f"{option} {path}: an exported {suffix} file; this needs the generator checkpoint it was made "
                        "from (.safetensors or .pt)")
    if suffix != ".safetensors" and suffix not in PUBLIC_SUFFIXES:
        raise UserError(f"{option} {path}: not a checkpoint ({suffix or 'no suffix'}); pass a .safetensors or "
                        f"{'/'.join(PUBLIC_SUFFIXES)} file")
    try:
        load_generator(path)
    except UserError as exc:
        text = str(exc)
        raise UserError(text if text.startswith(str(path)) else f"{option} {path}: {text}") from None
    return path


def read_photo(path: Path):
    """``path`` decoded (imageio.read_image), or a UserError naming it, why, and the fix: every place that reads a
    user's photo says the same."""
    from .imageio import InputError, read_image

    try:
        return read_image(path)
    except InputError as exc:
        raise UserError(f"{path}: {exc}; remove or replace this photo") from None


def check_photo(path: Path) -> None:
    """``path`` decodes as a picture with pixels, else a UserError naming it and why."""
    read_photo(path)


def check_photo_folder(folder: str | os.PathLike[str] | None, option: str, decode: bool = True,
                       exclude: Path | None = None) -> list[Path]:
    """``folder`` is a folder holding photos, each readable (``decode``); ``exclude``: an output folder that must
    not lie inside it (its images would be read back as photos on the next run)."""
    from .train.preprocess import list_images

    if folder is None:
        return []
    if not str(folder).strip():
        raise UserError(f"{option} is empty; name a folder of .jpg/.png photos")
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"{option} {folder}: no such folder; name a folder of .jpg/.png photos")
    if not folder.is_dir():
        raise UserError(f"{option} {folder}: is a file; name the folder of photos it is in")
    if exclude is not None:
        inner, outer = Path(exclude).resolve(), folder.resolve()
        if inner == outer or outer in inner.parents:
            raise UserError(f"{option} {folder}: the output folder {exclude} is inside it, so the run's own pictures "
                            "would be read as photos next time; write the output elsewhere")
    try:
        photos = list_images(folder)
    except OSError as exc:
        raise UserError(f"{option} {folder}: cannot be read ({exc.strerror or exc})") from None
    if not photos:
        raise UserError(f"{option} {folder}: holds no photos; pass a folder of .jpg/.png photos")
    if decode:
        for photo in photos:
            check_photo(photo)
    return photos
