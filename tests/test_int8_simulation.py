"""Simulated static int8 of convs (compress/int8_simulation): rounding, ranges, the two-digit scheme, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from animegan_deploy.cli import main
from animegan_deploy.compress.int8_simulation import (
    Int8SimulationConfig,
    SimulationConfig,
    conv_ranges,
    conv_work,
    fake_quant,
    simulated,
)
from animegan_deploy.errors import UserError

from conftest import randomized_generator


def test_fake_quant_rounds_to_256_levels_and_saturates():
    x = torch.linspace(-3.0, 3.0, 601)
    q = fake_quant(x, -1.0, 2.0)
    step = 3.0 / 255
    inside = (x >= -1.0) & (x <= 2.0)
    assert (q[inside] - x[inside]).abs().max() <= step / 2 + 1e-6
    assert len(torch.unique(q)) <= 256
    assert q.min() >= -1.0 - step and q.max() <= 2.0 + step  # saturated outside
    assert fake_quant(torch.zeros(3), -1.0, 2.0).abs().max() == 0.0  # zero stays exact


class OneConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_conv_ranges_are_the_mean_of_per_photo_extremes():
    model = OneConv().eval()
    a = np.full((1, 3, 8, 8), 0.5, dtype=np.float32)
    a[0, 0, 0, 0] = -1.0
    b = np.full((1, 3, 8, 8), 0.2, dtype=np.float32)
    b[0, 1, 2, 2] = 3.0
    (r,) = conv_ranges(model, [("a", a), ("b", b)])
    assert r[0] == pytest.approx((-1.0 + 0.2) / 2) and r[1] == pytest.approx((0.5 + 3.0) / 2)
    with torch.no_grad():
        ya, yb = model(torch.from_numpy(a)), model(torch.from_numpy(b))
    assert r[2] == pytest.approx((ya.min() + yb.min()).item() / 2, rel=1e-5)
    assert r[3] == pytest.approx((ya.max() + yb.max()).item() / 2, rel=1e-5)


def _calibrated(model: nn.Module):
    """Four random calibration inputs in [-1, 1] and the conv ranges ``model`` gets from them."""
    calib = [(f"c{i}", np.random.default_rng(i).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)) for i in range(4)]
    return calib, conv_ranges(model, calib)


def test_two_digit_keeps_what_a_static_scale_clips():
    model = OneConv().eval()
    calib, ranges = _calibrated(model)
    plain = simulated(model, ranges, SimulationConfig("conv-io"))
    two = simulated(model, ranges, SimulationConfig("two-digit", tail=4.0))
    with torch.no_grad():
        typical = torch.from_numpy(calib[0][1]) * 0.9
        spiky = typical.clone()
        spiky[0, :, 5:7, 5:7] = 3.0  # three times past the calibrated input range
        for x in (typical, spiky):
            exact = model(x)
            err_plain = (plain(x) - exact).abs().max().item()
            err_two = (two(x) - exact).abs().max().item()
            if x is typical:  # nothing past the ranges: the two digits cost nothing measurable
                assert err_two <= err_plain * 1.5 + 0.02
            else:
                assert err_plain > 1.0  # clipped
                assert err_two < err_plain / 5


def test_two_digit_inputs_keep_input_outliers_and_leave_the_output_float():
    model = OneConv().eval()
    calib, ranges = _calibrated(model)
    one = simulated(model, ranges, SimulationConfig("conv-inputs"))
    two = simulated(model, ranges, SimulationConfig("two-digit-inputs", tail=4.0))
    spiky = torch.from_numpy(calib[0][1]).clone()
    spiky[0, :, 5:7, 5:7] = 3.0
    with torch.no_grad():
        exact = model(spiky)
        err_one, err_two = (one(spiky) - exact).abs().max().item(), (two(spiky) - exact).abs().max().item()
        assert err_one > 1.0 and err_two < err_one / 5
        assert len(torch.unique(two(spiky))) > 256  # the output is not rounded
    assert conv_work(model, SimulationConfig("two-digit-inputs")) == pytest.approx(2.0)


def test_inputs_only_and_outputs_only_round_one_side():
    model = OneConv().eval()
    calib = [("c", np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32))]
    ranges = conv_ranges(model, calib)
    x = torch.from_numpy(calib[0][1])
    with torch.no_grad():
        exact = model(x)
        outputs_only = simulated(model, ranges, SimulationConfig("conv-outputs"))(x)
        inputs_only = simulated(model, ranges, SimulationConfig("conv-inputs"))(x)
    assert torch.equal(outputs_only, fake_quant(exact, ranges[0][2], ranges[0][3]))
    assert not torch.equal(inputs_only, exact)
    assert len(torch.unique(inputs_only)) > 256  # the output is not rounded


def test_conv_work_counts_three_passes_on_the_chosen_convs():
    model = randomized_generator()
    n = len([m for m in model.modules() if isinstance(m, nn.Conv2d)])
    assert conv_work(model, SimulationConfig("conv-io")) == 1.0
    assert conv_work(model, SimulationConfig("two-digit")) == pytest.approx(3.0)
    some = conv_work(model, SimulationConfig("two-digit", layers=(0, 1)))
    assert 1.0 < some < 3.0
    with pytest.raises(ValueError, match="convs 0.."):
        simulated(model, [(0.0, 1.0, 0.0, 1.0)] * n, SimulationConfig("two-digit", layers=(n,)))


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="--schemes"):
        Int8SimulationConfig(schemes=("int4",))
    with pytest.raises(UserError, match="--tail"):
        Int8SimulationConfig(tail=1.0)
    with pytest.raises(ValueError, match="scheme"):
        SimulationConfig("int4")


def test_cli_writes_a_report_per_scheme(tmp_path, tiny_checkpoint, photo_folders, capsys):
    out = tmp_path / "sim"
    code = main(["simulate-int8", "-w", str(tiny_checkpoint), "-o", str(out), "--size", "32",
                 "--calib-dir", str(photo_folders["calib"]), "--eval-dir", str(photo_folders["eval"]),
                 "--schemes", "conv-io", "two-digit"])
    assert code == 0
    record = json.loads((out / "int8-simulation.json").read_text())
    rows = {r["scheme"]: r for r in record["rows"]}
    assert set(rows) == {"conv-io", "two-digit"} and record["calibration_photos"] == 4
    assert rows["two-digit"]["conv_work"] == pytest.approx(3.0) and rows["conv-io"]["conv_work"] == 1.0
    assert all(r["count"] == 2 and 15.0 < r["psnr_db"] < 80.0 for r in rows.values())
    assert "| two-digit | 3.0x |" in (out / "int8-simulation.md").read_text()
    assert "two-digit" in capsys.readouterr().out


def test_cli_refuses_an_empty_photo_folder(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "none").mkdir()
    assert main(["simulate-int8", "-w", str(tiny_checkpoint), "-o", str(tmp_path / "o"),
                 "--eval-dir", str(tmp_path / "none"), "--size", "32"]) != 0
    assert "--eval-dir" in capsys.readouterr().err


def test_cli_two_digit_on_chosen_convs_only(tmp_path, tiny_checkpoint, photo_folders, capsys):
    out = tmp_path / "sim"
    common = ["simulate-int8", "-w", str(tiny_checkpoint), "-o", str(out), "--size", "32",
              "--calib-dir", str(photo_folders["calib"]), "--eval-dir", str(photo_folders["eval"]), "--schemes", "two-digit"]
    assert main(common + ["--layers", "0", "1"]) == 0
    (row,) = json.loads((out / "int8-simulation.json").read_text())["rows"]
    assert row["layers"] == [0, 1] and 1.0 < row["conv_work"] < 3.0
    assert main(common + ["--layers", "99"]) != 0
    assert "--layers 99" in capsys.readouterr().err


def test_conv_work_weighs_each_conv_by_its_output_pixels():
    from animegan_deploy.compress.int8_simulation import conv_macs

    class Strided(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.full = nn.Conv2d(3, 4, 3, padding=1)  # 4*3*9 = 108 weights at 64x64
            self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)  # 144 weights at 32x32

        def forward(self, x):
            return self.down(self.full(x))

    model = Strided()
    assert conv_macs(model) == [108 * 64 * 64, 144 * 32 * 32]
    full_only = conv_work(model, SimulationConfig("two-digit", layers=(0,)))
    assert full_only == pytest.approx((3 * 108 * 4096 + 144 * 1024) / (108 * 4096 + 144 * 1024))
