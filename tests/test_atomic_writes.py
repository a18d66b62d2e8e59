"""Atomic writes: usual permissions, stale temporaries of killed writers removed, sidecars verified."""

import os
import subprocess
import sys

import pytest

from animegan_deploy.atomic import atomic_write_text, remove_stale_temporaries
from animegan_deploy.ownership import journal_temporary
from animegan_deploy.sidecar import read_sidecar, write_sidecar


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_temporaries_of_a_dead_writer_go_and_a_live_ones_stay(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".model.{dead_pid}.abc123.tmp.onnx"
    live = tmp_path / f".model.{os.getpid()}.def456.tmp.onnx"
    other = tmp_path / f".other.{dead_pid}.x.tmp.onnx"
    lookalike = tmp_path / f".model.{dead_pid}.users.tmp.onnx"  # named like ours, never journaled: a user's file
    for p in (stale, live, other):
        journal_temporary(p)
    for p in (stale, live, other, lookalike):
        p.write_bytes(b"")
    atomic_write_text(tmp_path / "model.onnx", "new")
    assert not stale.exists() and live.exists() and other.exists() and lookalike.exists()
    assert remove_stale_temporaries(tmp_path / "other.onnx") == [other]
    assert lookalike.exists()


def test_sidecar_of_another_version_is_detected(tmp_path):
    artifact = tmp_path / "k.onnx"
    artifact.write_bytes(b"old")
    write_sidecar(artifact, "onnx")
    assert read_sidecar(artifact, verify=True)["sha256"]
    artifact.write_bytes(b"new")  # as if killed between the artifact's rename and the sidecar's write
    with pytest.raises(ValueError, match="another version"):
        read_sidecar(artifact, verify=True)
