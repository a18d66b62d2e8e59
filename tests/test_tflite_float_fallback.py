"""--target-psnr for integer TFLite files: the normalizations' ops are kept in float one rung of the fallback
ladder at a time until the target is met (here: never, so every rung is tried and the last one is kept), and the
sidecar says which ops stayed float; --target-psnr 0 keeps every op int8."""

import numpy as np
import pytest

pytest.importorskip("onnx2tf", reason="TFLite export needs the [tflite] extra and onnx2tf (make install)")
pytest.importorskip("ai_edge_litert", reason="TFLite checks need ai-edge-litert (make install)")

from animegan_deploy.export import tflite as tfl  # noqa: E402
from animegan_deploy.export.tflite_int8 import FALLBACK_LADDER  # noqa: E402
from animegan_deploy.sidecar import read_sidecar  # noqa: E402


def test_unreachable_target_walks_the_whole_ladder(tmp_path, tiny_checkpoint, photo_folders, capfd):
    from ai_edge_litert.interpreter import Interpreter

    config = tfl.TFLiteConfig(size=48, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                              eval_dir=str(photo_folders["eval"]), allow_lossy=True, target_psnr=99.0)
    result = tfl.export_tflite(tiny_checkpoint, config, tmp_path / "out")
    record = result.files[0]
    assert record.status in ("ok", "below-threshold") and record.path is not None
    tried = [line for line in capfd.readouterr().err.splitlines() if "in float:" in line]
    assert len(tried) == len(FALLBACK_LADDER), tried
    meta = read_sidecar(record.path)
    assert meta["float_fallback"] == FALLBACK_LADDER[-1][0] and meta["config"]["target_psnr"] == 99.0
    # the last rung: every norm's statistics (2 staged means + variance mean, centering, square, rsqrt, normalizing
    # multiply...), its scale/shift (a 1x1 depthwise conv) and the LeakyReLU after it
    ops = meta["float_ops"]
    assert ops["MEAN"] >= 24 and ops["RSQRT"] == 24 and ops["LEAKY_RELU"] == 20, ops
    assert sum(v for k, v in ops.items() if k in ("CONV_2D", "DEPTHWISE_CONV_2D")) == 24, ops
    interpreter = Interpreter(model_path=str(record.path))
    interpreter.allocate_tensors()
    details = interpreter.get_tensor_details()
    assert interpreter.get_input_details()[0]["dtype"] == np.int8  # still int8 at the edges
    assert any(np.dtype(t["dtype"]) == np.float32 for t in details)  # the fallback ops run in float
    assert any(np.dtype(t["dtype"]) == np.int8 and len(t["shape"]) == 4 for t in details)  # convs stay int8


def test_target_zero_keeps_every_op_int8(tmp_path, tiny_checkpoint, photo_folders, capfd):
    config = tfl.TFLiteConfig(size=48, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                              eval_dir=str(photo_folders["eval"]), allow_lossy=True, target_psnr=0.0)
    record = tfl.export_tflite(tiny_checkpoint, config, tmp_path / "out").files[0]
    assert not [line for line in capfd.readouterr().err.splitlines() if "in float:" in line]
    meta = read_sidecar(record.path)
    assert meta["float_fallback"] == "nothing" and meta["float_ops"] == {}
    assert record.float_fallback == "nothing"
