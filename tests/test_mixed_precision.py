"""Per-layer sensitivity and mixed precision reach a PSNR target on the embedded default checkpoint."""

import onnx
import pytest

from animegan_deploy.benchmarks.fidelity import compare, eval_inputs
from animegan_deploy.compress.calibration import collect_statistics
from animegan_deploy.compress.photos import TARGET_MARGIN_DB, calibration_split, default_train_photos
from animegan_deploy.compress.quantize import build_qdq, conv_nodes, layer_sensitivity, mixed_precision, session_fn
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.hub import default_checkpoint
from animegan_deploy.train.preprocess import list_images

SIZE = 64


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = export_onnx(default_checkpoint(), OnnxExportConfig(validate_sizes=((SIZE, SIZE),)),
                       tmp_path_factory.mktemp("mp") / "default.onnx").path
    model = onnx.load(str(path))
    inputs = eval_inputs(list_images(default_train_photos())[:3], SIZE)
    convs = conv_nodes(model)
    calibration = collect_statistics(path, (x for _, x in inputs), [c.activation for c in convs], progress=False)
    # minmax: the method with the most quantization error, so there is something to win back
    amax = calibration.ranges("minmax")
    return model, {c.activation: amax[c.activation] for c in convs}, inputs


@pytest.fixture(scope="module")
def by_worst(setup):
    """Every conv's sensitivity on the setup's photos, most costly to the worst photo first (one pass serves the
    tests that rank by the mean too: the same measurements sorted by it)."""
    model, amax, inputs = setup
    return layer_sensitivity(model, amax, inputs, progress=False, by_worst=True)


def test_sensitivity_ranks_every_conv_most_sensitive_first(setup):
    model, amax, inputs = setup
    ranking = layer_sensitivity(model, amax, inputs[:2], progress=False)
    assert len(ranking) == 25
    psnrs = [r.psnr_db for r in ranking]
    assert psnrs == sorted(psnrs)
    assert psnrs[0] < psnrs[-1] - 3  # layers differ clearly in how much INT8 costs them


def test_mixed_precision_meets_the_target_with_the_fewest_float_convs(setup, by_worst):
    model, amax, inputs = setup
    reference = session_fn(model)
    all_int8 = compare(reference, session_fn(build_qdq(model, amax)), inputs).psnr
    target = all_int8 + 3.0
    ranking = sorted(by_worst, key=lambda r: r.psnr_db)  # what layer_sensitivity(model, amax, inputs) returns
    kept_float, fidelity = mixed_precision(model, amax, ranking, target, inputs)
    assert fidelity.psnr >= target
    # the returned fidelity is that of the file it chose (quantize_onnx reports it without running it again)
    chosen = compare(reference, session_fn(build_qdq(model, amax, exclude=kept_float)), inputs)
    assert fidelity.psnr == pytest.approx(chosen.psnr, abs=1e-6) and fidelity.ssim == pytest.approx(chosen.ssim)
    assert 1 <= len(kept_float) < 25
    # one fewer float conv misses the target: the prefix is minimal
    fewer = build_qdq(model, amax, exclude=kept_float[:-1])
    assert compare(reference, session_fn(fewer), inputs).psnr < target


def test_quantize_onnx_reports_the_fidelity_of_the_mixed_file_it_wrote(tiny_int8, photo_folders, tmp_path):
    from animegan_deploy.compress.quantize import QuantizeConfig, quantize_onnx

    fp32, all_int8 = tiny_int8
    target = all_int8.fidelity.psnr + 2.0
    config = QuantizeConfig(calib_dir=str(photo_folders["calib"]), eval_dir=str(photo_folders["eval"]), size=32,
                            sensitivity_size=32, target_psnr=target)
    result = quantize_onnx(fp32, config, tmp_path / "mixed.int8.onnx", progress=False)
    assert result.float_layers
    reference, written = session_fn(onnx.load(str(fp32))), session_fn(onnx.load(str(result.path)))
    # the target is met, with the margin, on the validation side of the calibration split: never on the
    # evaluation photos the figure is reported on
    validation = calibration_split(photo_folders["calib"], config.calib_count).validation
    assert validation and compare(reference, written, eval_inputs(validation, 32)).psnr >= target + TARGET_MARGIN_DB
    assert result.report["target_margin_db"] == TARGET_MARGIN_DB
    # the reported figure is the written file's on the evaluation photos
    evaluated = compare(reference, written, eval_inputs(list_images(photo_folders["eval"]), 32))
    assert result.fidelity.psnr == pytest.approx(evaluated.psnr, abs=1e-6)


def test_the_sensitivity_pass_runs_only_where_all_int8_misses_the_target(setup, by_worst):
    """The ranking (one file per conv) is made only when the all-int8 file misses the target: a default target that
    most models meet with every conv int8 costs them one validation run, not 25 builds."""
    model, amax, inputs = setup
    all_int8 = compare(session_fn(model), session_fn(build_qdq(model, amax)), inputs).psnr
    calls = []

    def rank():
        calls.append(1)
        return by_worst

    kept_float, fidelity = mixed_precision(model, amax, rank, all_int8 - 1.0, inputs)
    assert kept_float == [] and not calls and fidelity.psnr == pytest.approx(all_int8, abs=1e-6)
    kept_float, fidelity = mixed_precision(model, amax, rank, all_int8 + 2.0, inputs)
    assert calls == [1] and kept_float and fidelity.psnr >= all_int8 + 2.0
    # the all-int8 figure measured while choosing the settings is taken as it is (no file built to check it again)
    measured = compare(session_fn(model), session_fn(build_qdq(model, amax)), inputs)
    kept_float, fidelity = mixed_precision(model, amax, rank, all_int8 - 1.0, inputs, all_int8=measured)
    assert kept_float == [] and fidelity is measured and calls == [1]


@pytest.mark.parametrize("placement,asked,target", [
    ("tensorrt", None, 40.0),  # the placement's own target (zoo: duotone 38.0 -> 41.7 dB with 7 convs float)
    ("onnxruntime-conv", None, 36.0),
    ("tensorrt-two-digit", None, None),  # its second digit holds the tail: no float convs by default
    ("tensorrt", 45.0, 45.0),  # --target-psnr wins
    ("tensorrt", 0.0, None),  # --target-psnr 0: every conv int8
])
def test_each_placement_has_its_default_target_that_the_flag_overrides(placement, asked, target):
    from animegan_deploy.compress.prefix_search import FidelityTarget
    from animegan_deploy.compress.quantize import QuantizeConfig

    assert QuantizeConfig(placement=placement, target_psnr=asked).target == (target and FidelityTarget(target))
    assert QuantizeConfig(placement=placement, target_psnr=asked).target_worst_psnr is None  # none by default here
    # a worst-photo aim adds to the mean one (and stands alone where the mean aim is off)
    assert QuantizeConfig(placement=placement, target_psnr=asked, target_worst_psnr=32.0).target == \
        FidelityTarget(target or 0.0, 32.0)


def test_the_per_picture_placement_aims_at_the_worst_photo_too_unless_told_otherwise():
    from animegan_deploy.compress.prefix_search import FidelityTarget
    from animegan_deploy.compress.quantize import QuantizeConfig

    # its worst target (zoo: duotone's moon 32.38 -> 37.66 dB with 7 of 25 convs float, reports/zoo/per-picture)
    assert QuantizeConfig(placement="tensorrt-per-picture").target == FidelityTarget(40.0, 35.0)
    assert QuantizeConfig(placement="tensorrt-per-picture", target_worst_psnr=0.0).target == FidelityTarget(40.0)
    assert QuantizeConfig(placement="tensorrt-per-picture", target_psnr=0.0, target_worst_psnr=0.0).target is None
    assert QuantizeConfig(placement="tensorrt-per-picture", target_worst_psnr=30.0).target == FidelityTarget(40.0, 30.0)


def test_range_headroom_is_refused_where_ranges_are_per_picture():
    from animegan_deploy.compress.quantize import QuantizeConfig
    from animegan_deploy.errors import UserError

    with pytest.raises(UserError, match="--range-headroom 1.5: --placement tensorrt-per-picture"):
        QuantizeConfig(placement="tensorrt-per-picture", range_headroom=1.5)


def test_a_target_out_of_range_is_refused_naming_the_flag():
    from animegan_deploy.compress.quantize import QuantizeConfig
    from animegan_deploy.errors import UserError

    with pytest.raises(UserError, match=r"--target-psnr -1.0: must be in \[0, 100\) dB"):
        QuantizeConfig(target_psnr=-1.0)
    with pytest.raises(UserError, match=r"--target-worst-psnr 100.0: must be in \[0, 100\) dB"):
        QuantizeConfig(target_worst_psnr=100.0)


def test_a_worst_photo_target_keeps_the_convs_that_cost_the_worst_photo_most_float(setup, by_worst):
    """--target-worst-psnr: the ranking is by what each conv alone costs the worst photo, and the float prefix goes
    on until the worst photo meets its aim (the default model's moon.png: 29.25 -> 36.79 dB with 8 of 25 convs float
    ranked this way on the validation photos, 31.13 ranked by the mean)."""
    from animegan_deploy.compress.prefix_search import FidelityTarget

    model, amax, inputs = setup
    ranking = by_worst
    worst_first = [r.psnr_min_db for r in ranking]
    assert worst_first == sorted(worst_first) and all(r.psnr_min_db <= r.psnr_db for r in ranking)
    reference = session_fn(model)
    all_int8 = compare(reference, session_fn(build_qdq(model, amax)), inputs)
    goal = FidelityTarget(0.0, all_int8.psnr_min + 3.0)
    kept_float, fidelity = mixed_precision(model, amax, ranking, goal, inputs, margin=0.5)
    assert 1 <= len(kept_float) < 25 and fidelity.psnr_min >= all_int8.psnr_min + 3.5
    assert kept_float == [r.node for r in ranking[:len(kept_float)]]  # a prefix of the worst-photo ranking
