"""Where TensorRT is installed, the benchmark builds fp32/fp16 engines from the checkpoint and the int8 engine
from a Q/DQ ONNX; one precision failing keeps the other rows (was: one 'unavailable' row for all three)."""

import dataclasses
from pathlib import Path

import animegan_deploy.export.tensorrt as tensorrt_module
from animegan_deploy.backends import registry
from animegan_deploy.export import builds
from animegan_deploy.export.targets import targets


def test_each_precision_gets_its_row_and_int8_uses_the_qdq_onnx(monkeypatch, tmp_path, tiny_checkpoint):
    installed = dataclasses.replace(registry.BACKENDS["tensorrt"], requires=())  # nothing missing: "installed"
    monkeypatch.setitem(registry.BACKENDS, "tensorrt", installed)
    assert installed.missing() == []
    qdq = tmp_path / "tiny.int8.onnx"
    qdq.write_bytes(b"qdq")
    asked = []

    def fake_int8(checkpoint, wanted, sizes, folder, search=()):
        asked.extend(t.placement for t in wanted)
        return [builds.Built(t, qdq) for t in wanted]

    monkeypatch.setattr(builds, "build_onnx_int8", fake_int8)
    built = {}

    def fake_export(checkpoint, config, output):
        built[config.precision] = config.onnx
        if config.precision == "fp16":
            raise RuntimeError("this GPU has no fast fp16")
        Path(output).write_bytes(b"engine")

    monkeypatch.setattr(tensorrt_module, "export_tensorrt", fake_export)
    rows = builds.build_tensorrt(tiny_checkpoint, targets("tensorrt"), (64,), tmp_path)
    assert [(v.target.name, v.status) for v in rows] == [("tensorrt fp32", "ready"), ("tensorrt fp16", "failed"),
                                                  ("tensorrt int8", "ready")]
    assert built == {"fp32": None, "fp16": None, "int8": str(qdq)}
    assert asked == ["tensorrt"]  # the engine builds from TensorRT's placement, not ONNX Runtime's
    assert "no fast fp16" in rows[1].reason
