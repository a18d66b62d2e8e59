"""`animegan student-recipe` (`make student`): pipelines/student.toml with the command's options written into it.

The recipe is a pipeline plan, run by the pipeline runner like any other (the one builder: one reuse rule, the
stage key; one record, OUT/pipeline.json with report.md and report.html): the student stage (BatchNorm fit,
narrowing, distillation with network slimming, pruning at the threshold, folding), the folded student's ONNX,
INT8 (ONNX Runtime placement: every conv a QLinearConv) and TFLite files, the benchmark of every variant against
the FP32 original in one run, and the gate. This module only turns the command's options into the plan's settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from animegan_deploy.compress.calibration import METHODS, Method
from animegan_deploy.configs import at_least, option
from animegan_deploy.errors import UserError
from animegan_deploy.inputs import check_photo_folder

from .config import DEFAULT_TFLITE, EXPORT_STAGE_FORMATS, load_pipeline_config

STUDENT_TOML = Path(__file__).resolve().parents[2] / "pipelines" / "student.toml"


@dataclass
class StudentRecipeConfig:
    eval_dir: str | None = option(None, "photos the recipe never trains or calibrates on: fidelity vs the original "
                                  "(default: 15 unseen pictures from the installed packages)")
    calib_dir: str | None = option(None, "INT8 calibration photos (default: the bundled calibration set)")
    size: int = option(256, "input size NxN of the benchmark and of the TFLite files")
    int8_method: Method | None = option(None, "INT8 activation range method (default: chosen per model on the "
                                        "validation photos)")
    tflite: tuple[str, ...] = option(DEFAULT_TFLITE, "TFLite files of the student (none: skip TFLite)")
    repeats: int = option(5, "timed runs per variant in the benchmark")
    bench_threads: int = option(2, "CPU threads of the benchmark")
    photo_count: int = option(15, "at most this many evaluation photos")
    benchmark: bool = option(True, "end with the benchmark (--no-benchmark: artifacts only, e.g. for a sweep "
                             "measured in one benchmark run afterwards)")
    gate: bool = option(True, "hold the INT8 and TFLite files to pipelines/student.toml's floors vs the FP32 student "
                        "(--no-gate: no gate stage; each file's figures stay in its stage's record; e.g. a sweep)")

    def __post_init__(self) -> None:
        if isinstance(self.tflite, str):
            self.tflite = tuple(k for k in self.tflite.split(",") if k and k != "none")
        self.tflite = tuple(k for k in self.tflite if k != "none")
        if self.size < 16 or self.size % 4:
            raise UserError(f"--size {self.size}: must be a multiple of 4, at least 16")
        at_least(self, ("repeats", "bench_threads", "photo_count"))
        # every option checked here, before the half hour of training: never a late error about an option
        if self.int8_method is not None and self.int8_method not in METHODS:
            raise UserError(f"--int8-method {self.int8_method}: choose one of {', '.join(METHODS)}")
        from animegan_deploy.export.targets import tflite_kinds

        unknown = [k for k in self.tflite if k not in tflite_kinds()]
        if unknown:
            raise UserError(f"--tflite {','.join(unknown)}: unknown TFLite file kind; choose from "
                            f"{', '.join(tflite_kinds())} (or none)")
        check_photo_folder(self.eval_dir, "--eval-dir", decode=False)
        check_photo_folder(self.calib_dir, "--calib-dir", decode=False)


def _toml(value: object) -> str:
    """A value as TOML reads it in --set (strings, numbers, booleans, arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def recipe_settings(teacher: Path, student: object, recipe: StudentRecipeConfig) -> list[str]:
    """The ``SECTION.KEY=VALUE`` settings that make pipelines/student.toml the recipe the options ask for: the
    teacher, the student's every setting, the photos, sizes and the benchmark."""
    sets = [f"source.weights={_toml(str(teacher))}", f"data.size={recipe.size}",
            f"data.eval_count={recipe.photo_count}", f"benchmark.repeats={recipe.repeats}",
            f"benchmark.threads={recipe.bench_threads}", f"benchmark.enabled={_toml(recipe.benchmark)}",
            f"gate.enabled={_toml(recipe.gate)}",
            f"export.tflite_precisions={_toml(recipe.tflite)}"]
    if not recipe.tflite:
        sets.append(f"export.formats={_toml([f for f in EXPORT_STAGE_FORMATS if f != 'tflite'])}")
    for name in ("eval_dir", "calib_dir"):
        if getattr(recipe, name) is not None:
            sets.append(f"data.{name}={_toml(getattr(recipe, name))}")
    if recipe.int8_method is not None:
        sets.append(f"quantize.method={_toml(recipe.int8_method)}")
    for f in dataclasses.fields(student):
        value = getattr(student, f.name)
        if value is not None and f.name != "eval_dir":  # the recipe's evaluation photos are [data] eval_dir
            sets.append(f"student.{f.name}={_toml(value)}")
    return sets


def recipe_config(teacher: Path, student, recipe: StudentRecipeConfig, out: Path):
    """The pipeline config of the recipe: pipelines/student.toml with ``recipe_settings`` applied; the teacher, the
    output folder and the photo folders checked first, each error naming the command's own option."""
    from animegan_deploy.inputs import check_checkpoint
    from animegan_deploy.paths import check_output_dir

    teacher = check_checkpoint(teacher, "--weights")
    out = check_output_dir(out, "--output", inputs=[teacher])
    for flag, folder in (("--eval-dir", recipe.eval_dir), ("--calib-dir", recipe.calib_dir),
                         ("--photo-dir", student.photo_dir)):
        check_photo_folder(folder, flag, exclude=out)
    if not STUDENT_TOML.is_file():
        raise UserError(f"{STUDENT_TOML}: the student pipeline is missing from this checkout; restore pipelines/ "
                        "(git checkout pipelines) or run `animegan pipeline run` with a config of your own")
    return load_pipeline_config(STUDENT_TOML, recipe_settings(teacher, student, recipe))
