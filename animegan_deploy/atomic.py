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
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed to ``target``, else removed.

    The temporary name keeps ``target``'s suffix, for writers that pick a container by file extension.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.{os.getpid()}.", suffix=f".tmp{target.suffix}",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


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


def _remove_dead(candidates: Iterator[Path], stem: str | None = None) -> list[Path]:
    """Delete the candidates that are temporaries (of ``stem``, when given) whose writing process is gone."""
    removed = []
    for tmp in candidates:
        match = _TEMP_NAME.match(tmp.name)
        if match and (stem is None or match["stem"] == stem) and tmp.is_file() and not _alive(int(match["pid"])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete ``target``'s temporary files whose writing process is gone (killed mid-write)."""
    return _remove_dead(target.parent.glob(f".{target.stem}.*.tmp{target.suffix}"), stem=target.stem)


def remove_dead_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files under ``folder`` (recursively) whose writing process is gone."""
    return _remove_dead(folder.rglob(".*.tmp*"))


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


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
