"""`prune_checkpoint`: safetensors that reloads alone, sidecar, and a Markdown + JSON report with real numbers."""

import json

import torch

from animegan_deploy.cli import main
from animegan_deploy.compress.prune import PruneConfig, prune_checkpoint
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from compress_helpers import model_with_zeroed_channels
from conftest import photo, save_photo


def eval_folder(tmp_path):
    folder = tmp_path / "eval"
    folder.mkdir()
    for i in range(2):
        save_photo(folder / f"e{i}.png", photo(40, 48, seed=20 + i))
    return folder


def test_report_and_reload(tmp_path):
    model, removed = model_with_zeroed_channels()
    source = save_checkpoint(model, tmp_path / "base.safetensors", style="test")
    out = tmp_path / "base.pruned.safetensors"
    result = prune_checkpoint(source, PruneConfig(eval_dir=str(eval_folder(tmp_path)), eval_size=48), out, progress=False)
    report = result.report
    assert report["removed_channels"] == sum(removed.values())
    assert report["pruned"]["params"] < report["original"]["params"]
    assert 0 < report["params_removed_fraction"] < 0.05
    assert report["pruned"]["gmacs"] < report["original"]["gmacs"]
    assert report["fidelity_vs_original"]["psnr_db"] > 60  # zeroed channels: output unchanged up to rounding
    assert report["fidelity_vs_original"]["ssim"] > 0.999
    layers = {l["layer"]: l for l in report["layers"]}
    assert layers["e0"]["before"] - layers["e0"]["after"] == 2
    assert json.loads((tmp_path / "base.pruned.prune-report.json").read_text())["removed_channels"] == report["removed_channels"]
    assert "| e0 |" in (tmp_path / "base.pruned.prune-report.md").read_text()

    reloaded = load_generator(out)  # from the safetensors file alone
    assert reloaded.model.plan.e0 == model.plan.e0 - 2
    assert reloaded.info.stat_channels["e0"] == model.plan.e0
    x = torch.rand(1, 3, 40, 36) * 2 - 1
    with torch.no_grad():
        assert (reloaded.model(x) - model.eval()(x)).abs().max() <= 1e-5


def test_cli_prune_prints_numbers(tmp_path, capsys):
    model, _ = model_with_zeroed_channels()
    source = save_checkpoint(model, tmp_path / "m.safetensors")
    code = main(["prune", "-w", str(source), "-o", str(tmp_path / "p.safetensors"), "--quiet",
                 "--eval-dir", str(eval_folder(tmp_path)), "--eval-size", "48"])
    assert code == 0
    out = capsys.readouterr().out
    assert "removed 5" in out and "PSNR vs original" in out
