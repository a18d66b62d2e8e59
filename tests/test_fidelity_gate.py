"""CI gate: the embedded default checkpoint quantized to INT8 (ORT Q/DQ and full-integer TFLite) and exported
to FP16 stays close to the FP32 torch model on the 15 unseen pictures, never used for calibration (INT8 >= 30 dB,
FP16 >= 45 dB PSNR, as the mean over the pictures)."""

import importlib.util

import pytest

from animegan_deploy.benchmarks.check import FidelityCheckConfig, check_fidelity, load_thresholds
from animegan_deploy.compress.photos import default_eval_photos, default_train_photos
from animegan_deploy.compress.quantize import QuantizeConfig
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.export.onnx_int8 import export_onnx_int8
from animegan_deploy.models.hub import default_checkpoint
from animegan_deploy.train.preprocess import list_images


@pytest.fixture(scope="module")
def gate_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gate")


def test_calibration_and_evaluation_photos_are_disjoint():
    calib = {p.name for p in list_images(default_train_photos())}
    held_out = {p.name for p in list_images(default_eval_photos())}
    assert len(calib) >= 8 and len(held_out) >= 12 and not calib & held_out


@pytest.mark.parametrize("placement", ["tensorrt", "onnxruntime-conv", "tensorrt-two-digit"])
def test_int8_qdq_of_the_default_model_holds_30_db(gate_dir, placement):
    """Every INT8 ONNX file shipped: the TensorRT Q/DQ (percentile), ORT's QLinearConv file (mean-minmax) and the
    two-digit TensorRT file, which must also hold its worst picture (the moon) above 30 dB."""
    config = QuantizeConfig(size=256, cache_all_tensors=False, placement=placement)
    result = export_onnx_int8(default_checkpoint(), config, gate_dir / f"default-{placement}.int8.onnx",
                              progress=False)
    min_psnr, _ = load_thresholds(None, "int8")
    assert min_psnr == 30.0
    print(f"INT8 ({placement}, {config.method}, equalized) vs FP32 torch on {len(result.fidelity.per_image)} pictures: "
          f"{result.fidelity.psnr:.2f} dB (worst {result.fidelity.psnr_min:.2f}), SSIM {result.fidelity.ssim:.4f}")
    assert len(result.fidelity.per_image) == 15
    assert result.fidelity.psnr >= 30.0, result.fidelity
    if placement == "tensorrt-two-digit":  # what the two digits are for: 42.06 dB, worst 34.61 when measured
        assert result.fidelity.psnr >= 40.0 and result.fidelity.psnr_min >= 30.0, result.fidelity
    if placement == "tensorrt":  # centered inputs + bias correction: 38.00 dB measured, 35.88 without them
        assert result.fidelity.psnr >= 37.5, result.fidelity
    # the standalone checker agrees with the number the quantizer reported
    check = check_fidelity(result.path, FidelityCheckConfig(size=256))
    assert check.passed and check.precision == "int8"
    assert check.fidelity.psnr == pytest.approx(result.fidelity.psnr, abs=0.05)


def test_fp16_onnx_of_the_default_model_holds_45_db(gate_dir):
    fp16 = export_onnx(default_checkpoint(), OnnxExportConfig(precision="fp16", validate_sizes=((64, 64),)),
                       gate_dir / "default.fp16.onnx").path
    check = check_fidelity(fp16, FidelityCheckConfig(size=256))
    print(f"FP16 vs FP32 torch: {check.fidelity.psnr:.2f} dB")
    assert check.precision == "fp16" and check.min_psnr == 45.0
    assert check.passed, check.fidelity


@pytest.mark.skipif(importlib.util.find_spec("onnx2tf") is None or importlib.util.find_spec("ai_edge_litert") is None,
                    reason="the TFLite gate needs the [tflite] extra and onnx2tf (make install)")
def test_full_integer_tflite_of_the_default_model_holds_30_db(gate_dir):
    from animegan_deploy.export.tflite import TFLiteConfig, export_tflite

    # the default settings: mean-minmax calibration, float fallback of the normalizations up to the int8 threshold
    config = TFLiteConfig(size=256, precisions=("full_integer_quant",))
    result = export_tflite(default_checkpoint(), config, gate_dir / "tflite")
    record = result.files[0]
    print(f"full-integer TFLite vs FP32 torch on 15 pictures: {record.psnr_db:.2f} dB (worst {record.psnr_min_db}, "
          f"{record.worst_photo}), SSIM {record.ssim:.4f}, float fallback: {record.float_fallback}")
    assert record.min_psnr == 30.0
    assert record.status == "ok" and result.ok, record.reason
    assert record.psnr_db >= 30.0 and record.ssim >= 0.9
