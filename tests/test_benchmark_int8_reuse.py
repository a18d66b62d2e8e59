"""The benchmark reuses an INT8 file only when it was calibrated with the settings it asks for: a file of the
same checkpoint made with another calibration method is rebuilt (its cache key was once the checkpoint alone)."""

from animegan_deploy.compress.quantize import PLACEMENTS, QuantizeConfig
from animegan_deploy.export.builds import build_onnx_int8
from animegan_deploy.export.onnx_int8 import export_onnx_int8
from animegan_deploy.export.targets import targets
from animegan_deploy.sidecar import read_sidecar

TENSORRT_INT8 = tuple(t for t in targets("onnx-int8") if t.placement == "tensorrt")


def test_int8_of_another_method_is_rebuilt(tmp_path, tiny_checkpoint):
    work = tmp_path / "work"
    path = build_onnx_int8(tiny_checkpoint, TENSORRT_INT8, (32,), work)[0].path
    meta = read_sidecar(path)
    assert meta["config"]["method"] is None  # as asked: chosen per model, and the choice is recorded
    assert meta["metrics"]["settings"]["chosen"]["method"] in PLACEMENTS["tensorrt"].methods
    stamp = path.stat().st_mtime_ns
    again = build_onnx_int8(tiny_checkpoint, TENSORRT_INT8, (32,), work)[0].path
    assert again.stat().st_mtime_ns == stamp  # same settings: reused
    export_onnx_int8(tiny_checkpoint, QuantizeConfig(method="minmax", size=32), path, progress=False)
    assert read_sidecar(path)["config"]["method"] == "minmax"
    rebuilt = build_onnx_int8(tiny_checkpoint, TENSORRT_INT8, (32,), work)[0].path
    assert read_sidecar(rebuilt)["config"]["method"] is None
