"""One run at a time per output folder: a second run on the same folder would race the first one's files.

The lock file holds the owner's pid and its start time (from /proc), so a stale lock whose pid now belongs to
another process is seen as stale, not as a run in progress; ``break_lock`` removes a lock the user knows is stale.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .errors import UserError


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]  # field 22 of stat; the first two (pid, comm) are before the split
    except (OSError, IndexError):
        return None


def _owner_alive(text: str) -> int | None:
    """The pid recorded in a lock when that very process still runs, else None."""
    from .atomic import _alive

    parts = text.split()
    if not parts or not parts[0].isdigit():
        return None
    pid = int(parts[0])
    if pid == os.getpid() or not _alive(pid):
        return None
    if len(parts) > 1 and process_start(pid) not in (None, parts[1]):
        return None  # the pid was reused by another process: the run that held the lock is gone
    return pid


class FolderLock:
    def __init__(self, folder: Path, name: str, what: str, break_lock: bool = False) -> None:
        self.path = Path(folder) / name
        self.what = what
        self.break_lock = break_lock
        self.held = False

    def __enter__(self) -> "FolderLock":
        try:
            text = self.path.read_text()
        except (OSError, UnicodeDecodeError):
            text = ""
        pid = None if self.break_lock else _owner_alive(text)
        if pid is not None:
            raise UserError(f"{self.path.parent}: another {self.what} (pid {pid}) is running on this folder; wait for it, "
                            f"choose another output folder, or pass --break-lock if pid {pid} is not that run")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{os.getpid()} {process_start(os.getpid()) or ''}".strip())
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)


def die_with_parent() -> None:
    """``preexec_fn`` for child processes (onnx2tf): the kernel kills the child when this process dies, so a killed
    run leaves no converter running on (Linux; elsewhere a no-op)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Wait for, then hold, the one lock on ``path`` (created if missing) among this machine's processes: for work
    several processes may start at once and must do once, such as building a cached photo set (the lock goes with
    the process if it dies)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
