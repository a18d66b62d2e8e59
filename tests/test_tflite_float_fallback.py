"""--target-psnr (and --target-worst-psnr) for integer TFLite files: the normalizations' ops are kept in float one
rung of the fallback ladder at a time, then the convs that lose most as int8 (with their input pads), as few as meet
the target with TARGET_MARGIN_DB to spare on the validation side of the calibration split (never the evaluation
photos); the sidecar says which ops stayed float; --target-psnr 0 keeps every op int8."""

import re

import numpy as np
import pytest

pytest.importorskip("onnx2tf", reason="TFLite export needs the [tflite] extra and onnx2tf (make install)")
pytest.importorskip("ai_edge_litert", reason="TFLite checks need ai-edge-litert (make install)")

from animegan_deploy.export import tflite as tfl  # noqa: E402
from animegan_deploy.compress.photos import TARGET_MARGIN_DB  # noqa: E402
from animegan_deploy.compress.prefix_search import smallest_measured_prefix, smallest_prefix  # noqa: E402
from animegan_deploy.export.tflite_int8 import FALLBACK_LADDER, FloatGraph, rank_by_loss  # noqa: E402
from animegan_deploy.sidecar import read_sidecar  # noqa: E402
from tflite_helpers import conv_tensor_types  # noqa: E402


def _steps(err: str) -> list[tuple[str, float]]:
    """(what was float, PSNR) of each step the fallback printed."""
    return [(label, psnr) for label, psnr, _ in _steps_with_worst(err)]


def _steps_with_worst(err: str) -> list[tuple[str, float, float]]:
    """(what was float, PSNR, worst photo's PSNR) of each step the fallback printed."""
    return [(m.group(1), float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"with (.+): ([\d.]+) dB, worst photo ([\d.]+) dB", err)]


def test_target_past_the_ladder_keeps_the_fewest_sensitive_convs_float(tmp_path, tiny_checkpoint, photo_folders,
                                                                      capfd):
    from ai_edge_litert.interpreter import Interpreter

    def export(target: float, name: str, worst: float | None = None, with_worst: bool = False):
        # one calibration method: the ladder's steps of one file (the choice among methods: test_tflite_export)
        config = tfl.TFLiteConfig(size=48, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                                  eval_dir=str(photo_folders["eval"]), allow_lossy=True, target_psnr=target,
                                  target_worst_psnr=worst, calibration="mean-minmax")
        record = tfl.export_tflite(tiny_checkpoint, config, tmp_path / name).files[0]
        assert record.status in ("ok", "below-threshold") and record.path is not None
        err = capfd.readouterr().err
        conversions.append("converted the same graph before" in err)
        unmet.append("is not met on the validation photos" in err)
        return record, read_sidecar(record.path), _steps_with_worst(err) if with_worst else _steps(err)

    conversions: list[bool] = []  # per export: onnx2tf's outputs for this graph came from memory
    unmet: list[bool] = []  # per export: it said the target is out of the fallback's reach

    # unreachable: every rung, then every conv dynamic-range, then every conv float
    record, meta, steps_worst = export(99.0, "all", with_worst=True)
    steps = [(label, psnr) for label, psnr, _ in steps_worst]
    assert [label for label, _ in steps[: len(FALLBACK_LADDER)]] == [f"{label} in float" for label, _ in FALLBACK_LADDER]
    last_rung, rung_psnr = FALLBACK_LADDER[-1][0], steps[len(FALLBACK_LADDER) - 1][1]
    total = int(re.search(r"of (\d+) convs", steps[-1][0]).group(1))
    # tried all first; by default the convs past the ladder run as dynamic-range (int8 weights, per-picture inputs)
    assert steps[len(FALLBACK_LADDER)][0] == f"{last_rung} in float + {total} of {total} convs dynamic-range"
    all_convs_psnr = steps[len(FALLBACK_LADDER)][1]
    # and where all of them still miss the target, the most lossy ones float: all, first (the bisection's upper end)
    assert steps[len(FALLBACK_LADDER) + 1][0] == (f"{last_rung} in float + {total} of {total} convs float, the other "
                                                  "0 dynamic-range")
    all_float_psnr = steps[len(FALLBACK_LADDER) + 1][1]
    assert all_float_psnr > all_convs_psnr + 1.0, steps  # float convs hold what per-picture int8 inputs lose
    assert len(steps) == len(FALLBACK_LADDER) + 2 and unmet == [True]  # neither meets 99 dB: one try each, and said
    assert meta["float_fallback"] == (f"{last_rung} + {total} of {total} convs float, the other 0 dynamic-range (by "
                                      "measured loss)")
    assert meta["conv_fallback"] == "dynamic-then-float" and meta["float_convs"] == meta["fallback_convs"]
    assert len(meta["fallback_convs"]) == total and meta["config"]["target_psnr"] == 99.0
    # the last rung: every norm's statistics (2 staged means + variance mean, centering, square, rsqrt, normalizing
    # multiply...), its scale/shift (a 1x1 depthwise conv), the LeakyReLU after it and every residual add (so every
    # ADD of the file: the others add the variance's epsilon); then the other convs
    ops = meta["float_ops"]
    assert ops["MEAN"] >= 24 and ops["RSQRT"] == 24 and ops["LEAKY_RELU"] == 20, ops
    assert sum(v for k, v in ops.items() if k in ("CONV_2D", "DEPTHWISE_CONV_2D")) == 24 + total, ops
    # and with each float conv the pads (and resizes) that feed it: every reflect pad of the generator
    file_ops = [kind for kind, _, _ in FloatGraph.parse(record.path.read_bytes()).ops]
    assert ops["ADD"] == file_ops.count("ADD") > 24, ops  # 24 epsilon adds and the residual ones
    assert ops["MIRROR_PAD"] == file_ops.count("MIRROR_PAD") > 0, ops
    assert ops["RESIZE_BILINEAR"] == file_ops.count("RESIZE_BILINEAR") > 0, ops
    interpreter = Interpreter(model_path=str(record.path))
    interpreter.allocate_tensors()
    assert interpreter.get_input_details()[0]["dtype"] == np.int8  # still int8 at the edges
    assert _conv_types(record.path, meta["fallback_convs"]) == {("FLOAT32", "FLOAT32")}  # float in, float weights
    assert all_convs_psnr > rung_psnr + 1.0, steps  # dynamic-range convs are worth it on this model

    # a target between all convs dynamic-range and all float: every conv out of static int8, the fewest float
    target = round((all_convs_psnr + all_float_psnr) / 2 - TARGET_MARGIN_DB, 2)
    record, meta, steps = export(target, "mixed")
    floats = meta["float_convs"]
    assert 0 < len(floats) < total and len(meta["fallback_convs"]) == total, steps
    assert floats == meta["fallback_convs"][: len(floats)]  # the most lossy first
    dynamic = meta["fallback_convs"][len(floats):]
    assert _conv_types(record.path, floats) == {("FLOAT32", "FLOAT32")}
    assert _conv_types(record.path, dynamic) == {("FLOAT32", "INT8")}  # float in, int8 weights
    met = {int(re.search(r"\+ (\d+) of \d+ convs float", label).group(1)): psnr for label, psnr in steps
           if "convs float" in label}
    goal = target + TARGET_MARGIN_DB
    assert met[len(floats)] >= goal and (len(floats) - 1 not in met or met[len(floats) - 1] < goal), met

    # a target between the last rung and all convs float: some convs, not all, and the file meets it (the figures
    # printed are the validation photos', where the target must hold with the margin)
    target = round((rung_psnr + all_convs_psnr) / 2 - TARGET_MARGIN_DB, 2)
    record, meta, steps = export(target, "some")
    k = len(meta["fallback_convs"])
    assert 0 < k < total, (k, steps)
    assert meta["float_fallback"] == f"{last_rung} + {k} of {total} convs dynamic-range (by measured loss)"
    met = {int(re.search(r"\+ (\d+) of", label).group(1)): psnr for label, psnr in steps if " convs" in label}
    goal = target + TARGET_MARGIN_DB
    assert met[k] >= goal and (k - 1 not in met or met[k - 1] < goal), met  # k - 1 fell short
    assert len(met) <= total.bit_length() + 2  # bisection, not one evaluation per conv

    # a worst-photo target alone (--target-psnr 0 for the mean): the fallback goes on until the worst photo
    # reaches it
    rung_worst, all_worst = steps_worst[len(FALLBACK_LADDER) - 1][2], steps_worst[len(FALLBACK_LADDER)][2]
    assert all_worst > rung_worst + 1.0, steps_worst
    worst_target = round((rung_worst + all_worst) / 2 - TARGET_MARGIN_DB, 2)
    record, meta, steps = export(0.0, "worst", worst=worst_target, with_worst=True)
    k = len(meta["fallback_convs"])
    assert 0 < k < total, (k, steps)
    assert meta["config"]["target_worst_psnr"] == worst_target
    met = {int(re.search(r"\+ (\d+) of", label).group(1)): w for label, _, w in steps if " convs" in label}
    goal = worst_target + TARGET_MARGIN_DB
    assert met[k] >= goal and (k - 1 not in met or met[k - 1] < goal), met
    assert unmet == [True, False, False, False]
    assert conversions[1:] == [True, True, True]  # one graph, converted by onnx2tf once in this process


def test_conv_fallback_float_keeps_float_weights(tmp_path, tiny_checkpoint, photo_folders, capfd):
    config = tfl.TFLiteConfig(size=48, precisions=("full_integer_quant",), calib_dir=str(photo_folders["calib"]),
                              eval_dir=str(photo_folders["eval"]), allow_lossy=True, target_psnr=99.0,
                              conv_fallback="float", calibration="mean-minmax")
    record = tfl.export_tflite(tiny_checkpoint, config, tmp_path / "out").files[0]
    meta = read_sidecar(record.path)
    assert meta["conv_fallback"] == "float" and meta["float_fallback"].endswith("convs float (by measured loss)")
    assert _conv_types(record.path, meta["fallback_convs"]) == {("FLOAT32", "FLOAT32")}


def _conv_types(path, convs) -> set[tuple[str, str]]:
    """(input type, weight type) of the convs whose outputs are named in ``convs``."""
    types = conv_tensor_types(path.read_bytes())
    return {types[name] for name in convs}


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
    # the measured form returns what it measured at that k: the last k that met, or all when none did
    assert smallest_measured_prefix(list("abcdefghijklmnopqrstuvwxy"), lambda k: 30.0 + k, lambda v: v >= 37) == (7, 37)
    assert smallest_measured_prefix(list("abc"), lambda k: 30.0 + k, lambda v: v >= 40) == (3, 33.0)


def test_rank_by_loss_orders_by_what_each_loses_as_the_only_int8_conv():
    # the score is the float model's 50 dB less each static int8 conv's own loss
    loss = {"a": 0.4, "b": 6.0, "c": 0.0, "d": 2.5}
    seen = []

    def score(kept):
        seen.append(sorted(kept))
        return 50.0 - sum(v for name, v in loss.items() if name not in kept)

    ranking = rank_by_loss(list(loss), score)
    assert [name for name, _ in ranking] == ["b", "d", "a", "c"]
    assert ranking[0][1] == pytest.approx(6.0) and ranking[-1][1] == pytest.approx(0.0)
    assert seen[0] == ["a", "b", "c", "d"]  # the reference: every candidate kept out of int8
    assert seen[1:] == [["b", "c", "d"], ["a", "c", "d"], ["a", "b", "d"], ["a", "b", "c"]]  # one int8 at a time
