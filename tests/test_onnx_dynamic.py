"""The dynamic-scale INT8 ONNX (`animegan export onnx-dynamic`, the table's `onnx int8 dynamic`): every conv runs as
ConvInteger on 8-bit weights with its input's scale computed per picture, the figure in its sidecar is the one the
standalone checker measures, and a pipeline can make it and gate it by the int8 floors. Its fidelity on the real
default model is gated in test_fidelity_gate.py."""

from __future__ import annotations

import contextlib
import json

import onnx
import pytest

from animegan_deploy.benchmarks.fidelity_check import FidelityCheckConfig, check_fidelity
from animegan_deploy.cli import main
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.sidecar import read_sidecar
from pipeline_helpers import public_pt, quick_argv


def _ops(path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def test_every_conv_runs_in_integers_and_the_sidecar_figure_is_the_checkers(tiny_checkpoint, photo_folders,
                                                                           tmp_path, capsys):
    out = tmp_path / "tiny.int8-dyn.onnx"
    argv = ["export", "onnx-dynamic", "-w", str(tiny_checkpoint), "-o", str(out), "--size", "64",
            "--eval-dir", str(photo_folders["eval"])]
    assert main(argv) == 0
    assert "convs as ConvInteger" in capsys.readouterr().out
    fp32 = export_onnx(tiny_checkpoint, OnnxExportConfig(validate_sizes=((64, 64),)), tmp_path / "fp32.onnx").path
    convs = _ops(fp32).count("Conv")
    ops = _ops(out)
    assert convs > 10 and ops.count("ConvInteger") == convs and "Conv" not in ops
    assert ops.count("DynamicQuantizeLinear") >= 1  # the input scales are computed in the graph, per picture
    meta = read_sidecar(out)
    assert meta["precision"] == "int8" and meta["metrics"]["quantized_convs"] == convs
    check = check_fidelity(out, FidelityCheckConfig(size=64, photos=str(photo_folders["eval"])))
    assert check.precision == "int8"
    assert check.fidelity.psnr == pytest.approx(meta["metrics"]["fidelity_vs_fp32"]["psnr_db"], abs=0.01)


def test_a_pipeline_makes_it_and_gates_it_by_the_int8_floors(tmp_path, photo_folders):
    out = tmp_path / "out"
    argv = quick_argv(public_pt(tmp_path), photo_folders, out, "--set", "prune.enabled=false",
                      "--set", "distill.enabled=false", "--set", "quantize.enabled=false",
                      "--set", 'export.formats=["onnx-dynamic"]', "--set", "gate.int8_min_psnr=99.0")
    assert main(argv) == 1  # no INT8 file is 99 dB from its model: the gate fails, naming it
    record = json.loads((out / "pipeline.json").read_text())
    assert [(s["name"], s.get("format"), s["status"]) for s in record["stages"]][:1] == [
        ("export", "onnx-dynamic", "ran")]
    gate = json.loads((out / "gate" / "stage.json").read_text())["metrics"]
    (check,) = [c for c in gate["checks"] if c["what"].startswith("export onnx-dynamic")]
    assert check["precision"] == "int8" and check["min_psnr"] == 99.0 and not check["passed"]
    assert 10.0 < check["psnr_db"] < 99.0
    assert any(r["variant"] == "onnx int8 dynamic" for r in record["benchmark"])


@pytest.mark.parametrize("argv, message", [
    (["--weight-type", "int4"], "--weight-type: invalid choice: 'int4'"),
    (["--size", "8"], "--size 8: must be at least 16"),
])
def test_bad_settings_are_one_line_errors(tiny_checkpoint, tmp_path, capsys, argv, message):
    out = tmp_path / "x.int8-dyn.onnx"
    with pytest.raises(SystemExit) if "invalid choice" in message else contextlib.nullcontext():
        code = main(["export", "onnx-dynamic", "-w", str(tiny_checkpoint), "-o", str(out), *argv])
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()
