"""Every INT8 setting measured on every zoo model (models/zoo.py): the table that says whether a default carries
over (reports/zoo).

For each model and placement, every combination the chooser considers (equalize x center x bias correction x
method) is built once and measured twice: on the validation photos, which make the choice, and on the evaluation
photos (never calibrated or chosen on), which judge it. The report gives the chosen combination's evaluation figure
next to the best one tried and next to the old fixed defaults (everything on, the placement's first method).
Optionally the full-integer TFLite file of each model with the fallback targets (``tflite_targets``), and with
every TFLite calibration option (``tflite_options``: the defaults' figure next to the best option's).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from animegan_deploy.atomic import atomic_write_json, atomic_write_text
from animegan_deploy.compress.choose import SEARCHES
from animegan_deploy.configs import option
from animegan_deploy.export.tflite_int8 import CALIBRATIONS


@dataclass
class ZooReportConfig:
    models: tuple[str, ...] = option((), "zoo models to measure (default: all of models/zoo.py's)")
    placements: tuple[str, ...] = option(("tensorrt-per-picture", "tensorrt", "onnxruntime-conv"),
                                         "ONNX INT8 placements to measure (none: the TFLite files only)")
    size: int = option(256, "NxN input size")
    eval_dir: str | None = option(None, "evaluation photos (default: the 15 unseen pictures)")
    tflite: bool = option(False, "also export each model's full-integer TFLite file with --tflite-targets")
    tflite_targets: tuple[float, ...] = option((35.0, 30.0), "TFLite fallback targets: mean and worst-photo PSNR")
    tflite_options: bool = option(False, "also export each model's full-integer TFLite file with every calibration "
                                  "x calibration augmentation (TFLITE_OPTIONS), the rest default: the defaults' "
                                  "figure next to the best option's")
    threads: int | None = option(None, "ONNX Runtime CPU threads")
    search: Literal[SEARCHES] = option("grid", "which combinations are built and measured: grid (every one), or the "
                                       "default search's tries only (per-graph: about half; greedy)")
    worst_target: float | None = option(None, "also build each model's file with --target-worst-psnr at this value "
                                        "(its convs float until the worst validation photo reaches it)")
    range_headroom: float | None = option(None, "also build each model's file with --range-headroom at this value "
                                          "(every quantized activation range widened around its midpoint)")

    def __post_init__(self) -> None:
        from animegan_deploy.compress.quantize import PLACEMENT_NAMES, QuantizeConfig
        from animegan_deploy.errors import UserError

        self.placements = tuple(p for p in self.placements if p != "none")
        unknown = [p for p in self.placements if p not in PLACEMENT_NAMES]
        if unknown:
            raise UserError(f"--placements {' '.join(unknown)}: choose from {', '.join(PLACEMENT_NAMES)} or none")
        if self.range_headroom is not None:
            # its check, before the first model's half hour (on the static placement: per-picture ranges have none)
            QuantizeConfig(placement="tensorrt", range_headroom=self.range_headroom)


@dataclass
class ZooRow:
    model: str
    placement: str
    rows: list[dict] = field(default_factory=list)  # every combination: validation and evaluation figures
    chosen: dict = field(default_factory=dict)  # what the default search chooses
    grid_chosen: dict = field(default_factory=dict)  # what the full grid search chooses
    default_file: dict = field(default_factory=dict)  # the file the defaults write: chosen settings + placement target
    worst_target_file: dict = field(default_factory=dict)  # the same with --target-worst-psnr (ZooReportConfig)
    headroom_file: dict = field(default_factory=dict)  # the same with --range-headroom (ZooReportConfig)
    seconds: float = 0.0

    def summary(self) -> dict:
        from dataclasses import asdict

        from animegan_deploy.compress.choose import defaults_of
        from animegan_deploy.compress.quantize import QuantizeConfig

        def row_of(settings: dict) -> dict:
            return next(r for r in self.rows if all(r[k] == v for k, v in settings.items()))

        best = max(self.rows, key=lambda r: r["evaluation_psnr_db"])
        chosen = row_of(self.chosen)
        grid = row_of(self.grid_chosen)
        fixed = row_of(asdict(defaults_of(QuantizeConfig(placement=self.placement, choose=False), can_equalize=True)))
        return {"model": self.model, "placement": self.placement, "chosen": chosen, "best": best, "old_default": fixed,
                "grid_chosen": grid, "default_file": self.default_file, "worst_target_file": self.worst_target_file,
                "headroom_file": self.headroom_file,
                "gap_to_best_db": round(best["evaluation_psnr_db"] - chosen["evaluation_psnr_db"], 3),
                "tried": len(self.rows), "seconds": round(self.seconds, 1)}


def measure_onnx_int8(checkpoint: Path, model_name: str, placement: str, size: int, evaluation, threads,
                      progress: bool, eval_dir: str | None = None, search: str = "grid",
                      worst_target: float | None = None, headroom: float | None = None) -> ZooRow:
    from dataclasses import asdict, replace

    from animegan_deploy.compress.choose import choose_settings
    from animegan_deploy.compress.quantize import PLACEMENTS, QuantizeConfig, qdq_builder, quantize_onnx

    from animegan_deploy.export.onnx_int8 import choose_for_checkpoint

    started = time.perf_counter()
    config = QuantizeConfig(size=size, placement=placement, cache_all_tensors=False, threads=threads,
                            choose_search=search, eval_dir=eval_dir)
    default_search = QuantizeConfig.choose_search
    with tempfile.TemporaryDirectory() as tmp:
        prepared = choose_for_checkpoint(checkpoint, config, Path(tmp), progress, also={"evaluation": evaluation})
        tried = prepared.choice
        # the default search, over the measurements made (nothing is built again)
        chosen = tried if search == default_search else choose_settings(
            {eq: (m, c) for eq, (_, m, c) in prepared.graphs.items()}, replace(config, choose_search=default_search),
            prepared.validation, prepared.reference, qdq_builder(config), None, False, search=default_search,
            measured={t.settings: t for t in tried.tried})
        # the file the defaults write: the chosen settings, then the placement's target (its most sensitive convs
        # float until the target is met on the validation photos), measured on the evaluation photos
        fp32, _, calibration = prepared.graphs[chosen.chosen.equalize]
        chosen_config = replace(config, equalize=chosen.chosen.equalize, choose_search=default_search)

        def file_with(file_config: QuantizeConfig) -> dict:
            written = quantize_onnx(fp32, file_config, Path(tmp) / "default.int8.onnx", reference=prepared.reference,
                                    progress=False, calibration=calibration, choice=chosen)
            return {"target_psnr": written.report["target_psnr"], "target_worst_psnr": written.report[
                "target_worst_psnr"], "range_headroom": file_config.range_headroom,
                "float_convs": len(written.float_layers), "worst_photo": written.fidelity.worst_photo,
                "quantized_convs": written.report["quantized_convs"],
                **{f"evaluation_{k}": round(v, 5 if k == "ssim" else 3)
                   for k, v in written.fidelity.to_dict().items() if k in ("psnr_db", "psnr_min_db", "ssim")}}

        default_file = file_with(chosen_config)
        worst_file = file_with(replace(chosen_config, target_worst_psnr=worst_target)) if worst_target else {}
        # a placement whose ranges are per picture has no calibrated range to widen
        widened = headroom and not PLACEMENTS[placement].per_picture
        headroom_file = file_with(replace(chosen_config, range_headroom=headroom)) if widened else {}
    return ZooRow(model_name, placement, tried.record()["tried"], asdict(chosen.chosen), asdict(tried.chosen),
                  default_file, worst_file, headroom_file, time.perf_counter() - started)


TFLITE_FIELDS = ("status", "reason", "size_mb", "psnr_db", "psnr_min_db", "worst_photo", "ssim", "float_fallback",
                 "convert_seconds", "calibration", "calibration_choice")
# the options of the full-integer file measured by --tflite-options: each activation-range calibration, with and
# without the augmented calibration copies (calib_augment "int16x8" leaves the int8 kinds unaugmented)
TFLITE_OPTIONS = tuple({"calibration": c, "calib_augment": a} for c in CALIBRATIONS for a in ("int16x8", "all"))


def tflite_file(checkpoint: Path, size: int, eval_dir: str | None, workdir: Path, **settings) -> dict:
    """The full-integer TFLite file of ``checkpoint`` exported with ``settings`` (TFLiteConfig fields), the rest
    default: its row of the export's report (evaluation figures, size, float fallback)."""
    from animegan_deploy.export.tflite import TFLiteConfig, export_tflite

    config = TFLiteConfig(size=size, precisions=("full_integer_quant",), allow_lossy=True, eval_dir=eval_dir,
                          **settings)
    result = export_tflite(checkpoint, config, workdir)
    report = json.loads(result.report.read_text())
    return {k: {**result.files[0].row(), **report}[k] for k in TFLITE_FIELDS}


def measure_tflite(checkpoint: Path, size: int, targets: tuple[float, ...], eval_dir: str | None, workdir: Path) -> dict:
    return tflite_file(checkpoint, size, eval_dir, workdir, target_psnr=targets[0],
                       target_worst_psnr=targets[1] if len(targets) > 1 else None)


def measure_tflite_options(checkpoint: Path, model_name: str, size: int, eval_dir: str | None, workdir: Path) -> dict:
    """Every TFLITE_OPTIONS file of one model, then the file the defaults write (the calibration chosen on the
    validation photos), with the defaults' gap to the best option on the evaluation pictures. The process keeps
    onnx2tf's conversion and each calibration, so the defaults' file costs its choice only."""
    rows = [{**settings, **tflite_file(checkpoint, size, eval_dir, workdir / str(i), **settings)}
            for i, settings in enumerate(TFLITE_OPTIONS)]
    default = tflite_file(checkpoint, size, eval_dir, workdir / "defaults")
    best = max(rows, key=lambda r: r["psnr_db"] if r["psnr_db"] is not None else float("-inf"))
    return {"model": model_name, "rows": rows, "default": default, "best": best,
            "gap_to_best_db": round(best["psnr_db"] - default["psnr_db"], 3)}


def zoo_report(config: ZooReportConfig, output: str | Path, progress: bool = True) -> dict:
    """Measure, write ``output``/zoo.json and README.md; returns the JSON."""
    from animegan_deploy.benchmarks.fidelity import photo_inputs
    from animegan_deploy.benchmarks.machine import machine_info
    from animegan_deploy.compress.choose import score_text
    from animegan_deploy.compress.photos import calibration_split, default_eval_photos
    from animegan_deploy.compress.quantize import QuantizeConfig
    from animegan_deploy.models.zoo import ZOO, zoo_checkpoint, zoo_model

    output = Path(output)
    members = [zoo_model(name) for name in config.models] if config.models else list(ZOO)
    eval_dir = Path(config.eval_dir) if config.eval_dir else default_eval_photos()
    evaluation = photo_inputs(eval_dir, config.size, argument="--eval-dir")
    split = calibration_split(None, 32)
    report: dict = {"size": config.size, "machine": machine_info(), "split": split.record(),
                    "evaluation_photos": [n for n, _ in evaluation],
                    "choice": {"search": QuantizeConfig.choose_search,
                               "score": f"{score_text()} on the validation photos"},
                    "models": [{"name": m.name, "how": m.how, "config": m.config} for m in members],
                    "onnx_int8": [], "tflite": [], "tflite_options": []}
    for member in members:
        checkpoint = zoo_checkpoint(member.name)
        for placement in config.placements:
            row = measure_onnx_int8(checkpoint, member.name, placement, config.size, evaluation, config.threads,
                                    progress, config.eval_dir, config.search, config.worst_target,
                                    config.range_headroom)
            report["onnx_int8"].append({**row.summary(), "rows": row.rows})
            _write(output, report)
        if config.tflite:
            with tempfile.TemporaryDirectory() as tmp:
                tfl = measure_tflite(checkpoint, config.size, config.tflite_targets, config.eval_dir, Path(tmp))
            report["tflite"].append({"model": member.name, "targets": list(config.tflite_targets), **tfl})
            _write(output, report)
        if config.tflite_options:
            with tempfile.TemporaryDirectory() as tmp:
                report["tflite_options"].append(measure_tflite_options(checkpoint, member.name, config.size,
                                                                       config.eval_dir, Path(tmp)))
            _write(output, report)
    return report


def zoo_summary(report: dict, output: Path) -> list[str]:
    """One line per zoo model and placement: the chosen settings' PSNR on the evaluation photos vs the alternatives."""
    lines = []
    for row in report["onnx_int8"]:
        chosen = row["chosen"]
        lines.append(f"{row['model']:<14} {row['placement']:<17} chosen {chosen['evaluation_psnr_db']:.2f} dB (worst "
                     f"{chosen['evaluation_psnr_min_db']:.2f}), best tried {row['best']['evaluation_psnr_db']:.2f}, "
                     f"old defaults {row['old_default']['evaluation_psnr_db']:.2f}"
                     + (f"; default file {row['default_file']['evaluation_psnr_db']:.2f} dB with "
                        f"{row['default_file']['float_convs']} convs float" if row.get("default_file") else ""))
    return lines + [f"wrote {output / 'README.md'} and zoo.json"]


def _write(output: Path, report: dict) -> None:
    atomic_write_json(output / "zoo.json", report)
    atomic_write_text(output / "README.md", zoo_markdown(report))


def _fig(row: dict, prefix: str = "evaluation_") -> str:
    return f"{row[prefix + 'psnr_db']:.2f} ({row[prefix + 'psnr_min_db']:.2f}) / {row[prefix + 'ssim']:.3f}"


def _settings(row: dict) -> str:
    flags = [name for name, key in (("eq", "equalize"), ("center", "center"), ("bc", "bias_correction")) if row[key]]
    return f"{row['method']}" + (f" + {'+'.join(flags)}" if flags else "")


def _tflite_option(settings: dict) -> str:
    return settings["calibration"] + (" + aug" if settings["calib_augment"] == "all" else "")


def _tflite_fig(row: dict) -> str:
    if row["psnr_db"] is None:
        return f"{row['status']}"
    return f"{row['psnr_db']:.2f} ({row['psnr_min_db']:.2f}) / {row['ssim']:.3f}"


def zoo_markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [f"# Quantization defaults across the zoo ({report['size']}x{report['size']})", "",
             f"Machine: {machine.get('cpu', '?')}. Every figure is PSNR dB vs the model's FP32 torch output, mean "
             f"(worst picture) / SSIM, on the {len(report['evaluation_photos'])} evaluation pictures, which nothing "
             f"was calibrated or chosen on. Settings are chosen on {len(report['split']['validation'])} validation "
             f"pictures (the calibration set's every third source photo: "
             f"{', '.join(sorted({n.split('__')[0] for n in report['split']['validation']}))})"
             + (f" by the default search ({report['choice']['search']}), which maximizes "
                f"{report['choice']['score']}." if "choice" in report else "."), "",
             "## Models", "", "| model | how it was trained | config |", "| --- | --- | --- |"]
    lines += [f"| {m['name']} | {m['how']} | `{m['config']}` |" for m in report["models"]]
    if report["onnx_int8"]:
        lines += ["", "## ONNX INT8: chosen per model vs the best tried vs the old fixed defaults", "",
                  "| model | placement | chosen on validation | its evaluation figure | best tried (evaluation) | gap "
                  "dB | old defaults (all on) | tried |", "| --- | --- | --- | ---: | --- | ---: | ---: | ---: |"]
    for r in report["onnx_int8"]:
        lines.append(f"| {r['model']} | {r['placement']} | {_settings(r['chosen'])} | {_fig(r['chosen'])} | "
                     f"{_settings(r['best'])}: {_fig(r['best'])} | {r['gap_to_best_db']:.2f} | {_fig(r['old_default'])} "
                     f"| {r['tried']} in {r['seconds']:.0f} s |")
    files = [r for r in report["onnx_int8"] if r.get("default_file")]
    if files:
        worst_column = any(r.get("worst_target_file") for r in files)
        headroom_column = any(r.get("headroom_file") for r in files)
        lines += ["", "## ONNX INT8: the file the defaults write", "",
                  "The chosen settings, then the placement's target: its most sensitive convs kept float until the "
                  "target (+0.5 dB) is met on the validation pictures."
                  + (" With `--target-worst-psnr W` they go on until the worst validation picture reaches W too, "
                     "ranked by what each conv costs it." if worst_column else "")
                  + (" With `--range-headroom K` every quantized activation range (not the image input's) is K "
                     "times wider around its midpoint, the rest as the defaults." if headroom_column else ""), "",
                  "| model | placement | target dB | convs float | evaluation figure | worst picture |"
                  + (" with a worst-photo target |" if worst_column else "")
                  + (" with range headroom |" if headroom_column else ""),
                  "| --- | --- | ---: | ---: | --- | --- |" + " --- |" * (worst_column + headroom_column)]

        def floats(file: dict) -> str:
            return f"{file['float_convs']} of {file['float_convs'] + file['quantized_convs']}"

        for r in files:
            file, worst, headroom = r["default_file"], r.get("worst_target_file"), r.get("headroom_file")
            cells = [r["model"], r["placement"], str(file["target_psnr"] or "none"), floats(file), _fig(file),
                     file.get("worst_photo", "")]
            if worst_column:
                cells.append(f"{worst['target_worst_psnr']:g} dB: {_fig(worst)}, {floats(worst)} float" if worst else "")
            if headroom_column:
                cells.append(f"{headroom['range_headroom']:g}x: {_fig(headroom)}, {floats(headroom)} float, worst "
                             f"{headroom['worst_photo']}" if headroom else "")
            lines.append("| " + " | ".join(cells) + " |")
    if report["tflite"]:
        lines += ["", "## TFLite full-integer with the fallback targets (judged on the validation pictures, +0.5 dB)",
                  "", "| model | targets (mean, worst) | calibration | PSNR (worst) | SSIM | MB | float fallback |",
                  "| --- | --- | --- | --- | ---: | ---: | --- |"]
        lines += [f"| {t['model']} | {', '.join(f'{v:g}' for v in t['targets'])} | {t.get('calibration') or ''} | "
                  f"{t['psnr_db']} ({t['psnr_min_db']}, {t['worst_photo']}) | {t['ssim']} | {t['size_mb']} | "
                  f"{t['float_fallback']} |" for t in report["tflite"]]
    if report.get("tflite_options"):
        from animegan_deploy.compress.choose import score_text, weighted_psnr

        def score(row: dict) -> float:  # the choice's score, on the evaluation pictures
            return weighted_psnr(row["psnr_db"], row["psnr_min_db"])

        lines += ["", "## TFLite full-integer: the defaults vs every calibration option", "",
                  "Each file with the default fallback (the int8 threshold, 30 dB, judged on the validation pictures "
                  "+0.5 dB); mean (worst picture) dB / SSIM on the evaluation pictures. aug: calibrated on each photo "
                  "plus its augmented copies. Defaults: the calibration method chosen per model on the validation "
                  "pictures (each method's file after the fallback ladder, by "
                  f"{score_text()}), no augmentation. The gaps: "
                  "the best option's mean less the defaults', and the same for that score.", "",
                  "| model | " + " | ".join(_tflite_option(o) for o in TFLITE_OPTIONS)
                  + " | defaults (chosen) | gap to the best mean dB | gap to the best score dB |",
                  "| --- | " + " | ".join("---" for _ in TFLITE_OPTIONS) + " | --- | ---: | ---: |"]
        for t in report["tflite_options"]:
            cells = [_tflite_fig(r) for r in t["rows"]]
            default = t["default"]
            score_gap = max(score(r) for r in t["rows"]) - score(default)
            lines.append(f"| {t['model']} | " + " | ".join(cells) + f" | {default.get('calibration')}: "
                         f"**{_tflite_fig(default)}** | {t['gap_to_best_db']:.2f} | {max(score_gap, 0.0):.2f} |")
        lines += ["", "Float fallback and the choice's validation figures per file: `zoo.json`."]
    lines += ["", "Every combination per model and placement, with its validation and evaluation figures: `zoo.json`."]
    return "\n".join(lines) + "\n"
