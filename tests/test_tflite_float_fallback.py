"""--target-psnr for integer TFLite files: the normalizations' ops are kept in float one rung of the fallback
ladder at a time, then the convs that gain most in float, as few as meet the target; the sidecar says which ops
stayed float; --target-psnr 0 keeps every op int8."""

import re

import numpy as np
import pytest

pytest.importorskip("onnx2tf", reason="TFLite export needs the [tflite] extra and onnx2tf (make install)")
pytest.importorskip("ai_edge_litert", reason="TFLite checks need ai-edge-litert (make install)")

from animegan_deploy.export import tflite as tfl  # noqa: E402
from animegan_deploy.compress.prefix_search import smallest_prefix  # noqa: E402
from animegan_deploy.export.tflite_int8 import FALLBACK_LADDER, rank_by_gain  # noqa: E402
from animegan_deploy.sidecar import read_sidecar  # noqa: E402


def _steps(err: str) -> list[tuple[str, float]]:
    """(what was float, PSNR) of each step the fallback printed."""
    return [(m.group(1), float(m.group(2))) for m in re.finditer(r"with (.+) in float: ([\d.]+) dB", err)]


def test_target_past_the_ladder_keeps_the_fewest_sensitive_convs_float(tmp_path, tiny_checkpoint, photo_folders,
                                                                      capfd):
    from ai_edge_litert.interpreter import Interpreter

    def export(target: float, name: str):
        config = tfl.TFLiteConfig(size=48, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                                  eval_dir=str(photo_folders["eval"]), allow_lossy=True, target_psnr=target)
        record = tfl.export_tflite(tiny_checkpoint, config, tmp_path / name).files[0]
        assert record.status in ("ok", "below-threshold") and record.path is not None
        return record, read_sidecar(record.path), _steps(capfd.readouterr().err)

    # unreachable: every rung, then every conv float
    record, meta, steps = export(99.0, "all")
    assert [label for label, _ in steps[: len(FALLBACK_LADDER)]] == [label for label, _ in FALLBACK_LADDER]
    last_rung, rung_psnr = steps[len(FALLBACK_LADDER) - 1]
    total = int(re.search(r"of (\d+) convs", steps[-1][0]).group(1))
    assert steps[len(FALLBACK_LADDER)][0] == f"{last_rung} + {total} of {total} convs"  # tried all first
    all_convs_psnr = steps[len(FALLBACK_LADDER)][1]
    assert meta["float_fallback"] == f"{last_rung} + {total} of {total} convs (by measured gain)"
    assert len(meta["float_convs"]) == total and meta["config"]["target_psnr"] == 99.0
    # the last rung: every norm's statistics (2 staged means + variance mean, centering, square, rsqrt, normalizing
    # multiply...), its scale/shift (a 1x1 depthwise conv) and the LeakyReLU after it; then the other convs
    ops = meta["float_ops"]
    assert ops["MEAN"] >= 24 and ops["RSQRT"] == 24 and ops["LEAKY_RELU"] == 20, ops
    assert sum(v for k, v in ops.items() if k in ("CONV_2D", "DEPTHWISE_CONV_2D")) == 24 + total, ops
    interpreter = Interpreter(model_path=str(record.path))
    interpreter.allocate_tensors()
    assert interpreter.get_input_details()[0]["dtype"] == np.int8  # still int8 at the edges
    assert all_convs_psnr > rung_psnr + 1.0, steps  # float convs are worth it on this model

    # a target between the last rung and all convs float: some convs, not all, and the file meets it
    target = round((rung_psnr + all_convs_psnr) / 2, 2)
    record, meta, steps = export(target, "some")
    k = len(meta["float_convs"])
    assert 0 < k < total, (k, steps)
    assert meta["float_fallback"] == f"{last_rung} + {k} of {total} convs (by measured gain)"
    assert record.psnr_db >= target - 0.01, (record.psnr_db, target)
    met = {int(re.search(r"\+ (\d+) of", label).group(1)): psnr for label, psnr in steps if " convs" in label}
    assert met[k] >= target and (k - 1 not in met or met[k - 1] < target), met  # k - 1 fell short
    assert len(met) <= total.bit_length() + 2  # bisection, not one evaluation per conv


def test_target_zero_keeps_every_op_int8(tmp_path, tiny_checkpoint, photo_folders, capfd):
    config = tfl.TFLiteConfig(size=48, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                              eval_dir=str(photo_folders["eval"]), allow_lossy=True, target_psnr=0.0)
    record = tfl.export_tflite(tiny_checkpoint, config, tmp_path / "out").files[0]
    assert not _steps(capfd.readouterr().err)
    meta = read_sidecar(record.path)
    assert meta["float_fallback"] == "nothing" and meta["float_ops"] == {}
    assert record.float_fallback == "nothing"


def test_smallest_prefix_bisects_to_the_first_k_that_meets():
    calls = []

    def meets(k: int) -> bool:
        calls.append(k)
        return k >= 7

    assert smallest_prefix(list("abcdefghijklmnopqrstuvwxy"), meets) == 7
    assert calls[0] == 25 and len(calls) <= 7
    assert smallest_prefix(list("abc"), lambda k: False) == 3  # none meets: all
    assert smallest_prefix(list("abc"), lambda k: True) == 0


def test_rank_by_gain_orders_by_the_gain_each_adds_alone():
    gain = {"a": 0.1, "b": 0.9, "c": -0.2, "d": 0.5}
    ranking = rank_by_gain(["base"], list(gain), lambda nodes: 30.0 + sum(gain.get(n, 0.0) for n in nodes))
    assert [name for name, _ in ranking] == ["b", "d", "a", "c"]
    assert ranking[0][1] == pytest.approx(0.9)
