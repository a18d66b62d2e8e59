"""Which files this tool may replace: only the ones it wrote itself, unless the user says ``--overwrite``.

Every file written through :func:`animegan_deploy.atomic.atomic_path` is recorded, with its sha256, in its
folder's manifest (``.animegan-written.json``); an artifact whose JSON sidecar (written by this tool) names its
sha256 is proven too. A file that is neither (a user's photo that happens to share an output's name, a report
edited by hand, a file from another tool) is never replaced: the write is refused with one line naming the file
and ``--overwrite``. Temporary files are recorded in the folder's journal before they are created, so the
clean-up after a killed run deletes only names this tool created, never files that merely look temporary.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

from .digest import file_sha256
from .errors import UserError

MANIFEST = ".animegan-written.json"
JOURNAL = ".animegan-temporaries"
_overwrite = False


def allow_overwrite(value: bool) -> None:
    """``--overwrite``: files this tool did not write may be replaced (for this process)."""
    global _overwrite
    _overwrite = bool(value)


@contextlib.contextmanager
def overwriting() -> Iterator[None]:
    """Replace files regardless of who wrote them, inside this block (tests, ``make`` targets over committed
    reports)."""
    global _overwrite
    previous, _overwrite = _overwrite, True
    try:
        yield
    finally:
        _overwrite = previous


def _sha256(path: Path) -> str:
    return file_sha256(path)


def _manifest(folder: Path) -> dict[str, list[str]]:
    """File name -> the sha256 digests it may hold (one; two while a write is being renamed into place)."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: [v] if isinstance(v, str) else [d for d in v if isinstance(d, str)] for k, v in data.items()
            if isinstance(v, (str, list))}


def written_by_us(path: str | os.PathLike[str]) -> bool:
    """``path`` holds exactly what this tool wrote there (manifest or sidecar sha256 match)."""
    path = Path(path)
    if not path.is_file():
        return False
    digest = None
    recorded = _manifest(path.parent).get(path.name)
    if recorded:
        digest = _sha256(path)
        if digest in recorded:
            return True
    sidecar = path.with_name(path.name + ".json")
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or not str(record.get("tool", "")).startswith("animegan-deploy"):
        return False
    return record.get("sha256") == (digest or _sha256(path))


def check_replaceable(path: str | os.PathLike[str], option: str = "") -> None:
    """An existing file at ``path`` that this tool did not write is a UserError (before any work starts)."""
    path = Path(path)
    if _overwrite or not path.exists() or path.is_dir() or path.name in (MANIFEST, JOURNAL):
        return
    if not written_by_us(path):
        raise UserError(f"{option + ' ' if option else ''}{path}: a file that animegan did not write is already there; it is kept: choose "
                        "another path, or pass --overwrite to replace it")


def record_written(path: str | os.PathLike[str], digest: str | None = None, pending: bool = False) -> None:
    """Record in ``path``'s folder manifest that it holds ``digest`` (default: its content). ``pending``: the new
    content is about to be renamed into place; the old digest stays valid too, so a kill between the manifest and
    the rename leaves a file that is still provably ours. A folder where the manifest cannot be written only loses
    the proof (a later run asks for --overwrite), never the artifact."""
    path = Path(path)
    if path.name in (MANIFEST, JOURNAL):
        return
    folder = path.parent
    entries = _manifest(folder)
    digest = digest or _sha256(path)
    entries[path.name] = [*entries.get(path.name, []), digest] if pending else [digest]
    tmp = folder / f"{MANIFEST}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps(entries, indent=0, sort_keys=True))
        os.replace(tmp, folder / MANIFEST)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def journal_temporary(tmp: Path) -> None:
    """Record a temporary file's name before it is created (one appended line)."""
    with contextlib.suppress(OSError), open(tmp.parent / JOURNAL, "a") as handle:
        handle.write(tmp.name + "\n")


def journaled_temporaries(folder: Path) -> set[str]:
    try:
        return set((folder / JOURNAL).read_text().split("\n")) - {""}
    except OSError:
        return set()


def forget_temporaries(folder: Path, names: set[str]) -> None:
    """Drop ``names`` from the journal (they are gone); the journal itself goes when it is empty."""
    left = journaled_temporaries(folder) - names
    left = {n for n in left if (folder / n).exists()}
    with contextlib.suppress(OSError):
        if left:
            tmp = folder / f"{JOURNAL}.{os.getpid()}"
            tmp.write_text("".join(n + "\n" for n in sorted(left)))
            os.replace(tmp, folder / JOURNAL)
        else:
            (folder / JOURNAL).unlink(missing_ok=True)
