"""The pipeline's TOML config: one section per stage, each a typed dataclass checked before any work starts.

``[prune]``, ``[distill]`` and ``[quantize]`` take the keys of the stage's own config (``PruneConfig``,
``DistillConfig``, ``QuantizeConfig``: the same names as the CLI options) plus ``enabled``; the other sections
are defined here. ``--set SECTION.KEY=VALUE`` overrides a key (VALUE is read as a TOML value, else as a string).
Unknown sections or keys, values of the wrong type and out-of-range values are one-line errors naming the file,
the section and the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from animegan_deploy.configs import at_least, option, read_toml
from animegan_deploy.errors import UserError
from animegan_deploy.export.targets import pipeline_formats, tensorrt_precisions, threshold_sets
from animegan_deploy.lazy_import import resolve

# what [export] formats can name: every format with a pipeline stage (the INT8 ONNX is the [quantize] stage's file)
EXPORT_STAGE_FORMATS = pipeline_formats()
DEFAULT_TFLITE = ("float32", "float16", "full_integer_quant")  # the TFLite files a phone app picks from


@dataclass
class SourceSection:
    weights: str = option("default", "the FP32 generator the pipeline starts from: a path, a URL, a public name or "
                          "'default' (ignored when [train] is enabled)")


@dataclass
class TrainSection:
    enabled: bool = option(False, "train the base model first with the existing recipe (animegan train)")
    config: str | None = option(None, "train TOML, e.g. train/configs/demo.toml")
    set: tuple[str, ...] = option((), "overrides of the train TOML, SECTION.KEY=VALUE")

    def __post_init__(self) -> None:
        if self.enabled and not self.config:
            raise UserError("[train] config: name a train TOML (e.g. train/configs/demo.toml) or set enabled = false")
        if self.enabled and not Path(self.config).is_file():
            raise UserError(f"[train] config {self.config}: no such file; name a train TOML (e.g. "
                            "train/configs/demo.toml)")


@dataclass
class DataSection:
    photo_dir: str | None = option(None, "training photos of prune/distill (default: the bundled demo photos)")
    calib_dir: str | None = option(None, "INT8 calibration photos, split into calibration and validation (default: the "
                                   "bundled calibration set)")
    eval_dir: str | None = option(None, "photos never trained or calibrated on, for every fidelity figure "
                                  "(default: the 15 unseen pictures)")
    size: int = option(256, "NxN input size of quantize, the TFLite files and the benchmark")
    eval_count: int = option(15, "at most this many evaluation photos")
    calib_count: int = option(32, "at most this many calibration photos")

    def __post_init__(self) -> None:
        if self.size < 16 or self.size % 4:
            raise UserError(f"[data] size {self.size}: must be a multiple of 4, at least 16")
        at_least(self, ("eval_count", "calib_count"), section="[data]")
        for name in ("photo_dir", "calib_dir", "eval_dir"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_dir():
                raise UserError(f"[data] {name} {value}: not a folder; point it at a folder of photos")


@dataclass
class ExportSection:
    formats: tuple[str, ...] = option(EXPORT_STAGE_FORMATS, "formats to export the final model to (the INT8 ONNX "
                                      "is the [quantize] stage's file)")
    tflite_precisions: tuple[str, ...] = option(DEFAULT_TFLITE, "TFLite files")
    tflite_calibration: str | None = option(None, "activation ranges of the integer TFLite files (default: chosen "
                                            "per model on the validation photos)")
    tflite_target_psnr: float | None = option(None, "integer TFLite files: keep the normalizations float, then the "
                                              "convs that lose most as int8 out of static int8, until this PSNR vs "
                                              "the model (default: the int8 threshold; 0: all int8)")
    tflite_target_worst_psnr: float | None = option(None, "integer TFLite files: go on until the worst validation "
                                                    "photo reaches this PSNR too")
    tflite_conv_fallback: str = option("dynamic-then-float", "how those convs run: dynamic (int8 weights, "
                                       "per-picture int8 inputs), float, or dynamic-then-float (dynamic, and the "
                                       "most lossy ones float where all dynamic still miss the target)")
    tensorrt_precisions: tuple[str, ...] = option(tensorrt_precisions(), "TensorRT engines (GPU only)")
    timeout: int = option(1800, "seconds one onnx2tf run may take")

    def __post_init__(self) -> None:
        from animegan_deploy.export.tflite import PRECISIONS
        from animegan_deploy.export.tflite_int8 import CALIBRATIONS, CONV_FALLBACKS

        if "onnx-int8" in self.formats:
            raise UserError("[export] formats: onnx-int8 is made by the [quantize] stage; leave it out of formats")
        _choices("[export] formats", self.formats, pipeline_formats())
        _choices("[export] tflite_precisions", self.tflite_precisions, tuple(PRECISIONS))
        _choices("[export] tensorrt_precisions", self.tensorrt_precisions, tensorrt_precisions())
        if self.tflite_calibration is not None:
            _choices("[export] tflite_calibration", (self.tflite_calibration,), tuple(CALIBRATIONS))
        _choices("[export] tflite_conv_fallback", (self.tflite_conv_fallback,), tuple(CONV_FALLBACKS))
        if self.timeout < 1:
            raise UserError(f"[export] timeout {self.timeout}: must be at least 1 second")


@dataclass
class BenchmarkSection:
    enabled: bool = option(True, "measure every artifact against the FP32 original")
    repeats: int = option(5, "timed runs per variant (round-robin)")
    warmup: int = option(1, "untimed runs per variant first")
    threads: int = option(2, "CPU threads")
    sample_photos: int = option(3, "evaluation photos shown per variant in report.html")

    def __post_init__(self) -> None:
        at_least(self, ("repeats", "threads"), section="[benchmark]")
        if self.warmup < 0 or self.sample_photos < 0:
            raise UserError("[benchmark] warmup / sample_photos: must be >= 0")


class GateFloors:
    """[gate]: whether a floor not met fails the run, each threshold set's floors (``<set>_min_psnr``,
    ``<set>_min_ssim``: one pair per set of the targets table, export/targets.py) and the compressed model's."""

    def __post_init__(self) -> None:
        from animegan_deploy.benchmarks.thresholds import check_floor

        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "enabled" and value is not None:
                check_floor("ssim" if f.name.endswith("_ssim") else "psnr", value, f"[gate] {f.name}")

    def floors(self, precision: str) -> tuple[float, float]:
        """(min PSNR, min SSIM) of a threshold set: this section's value, else the project's thresholds file."""
        from animegan_deploy.benchmarks.thresholds import load_thresholds

        psnr, ssim = load_thresholds(None, precision)
        # a threshold set the table did not have when this section was made takes the thresholds file's floors
        own_psnr, own_ssim = getattr(self, f"{precision}_min_psnr", None), getattr(self, f"{precision}_min_ssim", None)
        return (psnr if own_psnr is None else own_psnr), (ssim if own_ssim is None else own_ssim)


def _floor_fields() -> list[tuple[str, Any, Any]]:
    fields = []
    for name in threshold_sets():
        fields += [(f"{name}_min_psnr", float | None, option(None, f"PSNR floor of {name} exports vs the model they "
                                                             "were made from (default: the project's thresholds file)")),
                   (f"{name}_min_ssim", float | None, option(None, f"SSIM floor of {name} exports"))]
    return fields


GateSection = dataclasses.make_dataclass("GateSection", [
    ("enabled", bool, option(True, "fail the run (report still written) when a floor is not met")),
    *_floor_fields(),
    ("model_min_psnr", float | None, option(None, "floor of the compressed model vs the original (none: not gated)")),
    ("model_min_ssim", float | None, option(None, "SSIM floor of the compressed model vs the original")),
], bases=(GateFloors,), namespace={"__module__": __name__})


def _choices(label: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise UserError(f"{label}: {', '.join(map(str, bad))} unknown; choose from {', '.join(allowed)}")


@dataclass(frozen=True)
class CompressionSection:
    """How a compression stage's [section] is read: its typed config (``module:Class``, imported when a file is
    read), the keys it has besides that config's fields (with their defaults; ``enabled`` always), and the keys it
    takes from [data] where the section leaves them out (a value in the section itself wins)."""

    config: str
    extras: dict[str, Any]
    from_data: tuple[str, ...]


_PHOTOS = ("photo_dir", "eval_dir")
# the compression stages' sections, in the order they run; one entry a stage
COMPRESSION_SECTIONS: dict[str, CompressionSection] = {
    "prune": CompressionSection("animegan_deploy.compress.prune:PruneConfig", {"enabled": True}, _PHOTOS),
    "distill": CompressionSection("animegan_deploy.compress.distill:DistillConfig",
                                  {"enabled": True, "student": "pruned"}, _PHOTOS),
    "student": CompressionSection("animegan_deploy.compress.student:StudentConfig", {"enabled": False}, _PHOTOS),
    "quantize": CompressionSection("animegan_deploy.compress.quantize:QuantizeConfig", {"enabled": True},
                                   ("calib_dir", "eval_dir", "size", "calib_count")),
}
# the pipeline's own sections: what comes before the compression stages, and what follows them
_INPUT_SECTIONS: dict[str, type] = {"source": SourceSection, "train": TrainSection, "data": DataSection}
_OUTPUT_SECTIONS: dict[str, type] = {"export": ExportSection, "benchmark": BenchmarkSection, "gate": GateSection}
OWN_SECTIONS: dict[str, type] = {**_INPUT_SECTIONS, **_OUTPUT_SECTIONS}
SECTION_ORDER = (*_INPUT_SECTIONS, *COMPRESSION_SECTIONS, *_OUTPUT_SECTIONS)


@dataclass
class StageSection:
    """A compression stage: whether it runs, its typed config, and the pipeline-level keys (distill's student)."""
    enabled: bool
    config: Any
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineConfig:
    path: Path
    source: SourceSection
    train: TrainSection
    data: DataSection
    prune: StageSection
    distill: StageSection
    student: StageSection
    quantize: StageSection
    export: ExportSection
    benchmark: BenchmarkSection
    gate: GateSection
    raw: dict[str, dict[str, Any]]  # the merged TOML + --set values, as given (what the report records)


def _field_types(config_type: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_type)}


def _coerce(where: str, value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (TOML already typed it; lists become tuples), or a one-line error."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() == "none" and len(get_args(tp)) > len(options)):
            return None
        tp, origin = options[0], get_origin(options[0])
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise UserError(f"{where} = {value!r}: choose one of {', '.join(map(str, get_args(tp)))}")
        return value
    if origin in (tuple, list):
        item = get_args(tp)[0] if get_args(tp) else str
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where} = {value!r}: expected a list, e.g. [\"a\", \"b\"]")
        return tuple(_coerce(where, v, item) for v in value)
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} = {value!r}: expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where} = {value!r}: expected a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where} = {value!r}: expected a number")
        if value != value or value in (float("inf"), float("-inf")):  # TOML has nan and inf literals
            raise UserError(f"{where} = {value!r}: expected a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise UserError(f"{where} = {value!r}: expected a string")
        return str(value)
    return value


def _build(where: str, config_type: type, values: dict[str, Any], extras: dict[str, Any] | None = None) -> Any:
    types_ = _field_types(config_type)
    allowed = list(types_) + list(extras or {})
    unknown = [k for k in values if k not in allowed]
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}; the section takes {', '.join(allowed)}")
    kwargs = {k: _coerce(f"{where} {k}", v, types_[k]) for k, v in values.items() if k in types_}
    try:
        return config_type(**kwargs)
    except UserError as exc:
        text = str(exc)
        raise UserError(text if text.startswith("[") else f"{where}: {text}") from None


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set SECTION.KEY=VALUE`` items as nested values; VALUE is read as TOML when it parses, else a string."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not section or not name:
            raise UserError(f"--set {item}: use SECTION.KEY=VALUE, e.g. --set quantize.method=minmax")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        out.setdefault(section, {})[name] = value
    return out


def _valid_width(text: str) -> bool:
    import math

    if not text.startswith("width:"):
        return False
    try:
        width = float(text[len("width:"):])
    except ValueError:
        return False
    return math.isfinite(width) and 0.0 < width <= 8.0


def load_pipeline_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> PipelineConfig:
    path = Path(path)
    raw = read_toml(path, "", "see pipelines/ (quick.toml, default.toml, student.toml)")
    for section, values in parse_set(overrides).items():
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise UserError(f"--set {section}: {path.name} has {section} as a value, not a section")
        raw[section].update(values)
    for section, values in raw.items():
        if section not in SECTION_ORDER:
            raise UserError(f"{path.name}: unknown section [{section}]; use {', '.join(SECTION_ORDER)}")
        if not isinstance(values, dict):
            raise UserError(f"{path.name}: {section} must be a section ([{section}]), not a value")
    own = {name: _build(f"{path.name} [{name}]", tp, raw.get(name, {})) for name, tp in OWN_SECTIONS.items()}
    data: DataSection = own["data"]
    stages = {}
    for name, section in COMPRESSION_SECTIONS.items():
        config_type = resolve(section.config)
        values = dict(raw.get(name, {}))
        extras = dict(section.extras)
        where = f"{path.name} [{name}]"
        for key in list(values):
            if key in extras:
                extras[key] = _coerce(f"{where} {key}", values.pop(key), type(extras[key]))
        for key in section.from_data:
            if key in _field_types(config_type) and key not in values and getattr(data, key, None) is not None:
                values[key] = getattr(data, key)
        stages[name] = StageSection(extras.pop("enabled"), _build(where, config_type, values, section.extras), extras)
    student = stages["distill"].extras["student"]
    if stages["distill"].enabled and student == "pruned" and not stages["prune"].enabled:
        raise UserError(f"{path.name} [distill] student = \"pruned\" needs [prune] enabled; or give a width, "
                        "e.g. student = \"width:0.5\"")
    if student != "pruned" and not _valid_width(str(student)):
        raise UserError(f"{path.name} [distill] student = {student!r}: use \"pruned\" or \"width:W\" with 0 < W <= 8 "
                        "(e.g. width:0.5)")
    return PipelineConfig(path=path, raw=raw, **own, **stages)
