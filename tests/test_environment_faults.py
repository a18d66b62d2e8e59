"""Faults of the machine, not the user or the tool: a full or read-only disk and a broken pipe are one line; the
crash handler never crashes; a stale lock is seen by its pid's start time and can be broken; child processes die
with their parent; Makefile targets quote the values they pass."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import animegan_deploy.cli as cli
from animegan_deploy.errors import UserError
from animegan_deploy.lock import FolderLock, process_start

ROOT = Path(__file__).resolve().parent.parent


def _failing(monkeypatch, exc: BaseException) -> None:
    """`animegan demo-data` fails with ``exc`` where it would build the dataset."""
    import animegan_deploy.train.demo_data as demo_data

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(demo_data, "build_demo_dataset", boom)


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"),
                                         (errno.EDQUOT, "quota")])
def test_disk_faults_are_one_line(monkeypatch, capsys, tmp_path, code, words):
    _failing(monkeypatch, OSError(code, os.strerror(code), str(tmp_path / "out" / "model.onnx")))
    assert cli.main(["demo-data", "--output", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "model.onnx" in err and words in err and "Traceback" not in err


def test_broken_pipe_is_quiet(monkeypatch, capsys, tmp_path):
    _failing(monkeypatch, BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert cli.main(["demo-data", "--output", str(tmp_path / "d")]) == 141
    assert capsys.readouterr().err == ""


def test_the_crash_handler_survives_no_writable_folder(monkeypatch, capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "afile"))
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "afile" / "nowhere"))
    _failing(monkeypatch, RuntimeError("a bug"))
    assert cli.main(["demo-data", "--output", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "failed unexpectedly (RuntimeError: a bug)" in err
    assert "no writable folder for the traceback" in err and "Traceback" not in err


def test_a_lock_whose_pid_was_reused_is_stale(tmp_path):
    parent = os.getppid()  # alive, but not the run that wrote the lock: its start time differs
    (tmp_path / ".pipeline.lock").write_text(f"{parent} 1")
    with FolderLock(tmp_path, ".pipeline.lock", "pipeline"):
        assert (tmp_path / ".pipeline.lock").read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / ".pipeline.lock").exists()


def test_a_live_lock_refuses_and_break_lock_takes_it(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".pipeline.lock").write_text(f"{sleeper.pid} {process_start(sleeper.pid)}")
        with pytest.raises(UserError, match=f"pid {sleeper.pid}.*--break-lock"):
            with FolderLock(tmp_path, ".pipeline.lock", "pipeline"):
                pass
        with FolderLock(tmp_path, ".pipeline.lock", "pipeline", break_lock=True):
            pass
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_child_dies_with_its_parent(tmp_path):
    script = ("import subprocess, sys, time\n"
              "from animegan_deploy.lock import die_with_parent\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], preexec_fn=die_with_parent)\n"
              "print(child.pid, flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a zombie of an orphan is reaped by init; /proc says when it is only a zombie
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] if Path(f"/proc/{child}").exists() \
            else "X"
        if state in ("Z", "X"):
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its killed parent")


def test_make_quotes_values_with_spaces():
    out = subprocess.run(["make", "-n", "student", "WEIGHTS=my w.pt", "EVAL=my photos", "OUT=my out"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if "student-recipe" in l)
    assert "--weights 'my w.pt'" in line and "--eval-dir 'my photos'" in line and "--output 'my out'" in line
    text = subprocess.run(["make", "-n", "pipeline", "SET=data.eval_dir=\"my photos\" quantize.method=minmax"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "'data.eval_dir=\"my photos\" quantize.method=minmax'" in text
