"""Output paths checked before any work starts: a folder where a file is wanted (or the reverse), a parent that
is a file, a folder that cannot be written, or an output that is one of the inputs is one line naming the
option and the fix, instead of a traceback after minutes of work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import UserError
from .ownership import check_replaceable


def _can_write_in(folder: Path) -> bool:
    """A real probe (permission bits say nothing for root, read-only mounts or /proc)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".animegan-probe-"):
            return True
    except OSError:
        return False


def _writable_ancestor(path: Path, option: str) -> None:
    parent = path.parent
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is a file, not a folder; choose another path")
    if not _can_write_in(parent):
        raise UserError(f"{option} {path}: cannot write in {parent}; choose another path")


def _not_an_input(path: Path, option: str, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    target = path.resolve()
    for item in inputs:
        if item is not None and Path(item).exists() and Path(item).resolve() == target:
            raise UserError(f"{option} {path}: that is an input; write the output somewhere else")


def check_output_file(path: str | os.PathLike[str], option: str = "--output",
                      inputs: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """``path`` can be written as a file: not a folder, its parent a writable folder (or creatable), not an input."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path}: is a folder; name the file to write, e.g. {path / 'out'}{''.join(path.suffixes)}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{option} {path}: the file is read-only; choose another path")
    _writable_ancestor(path, option)
    _not_an_input(path, option, inputs)
    check_replaceable(path, option)
    return path


def check_output_dir(path: str | os.PathLike[str], option: str = "--output",
                     inputs: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """``path`` can be used as an output folder: not a file, writable (or creatable), not an input."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file; name a folder to write into")
    if path.is_dir():
        if not _can_write_in(path):
            raise UserError(f"{option} {path}: cannot write in it; choose another folder")
    else:
        _writable_ancestor(path, option)
    _not_an_input(path, option, inputs)
    return path
