"""Atomic file writes: write to a temporary file in the target's folder, fsync, then rename over it.

A reader (or a crash) never sees a half-written artifact or checkpoint: the target either keeps its old
content or has the complete new content. The file gets the usual permissions (0666 less the umask, as open()
would give it), and temporary files that a killed writer left beside the same target are removed on the next
write (their names carry the writer's pid).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterator

from .digest import file_sha256
from .ownership import (JOURNAL, check_replaceable, forget_temporaries, journal_temporary, journaled_temporaries,
                        record_written)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], own: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed to ``target``, else removed.

    The temporary name keeps ``target``'s suffix, for writers that pick a container by file extension. An existing
    ``target`` this tool did not write is refused (see ownership), unless ``own``: the caller wrote it by other
    means (a log it appends to).
    """
    target = Path(target)
    if not own:
        check_replaceable(target)  # never a file this tool did not write (unless --overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = _new_temporary(target)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # created 0600
        digest = file_sha256(tmp)
        record_written(target, digest, pending=True)  # before the rename: a kill in between leaves it provable
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        record_written(target, digest)
    finally:
        tmp.unlink(missing_ok=True)
        forget_temporaries(target.parent, {tmp.name})


def _new_temporary(target: Path) -> Path:
    """An empty, new temporary file beside ``target``, its name journaled before it exists."""
    for _ in range(100):
        tmp = target.with_name(f".{target.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{target.suffix}")
        journal_temporary(tmp)
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# the names atomic_path gives its temporaries: .{stem}.{pid}.{random}.tmp{suffix}
_TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)\.[^.]+\.tmp(?P<suffix>.*)$")


def _remove_dead(folder: Path, stem: str | None = None) -> list[Path]:
    """Delete the temporaries in ``folder`` (of ``stem``, when given) that this tool journaled and whose writing
    process is gone; a file that only looks temporary is never touched."""
    journaled = journaled_temporaries(folder)
    removed = []
    for name in journaled:
        match = _TEMP_NAME.match(name)
        tmp = folder / name
        if match and (stem is None or match["stem"] == stem) and tmp.is_file() and not _alive(int(match["pid"])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    if journaled:
        forget_temporaries(folder, {p.name for p in removed})
    return removed


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete ``target``'s temporary files whose writing process is gone (killed mid-write)."""
    return _remove_dead(target.parent, stem=target.stem)


def remove_dead_temporaries(folder: Path) -> list[Path]:
    """Delete the journaled temporary files under ``folder`` (recursively) whose writing process is gone."""
    removed = []
    for journal in folder.rglob(JOURNAL):
        removed += _remove_dead(journal.parent)
    return removed


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Strict JSON: non-finite floats become null (see finite.strict), never a bare NaN/Infinity."""
    from .finite import strict

    return atomic_write_text(target, json.dumps(strict(obj), indent=2, sort_keys=False, default=str, allow_nan=False)
                             + "\n")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
