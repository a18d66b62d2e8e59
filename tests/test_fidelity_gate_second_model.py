"""CI gate on a second generator trained differently (zoo:duotone_init, the previous default's init phase:
reconstruction only): its TensorRT-placement INT8 files hold their floors on the 15 unseen pictures too. A default
tuned on one model once cost another 7.7 dB.

At 128 px, where the default model's gate is at 256: what this gate is for is the settings chosen for a model no
default was tuned on, and the choice is made at the size the file is built for (calibration, validation and
evaluation photos all at 128), a quarter of the work at 256. The three files share the model's FP32 graphs,
calibration statistics and reference outputs (one module, one process)."""

import pytest

from animegan_deploy.benchmarks.fidelity_check import FidelityCheckConfig, check_fidelity
from gate_helpers import gated_int8

# (placement, floor on the mean PSNR, floor on the worst picture), about 1.5 dB under the figures measured at 128
# (in brackets: mean (worst), AMD EPYC Zen 4, 2026-12-04); at 256 reports/zoo measured the tensorrt file 44.20 (32.11)
# (minmax chosen, 2026-12-05; 44.91 (28.87) with percentile before)
GATE = (
    # 44.99 (31.76), SSIM 0.9929: plain graph, centered, bias-corrected, minmax chosen (2026-12-05; 44.45 (29.67)
    # equalized with percentile before minmax was among the methods)
    ("tensorrt", 43.5, 30.0),
    # 48.81 (45.66), SSIM 0.9965: plain graph, centered, percentile, no bias correction chosen
    ("tensorrt-two-digit", 47.3, 44.0),
    # 49.60 (47.84), SSIM 0.9973, every conv int8: equalized, no bias correction chosen (2026-12-05); each conv input
    # scaled to its picture's range, so the worst picture stays near the mean where the static file's drops 13 dB
    ("tensorrt-per-picture", 48.0, 46.0),
)


@pytest.fixture(scope="module")
def gate_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gate-second")


@pytest.mark.parametrize("placement,floor,worst_floor", GATE, ids=[p for p, _, _ in GATE])
def test_int8_qdq_of_a_second_generator_holds_its_floor(gate_dir, placement, floor, worst_floor):
    result = gated_int8("duotone_init", placement, floor, worst_floor, gate_dir, size=128)
    if placement == GATE[0][0]:  # the standalone checker agrees with the number the quantizer reported
        check = check_fidelity(result.path, FidelityCheckConfig(size=128))
        assert check.passed and check.precision == "int8"
        assert check.fidelity.psnr == pytest.approx(result.fidelity.psnr, abs=0.05)
