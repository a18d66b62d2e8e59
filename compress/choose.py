"""INT8 settings chosen per model by measurement, not fixed: each setting the user left unset is tried, and the
combination with the highest mean PSNR vs FP32 on the validation split of the calibration photos wins
(photos/calibration_split: never calibrated on, never an evaluation picture).

Why: every fixed default was tuned on the embedded default model. Channel equalization took it from 32.0 to
38.0 dB and cost a real AnimeGANv2 checkpoint 7.7 dB (34.2 vs 41.9 dB); centering and bias correction helped
that checkpoint by 3 dB. Which helps depends on the model's weights, so it is measured on the model at hand.

The settings tried (a user's explicit flag fixes its axis): equalization on/off (where the FP32 graph is made from
a checkpoint), centered conv inputs on/off and bias correction on/off (where the placement has symmetric int8 and
float biases), and the placement's calibration methods. Statistics are collected once per FP32 graph; each
candidate is one Q/DQ build and one ONNX Runtime pass over the validation photos. By default a greedy search
(one setting changed at a time from the defaults while that gains) measures about a third of the combinations;
``--choose-search grid`` (and reports/zoo) measures them all.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np
import onnx
from tqdm import tqdm

from animegan_deploy.benchmarks.fidelity import Fidelity, compare

from .calibration import Calibration

AXES = ("equalize", "center", "bias_correction", "method")


@dataclass(frozen=True)
class Settings:
    equalize: bool
    center: bool
    bias_correction: bool
    method: str


@dataclass
class Tried:
    settings: Settings
    figures: dict[str, Fidelity]  # photo set ("validation", ...) -> fidelity vs FP32 there

    @property
    def fidelity(self) -> Fidelity:
        """On the validation photos: what the choice is made by."""
        return self.figures["validation"]

    def row(self) -> dict:
        out = asdict(self.settings)
        for name, fid in self.figures.items():
            prefix = "" if name == "validation" else f"{name}_"
            out.update({f"{prefix}psnr_db": round(fid.psnr, 3), f"{prefix}psnr_min_db": round(fid.psnr_min, 3),
                        f"{prefix}ssim": round(fid.ssim, 5)})
        return out


@dataclass
class Choice:
    chosen: Settings
    tried: list[Tried]
    fixed: dict[str, object]  # axes the user set (or the placement makes moot), with their value
    validation: list[str]  # photo names
    search: str = "greedy"

    def record(self) -> dict:
        """What the sidecar keeps: the choice, how it was made, and every alternative's figures."""
        return {"chosen": asdict(self.chosen), "by": f"highest mean PSNR vs FP32 on the validation photos ({self.search} "
                "search)",
                "fixed": self.fixed, "validation_photos": self.validation,
                "tried": [t.row() for t in sorted(self.tried, key=lambda t: -t.fidelity.psnr)]}


def candidate_values(config, can_equalize: bool) -> dict[str, tuple]:
    """Per axis, the values to try: the user's value alone where one is set, the placement's one meaningful
    value where the setting does not apply to it, else every option (the placement's default first)."""
    rule = config.rule

    def axis(value, applies: bool, options: tuple) -> tuple:
        if value is not None:
            return (value,)
        return options if applies else (False,)

    return {
        "equalize": axis(config.equalize, can_equalize, (True, False)),
        "center": axis(config.center, rule.symmetric, (True, False)),
        "bias_correction": axis(config.bias_correction, rule.float_bias, (True, False)),
        "method": (config.method,) if config.method is not None else rule.methods,
    }


def needs_choice(config, can_equalize: bool) -> bool:
    return config.choose and any(len(v) > 1 for v in candidate_values(config, can_equalize).values())


def defaults_of(config, can_equalize: bool) -> Settings:
    """The settings without measuring: the user's values, else each axis's first (the placement's default)."""
    return Settings(**{k: v[0] for k, v in candidate_values(config, can_equalize).items()})


def choose_settings(graphs: dict[bool, tuple[onnx.ModelProto, Calibration]], config, validation, reference,
                    build: Callable[..., onnx.ModelProto], runner: Callable[[onnx.ModelProto], Callable],
                    progress: bool = True, also: dict[str, list] | None = None, search: str = "greedy",
                    measured: dict[Settings, Tried] | None = None) -> Choice:
    """Measure candidates of ``candidate_values`` on ``validation`` (name, NCHW) inputs against ``reference`` and
    keep the best. ``search``: "grid" tries every combination; "greedy" starts from the defaults and changes one
    setting at a time while that gains, until no single change does (about a third of the grid's builds).
    ``graphs``: equalize flag -> (FP32 graph, its calibration statistics). ``build(model, calibration, settings)``
    makes the Q/DQ graph; ``runner`` turns a graph into an NCHW -> NCHW callable. ``also``: more photo sets each
    candidate is measured on for the record (reports/zoo: the evaluation photos), never used for the choice.
    ``measured``: candidates already measured (settings -> Tried), e.g. by a grid search, that are not built again."""
    values = candidate_values(config, can_equalize=len(graphs) > 1)
    values["equalize"] = tuple(v for v in values["equalize"] if v in graphs) or tuple(graphs)
    measured = dict(measured or {})
    bar = tqdm(desc="choosing INT8 settings", unit="try", disable=not progress, file=sys.stderr)

    def psnr_of(settings: Settings) -> float:
        if settings not in measured:
            model, calibration = graphs[settings.equalize]
            run = runner(build(model, calibration, settings))
            photo_sets = {"validation": validation, **(also or {})}
            measured[settings] = Tried(settings, {n: compare(reference, run, p) for n, p in photo_sets.items()})
            bar.update()
        return float(np.nan_to_num(measured[settings].fidelity.psnr, nan=-np.inf))

    if search == "grid":
        combos = [Settings(*c) for c in itertools.product(*(values[a] for a in AXES))]
        best = max(combos, key=lambda s: (psnr_of(s), -combos.index(s)))  # ties: the earlier (default-first) one
    else:
        best = Settings(**{a: values[a][0] for a in AXES})
        improved = True
        while improved:
            improved = False
            for axis in AXES:
                for value in values[axis]:
                    candidate = replace(best, **{axis: value})
                    if psnr_of(candidate) > psnr_of(best):
                        best, improved = candidate, True
    bar.close()
    fixed = {a: values[a][0] for a in AXES if len(values[a]) == 1}
    return Choice(best, list(measured.values()), fixed, [name for name, _ in validation], search)
