"""CI gate: the default model's INT8 ONNX files and its FP16 export stay close to the FP32 torch model on the 15
unseen pictures, never used for calibration or for choosing settings (INT8 >= 30 dB and each file's measured floor,
FP16 >= 45 dB PSNR, as the mean over the pictures). The same gate holds a second generator trained differently
(test_fidelity_gate_second_model.py) and the full-integer TFLite file (test_fidelity_gate_tflite.py): each its own
file, so that make test's workers run them side by side."""

import pytest

from animegan_deploy.benchmarks.fidelity_check import FidelityCheckConfig, check_fidelity
from animegan_deploy.compress.photos import calibration_split, default_eval_photos
from animegan_deploy.export.onnx_dynamic import DynamicQuantizeConfig, export_onnx_dynamic
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.hub import default_checkpoint
from animegan_deploy.train.preprocess import list_images
from gate_helpers import gated_int8


@pytest.fixture(scope="module")
def gate_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gate")


def test_calibration_and_evaluation_photos_are_disjoint():
    split = calibration_split(None, 32)
    sources = {p.stem.split("__")[0] for p in split.calibration + split.validation}
    evaluation = list_images(default_eval_photos())
    held_out = {p.stem.split("_crop")[0] for p in evaluation}
    assert len(split.calibration) >= 20 and len(split.validation) >= 8 and len(evaluation) >= 12
    assert not sources & held_out


# (INT8 placement, floor on the mean PSNR, floor on the worst picture): INT8 files of the targets table of the
# default model at GATE_SIZE; a second generator trained differently is gated in test_fidelity_gate_second_model.py.
# The floors sit about 1.5 dB below the figures measured on the current default (in brackets: mean (worst), AMD EPYC
# Zen 4, 2026-12-05); the project's INT8 threshold is 30 dB. Before minmax calibration was among the methods tried
# (2026-12-04): 43.71 (23.96) with entropy ranges at 256, and the ORT file 42.74 (19.67) with 13 convs float.
GATE = (
    # the default placement's file: 49.47 (44.64), SSIM 0.9963, every conv int8 (equalized, minmax for the image
    # input; each conv input scaled to its picture's own range), as at 256 (48.87 (39.95): reports/zoo/per-picture)
    ("tensorrt-per-picture", 48.0, 43.0),
    # the static TensorRT file: 46.72 (28.54), SSIM 0.9931: equalized, centered, bias-corrected, minmax calibration
    # chosen, as at 256
    # (46.13 (29.25), 0.9919: reports/zoo) (the moon's normalized edges, clipped by every narrower range, are what
    # the worst picture loses)
    ("tensorrt", 45.0, 27.0),
    # 39.82 (24.39), SSIM 0.9756: the benchmark's ORT file (its placement's target 36 dB), minmax chosen, every conv
    # int8 (the target met without float convs), as at 256 (39.71 (24.55)); what it promises: >= 35 dB on pictures
    # nobody tuned on
    ("onnxruntime-conv", 38.0, 23.0),
)
# At 160 px, not the reports' 256: choosing the TensorRT file's settings (16 tries x 12 validation photos, each an
# ONNX Runtime pass of a Q/DQ file at the file's size) took 150 s of its 152 alone and 235 s under make test's load
# at 256, 70 s alone at 160, with the same settings chosen for both files.
GATE_SIZE = 160
# The tensorrt-two-digit file (49.90 (39.12) at 256) is gated on the second model at 128
# (test_fidelity_gate_second_model.py): its convs run twice, 114 s of this file's time at 256.


@pytest.mark.parametrize("placement,floor,worst_floor", GATE, ids=[p for p, _, _ in GATE])
def test_int8_qdq_of_the_default_model_holds_its_floor(gate_dir, placement, floor, worst_floor):
    """The default model's INT8 ONNX files of GATE, with default settings (the files share the model's FP32
    graphs, calibration statistics and reference outputs, made once in this process)."""
    # the standalone checker: the second model's gate
    gated_int8("default", placement, floor, worst_floor, gate_dir, GATE_SIZE)


def test_dynamic_int8_of_the_default_model_holds_its_worst_picture(gate_dir):
    """The dynamic-scale file (a scale per picture at run time): what it is for is the worst picture, which a static
    scale leaves about 20 dB under the mean (moon.png, 19.6 dB in the files above). Measured 48.73 dB, worst 38.77,
    SSIM 0.9949 (AMD EPYC Zen 4, 2026-12-04); the floors sit about 1.5 dB under."""
    result = export_onnx_dynamic(default_checkpoint(), DynamicQuantizeConfig(), gate_dir / "default.int8-dyn.onnx")
    print(f"dynamic INT8 default vs FP32 torch on 15 pictures: {result.fidelity.psnr:.2f} dB (worst "
          f"{result.fidelity.psnr_min:.2f}), SSIM {result.fidelity.ssim:.4f}")
    assert len(result.fidelity.per_image) == 15 and result.quantized_convs == 25
    assert result.fidelity.psnr >= 47.0 and result.fidelity.psnr_min >= 37.0 and result.fidelity.ssim >= 0.99


def test_fp16_onnx_of_the_default_model_holds_45_db(gate_dir):
    fp16 = export_onnx(default_checkpoint(), OnnxExportConfig(precision="fp16", validate_sizes=((64, 64),)),
                       gate_dir / "default.fp16.onnx").path
    check = check_fidelity(fp16, FidelityCheckConfig(size=256))
    print(f"FP16 vs FP32 torch: {check.fidelity.psnr:.2f} dB")
    assert check.precision == "fp16" and check.min_psnr == 45.0
    assert check.passed, check.fidelity
