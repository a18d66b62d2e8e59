"""Per-layer sensitivity and mixed precision reach a PSNR target on the embedded default checkpoint."""

import onnx
import pytest

from animegan_deploy.benchmarks.fidelity import compare, eval_inputs
from animegan_deploy.compress.calibration import collect_statistics
from animegan_deploy.compress.photos import default_train_photos
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


def test_sensitivity_ranks_every_conv_most_sensitive_first(setup):
    model, amax, inputs = setup
    ranking = layer_sensitivity(model, amax, inputs[:2], progress=False)
    assert len(ranking) == 25
    psnrs = [r.psnr_db for r in ranking]
    assert psnrs == sorted(psnrs)
    assert psnrs[0] < psnrs[-1] - 3  # layers differ clearly in how much INT8 costs them


def test_mixed_precision_meets_the_target_with_the_fewest_float_convs(setup):
    model, amax, inputs = setup
    reference = session_fn(model)
    all_int8 = compare(reference, session_fn(build_qdq(model, amax)), inputs).psnr
    target = all_int8 + 3.0
    ranking = layer_sensitivity(model, amax, inputs, progress=False)
    kept_float, psnr = mixed_precision(model, amax, ranking, target, inputs)
    assert psnr >= target
    assert 1 <= len(kept_float) < 25
    # one fewer float conv misses the target: the prefix is minimal
    fewer = build_qdq(model, amax, exclude=kept_float[:-1])
    assert compare(reference, session_fn(fewer), inputs).psnr < target
