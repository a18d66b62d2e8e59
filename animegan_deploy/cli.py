"""The ``animegan`` command: a thin layer over the library's stage functions.

Each subcommand parses its options into the stage's typed config (options generated from the config
dataclass, so ``--help`` always lists every field), calls the library function and prints its numbers.
User mistakes become one ``error:`` line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .configs import add_config_arguments, config_from_args
from .errors import UserError

WEIGHTS_HELP = (
    "generator checkpoint: a .safetensors/.pt path, a URL, a public name (paprika, face_paint_512_v2, ...), "
    "'default' for the embedded demo model, or an exported file (.onnx) for non-torch backends"
)


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

    source = _weights(args.weights)
    loaded = load_generator(source, align_corners=args.align_corners)
    provenance = {**loaded.info.provenance, "converted_from": source.name}
    out = save_checkpoint(loaded.model, Path(args.output), style=args.style or loaded.info.style, provenance=provenance)
    print(f"wrote {out} ({loaded.info.style}, width {loaded.info.width:g})")
    return 0


def _make_export_command(fmt_name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from .export.formats import FORMATS

        fmt = FORMATS[fmt_name]
        exporter, config_type = fmt.load()
        config = config_from_args(config_type, args)
        source = _weights(args.weights)
        output = Path(args.output) if args.output else fmt.default_output(source)
        result = exporter(source, config, output)
        for size, diff in getattr(result, "max_abs_diff", {}).items():
            print(f"validate {size}: max |{fmt.backend} - torch| = {diff:.3e}")
        print(f"wrote {result.path} and {result.sidecar}")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    from .export.formats import FORMATS
    from .stylize import StylizeConfig

    parser = argparse.ArgumentParser(
        prog="animegan",
        description="Train, compress, quantize, export and benchmark AnimeGANv2-style generators.",
    )
    parser.add_argument("--version", action="version", version=f"animegan-deploy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("stylize", help="turn photos, folders, globs and videos into anime-style outputs",
                       description="Stylize images (any size, RGBA, grayscale, 16-bit, EXIF-rotated) and "
                                   "mp4/avi videos. Unreadable inputs are reported one line each and the rest "
                                   "processed; the exit code is 1 when any input failed.")
    p.add_argument("inputs", nargs="+", help="image/video files, folders (searched recursively) or glob patterns")
    p.add_argument("-w", "--weights", default=None, help=WEIGHTS_HELP + " (default: the embedded demo model)")
    p.add_argument("-o", "--output", default="stylized", help="folder for the outputs (default: stylized)")
    add_config_arguments(p, StylizeConfig)
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("convert", help="convert a public .pt checkpoint to the project's safetensors format",
                       description="Load a public AnimeGANv2 state_dict (safely: tensors only) and save it as "
                                   "safetensors with architecture metadata.")
    p.add_argument("weights", help=WEIGHTS_HELP)
    p.add_argument("output", help="the .safetensors file to write")
    p.add_argument("--style", default=None, help="style name stored in the metadata (default: the file's stem)")
    p.add_argument("--align-corners", action=argparse.BooleanOptionalAction, default=None,
                   help="bilinear upsampling mode the checkpoint was trained with (default: True, as the port)")
    p.set_defaults(func=cmd_convert)

    export = sub.add_parser("export", help="export a generator to a deployable format",
                            description="Export a generator checkpoint; every format validates its output "
                                        "against the torch model before writing.")
    formats = export.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for fmt in FORMATS.values():
        _, config_type = fmt.load()
        p = formats.add_parser(fmt.name, help=fmt.description, description=fmt.description)
        p.add_argument("-w", "--weights", default=None, help=WEIGHTS_HELP + " (default: the embedded demo model)")
        p.add_argument("-o", "--output", default=None,
                       help=f"file to write (default: exports/<checkpoint>{fmt.suffix}); a JSON sidecar goes beside it")
        add_config_arguments(p, config_type)
        p.set_defaults(func=_make_export_command(fmt.name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
