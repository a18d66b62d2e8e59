"""The tool replaces only files it wrote itself (manifest or sidecar proves it), unless --overwrite; it deletes only
temporaries it journaled and scratch folders it marked, never a user's file that merely looks temporary."""

import os
import subprocess
import sys

import pytest

from animegan_deploy.atomic import atomic_write_text
from animegan_deploy.cli import main
from animegan_deploy.errors import UserError
from animegan_deploy.ownership import overwriting, written_by_us
from animegan_deploy.pipeline.runner import SCRATCH_MARK, SCRATCH_PREFIX, clean_leftovers
from animegan_deploy.sidecar import write_sidecar
from conftest import photo, save_photo


def test_own_files_are_replaced_a_users_are_kept(tmp_path):
    mine = atomic_write_text(tmp_path / "report.md", "first")
    assert written_by_us(mine)
    atomic_write_text(mine, "second")  # a rerun replaces what it wrote
    assert mine.read_text() == "second"
    mine.write_text("edited by hand")  # the user's now
    with pytest.raises(UserError, match="report.md: a file that animegan did not write.*--overwrite"):
        atomic_write_text(mine, "third")
    assert mine.read_text() == "edited by hand"
    with overwriting():
        atomic_write_text(mine, "third")
    assert mine.read_text() == "third"


def test_a_sidecar_proves_an_artifact(tmp_path):
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(b"written by a library, then described")
    assert not written_by_us(artifact)
    write_sidecar(artifact, "onnx")
    assert written_by_us(artifact)
    artifact.write_bytes(b"replaced by someone else")
    assert not written_by_us(artifact)


def test_stylize_keeps_a_users_file_of_the_same_name_and_overwrite_replaces_it(tmp_path, tiny_checkpoint, capsys):
    photos = tmp_path / "photos"
    save_photo(photos / "Aqua.jpg", photo(40, 56))
    (photos / "Aqua.png").write_bytes(b"the user's own Aqua.png")
    argv = ["stylize", str(photos / "Aqua.jpg"), "-w", str(tiny_checkpoint), "--size", "0", "-o", str(photos)]
    assert main(argv) == 2
    assert "Aqua.png" in capsys.readouterr().err
    assert (photos / "Aqua.png").read_bytes() == b"the user's own Aqua.png"
    assert main(argv + ["--overwrite"]) == 0
    assert (photos / "Aqua.png").read_bytes()[:4] == b"\x89PNG"
    assert main(argv) == 0  # now it is the tool's own output: a rerun replaces it without asking


def test_pipeline_cleanup_spares_a_users_tmp_folder_and_lookalikes(tmp_path):
    out = tmp_path / "run"
    (out / ".tmp").mkdir(parents=True)
    (out / ".tmp" / "notes.txt").write_text("mine")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    lookalike = out / f".report.{pid}.abcd.tmp.md"
    lookalike.write_text("mine too")
    ours = out / f"{SCRATCH_PREFIX}{pid}"
    ours.mkdir()
    (ours / SCRATCH_MARK).write_text(str(pid))
    unmarked = out / f"{SCRATCH_PREFIX}{pid + 1}"
    unmarked.mkdir()
    removed = clean_leftovers(out)
    assert removed == [ours]
    assert (out / ".tmp" / "notes.txt").read_text() == "mine" and lookalike.exists() and unmarked.exists()


def test_a_live_scratch_folder_is_not_removed(tmp_path):
    scratch = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}"
    scratch.mkdir()
    (scratch / SCRATCH_MARK).write_text(str(os.getpid()))
    assert clean_leftovers(tmp_path) == [] and scratch.is_dir()


def test_a_kill_between_manifest_and_rename_leaves_both_contents_provable(tmp_path):
    from animegan_deploy.digest import file_sha256
    from animegan_deploy.ownership import record_written

    old = atomic_write_text(tmp_path / "model.onnx", "old")
    new = tmp_path / "new"
    new.write_text("new")
    record_written(old, file_sha256(new), pending=True)  # what atomic_path does just before its rename
    assert written_by_us(old)  # the old content, if the rename never happens
    os.replace(new, old)
    assert written_by_us(old)  # the new content, if the kill came after the rename


def test_benchmark_refuses_a_users_report_file_before_building_anything(tmp_path, tiny_checkpoint, capsys):
    """A benchmark.json the tool did not write stops `animegan benchmark` at once, not after minutes of building and
    timing (it once refused only when writing the report)."""
    out, work = tmp_path / "report", tmp_path / "work"
    out.mkdir()
    (out / "benchmark.json").write_text('{"mine": true}')
    argv = ["benchmark", "-w", str(tiny_checkpoint), "-o", str(out), "--formats", "onnx", "--sizes", "32",
            "--work-dir", str(work), "--repeats", "1"]
    assert main(argv) == 2
    assert "benchmark.json: a file that animegan did not write" in capsys.readouterr().err
    assert not work.exists() and (out / "benchmark.json").read_text() == '{"mine": true}'
