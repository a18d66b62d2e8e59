"""Stylize never writes over an input and never reads its own outputs as photos; output paths checked first."""

import numpy as np
from PIL import Image

from animegan_deploy.cli import main
from conftest import photo, save_photo, files_in


def _args(tiny_checkpoint, *rest):
    return ["stylize", *rest, "-w", str(tiny_checkpoint), "--size", "32"]


def test_output_folder_holding_the_input_keeps_the_photo(tmp_path, tiny_checkpoint):
    same = tmp_path / "same"
    same.mkdir()
    original = save_photo(same / "good.png", photo(40, 40))
    before = original.read_bytes()
    assert main(_args(tiny_checkpoint, str(original), "-o", str(same))) == 0
    assert original.read_bytes() == before
    outputs = sorted(p.name for p in files_in(same))
    assert outputs == ["good.png", "good_png.png"]


def test_outputs_inside_the_input_folder_are_not_read_back(tmp_path, tiny_checkpoint, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    save_photo(photos / "a.png", photo(40, 40, seed=1))
    out = photos / "out"
    for _ in range(2):
        assert main(_args(tiny_checkpoint, str(photos), "-o", str(out))) == 0
    assert sorted(p.name for p in files_in(out)) == ["a.png"]  # the second run did not stylize out/a.png
    assert "stylized 1 file(s)" in capsys.readouterr().out


def test_the_input_folder_as_output_is_refused_before_any_work(tmp_path, tiny_checkpoint, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    save_photo(photos / "a.png", photo(40, 40, seed=2))
    assert main(_args(tiny_checkpoint, str(photos), "-o", str(photos))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output") and "input folder" in err and "Traceback" not in err
    assert sorted(p.name for p in files_in(photos)) == ["a.png"]


def test_output_below_a_file_is_one_error_line(tmp_path, tiny_checkpoint, capsys):
    good = save_photo(tmp_path / "good.png", photo(40, 40))
    assert main(_args(tiny_checkpoint, str(good), "-o", str(good / "sub"))) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is a file" in err


def test_unexpected_failure_is_one_line_with_a_log(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    import animegan_deploy.stylize as stylize_module

    def broken(*_args, **_kw):
        raise RuntimeError("simulated bug")

    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ANIMEGAN_DEBUG", raising=False)
    monkeypatch.setattr(stylize_module, "stylize", broken)
    good = save_photo(tmp_path / "good.png", photo(40, 40))
    assert main(_args(tiny_checkpoint, str(good), "-o", str(tmp_path / "o"))) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "RuntimeError: simulated bug" in err and "Traceback" not in err
    logs = list((tmp_path / "cache" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and "simulated bug" in logs[0].read_text()
    assert np.asarray(Image.open(good)).shape == (40, 40, 3)
