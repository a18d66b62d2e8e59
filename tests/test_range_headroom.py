"""--range-headroom: every quantized activation range but the image input's is widened around its midpoint, in the
Q/DQ file, its ranges JSON and its TensorRT cache; and a flat picture with sparse detail, whose normalized features
lie past the calibrated range, is clipped less (what moon.png shows on every zoo model)."""

import json

import numpy as np
import pytest

from animegan_deploy.compress.quantize import QuantizeConfig, quantize_onnx
from animegan_deploy.errors import UserError
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from conftest import photo, save_photo


def sparse_picture(seed: int, size: int = 32) -> np.ndarray:
    """A flat grey picture with three small dark dots: per-picture normalization turns the dots into features
    several times larger than any the smooth calibration photos give."""
    rng = np.random.default_rng(seed)
    picture = np.full((size, size, 3), 120, dtype=np.uint8)
    for y, x in rng.integers(2, size - 4, size=(3, 2)):
        picture[y:y + 2, x:x + 2] = 10
    return picture


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("headroom")
    for seed in range(6):
        save_photo(root / "calib" / f"p{seed}.png", photo(32, 32, seed=seed))
        save_photo(root / "sparse" / f"s{seed}.png", sparse_picture(seed))
    fp32 = export_onnx(tiny_checkpoint, OnnxExportConfig(norm="explicit", validate_sizes=((32, 32),)),
                       root / "tiny.onnx").path
    results = {}
    for headroom in (1.0, 3.0):
        config = QuantizeConfig(calib_dir=str(root / "calib"), eval_dir=str(root / "sparse"), size=32, choose=False,
                                method="minmax", target_psnr=0, range_headroom=headroom, placement="tensorrt")
        results[headroom] = quantize_onnx(fp32, config, root / f"tiny.h{headroom:g}.int8.onnx", progress=False)
    return results


def ranges_of(result) -> dict:
    return json.loads((result.path.parent / (result.path.stem + ".ranges.json")).read_text())


def test_conv_input_ranges_are_widened_around_their_midpoints_but_not_the_image_input(files):
    plain, wide = ranges_of(files[1.0]), ranges_of(files[3.0])
    quantized = {n: t for n, t in plain["tensors"].items() if t["quantized"]}
    assert len(quantized) >= 5 and wide["range_headroom"] == 3.0
    widened = 0
    for name, t in quantized.items():
        w = wide["tensors"][name]
        if name == "pad":  # the reflect-padded image, in the preprocessing's [-1, 1]: nothing lies beyond it
            assert t["low"] >= -1.0 and t["high"] <= 1.0
            assert (w["low"], w["high"]) == pytest.approx((t["low"], t["high"]))
            continue
        middle, half = (t["low"] + t["high"]) / 2, (t["high"] - t["low"]) / 2
        assert (w["low"], w["high"]) == pytest.approx((middle - 3 * half, middle + 3 * half), rel=1e-5)
        assert w["amax"] == pytest.approx(max(-w["low"], w["high"]), rel=1e-5)  # the TensorRT cache's range
        widened += 1
    assert widened == len(quantized) - 1


def test_a_flat_picture_with_sparse_detail_is_clipped_less(files):
    plain, wide = files[1.0].fidelity, files[3.0].fidelity
    # measured: the tiny generator on six flat pictures with dots, calibrated on smooth gradients: 32.95 -> 37.68 dB
    assert wide.psnr_min > plain.psnr_min + 3.0, (plain.psnr_min, wide.psnr_min)


def test_headroom_below_one_is_a_user_error():
    with pytest.raises(UserError, match="--range-headroom 0.5"):
        QuantizeConfig(range_headroom=0.5)


def test_the_zoo_report_widens_the_static_files_only():
    """zoo-report --range-headroom checks the value on the static placement (the default placement's ranges are per
    picture: nothing to widen, so its rows get no widened file) and still refuses a bad one up front."""
    from animegan_deploy.benchmarks.zoo_report import ZooReportConfig

    assert ZooReportConfig(range_headroom=1.5).placements[0] == "tensorrt-per-picture"
    with pytest.raises(UserError, match="--range-headroom 0.5"):
        ZooReportConfig(range_headroom=0.5)


def test_a_choice_measured_with_other_ranges_is_not_reused_for_the_file():
    """A file built with a headroom its settings' tries were not measured with measures its own all-int8 figure
    before deciding which convs stay float (else a zoo report's headroom file kept the plain ranges' verdict)."""
    from animegan_deploy.compress.choose import Settings, choose_settings

    graphs = {True: ("graph", "calibration")}
    inputs = [("p", np.linspace(-1, 1, 3 * 8 * 8, dtype=np.float32).reshape(1, 3, 8, 8))]
    choice = choose_settings(graphs, QuantizeConfig(placement="tensorrt", range_headroom=1.5), inputs, lambda x: x,
                             lambda m, c, s: s, lambda s: (lambda x: x * 0.99), progress=False, search="grid")
    assert choice.range_headroom == 1.5 and choice.record()["range_headroom"] == 1.5
    assert isinstance(choice.chosen, Settings)
    assert choice.validation_fidelity(1.5) is not None
    assert choice.validation_fidelity(1.0) is None
