"""Work one process does once and finds again by content: the FP32 graph traced from a checkpoint (export_onnx)
and a graph's activation statistics over a photo set (calibrate). A changed checkpoint or photo is new work."""

import shutil

import numpy as np
import onnx

from animegan_deploy.compress import quantize
from animegan_deploy.compress.quantize import QuantizeConfig, calibrate
from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.checkpoints import save_checkpoint
from animegan_deploy.sidecar import read_sidecar

from conftest import photo, randomized_generator

CONFIG = OnnxExportConfig(validate_sizes=((32, 32),))


def test_a_checkpoint_is_traced_once_and_again_when_its_bytes_change(tmp_path, tiny_checkpoint):
    checkpoint = tmp_path / "g.safetensors"
    shutil.copy(tiny_checkpoint, checkpoint)
    first = export_onnx(checkpoint, CONFIG, tmp_path / "a.onnx")
    second = export_onnx(checkpoint, CONFIG, tmp_path / "b.onnx")
    assert read_sidecar(first.path)["metrics"]["reused_trace"] is False
    assert read_sidecar(second.path)["metrics"]["reused_trace"] is True
    assert first.path.read_bytes() == second.path.read_bytes() and second.max_abs_diff == first.max_abs_diff

    other = export_onnx(checkpoint, OnnxExportConfig(validate_sizes=((32, 32),), opset=17), tmp_path / "c.onnx")
    assert read_sidecar(other.path)["metrics"]["reused_trace"] is False  # another config is another graph

    checkpoint.unlink()
    save_checkpoint(randomized_generator(seed=5), checkpoint, style="test")  # same name, new weights
    changed = export_onnx(checkpoint, CONFIG, tmp_path / "d.onnx")
    assert read_sidecar(changed.path)["metrics"]["reused_trace"] is False
    assert changed.path.read_bytes() != first.path.read_bytes()


def _images(seeds):
    return [(f"p{s}", (photo(32, 32, seed=s).astype(np.float32) / 127.5 - 1).transpose(2, 0, 1)[None].copy())
            for s in seeds]


def test_statistics_of_a_graph_over_photos_are_measured_once(tmp_path, tiny_checkpoint, monkeypatch):
    fp32 = export_onnx(tiny_checkpoint, CONFIG, tmp_path / "t.onnx").path
    model = onnx.load(str(fp32))
    lean = QuantizeConfig(cache_all_tensors=False, placement="tensorrt")
    conv_io = QuantizeConfig(cache_all_tensors=False, placement="onnxruntime-conv")
    complete = QuantizeConfig(cache_all_tensors=True)
    passes = []  # the tensors each pass over the photos measured
    measure = quantize.collect_statistics
    monkeypatch.setattr(quantize, "collect_statistics", lambda path, images, tensors, *a, **k: passes.append(
        tensors) or measure(path, images, tensors, *a, **k))

    first = calibrate(fp32, model, lean, _images(range(3)), progress=False)  # conv inputs (and outputs: one pass)
    wider = calibrate(fp32, model, conv_io, _images(range(3)), progress=False)  # needs the conv outputs too
    assert set(first.stats) < set(wider.stats)
    assert len(passes) == 1 and set(passes[0]) == set(wider.stats)  # the first pass measured them: no second one
    assert all(wider.stats[n] is first.stats[n] for n in first.stats)
    again = calibrate(fp32, model, lean, _images(range(3)), progress=False)  # served from what was measured
    assert list(again.stats) == list(first.stats)
    assert all(again.stats[n] is wider.stats[n] for n in again.stats)
    everything = calibrate(fp32, model, complete, _images(range(3)), progress=False)
    assert set(wider.stats) < set(everything.stats)
    assert calibrate(fp32, model, complete, _images(range(3)), progress=False) is everything
    for name, stats in wider.stats.items():  # the same numbers as one pass over every tensor
        assert stats.lows == everything.stats[name].lows
        np.testing.assert_array_equal(stats.hist, everything.stats[name].hist)

    other_photos = calibrate(fp32, model, lean, _images((3, 4, 5)), progress=False)
    name = next(iter(first.stats))
    assert other_photos.stats[name] is not first.stats[name]
    assert not np.array_equal(other_photos.stats[name].channel_sum, first.stats[name].channel_sum)
