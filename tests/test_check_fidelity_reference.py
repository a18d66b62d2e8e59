"""check-fidelity compares with the checkpoint the file was made from, and knows every precision label."""

import shutil

from animegan_deploy.benchmarks.thresholds import load_thresholds, threshold_set
from animegan_deploy.cli import main
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.export.tflite import PRECISIONS


def test_every_tflite_precision_label_has_thresholds():
    for label, _ in PRECISIONS.values():
        psnr, ssim = load_thresholds(None, threshold_set(label))
        assert psnr >= 30 and ssim >= 0.9, label
    assert threshold_set("int8-weights") == "int8" and threshold_set("int8-float-io") == "int8"


def test_reference_defaults_to_the_source_checkpoint(tmp_path, tiny_checkpoint, photo_folders, capsys):
    onnx_file = export_onnx(tiny_checkpoint, OnnxExportConfig(validate_sizes=((32, 32),)), tmp_path / "t.onnx").path
    argv = ["check-fidelity", str(onnx_file), "--size", "32", "--eval-dir", str(photo_folders["eval"])]
    assert main(argv) == 0  # vs the embedded demo model it would fail: a different generator
    out = capsys.readouterr().out
    assert out.startswith("PASS") and str(tiny_checkpoint) in out


def test_without_a_sidecar_it_asks_for_the_reference(tmp_path, tiny_checkpoint, photo_folders, capsys):
    onnx_file = export_onnx(tiny_checkpoint, OnnxExportConfig(validate_sizes=((32, 32),)), tmp_path / "t.onnx").path
    bare = shutil.copy(onnx_file, tmp_path / "bare.onnx")
    argv = ["check-fidelity", str(bare), "--size", "32", "--eval-dir", str(photo_folders["eval"]), "--precision", "fp32"]
    assert main(argv) == 2
    assert "--reference" in capsys.readouterr().err
    assert main(argv + ["--reference", str(tiny_checkpoint)]) == 0
