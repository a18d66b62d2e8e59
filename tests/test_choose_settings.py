"""INT8 settings chosen per model by measurement: open combinations are tried on the validation photos, the best
score (mean PSNR with a fifth of the worst photo's) wins, a user's explicit value fixes its axis, and settings a
placement cannot use are not tried."""

import numpy as np
import pytest

from animegan_deploy.compress.choose import Settings, candidate_values, choose_settings, defaults_of, needs_choice
from animegan_deploy.compress.quantize import QuantizeConfig


def static_config(**settings) -> QuantizeConfig:
    """The static TensorRT placement's config, whose four axes these tests exercise (the default placement,
    tensorrt-per-picture, has no centering to choose and one calibration method), unless ``placement`` says another."""
    return QuantizeConfig(**{"placement": "tensorrt", **settings})


def test_open_axes_are_tried_and_explicit_flags_fix_theirs():
    values = candidate_values(static_config(), can_equalize=True)
    assert values == {"equalize": (True, False), "center": (True, False), "bias_correction": (True, False),
                      "method": ("percentile", "mean-minmax", "entropy", "minmax")}
    fixed = candidate_values(static_config(equalize=False, center=True, method="minmax"), can_equalize=True)
    assert fixed == {"equalize": (False,), "center": (True,), "bias_correction": (True, False), "method": ("minmax",)}
    # an ONNX file given to quantize cannot be equalized; ORT's uint8 placement neither centers nor keeps float biases
    ort = candidate_values(static_config(placement="onnxruntime-conv"), can_equalize=False)
    assert ort == {"equalize": (False,), "center": (False,), "bias_correction": (False,),
                   "method": ("mean-minmax", "percentile", "minmax")}
    assert not needs_choice(static_config(choose=False), can_equalize=True)
    assert defaults_of(static_config(choose=False), can_equalize=True) == Settings(True, True, True, "percentile")


def test_the_combination_with_the_best_validation_psnr_wins_and_every_alternative_is_recorded():
    """A fake quantizer whose error depends on the settings: the chooser must find the least noisy one."""
    noise = {Settings(eq, c, b, m): 0.002 + 0.01 * i for i, (eq, c, b, m) in enumerate(
        (eq, c, b, m) for eq in (True, False) for c in (True, False) for b in (True, False)
        for m in ("percentile", "mean-minmax", "entropy", "minmax"))}
    best = Settings(False, True, False, "entropy")
    noise[best] = 0.0005
    graphs = {True: ("graph-eq", "calibration-eq"), False: ("graph-plain", "calibration-plain")}
    built = []

    def build(model, calibration, settings):
        assert (model, calibration) == graphs[settings.equalize]  # each setting quantizes its own graph
        built.append(settings)
        return settings

    def runner(settings):
        rng = np.random.default_rng(0)
        return lambda x: np.tanh(x) + rng.normal(0, noise[settings], x.shape)

    inputs = [(f"p{i}", np.random.default_rng(i).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)) for i in range(3)]
    choice = choose_settings(graphs, static_config(), inputs, np.tanh, build, runner, progress=False, search="grid")
    assert choice.chosen == best
    assert len(built) == 32 == len(set(built))
    record = choice.record()
    assert record["chosen"] == {"equalize": False, "center": True, "bias_correction": False, "method": "entropy"}
    assert record["validation_photos"] == ["p0", "p1", "p2"]
    psnrs = [row["psnr_db"] for row in record["tried"]]
    assert psnrs == sorted(psnrs, reverse=True) and len(psnrs) == 32
    assert record["tried"][0]["method"] == "entropy" and psnrs[0] > psnrs[1] + 3


def test_an_explicit_flag_is_never_overridden_by_the_measurement():
    graphs = {True: ("g", "c")}
    tried = []

    def build(model, calibration, settings):
        tried.append(settings)
        return settings

    runner = lambda s: (lambda x: x + (0.0 if s.center else 0.5))  # noqa: E731 - centering would win
    config = static_config(center=False, bias_correction=True, method="percentile")
    choice = choose_settings(graphs, config, [("p", np.zeros((1, 3, 8, 8), np.float32))], lambda x: x, build, runner,
                             progress=False)
    assert {s.center for s in tried} == {False} and choice.chosen.center is False
    assert choice.fixed == {"equalize": True, "center": False, "bias_correction": True, "method": "percentile"}


def test_unknown_method_is_a_one_line_error():
    from animegan_deploy.errors import UserError

    with pytest.raises(UserError, match="--method"):
        static_config(method="kl")


def test_greedy_search_finds_a_separable_optimum_with_fewer_builds_and_reuses_measurements():
    """Each setting adds its own error (as equalization, centering and the method roughly do): changing one setting
    at a time from the defaults reaches the best combination without building all 32."""
    cost = {"equalize": {True: 0.004, False: 0.001}, "center": {True: 0.0, False: 0.003},
            "bias_correction": {True: 0.002, False: 0.0},
            "method": {"percentile": 0.003, "mean-minmax": 0.0, "entropy": 0.006, "minmax": 0.002}}
    built = []

    def build(model, calibration, settings):
        built.append(settings)
        return settings

    def runner(settings):
        sigma = 0.0005 + sum(cost[axis][getattr(settings, axis)] for axis in cost)
        return lambda x: x + np.random.default_rng(0).normal(0, sigma, x.shape)

    inputs = [("p", np.random.default_rng(1).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32))]
    graphs = {True: ("g", "c"), False: ("g", "c")}
    choice = choose_settings(graphs, static_config(), inputs, lambda x: x, build, runner, progress=False,
                             search="greedy")
    assert choice.chosen == Settings(False, True, False, "mean-minmax")
    assert len(built) < 12 and len(set(built)) == len(built)
    assert choice.record()["by"].endswith("(greedy search)")
    # given the measurements, nothing is built again and the choice is the same
    again = choose_settings(graphs, static_config(), inputs, lambda x: x, None, None, progress=False,
                            search="greedy", measured={t.settings: t for t in choice.tried})
    assert again.chosen == choice.chosen and len(built) == len(set(built))


def fake_quantizer(psnr_of: dict, worst_of: dict | None = None):
    """build/runner pair whose file has about a chosen PSNR on every validation photo (``worst_of``: on the last
    one): Gaussian noise of that size; settings not in ``psnr_of`` get 30 dB."""
    built = []

    def build(model, calibration, settings):
        built.append(settings)
        return settings

    def runner(settings):
        psnrs = [psnr_of.get(settings, 30.0)] * 3
        if worst_of and settings in worst_of:
            psnrs[-1] = worst_of[settings]

        def run(x):
            index = int(round(float(x.flat[0]) * 10))
            sigma = 255 * 10 ** (-psnrs[index] / 20) / 127.5  # pixel noise for that PSNR, in [-1, 1] units
            return x + np.random.default_rng(index).normal(0, sigma, x.shape).astype(np.float32)
        return run

    inputs = [(f"p{i}", np.full((1, 3, 48, 48), i / 10, np.float32)) for i in range(3)]
    return build, runner, inputs, built


def test_per_graph_search_finds_a_gain_that_needs_equalization_and_another_method_together():
    """The embedded default's validation figures (dB): the defaults (equalized, percentile) 33.38, the plain graph
    34.80, entropy on the plain graph 33.14, equalized + entropy 35.25. Changing one setting at a time from the
    defaults stops at the plain graph; the per-graph search searches the equalized graph too and finds 35.25."""
    psnr = {Settings(True, True, True, "percentile"): 33.38, Settings(False, True, True, "percentile"): 34.80,
            Settings(False, True, True, "entropy"): 33.14, Settings(True, True, True, "entropy"): 35.25}
    graphs = {True: ("g", "c"), False: ("g", "c")}
    build, runner, inputs, built = fake_quantizer(psnr)
    greedy = choose_settings(graphs, static_config(), inputs, lambda x: x, build, runner, progress=False,
                             search="greedy")
    assert greedy.chosen == Settings(False, True, True, "percentile")
    greedy_builds = len(built)
    built.clear()
    choice = choose_settings(graphs, static_config(), inputs, lambda x: x, build, runner, progress=False)
    assert choice.chosen == Settings(True, True, True, "entropy")
    assert abs(choice.record()["tried"][0]["psnr_db"] - 35.25) < 0.2
    assert choice.record()["by"].endswith("(per-graph search)")
    assert greedy_builds < len(built) < 32 and len(set(built)) == len(built)


def test_a_slightly_better_mean_does_not_win_over_a_much_better_worst_photo():
    """Photos at 44, 44 and 26 dB (mean 38) vs every photo at 37.5: the score (0.8 mean + 0.2 worst) takes the
    second; 44, 44 and 32 dB (mean 40) still wins over it."""
    a, b = Settings(True, True, True, "percentile"), Settings(True, True, True, "entropy")
    graphs = {True: ("g", "c")}
    build, runner, inputs, _ = fake_quantizer({a: 44.0, b: 37.5}, worst_of={a: 26.0})
    choice = choose_settings(graphs, static_config(center=True, bias_correction=True), inputs, lambda x: x, build,
                             runner, progress=False)
    tried = {t.settings: t.fidelity for t in choice.tried}
    assert tried[a].psnr > tried[b].psnr + 0.2 and tried[a].psnr_min < tried[b].psnr_min - 10
    assert choice.chosen == b
    build, runner, inputs, _ = fake_quantizer({a: 44.0, b: 37.5}, worst_of={a: 32.0})
    choice = choose_settings(graphs, static_config(center=True, bias_correction=True), inputs, lambda x: x, build,
                             runner, progress=False)
    assert choice.chosen == a


def test_an_unknown_search_is_refused():
    with pytest.raises(ValueError, match="per-graph"):
        choose_settings({True: ("g", "c")}, static_config(), [], lambda x: x, None, None, progress=False,
                        search="beam")
