"""Adding a target is one entry in export/targets.py plus its build function: a fake format registered here (a
half-precision ONNX under its own name and precision label) shows up in the CLI's export subcommands, the
benchmark's --formats and rows, the pipeline's [export] formats and plan, and the gate judges its file by the
threshold set its entry names, with no other file touched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from animegan_deploy.benchmarks.fidelity_check import FidelityCheckConfig, check_fidelity
from animegan_deploy.benchmarks.variants import build_variants
from animegan_deploy.cli import main
from animegan_deploy.configs import option
from animegan_deploy.export import targets as table
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.pipeline import stages as S
from animegan_deploy.pipeline.config import load_pipeline_config
from animegan_deploy.sidecar import read_sidecar
from pipeline_helpers import public_pt, quick_argv

FAKE = table.Target("fake-onnx", "fake-half", ".fake.onnx", "fp16", row="fake-onnx half")


@dataclass
class FakeConfig:
    check_size: int = option(32, "size the file is checked at against torch")


def export_fake(checkpoint, config: FakeConfig, output):
    return export_onnx(checkpoint, OnnxExportConfig(precision="fp16", validate_sizes=((config.check_size,) * 2,)),
                       output)


def build_fake(checkpoint, wanted, sizes, folder, search=()):
    from animegan_deploy.export.builds import Built

    return [Built(t, export_fake(checkpoint, FakeConfig(), t.file(checkpoint, folder)).path) for t in wanted]


def fake_stage(inputs, config, output, progress, resume):
    out = FAKE.file(Path(inputs["model"]), output)
    export_fake(inputs["model"], config, out)
    check = check_fidelity(out, FidelityCheckConfig(size=config.check_size, photos=config.eval_dir,
                                                    precision=FAKE.thresholds))
    figures = {"precision": FAKE.precision, "psnr_db": round(check.fidelity.psnr, 2),
               "ssim": round(check.fidelity.ssim, 4)}
    return S.StageResult("export", out, {FAKE.name: out}, {"files": {FAKE.precision: figures}}, format=FAKE.format)


@dataclass
class FakeStageConfig(FakeConfig):
    eval_dir: str = ""


def plan_fake(context: S.PlanContext) -> S.ExportPlan:
    return S.ExportPlan(fake_stage, {"model": context.model}, FakeStageConfig(eval_dir=context.eval_dir))


@pytest.fixture
def fake_target(monkeypatch):
    fmt = table.Format("fake-onnx", ".fake.onnx", "onnxruntime", __name__, "export_fake", "FakeConfig",
                       "a half-precision ONNX under another name (test)", build=build_fake, stage=plan_fake)
    monkeypatch.setitem(table.FORMATS, fmt.name, fmt)
    monkeypatch.setattr(table, "TARGETS", table.TARGETS + (FAKE,))
    return fmt


def test_the_cli_exports_it(fake_target, tmp_path, tiny_checkpoint, capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "fake-onnx" in capsys.readouterr().out
    out = tmp_path / "x.fake.onnx"
    assert main(["export", "fake-onnx", "-w", str(tiny_checkpoint), "-o", str(out), "--check-size", "48"]) == 0
    assert read_sidecar(out)["precision"] == "fp16" and out.stat().st_size > 0


def test_the_benchmark_builds_and_names_it(fake_target, tmp_path, tiny_checkpoint):
    variants = build_variants(tiny_checkpoint, ("fake-onnx",), (), (32,), tmp_path, progress=lambda _: None)
    assert [(v.name, v.backend, v.precision, v.status) for v in variants] == [
        ("original", "torch", "fp32", "ready"), ("fake-onnx half", "onnxruntime", "fake-half", "ready")]
    assert variants[1].path == tmp_path / "tiny.fake.onnx" and variants[1].path.is_file()


def test_the_pipeline_plans_it_and_the_gate_judges_it_by_its_thresholds(fake_target, tmp_path, photo_folders):
    out = tmp_path / "out"
    argv = quick_argv(public_pt(tmp_path), photo_folders, out, "--set", "prune.enabled=false",
                      "--set", "distill.enabled=false", "--set", "quantize.enabled=false",
                      "--set", 'export.formats=["fake-onnx"]', "--set", "gate.fp16_min_psnr=40.0")
    assert main(argv) == 0
    record = json.loads((out / "pipeline.json").read_text())
    assert [(s["name"], s.get("format")) for s in record["stages"]][:1] == [("export", "fake-onnx")]
    assert (out / "export" / "fake-onnx" / "generator.fake.onnx").is_file()
    assert any(r["variant"] == "fake-onnx half" for r in record["benchmark"])  # measured beside the original
    gate = json.loads((out / "gate" / "stage.json").read_text())["metrics"]
    (check,) = gate["checks"]
    assert check["what"] == "fake-onnx fake-half" and check["precision"] == "fake-half"
    assert check["min_psnr"] == 40.0  # the fp16 floor its entry names, as the run's [gate] sets it
    assert check["passed"] == (check["psnr_db"] >= 40.0 and check["ssim"] >= check["min_ssim"])


def test_a_pipeline_format_without_its_entry_is_refused(tmp_path):
    from animegan_deploy.errors import UserError

    with pytest.raises(UserError, match=r"\[export\] formats.*fake-onnx"):
        load_pipeline_config(Path("pipelines/quick.toml"), ['export.formats=["fake-onnx"]'])
