"""One CLI vocabulary: evaluation photos are --eval-dir and calibration photos --calib-dir (with --calib-count) on
every command; the older spellings (--photos, --equalize-photos, --equalize-count) still work for one release,
hidden from the help, and mean exactly what the new ones do."""

import pytest

from animegan_deploy.benchmarks.fidelity_check import FidelityCheckConfig
from animegan_deploy.cli import build_parser, main
from animegan_deploy.configs import config_from_args
from animegan_deploy.export.onnx_export import OnnxExportConfig

COMMANDS = (["stylize"], ["evaluate-style"], ["prune"], ["distill"], ["student"], ["student-recipe"], ["quantize"],
            ["check-fidelity"], ["simulate-int8"], ["zoo-report"], ["benchmark"], ["export", "onnx"],
            ["export", "onnx-int8"], ["export", "tflite"])
OLD = ("--photos", "--equalize-photos", "--equalize-count")


def _help(command: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        main(command + ["--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_one_name_per_meaning(command, capsys):
    text = _help(command, capsys)
    assert not [old for old in OLD if f"{old} " in text or f"{old}\n" in text], text
    if command not in (["stylize"], ["export", "onnx"]):  # every command measuring fidelity on photos: --eval-dir
        assert "--eval-dir" in text, command
    if command == ["export", "onnx"]:  # its photos are the equalization's calibration photos
        assert "--calib-dir" in text and "--calib-count" in text


def test_old_spellings_mean_what_the_new_ones_do():
    parser = build_parser()
    new = config_from_args(FidelityCheckConfig, parser.parse_args(["check-fidelity", "f.onnx", "--eval-dir", "D"]))
    old = config_from_args(FidelityCheckConfig, parser.parse_args(["check-fidelity", "f.onnx", "--photos", "D"]))
    assert new == old and new.photos == "D"

    argv = ["export", "onnx", "--equalize"]
    new = config_from_args(OnnxExportConfig, parser.parse_args(argv + ["--calib-dir", "C", "--calib-count", "3"]))
    old = config_from_args(OnnxExportConfig, parser.parse_args(argv + ["--equalize-photos", "C", "--equalize-count",
                                                                       "3"]))
    assert new == old and (new.equalize_photos, new.equalize_count) == ("C", 3)

    style = parser.parse_args(["evaluate-style", "--baseline", "b", "--style", "s", "--photos", "P"])
    assert style.photos == "P" == parser.parse_args(["evaluate-style", "--baseline", "b", "--style", "s",
                                                     "--eval-dir", "P"]).photos


def test_errors_name_the_new_spelling(tmp_path, capsys):
    assert main(["export", "onnx", "--equalize", "--calib-count", "0", "-o", str(tmp_path / "x.onnx")]) != 0
    assert "--calib-count 0" in capsys.readouterr().err
    assert main(["evaluate-style", "--baseline", "b", "--style", "s"]) != 0
    assert "--eval-dir is required" in capsys.readouterr().err


def test_every_output_option_is_spelled_the_same(capsys):
    """Where a command writes somewhere it names, -o and --output both spell it, with its default in the help
    (demo-data and evaluate-style once took --output alone)."""
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    commands = [[c] for c in ("stylize", "demo-data", "demo", "evaluate-style", "prune", "distill", "student",
                              "student-recipe", "quantize", "zoo-report", "benchmark") if c in listed]
    for command in commands + [["export", "onnx"], ["export", "tflite"], ["pipeline", "run"]]:
        text = _help(command, capsys)
        assert "-o OUTPUT, --output OUTPUT" in text, command
        assert "(default:" in text.split("--output OUTPUT", 2)[-1][:300], command


@pytest.mark.parametrize("command", [["export", "tflite"], ["export", "onnx-int8"], ["quantize"], ["benchmark"],
                                     ["zoo-report"], ["distill"]], ids=" ".join)
def test_commands_that_show_progress_take_quiet(command, capsys):
    """Every command with progress bars or step messages silences them with the same --quiet (the export formats
    whose exporter takes ``progress``: tflite, onnx-int8)."""
    assert "--quiet" in _help(command, capsys)


def test_export_formats_without_progress_do_not_offer_quiet(capsys):
    assert "--quiet" not in _help(["export", "onnx"], capsys)
