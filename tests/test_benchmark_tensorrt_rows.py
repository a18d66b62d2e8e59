"""Where TensorRT is installed, the benchmark builds fp32/fp16 engines from the checkpoint and the int8 engine
from a Q/DQ ONNX; one precision failing keeps the other rows (was: one 'unavailable' row for all three)."""

import dataclasses
from pathlib import Path

import animegan_deploy.export.tensorrt as tensorrt_module
from animegan_deploy.backends import registry
from animegan_deploy.benchmarks import variants


def test_each_precision_gets_its_row_and_int8_uses_the_qdq_onnx(monkeypatch, tmp_path, tiny_checkpoint):
    installed = dataclasses.replace(registry.BACKENDS["tensorrt"], requires=())  # nothing missing: "installed"
    monkeypatch.setitem(registry.BACKENDS, "tensorrt", installed)
    assert installed.missing() == []
    qdq = tmp_path / "tiny.int8.onnx"
    qdq.write_bytes(b"qdq")
    monkeypatch.setitem(variants.BUILDERS, "onnx-int8", lambda checkpoint, sizes, workdir, **_: [
        variants.Variant("onnx int8 q/dq", "onnxruntime", "int8", qdq, checkpoint)])
    built = {}

    def fake_export(checkpoint, config, output):
        built[config.precision] = config.onnx
        if config.precision == "fp16":
            raise RuntimeError("this GPU has no fast fp16")
        Path(output).write_bytes(b"engine")

    monkeypatch.setattr(tensorrt_module, "export_tensorrt", fake_export)
    rows = variants.BUILDERS["tensorrt"](tiny_checkpoint, (64,), tmp_path)
    assert [(v.name, v.status) for v in rows] == [("tensorrt fp32", "ready"), ("tensorrt fp16", "failed"),
                                                  ("tensorrt int8", "ready")]
    assert built == {"fp32": None, "fp16": None, "int8": str(qdq)}
    assert "no fast fp16" in rows[1].reason
