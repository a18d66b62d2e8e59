"""The benchmark reuses an INT8 file only when it was calibrated with the settings it asks for: a file of the
same checkpoint made with another calibration method is rebuilt (its cache key was once the checkpoint alone)."""

from animegan_deploy.benchmarks.variants import BUILDERS
from animegan_deploy.compress.quantize import PLACEMENTS, QuantizeConfig
from animegan_deploy.export.onnx_int8 import export_onnx_int8
from animegan_deploy.sidecar import read_sidecar


def test_int8_of_another_method_is_rebuilt(tmp_path, tiny_checkpoint):
    work = tmp_path / "work"
    path = BUILDERS["onnx-int8"](tiny_checkpoint, (32,), work)[0].path
    meta = read_sidecar(path)
    assert meta["config"]["method"] is None  # as asked: chosen per model, and the choice is recorded
    assert meta["metrics"]["settings"]["chosen"]["method"] in PLACEMENTS["tensorrt"].methods
    stamp = path.stat().st_mtime_ns
    assert BUILDERS["onnx-int8"](tiny_checkpoint, (32,), work)[0].path.stat().st_mtime_ns == stamp  # same settings: reused
    export_onnx_int8(tiny_checkpoint, QuantizeConfig(method="minmax", size=32), path, progress=False)
    assert read_sidecar(path)["config"]["method"] == "minmax"
    rebuilt = BUILDERS["onnx-int8"](tiny_checkpoint, (32,), work)[0].path
    assert read_sidecar(rebuilt)["config"]["method"] is None
