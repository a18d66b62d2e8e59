"""The ``animegan`` command: a thin layer over the library's stage functions.

Each subcommand parses its options into the stage's typed config (options generated from the config
dataclass, so ``--help`` always lists every field), calls the library function and prints its numbers.
User mistakes become one ``error:`` line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import inspect
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .configs import add_config_arguments, config_from_args
from .errors import UserError, failure_reason

WEIGHTS_HELP = (
    "generator checkpoint: a .safetensors/.pt path, a URL, a public name (paprika, face_paint_512_v2, ...), "
    "'default' for the embedded demo model, zoo:NAME for a zoo model (make zoo), or an exported file (.onnx) for "
    "non-torch backends"
)


def _weights_option(p: argparse.ArgumentParser, role: str = "") -> None:
    """-w/--weights, one meaning everywhere: the generator a command starts from."""
    p.add_argument("-w", "--weights", default=None,
                   help=WEIGHTS_HELP + f" ({role + '; ' if role else ''}default: the embedded demo model)")


def _output_option(p: argparse.ArgumentParser, what: str, default: str | None = None, shown: str | None = None) -> None:
    """-o/--output, one spelling everywhere: ``what`` the command writes there, and its default (``shown``: how a
    default worked out at run time reads, e.g. ``exports/<checkpoint>.onnx``)."""
    p.add_argument("-o", "--output", default=default, help=f"{what} (default: {shown or default})")


def _command(sub, name: str, func: Callable[[argparse.Namespace], int], summary: str, description: str, *,
             weights: str | None = None, output: tuple | None = None, run: str | None = None, quiet: bool = False,
             configs: Sequence = ()) -> argparse.ArgumentParser:
    """One subcommand with the shared options in one order: -w (``weights``: its role, "" for none named), -o
    (``output``: _output_option's arguments), the resume options (``run``: what is interrupted), --quiet, then each
    config dataclass's options (``configs``: a type, or (type, fields to skip))."""
    p = sub.add_parser(name, help=summary, description=description)
    if weights is not None:
        _weights_option(p, role=weights)
    if output is not None:
        _output_option(p, *output)
    if run is not None:
        _run_options(p, run)
    if quiet:
        _quiet_option(p)
    for config in configs:
        config_type, skip = config if isinstance(config, tuple) else (config, ())
        add_config_arguments(p, config_type, skip=skip)
    p.set_defaults(func=func)
    return p


def _plan_restart_option(p: argparse.ArgumentParser) -> None:
    """--restart of the commands run by the pipeline runner (pipeline run, student-recipe)."""
    p.add_argument("--restart", dest="force", action="store_true",
                   help="start over: run every stage again, discarding finished results and interrupted runs")


def _quiet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")


def _run_options(p: argparse.ArgumentParser, what: str) -> None:
    """How the long-running commands (train, distill, student) treat an interrupted run of theirs, in one vocabulary:
    running the same command again continues it (checked to have the same settings); --restart starts over."""
    p.add_argument("--restart", action="store_true", help=f"discard an interrupted run of {what} and start over "
                   "(without it, an interrupted run with the same settings is continued)")
    p.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)  # the old spelling: now the default
    p.add_argument("--stop-after", type=_positive_int, default=None,
                   help="run at most this many steps now, then checkpoint and exit (run the same command again to "
                        "continue)")


def _output_file(args: argparse.Namespace, default: Path, inputs: Sequence, folder: bool = False) -> Path:
    """The command's --output (else ``default``), checked to be a place it may write without touching ``inputs``
    or a user's files (a folder where the command writes several files)."""
    from .paths import check_output_dir, check_output_file

    output = Path(args.output) if args.output else default
    (check_output_dir if folder else check_output_file)(output, "--output", inputs=list(inputs))
    return output


def _positive_int(text: str) -> int:
    """argparse type of step counts: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1")
    return value


def _weights(spec: str | None) -> Path:
    from .models.hub import resolve_weights

    return resolve_weights(spec)


def cmd_stylize(args: argparse.Namespace) -> int:
    from .stylize import StylizeConfig, stylize

    config = config_from_args(StylizeConfig, args)
    report = stylize(args.inputs, _weights(args.weights), config, Path(args.output))
    print(f"stylized {len(report.written)} file(s) into {args.output}; {len(report.failed)} failed")
    return 0 if report.ok else 1


def cmd_convert(args: argparse.Namespace) -> int:
    from .models.checkpoints import load_generator, save_checkpoint

    from .paths import check_output_file

    source = _weights(args.weights)
    check_output_file(args.output, "OUTPUT", inputs=[source])
    if Path(args.output).suffix.lower() != ".safetensors":
        raise UserError(f"OUTPUT {args.output}: the converted checkpoint is safetensors; name it *.safetensors")
    loaded = load_generator(source, align_corners=args.align_corners)
    provenance = {**loaded.info.provenance, "converted_from": source.name}
    out = save_checkpoint(loaded.model, Path(args.output), style=args.style or loaded.info.style, provenance=provenance)
    print(f"wrote {out} ({loaded.info.style}, width {loaded.info.width:g})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.config import load_config
    from .train.loop import train

    from .paths import check_output_dir

    overrides = list(args.set or [])
    if args.run_dir:
        overrides.append(f"run.run_dir={args.run_dir}")
    if args.vgg_weights:
        overrides.append(f"run.vgg_weights={args.vgg_weights}")
    config = load_config(args.config, overrides)
    check_output_dir(config.run.run_dir, "run.run_dir")
    result = train(config, resume=True, restart=args.restart, progress=not args.quiet, stop_after=args.stop_after)
    if not result.main_rank:  # under torchrun the main rank reports (the others wrote nothing)
        return 0
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.last_losses.items())
    done = "finished" if result.steps >= config.total_steps else "paused"
    print(f"{done} at step {result.steps}/{config.total_steps} in {result.seconds:.0f} s; {losses}")
    if result.steps >= config.total_steps:
        print(f"wrote {result.generator}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from .train.demo_data import build_demo_dataset

    from .paths import check_output_dir

    folders = build_demo_dataset(check_output_dir(args.output, "--output"))
    for name, folder in folders.items():
        print(f"{name}: {folder} ({len(list(folder.iterdir()))} images)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .stylize import StylizeConfig

    from .paths import check_output_dir

    config = config_from_args(StylizeConfig, args)
    check_output_dir(args.output, "--output")
    grid = run_demo(_weights(args.weights), Path(args.output), config)
    print(f"wrote {grid} (left: photo, right: stylized)")
    return 0


def cmd_evaluate_style(args: argparse.Namespace) -> int:
    from .train.evaluate import StyleEvalConfig, evaluate_style

    from .paths import check_output_file

    if not args.photos:
        raise UserError("evaluate-style: --eval-dir is required; name a folder of held-out photos")
    if args.output:
        for suffix in (".json", ".md"):
            check_output_file(Path(args.output).with_suffix(suffix), "--output")
    report = evaluate_style(_weights(args.weights), _weights(args.baseline), args.photos, args.style,
                            StyleEvalConfig(size=args.size, vgg_weights=args.vgg_weights), args.output,
                            previous=_weights(args.previous) if args.previous else None)
    print(f"style loss {report['model']['style_loss']:.4g} vs baseline {report['baseline_metrics']['style_loss']:.4g} "
          f"({100 * report['style_loss_reduction']:.1f}% lower); content loss ratio {report['content_loss_ratio']:.2f}x; "
          f"lowest possible against this style set {100 * report['style_loss_reduction_limit']:.1f}% lower")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from .compress.prune import PruneConfig, prune_checkpoint

    config = config_from_args(PruneConfig, args)
    source = _weights(args.weights)
    output = _output_file(args, Path("runs/compress") / f"{source.stem}.pruned.safetensors", [source])
    result = prune_checkpoint(source, config, output, progress=not args.quiet)
    r = result.report
    fid = r["fidelity_vs_original"]
    print(f"channels under {config.threshold}: {r['under_threshold_before_sparsity']} before sparsity training, "
          f"{r['under_threshold_after_sparsity']} after; removed {r['removed_channels']}")
    print(f"params {r['original']['params']:,} -> {r['pruned']['params']:,} "
          f"({100 * r['params_removed_fraction']:.1f}% removed); GMACs@256 {r['original']['gmacs']:.2f} -> "
          f"{r['pruned']['gmacs']:.2f}; PSNR vs original {fid['psnr_db']:.2f} dB, SSIM {fid['ssim']:.4f}")
    print(f"wrote {result.path} and its report")
    if r["params_removed_fraction"] > 0.9:
        print(f"warning: --threshold {config.threshold} removed {100 * r['params_removed_fraction']:.0f}% of the "
              f"parameters (PSNR {fid['psnr_db']:.1f} dB): this model is not usable; norm scales are mostly near 1, "
              "so thresholds are meant to be small (the recipe uses 0.01)", file=sys.stderr)
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from .compress.distill import DistillConfig, distill

    config = config_from_args(DistillConfig, args)
    output = _output_file(args, Path("runs/compress") / "student.safetensors", [args.student, config.teacher])
    result = distill(args.student, config, output, resume=True, restart=args.restart, progress=not args.quiet,
                     stop_after=args.stop_after)
    if result.steps < config.steps:
        print(f"paused at step {result.steps}/{config.steps}; run the same command again to continue")
        return 0
    for line in result.summary():
        print(line)
    return 0


def cmd_student(args: argparse.Namespace) -> int:
    from .compress.student import StudentConfig, clear_run, make_student

    config = config_from_args(StudentConfig, args)
    teacher = _weights(args.weights)
    output = _output_file(args, Path("runs/student") / f"{teacher.stem}.student.safetensors", [teacher])
    if args.restart:
        clear_run(output)
    result = make_student(teacher, config, output, progress=not args.quiet, stop_after=args.stop_after)
    for line in result.summary():
        print(line)
    return 0


def cmd_student_recipe(args: argparse.Namespace) -> int:
    """pipelines/student.toml with this command's options, through the pipeline runner (see pipeline/student_recipe)."""
    from .compress.student import StudentConfig
    from .pipeline.student_recipe import StudentRecipeConfig, recipe_config

    recipe = config_from_args(StudentRecipeConfig, args)
    student = config_from_args(StudentConfig, args, eval_dir=None)  # the evaluation photos are the recipe's
    config = recipe_config(_weights(args.weights), student, recipe, Path(args.output))
    return _run_plan(config, Path(args.output), args, force=args.force)


def _run_plan(config, out: Path, args: argparse.Namespace, **steer) -> int:
    """Run a pipeline plan into ``out`` and print each stage's lines and where the record is."""
    from .pipeline.runner import run_pipeline

    run = run_pipeline(config, out, progress=(lambda _: None) if args.quiet else (lambda m: print(m, file=sys.stderr)),
                       **steer)
    for stage in run.stages:
        for line in stage.summary():
            print(line)
    if run.dry_run:
        print(f"dry run: nothing written; {sum(s.status == 'would run' for s in run.stages)} stage(s) would run")
        return 0
    print(f"{'ok' if run.ok else 'FAILED'} in {run.seconds:.0f} s; wrote {out / 'pipeline.json'}, report.md and "
          "report.html")
    return 0 if run.ok else 1


def cmd_quantize(args: argparse.Namespace) -> int:
    from .compress.quantize import QuantizeConfig, quantize_onnx

    config = config_from_args(QuantizeConfig, args)
    source = Path(args.model)
    if not source.is_file():
        raise UserError(f"{source}: no such file; pass an FP32 .onnx (animegan export onnx) to quantize")
    reference = None
    if args.reference:
        from .compress.measurements import torch_model_fn
        from .models.checkpoints import load_generator

        reference = torch_model_fn(load_generator(_weights(args.reference)).model)
    output = _output_file(args, source.with_name(source.stem + ".int8.onnx"), [source])
    result = quantize_onnx(source, config, output, reference=reference, progress=not args.quiet)
    for line in result.summary():
        print(line)
    return 0


def cmd_check_fidelity(args: argparse.Namespace) -> int:
    from .benchmarks.fidelity_check import FidelityCheckConfig, check_fidelity

    check = check_fidelity(args.variant, config_from_args(FidelityCheckConfig, args))
    f = check.fidelity
    from .finite import format_psnr

    verdict = "PASS" if check.passed else "FAIL"
    print(f"{verdict} {args.variant} ({check.precision}) vs {check.reference}: PSNR {format_psnr(f.psnr)} "
          f"(min {check.min_psnr}), SSIM {f.ssim:.4f} (min {check.min_ssim}); worst image {format_psnr(f.psnr_min)} "
          f"of {len(f.per_image)}")
    return 0 if check.passed else 1


def cmd_simulate_int8(args: argparse.Namespace) -> int:
    from .compress.int8_simulation import Int8SimulationConfig, simulation_report
    from .paths import check_output_dir

    config = config_from_args(Int8SimulationConfig, args)
    check_output_dir(args.output, "--output")
    for row in simulation_report(_weights(args.weights), config, Path(args.output)):
        print(f"{row['scheme']:<16} {row['conv_work']:.1f}x int8 conv work: PSNR {row['psnr_db']:.2f} dB, worst "
              f"{row['psnr_min_db']:.2f} ({row['worst_image']}), SSIM {row['ssim']:.4f}, {row['count']} photos")
    print(f"wrote {Path(args.output) / 'int8-simulation.md'} and int8-simulation.json")
    return 0


def cmd_zoo_report(args: argparse.Namespace) -> int:
    from .benchmarks.zoo_report import ZooReportConfig, zoo_report, zoo_summary
    from .paths import check_output_dir

    config = config_from_args(ZooReportConfig, args)
    check_output_dir(args.output, "--output")
    report = zoo_report(config, Path(args.output), progress=not args.quiet)
    for line in zoo_summary(report, Path(args.output)):
        print(line)
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from .benchmarks.suite import BenchmarkConfig, run_benchmark

    from .paths import check_output_dir

    config = config_from_args(BenchmarkConfig, args)
    check_output_dir(args.output, "--output")
    result = run_benchmark(_weights(args.weights), config, Path(args.output),
                           progress=(lambda _: None) if args.quiet else (lambda m: print(m, file=sys.stderr)))
    for line in result.summary():
        print(line)
    return 1 if (result.regressions and args.fail_on_regression) else 0


def cmd_pipeline_run(args: argparse.Namespace) -> int:
    from .pipeline.config import load_pipeline_config

    config = load_pipeline_config(args.config, args.set or [])
    out = Path(args.output) if args.output else Path("runs/pipeline") / Path(args.config).stem
    return _run_plan(config, out, args, from_stage=args.from_stage, until=args.until, dry_run=args.dry_run,
                     force=args.force, break_lock=args.break_lock)


def _make_export_command(fmt_name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from .export.targets import FORMATS

        fmt = FORMATS[fmt_name]
        exporter, config_type = fmt.load()
        config = config_from_args(config_type, args)
        source = _weights(args.weights)
        output = _output_file(args, fmt.default_output(source), [source], folder=fmt.directory)
        shows_progress = "progress" in inspect.signature(exporter).parameters
        result = exporter(source, config, output, **({"progress": not args.quiet} if shows_progress else {}))
        for line in result.summary():
            print(line)
        if not getattr(result, "ok", True):
            print(f"error: {output}: some {fmt_name} files failed or fell below their fidelity threshold (see above); "
                  "--allow-lossy keeps files below it", file=sys.stderr)
            return 1
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    from .export.targets import FORMATS
    from .stylize import StylizeConfig

    parser = argparse.ArgumentParser(
        prog="animegan",
        description="Train, compress, quantize, export and benchmark AnimeGANv2-style generators.",
    )
    parser.add_argument("--version", action="version", version=f"animegan-deploy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "stylize", cmd_stylize, "turn photos, folders, globs and videos into anime-style outputs",
                 "Stylize images (any size, RGBA, grayscale, 16-bit, EXIF-rotated) and mp4/avi videos. Unreadable "
                 "inputs are reported one line each and the rest processed; the exit code is 1 when any input failed.",
                 weights="", output=("folder for the outputs", "stylized"), configs=(StylizeConfig,))
    p.add_argument("inputs", nargs="+", help="image/video files, folders (searched recursively) or glob patterns")

    p = sub.add_parser("convert", help="convert a public .pt checkpoint to the project's safetensors format",
                       description="Load a public AnimeGANv2 state_dict (safely: tensors only) and save it as "
                                   "safetensors with architecture metadata.")
    p.add_argument("weights", help=WEIGHTS_HELP)
    p.add_argument("output", help="the .safetensors file to write")
    p.add_argument("--style", default=None, help="style name stored in the metadata (default: the file's stem)")
    p.add_argument("--align-corners", action=argparse.BooleanOptionalAction, default=None,
                   help="bilinear upsampling mode the checkpoint was trained with (default: True, as the port)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("train", help="train a generator with the AnimeGANv2 recipe (init phase, then GAN)",
                       description="Train per a TOML config (sections data, model, loss, optim, run; see "
                                   "train/configs/). Checkpoints are written atomically every "
                                   "run.checkpoint_every steps; running the same command again continues from "
                                   "the last one. "
                                   "Multi-GPU/multi-node: launch with torchrun.")
    p.add_argument("--config", default=None, help="TOML config file (default: built-in defaults, Hayao preset)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set optim.batch_size=8 (repeatable)")
    _run_options(p, "run_dir (its checkpoints/last.pt)")
    p.add_argument("--run-dir", default=None, help="output folder (same as --set run.run_dir=...)")
    p.add_argument("--vgg-weights", default=None,
                   help="VGG19 for the content/style losses: 'imagenet' (torch hub cache or download), a path "
                        "to torchvision's vgg19-dcbb9e9d.pth, or 'random' (explicit opt-in; tests and the demo)")
    _quiet_option(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo-data", help="build the offline demo dataset (bundled photos + cel style renderings)",
                       description="Write photos/, heldout/, unseen/, cel/ and style/ from photos shipped by "
                                   "scikit-image, matplotlib and scikit-learn: cel/ (each training photo as flat "
                                   "palettes with dark outlines, three colour schemes) is the default model's style "
                                   "set, style/ the older procedural cartoon set zoo:duotone was trained on.")
    _output_option(p, "folder to write", "runs/demo-data")
    p.set_defaults(func=cmd_demo_data)

    _command(sub, "demo", cmd_demo, "stylize photos bundled with installed packages and write a side-by-side grid",
             "Offline demo: stylize bundled photos with the embedded default model (or --weights) and write "
             "OUTPUT/grid.png.", weights="", output=("folder for the stylized photos and grid.png", "demo"),
             configs=(StylizeConfig,))

    p = sub.add_parser("evaluate-style", help="Gram style loss and content loss on held-out photos vs a baseline",
                       description="Check that a trained model learned the style: its Gram style loss to the "
                                   "style set should be well below the init-phase model's, its content loss close.")
    _weights_option(p)
    p.add_argument("--baseline", required=True, help="the init-phase (reconstruction-only) generator checkpoint")
    p.add_argument("--eval-dir", dest="photos", help="folder of held-out photos (not used for training; required)")
    p.add_argument("--photos", dest="photos", help=argparse.SUPPRESS)  # the old spelling, for one release
    p.add_argument("--style", required=True, help="folder of style images (grayscale copies are cached beside it)")
    p.add_argument("--size", type=int, default=256, help="longest side the photos are evaluated at (default: 256)")
    p.add_argument("--vgg-weights", default="random", help="VGG19 for the losses, as in training (default: random)")
    p.add_argument("--previous", default=None, help="a model this one replaces: its looks are reported beside")
    _output_option(p, "write OUTPUT.json and OUTPUT.md reports", shown="print only")
    p.set_defaults(func=cmd_evaluate_style)

    from .compress.distill import DistillConfig
    from .compress.prune import PruneConfig

    _command(sub, "prune", cmd_prune, "structured magnitude channel pruning (threshold 0.01), dependency-aware",
             "Remove channels whose norm scale |gamma| (or filter mean |w|) is below the threshold, coupled layers "
             "together (Torch-Pruning dependency graph). --sparsity first trains with L1 on the scales so the "
             "threshold bites. Writes a safetensors checkpoint and a Markdown + JSON report.", weights="",
             output=("pruned checkpoint to write", None, "runs/compress/<checkpoint>.pruned.safetensors"), quiet=True,
             configs=(PruneConfig,))

    p = _command(sub, "distill", cmd_distill, "knowledge distillation from a teacher generator into a student",
                 "Train STUDENT (a checkpoint such as a pruned one, or width:W for a fresh narrower model) to reproduce "
                 "the teacher's outputs on photos. Resumable: run it again.",
                 output=("student checkpoint to write", None, "runs/compress/student.safetensors"),
                 run="OUTPUT (its .run/checkpoints/last.pt)", quiet=True, configs=(DistillConfig,))
    p.add_argument("student", help="student checkpoint (e.g. the output of prune) or width:W")

    from .compress.student import StudentConfig

    _command(sub, "student", cmd_student, "the fast deploy student: fit BatchNorms, narrow, distill, prune at 0.01",
             "Turn a trained generator (the teacher) into a narrow student with foldable BatchNorm: norms fitted to "
             "the teacher's, every layer narrowed to --width (or --target-gmacs) by channel magnitude, distilled on "
             "photos, pruned at |gamma| < --threshold and fine-tuned. Writes the student and its folded twin (conv + "
             "activation only; what export traces). Resumable: run it again.", weights="the teacher",
             output=("student checkpoint to write", None, "runs/student/<teacher>.student.safetensors"),
             run="OUTPUT (its .run folder)", quiet=True, configs=(StudentConfig,))

    from .pipeline.student_recipe import StudentRecipeConfig

    p = _command(sub, "student-recipe", cmd_student_recipe,
                 "teacher -> student -> ONNX FP32/INT8 + TFLite -> benchmark (make student)",
                 "pipelines/student.toml with these options, run by the pipeline runner into OUTPUT: the student "
                 "stage, its folded ONNX, INT8 Q/DQ (ONNX Runtime placement), TFLite files, a benchmark of every "
                 "variant against the FP32 torch original (fps, speedup in the same run, PSNR/SSIM on --eval-dir) and "
                 "the gate. Finished stages are reused, an interrupted one continues; writes OUTPUT/pipeline.json, "
                 "report.md and report.html.", weights="the teacher", output=("output folder", "runs/student"),
                 quiet=True, configs=(StudentRecipeConfig, (StudentConfig, ("eval_dir",))))
    _plan_restart_option(p)

    from .benchmarks.fidelity_check import FidelityCheckConfig
    from .compress.calibration import METHODS
    from .compress.quantize import QuantizeConfig

    # equalization rewrites the torch model before export: an ONNX file given here is past that point
    p = _command(sub, "quantize", cmd_quantize,
                 "INT8: calibrate an FP32 ONNX and write Q/DQ ONNX + TensorRT cache + ranges",
                 f"Calibrate activation ranges ({'/'.join(METHODS)}, one ONNX Runtime pass), write a Q/DQ ONNX "
                 "following TensorRT's rules, a TensorRT calibration cache, a JSON of ranges and a report; "
                 "--target-psnr keeps sensitive convs in float.", output=("Q/DQ ONNX to write", None, "MODEL.int8.onnx"),
                 quiet=True, configs=((QuantizeConfig, ("equalize",)),))
    p.add_argument("model", help="FP32 ONNX file to quantize (from `animegan export onnx`)")
    p.add_argument("--reference", default=None,
                   help="FP32 torch checkpoint to measure fidelity against (default: the FP32 ONNX itself)")

    p = _command(sub, "check-fidelity", cmd_check_fidelity,
                 "PSNR/SSIM of an exported variant vs the FP32 torch model, gated",
                 "Run VARIANT and the FP32 reference on photos, compare outputs as [0, 255] images and exit 1 when "
                 "PSNR or SSIM is below the precision's threshold.", configs=(FidelityCheckConfig,))
    p.add_argument("variant", help="exported model file (.onnx, .int8.onnx, ...)")

    from .compress.int8_simulation import Int8SimulationConfig

    _command(sub, "simulate-int8", cmd_simulate_int8, "what static int8 of every conv keeps, simulated in torch "
             "(seconds)", "Round each conv's input and/or output to 8 bits on calibrated ranges (fake quantization, "
             "the rest float) and measure PSNR/SSIM vs the float model: which scheme holds which photos, before a "
             "minutes-long integer export.", weights="", output=("report folder", "results/int8-simulation"),
             configs=(Int8SimulationConfig,))

    from .benchmarks.zoo_report import ZooReportConfig

    _command(sub, "zoo-report", cmd_zoo_report, "every INT8 setting measured on every zoo model (reports/zoo)",
             "For each zoo model (models/zoo.py) and placement, build every combination of the settings chosen per "
             "model and measure it on the validation and the evaluation photos: is the chosen one within reach of "
             "the best, and of the old defaults?", output=("report folder", "reports/zoo"), quiet=True,
             configs=(ZooReportConfig,))

    from .benchmarks.suite import BenchmarkConfig

    p = _command(sub, "benchmark", cmd_benchmark, "fps, latency, size and fidelity of every variant vs the FP32 "
                 "original", "Build (or reuse) the exported variants of a checkpoint, time them interleaved against "
                 "the FP32 torch original, measure PSNR/SSIM vs its output, and write Markdown, CSV, JSON and PNG "
                 "reports.", weights="", output=("report folder", "results/benchmark"), quiet=True,
                 configs=(BenchmarkConfig,))
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when --compare finds regressions")

    pipeline = sub.add_parser("pipeline", help="run the staged pipeline of a config file (cached, resumable)",
                              description="Chain train/prune/distill/quantize/export/benchmark/gate as one cached, "
                                          "resumable run with one report.")
    actions = pipeline.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("run", help="run (or resume) CONFIG.toml into a folder; finished stages are reused",
                           description="Run the stages of CONFIG.toml (see pipelines/) into -o DIR. A stage whose "
                                       "inputs and settings are unchanged is reused; a killed run resumes.")
    p.add_argument("config", help="pipeline TOML (pipelines/quick.toml, default.toml, student.toml)")
    _output_option(p, "run folder", shown="runs/pipeline/<config name>")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set quantize.method=minmax (repeatable)")
    p.add_argument("--from", dest="from_stage", default=None, metavar="STAGE",
                   help="run this stage and every later one again (earlier ones must be finished)")
    p.add_argument("--until", default=None, metavar="STAGE", help="stop after this stage")
    p.add_argument("--dry-run", action="store_true", help="say which stages would run or be reused; write nothing")
    _plan_restart_option(p)
    p.add_argument("--force", dest="force", action="store_true", help=argparse.SUPPRESS)  # the old spelling
    p.add_argument("--break-lock", action="store_true",
                   help="take over the folder's lock (only when the run it names is known to be gone)")
    _quiet_option(p)
    p.set_defaults(func=cmd_pipeline_run)

    export = sub.add_parser("export", help="export a generator to a deployable format",
                            description="Export a generator checkpoint; every format validates its output "
                                        "against the torch model before writing.")
    formats = export.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for fmt in FORMATS.values():
        exporter, config_type = fmt.load()
        what = ("folder to write the files into, each with a JSON sidecar" if fmt.directory else
                "file to write, a JSON sidecar beside it")
        output = (what, None, fmt.default_output(Path("<checkpoint>")).as_posix())
        _command(formats, fmt.name, _make_export_command(fmt.name), fmt.description, fmt.description, weights="",
                 output=output, quiet="progress" in inspect.signature(exporter).parameters, configs=(config_type,))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow (tensorboard, onnx2tf) logs at import
    parser = build_parser()
    _add_to_every_command(parser, "--overwrite", action="store_true",
                          help="replace files in the output places that animegan did not write (kept by default)")
    args = parser.parse_args(argv)
    from .ownership import allow_overwrite
    from .threads import apply_to_runtimes

    allow_overwrite(getattr(args, "overwrite", False))
    try:
        apply_to_runtimes()  # ANIMEGAN_THREADS, where set
        return int(args.func(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `animegan ... | head`: the reader left; nothing more to say
        _silence_stdout()
        return 141
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            return _crashed(args, exc)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc} ({ENVIRONMENT_ERRNOS[exc.errno]}); nothing half-written was kept",
              file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not a user mistake: one line, the traceback in a log file
        return _crashed(args, exc)


# what the machine, not the tool, got wrong: one line naming the file and the fix, not a crash report
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "the disk is full: free space or choose another output place",
    errno.EDQUOT: "the disk quota is used up: free space or choose another output place",
    errno.EROFS: "the file system is read-only: choose another output place",
    errno.EACCES: "permission denied: use a file or folder you may read and write, or fix its permissions",
    errno.EPERM: "operation not permitted: use a file or folder you may read and write",
    errno.EMFILE: "too many open files: raise `ulimit -n`",
    errno.ENOMEM: "out of memory: use a smaller --size or batch",
}


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _crashed(args: argparse.Namespace, exc: BaseException) -> int:
    if os.environ.get("ANIMEGAN_DEBUG"):
        raise exc
    log = _write_crash_log(args)
    where = f"the traceback is in {log}" if log else "no writable folder for the traceback"
    try:
        print(f"error: {args.command} failed unexpectedly ({failure_reason(exc)}); {where} (ANIMEGAN_DEBUG=1 "
              "prints it); please report it", file=sys.stderr)
    except OSError:
        pass
    return 1


def _add_to_every_command(parser: argparse.ArgumentParser, *names: str, **options) -> None:
    """One option defined once, on every (sub)command that runs something."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        parser.add_argument(*names, **options)
    for action in subparsers:
        for child in dict.fromkeys(action.choices.values()):
            _add_to_every_command(child, *names, **options)


def _write_crash_log(args: argparse.Namespace) -> Path | None:
    """The traceback in the cache's logs folder, else the temp folder; None when no folder can be written (the
    crash handler itself never fails)."""
    import tempfile
    import time
    import traceback

    text = f"animegan {__version__} {' '.join(sys.argv[1:])}\n{traceback.format_exc()}"
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (_cache_logs, lambda: Path(tempfile.gettempdir())):
        try:
            place = folder()
            place.mkdir(parents=True, exist_ok=True)
            (place / name).write_text(text)
            return place / name
        except (OSError, RuntimeError):
            continue
    return None


def _cache_logs() -> Path:
    from .models.hub import cache_dir

    return cache_dir() / "logs"


if __name__ == "__main__":
    sys.exit(main())
