"""The benchmark reuses a file it built only when it is current by the pipeline's rule: its sidecar carries the key
of the checkpoint's content and the config it asks for. A file of the same checkpoint made with another calibration
method is rebuilt (its cache key was once the checkpoint alone), and so is one whose checkpoint changed in place."""


from animegan_deploy.compress.quantize import PLACEMENTS, QuantizeConfig
from animegan_deploy.export.builds import build_onnx, build_onnx_int8
from animegan_deploy.export.onnx_int8 import export_onnx_int8
from animegan_deploy.export.targets import targets
from animegan_deploy.models.checkpoints import save_checkpoint
from animegan_deploy.pipeline.cache import cache_key, content_hash
from animegan_deploy.sidecar import read_sidecar
from conftest import randomized_generator

TENSORRT_INT8 = tuple(t for t in targets("onnx-int8") if t.placement == "tensorrt")


def test_int8_of_another_method_is_rebuilt(tmp_path, tiny_checkpoint):
    work = tmp_path / "work"
    path = build_onnx_int8(tiny_checkpoint, TENSORRT_INT8, (32,), work)[0].path
    meta = read_sidecar(path)
    assert meta["cache_key"] == cache_key({"model": tiny_checkpoint}, QuantizeConfig(**meta["config"]))
    assert meta["config"]["method"] is None  # as asked: chosen per model, and the choice is recorded
    assert meta["metrics"]["settings"]["chosen"]["method"] in PLACEMENTS["tensorrt"].methods
    stamp = path.stat().st_mtime_ns
    again = build_onnx_int8(tiny_checkpoint, TENSORRT_INT8, (32,), work)[0].path
    assert again.stat().st_mtime_ns == stamp  # same settings: reused
    export_onnx_int8(tiny_checkpoint, QuantizeConfig(method="minmax", size=32), path, progress=False)
    assert read_sidecar(path)["config"]["method"] == "minmax"
    rebuilt = build_onnx_int8(tiny_checkpoint, TENSORRT_INT8, (32,), work)[0].path
    assert read_sidecar(rebuilt)["config"]["method"] is None


def test_a_checkpoint_changed_in_place_is_built_again(tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    save_checkpoint(randomized_generator(seed=0), checkpoint, style="test", provenance={"made_by": "tests"})
    fp32 = tuple(t for t in targets("onnx") if t.precision == "fp32")
    path = build_onnx(checkpoint, fp32, (32,), tmp_path / "work")[0].path
    key, stamp = read_sidecar(path)["cache_key"], path.stat().st_mtime_ns
    assert build_onnx(checkpoint, fp32, (32,), tmp_path / "work")[0].path.stat().st_mtime_ns == stamp  # reused
    save_checkpoint(randomized_generator(seed=1), checkpoint, style="test", provenance={"made_by": "tests"})
    again = read_sidecar(build_onnx(checkpoint, fp32, (32,), tmp_path / "work")[0].path)
    assert again["cache_key"] != key and again["source"]["sha256"] == content_hash(checkpoint)
