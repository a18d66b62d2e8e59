"""The targets table drives the rest: every file name resolves to its target's backend, every precision has
thresholds, every format is an `animegan export` subcommand and every target a benchmark builds is reachable
from its --formats, and the exporters accept what the table names (TFLite kinds, INT8 placements)."""

import tomllib
from pathlib import Path

import pytest

from animegan_deploy.backends.registry import BACKENDS, backend_for_path
from animegan_deploy.benchmarks.suite import BenchmarkConfig
from animegan_deploy.benchmarks.thresholds import THRESHOLDS_FILE, threshold_set
from animegan_deploy.cli import build_parser
from animegan_deploy.compress.quantize import PLACEMENTS, QuantizeConfig
from animegan_deploy.export.targets import FORMATS, TARGETS, resolve
from animegan_deploy.export.tflite import PRECISIONS, TFLiteConfig


def _subcommands(parser) -> dict:
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name.replace(" ", "-"))
def test_target_resolves_everywhere(target):
    assert backend_for_path(Path("model" + target.suffix)) == target.backend
    assert target.thresholds in tomllib.loads(THRESHOLDS_FILE.read_text())
    assert threshold_set(target.precision) == target.thresholds  # no precision label is held to two sets
    assert callable(resolve(FORMATS[target.format].build))
    if target.kind:
        assert TFLiteConfig(precisions=(target.kind,)).precisions == (target.kind,)
    if target.placement:
        assert target.placement in PLACEMENTS and QuantizeConfig(placement=target.placement).placement
    if target.benchmarked:  # the benchmark's default --formats builds it
        assert target.builder in BenchmarkConfig().formats


def test_file_names_and_rows_are_distinct():
    names = [t.name for t in TARGETS]
    suffixes = [(t.format, t.suffix) for t in TARGETS]
    assert len(set(names)) == len(names) and len(set(suffixes)) == len(suffixes)


def test_every_format_is_an_export_subcommand_and_a_gpu_format_needs_pycuda():
    commands = _subcommands(build_parser())
    assert set(_subcommands(commands["export"])) == set(FORMATS)
    assert [t.name for t in TARGETS if t.gpu] == ["tensorrt fp32", "tensorrt fp16", "tensorrt int8"]
    assert all("pycuda" in BACKENDS[t.backend].requires for t in TARGETS if t.gpu)


def test_tflite_kinds_are_held_to_their_precisions_floors():
    """What each TFLite file is judged against (the facts a user relies on)."""
    floors = tomllib.loads(THRESHOLDS_FILE.read_text())
    assert PRECISIONS["float32"][1] == "fp32" and PRECISIONS["float16"][1] == "fp16"
    assert PRECISIONS["full_integer_quant"] == ("int8", "int8") and PRECISIONS["int16x8_quant"][1] == "int16x8"
    assert all(thresholds in floors for _, thresholds in PRECISIONS.values())
    # the benchmark measures the files a phone would ship: float, half, and both 8-bit weight kinds
    benchmarked = {t.kind for t in TARGETS if t.format == "tflite" and t.benchmarked}
    assert benchmarked == {"float32", "float16", "full_integer_quant", "dynamic_range_quant"}
    # the two labels that once had no threshold section (check-fidelity of a dynamic-range / integer file)
    assert threshold_set("int8-weights") == threshold_set("int8-float-io") == "int8"


def test_config_choices_are_the_tables_own_lists(capsys):
    """The options' choices (CLI and config checks) are views of the tables, not lists kept beside them: the engine
    and ONNX precisions of TARGETS, the INT8 placements of PLACEMENTS, the calibration methods and searches."""
    from typing import get_args, get_type_hints

    from animegan_deploy.compress.calibration import METHODS
    from animegan_deploy.compress.choose import SEARCHES
    from animegan_deploy.export.onnx_export import OnnxExportConfig
    from animegan_deploy.export.tensorrt import TensorRTConfig

    def choices(config, field):
        return get_args(get_type_hints(config)[field])

    assert choices(TensorRTConfig, "precision") == tuple(t.precision for t in TARGETS if t.format == "tensorrt")
    assert choices(OnnxExportConfig, "precision") == tuple(t.precision for t in TARGETS if t.format == "onnx")
    assert choices(QuantizeConfig, "placement") == tuple(PLACEMENTS)
    assert choices(QuantizeConfig, "choose_search") == SEARCHES
    assert get_args(get_args(get_type_hints(QuantizeConfig)["method"])[0]) == METHODS
    with pytest.raises(SystemExit):  # the CLI refuses what the table does not list
        build_parser().parse_args(["export", "tensorrt", "--precision", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err
