"""[gate] has one pair of floors per threshold set of the targets table (fp32, fp16, int16x8, int8 today), each
falling back to the project's thresholds file; a value out of range is refused naming its key."""

from pathlib import Path

import pytest

from animegan_deploy.benchmarks.thresholds import load_thresholds
from animegan_deploy.errors import UserError
from animegan_deploy.export.targets import threshold_sets
from animegan_deploy.pipeline.config import GateSection, load_pipeline_config


def test_every_threshold_set_has_its_pair_of_floors():
    assert set(threshold_sets()) == {"fp32", "fp16", "int16x8", "int8"}
    names = [f for f in GateSection.__dataclass_fields__]
    for name in threshold_sets():
        assert f"{name}_min_psnr" in names and f"{name}_min_ssim" in names


def test_a_floor_set_in_the_config_wins_over_the_thresholds_file():
    file_psnr, file_ssim = load_thresholds(None, "int16x8")
    assert GateSection().floors("int16x8") == (file_psnr, file_ssim) == (45.0, 0.99)
    assert GateSection(int16x8_min_psnr=50.0).floors("int16x8") == (50.0, 0.99)
    config = load_pipeline_config(Path(__file__).parents[1] / "pipelines" / "quick.toml", ["gate.int16x8_min_ssim=0.95"])
    assert config.gate.floors("int16x8") == (45.0, 0.95) and config.gate.floors("int8") == (20.0, 0.5)  # quick.toml's own


def test_an_out_of_range_floor_names_its_key():
    with pytest.raises(UserError, match="int16x8_min_ssim"):
        GateSection(int16x8_min_ssim=1.5)
