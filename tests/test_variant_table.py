"""The variant table drives the rest: every suffix resolves to its backend, every precision has thresholds,
every builder and format is reachable from the CLI, and the views (TFLite kinds, threshold sets, TensorRT
precisions) agree with it."""

import tomllib
from pathlib import Path

import pytest

from animegan_deploy.backends.registry import BACKENDS, backend_for_path
from animegan_deploy.benchmarks.thresholds import THRESHOLDS_FILE, threshold_set
from animegan_deploy.benchmarks.suite import BenchmarkConfig
from animegan_deploy.benchmarks.variants import BUILDERS, TFLITE_KINDS
from animegan_deploy.cli import build_parser
from animegan_deploy.export.formats import FORMATS
from animegan_deploy.export.table import VARIANTS
from animegan_deploy.export.tflite import PRECISIONS


def _subcommands(parser) -> dict:
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("spec", VARIANTS, ids=lambda v: f"{v.format}-{v.precision}")
def test_entry_resolves_everywhere(spec):
    assert backend_for_path(Path("model" + spec.suffix)) == spec.backend
    assert spec.backend in BACKENDS
    assert spec.thresholds in tomllib.loads(THRESHOLDS_FILE.read_text())
    assert threshold_set(spec.precision) == spec.thresholds
    assert spec.format in FORMATS and FORMATS[spec.format].backend == spec.backend
    assert spec.builder in BUILDERS
    assert spec.gpu == ("pycuda" in BACKENDS[spec.backend].requires)


def test_every_builder_and_format_is_reachable_from_the_cli():
    commands = _subcommands(build_parser())
    export_formats = _subcommands(commands["export"])
    assert set(FORMATS) <= set(export_formats)
    assert {v.builder for v in VARIANTS} <= set(BenchmarkConfig().formats)  # the benchmark's --formats default
    assert {v.format for v in VARIANTS} == set(FORMATS)


def test_tflite_kinds_are_held_to_their_precisions_floors():
    """What each TFLite file is judged against (not a restatement of the table: the facts a user relies on)."""
    floors = tomllib.loads(THRESHOLDS_FILE.read_text())
    assert PRECISIONS["float32"][1] == "fp32" and PRECISIONS["float16"][1] == "fp16"
    assert PRECISIONS["full_integer_quant"] == ("int8", "int8") and PRECISIONS["int16x8_quant"][1] == "int16x8"
    assert all(thresholds in floors for _, thresholds in PRECISIONS.values())
    # the benchmark measures the files a phone would ship: float, half, and both 8-bit weight kinds
    assert {"float32", "float16", "full_integer_quant", "dynamic_range_quant"} == set(TFLITE_KINDS)
    # the two labels that once had no threshold section (check-fidelity of a dynamic-range / integer file)
    assert threshold_set("int8-weights") == threshold_set("int8-float-io") == "int8"
