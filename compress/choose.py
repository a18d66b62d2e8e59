"""INT8 settings chosen per model by measurement, not fixed: each setting the user left unset is tried, and the
combination with the highest score on the validation split of the calibration photos wins (photos/calibration_split:
never calibrated on, never an evaluation picture). The score is PSNR vs FP32, 0.8 x the mean + 0.2 x the worst photo
(``WORST_WEIGHT``): on the 14 model x placement grids of reports/zoo, ranking by the mean alone chose a setting
1.05 dB under the best on unseen pictures for one model (a better mean on the validation photos, a worse worst
photo); any weight from 0.1 to 0.35 closes that gap and changes no other choice. With the per-graph search below, 12
of the 14 choices were within 1 dB of the best combination on the unseen pictures (greedy, by the mean: 10); with
minmax among the methods, all 14 are (2026-12-05).

Why: every fixed default was tuned on the embedded default model. Channel equalization took it from 32.0 to
38.0 dB and cost a real AnimeGANv2 checkpoint 7.7 dB (34.2 vs 41.9 dB); centering and bias correction helped
that checkpoint by 3 dB. Which helps depends on the model's weights, so it is measured on the model at hand.

The settings tried (a user's explicit flag fixes its axis): equalization on/off (where the FP32 graph is made from
a checkpoint), centered conv inputs on/off and bias correction on/off (where the placement has symmetric int8 and
float biases), and the placement's calibration methods. Statistics are collected once per FP32 graph; each
candidate is one Q/DQ build and one ONNX Runtime pass over the validation photos. Searches (``--choose-search``):
- ``per-graph`` (the default): on each FP32 graph (equalized or not), one other setting changed at a time from the
  defaults while that gains; the better graph's best wins. About half of the 32 TensorRT-placement combinations
  (16 on the embedded default).
  Equalization changes every activation range, so the best method and centering differ between the two graphs: on the
  embedded default equalization alone and entropy calibration alone each lower the validation figure (33.38 and
  33.14 vs 34.80 dB) and the two together raise it (35.25 dB; 43.71 vs 41.69 dB on unseen pictures; minmax
  ranges, tried since, beat both: 42.77 on the validation photos, 46.13 on unseen pictures).
- ``greedy``: one setting changed at a time from the defaults, equalization included (6-8 builds); it stops at such
  a local optimum.
- ``grid``: every combination (reports/zoo).
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
SEARCHES = ("per-graph", "greedy", "grid")
WORST_WEIGHT = 0.2  # the worst validation photo's share of the score (the module docstring says why)


def weighted_psnr(mean: float, worst: float) -> float:
    """The score of a file with PSNR ``mean`` over the photos and ``worst`` on its worst photo: (1 - WORST_WEIGHT) x
    mean + WORST_WEIGHT x worst."""
    return (1 - WORST_WEIGHT) * mean + WORST_WEIGHT * worst


def score_text() -> str:
    """:func:`weighted_psnr` in words."""
    return f"{round(1 - WORST_WEIGHT, 2)} x mean + {WORST_WEIGHT} x worst-photo PSNR"


def choice_score(fid: Fidelity) -> float:
    """What a choice among settings maximizes: :func:`weighted_psnr` on the validation photos (a failed file scores
    lowest)."""
    return float(np.nan_to_num(weighted_psnr(fid.psnr, fid.psnr_min), nan=-np.inf))


def choice_rule() -> str:
    """The rule :func:`choice_score` applies, in words, for sidecars and reports."""
    return f"highest {score_text()} vs FP32 on the validation photos"


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

    @property
    def score(self) -> float:
        return choice_score(self.fidelity)

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
    search: str = "per-graph"
    range_headroom: float = 1.0  # the activation ranges' headroom every try was built with (QuantizeConfig)

    def validation_fidelity(self, range_headroom: float = 1.0) -> Fidelity | None:
        """The chosen settings' all-int8 file on the validation photos, as measured while choosing; None where the
        file is built with other ranges (``range_headroom``) than the tries were."""
        if range_headroom != self.range_headroom:
            return None
        return next((t.fidelity for t in self.tried if t.settings == self.chosen), None)

    def record(self) -> dict:
        """What the sidecar keeps: the choice, how it was made, and every alternative's figures (best score first)."""
        return {"chosen": asdict(self.chosen), "by": f"{choice_rule()} ({self.search} search)",
                "fixed": self.fixed, "range_headroom": self.range_headroom, "validation_photos": self.validation,
                "tried": [t.row() for t in sorted(self.tried, key=lambda t: -t.score)]}


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
                    progress: bool = True, also: dict[str, list] | None = None, search: str = "per-graph",
                    measured: dict[Settings, Tried] | None = None) -> Choice:
    """Measure candidates of ``candidate_values`` on ``validation`` (name, NCHW) inputs against ``reference`` and
    keep the best ``Tried.score``. ``search``: one of SEARCHES (the module docstring says what each tries).
    ``graphs``: equalize flag -> (FP32 graph, its calibration statistics). ``build(model, calibration, settings)``
    makes the Q/DQ graph; ``runner`` turns a graph into an NCHW -> NCHW callable. ``also``: more photo sets each
    candidate is measured on for the record (reports/zoo: the evaluation photos), never used for the choice.
    ``measured``: candidates already measured (settings -> Tried), e.g. by a grid search, that are not built again."""
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, not {search!r}")
    values = candidate_values(config, can_equalize=len(graphs) > 1)
    values["equalize"] = tuple(v for v in values["equalize"] if v in graphs) or tuple(graphs)
    measured = dict(measured or {})
    bar = tqdm(desc="choosing INT8 settings", unit="try", disable=not progress, file=sys.stderr)

    def score(settings: Settings) -> float:
        if settings not in measured:
            model, calibration = graphs[settings.equalize]
            run = runner(build(model, calibration, settings))
            photo_sets = {"validation": validation, **(also or {})}
            measured[settings] = Tried(settings, {n: compare(reference, run, p) for n, p in photo_sets.items()})
            bar.update()
        return measured[settings].score

    def greedy(start: Settings, axes: tuple[str, ...]) -> Settings:
        """One setting of ``axes`` changed at a time while that gains, until no single change does."""
        best, improved = start, True
        while improved:
            improved = False
            for axis in axes:
                for value in values[axis]:
                    candidate = replace(best, **{axis: value})
                    if score(candidate) > score(best):
                        best, improved = candidate, True
        return best

    defaults = Settings(**{a: values[a][0] for a in AXES})
    if search == "grid":
        combos = [Settings(*c) for c in itertools.product(*(values[a] for a in AXES))]
    elif search == "greedy":
        combos = [greedy(defaults, AXES)]
    else:
        others = tuple(a for a in AXES if a != "equalize")
        combos = [greedy(replace(defaults, equalize=eq), others) for eq in values["equalize"]]
    best = max(combos, key=lambda s: (score(s), -combos.index(s)))  # ties: the earlier (default-first) one
    bar.close()
    fixed = {a: values[a][0] for a in AXES if len(values[a]) == 1}
    return Choice(best, list(measured.values()), fixed, [name for name, _ in validation], search,
                  config.range_headroom)
