"""Typed stage configs and their command-line form.

Every stage config is a dataclass whose fields carry ``metadata={"help": ...}``; :func:`add_config_arguments`
turns the fields into argparse options (so every option is described in ``--help``) and
:func:`config_from_args` builds the dataclass back from the parsed namespace. Adding a field to a config
adds its CLI option; nothing else needs editing.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from .errors import UserError

T = TypeVar("T")


def option(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field with a default and the help text its CLI option shows. ``flag``: the option's name where it
    is not the field's (one vocabulary across commands: ``eval-dir`` for evaluation photos, ``calib-dir`` for
    calibration photos); ``aliases``: older spellings still accepted, hidden from the help, for one release."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **extra})
    return dataclasses.field(default=default, metadata={"help": help, **extra})


def with_defaults(**defaults: Any) -> Callable[[type[T]], type[T]]:
    """Class decorator, under ``@dataclass``: the subclass keeps the options it inherits (name, help, place) with
    other defaults, so two commands share one declaration of an option they default differently."""

    def apply(cls: type[T]) -> type[T]:
        inherited = cls.__dataclass_fields__  # type: ignore[attr-defined]  # the base's, until @dataclass runs
        annotations = cls.__dict__.get("__annotations__", {})
        for name, default in defaults.items():
            if name not in inherited:
                raise TypeError(f"{cls.__name__}: with_defaults names {name}, which no base class declares")
            base = inherited[name]
            annotations[name] = base.type
            setattr(cls, name, option(default, **base.metadata))
        cls.__annotations__ = annotations
        return cls

    return apply


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def flag_of(f: dataclasses.Field) -> str:
    """The CLI option of a config field: its ``flag`` metadata, else the field's name."""
    return _flag(f.metadata.get("flag", f.name))


def at_least(config: Any, names: tuple[str, ...], minimum: int = 1, section: str | None = None) -> None:
    """Each named setting of ``config`` is at least ``minimum`` (None: left to its default): else a one-line error
    naming the setting as the user wrote it (its flag, or ``section`` and key for a TOML section such as
    "[data]") and the value given."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    for name in names:
        value = getattr(config, name)
        if value is not None and value < minimum:
            where = f"{section} {name}" if section else flag_of(fields[name])
            raise UserError(f"{where} {value}: must be at least {minimum}")


def _add_aliases(parser: argparse.ArgumentParser, f: dataclasses.Field, **kwargs: Any) -> None:
    for alias in f.metadata.get("aliases", ()):
        parser.add_argument(_flag(alias), help=argparse.SUPPRESS, **kwargs)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _parse_size(text: str) -> tuple[int, int]:
    """'256' -> (256, 256); '192x320' -> (192, 320) as height x width."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; use N or HxW, e.g. 256 or 192x320") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; use N or HxW with positive numbers")
    return values[0], values[1]


def add_config_arguments(parser: argparse.ArgumentParser, config_type: type, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        if f.name in skip or not f.metadata.get("help"):
            continue
        tp, optional = _unwrap_optional(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata["help"].replace("%", "%%")  # argparse %-formats help strings
        states_default = "(default:" in help_text  # "(default: chosen per model ...)": no second "(default: None)"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if tp is bool:
            parser.add_argument(
                flag_of(f), action=argparse.BooleanOptionalAction,
                help=help_text if states_default else f"{help_text} (default: {default})", **kwargs
            )
            _add_aliases(parser, f, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if get_origin(tp) is Literal:
            kwargs["choices"] = list(get_args(tp))
            kwargs["type"] = type(get_args(tp)[0])
        elif f.metadata.get("size"):
            kwargs["type"] = _parse_size
            if get_origin(tp) in (tuple, list) and get_args(tp) and get_origin(get_args(tp)[0]) is tuple:
                kwargs["nargs"] = "+"
        elif get_origin(tp) in (tuple, list):
            item = get_args(tp)[0]
            kwargs["type"] = item
            kwargs["nargs"] = "+"
        elif tp in (int, float, str):
            kwargs["type"] = tp
        else:
            kwargs["type"] = str
        shown = _show_default(default)
        parser.add_argument(
            flag_of(f), metavar=f.metadata.get("metavar"),
            help=help_text if states_default else f"{help_text} (default: {shown})", **kwargs
        )
        _add_aliases(parser, f, **kwargs)


def _show_default(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, (list, tuple)):
        return " ".join(_show_default(v) for v in value) or "none"
    return "none" if value is None else str(value)


def config_from_args(config_type: type[T], namespace: argparse.Namespace, **overrides: Any) -> T:
    names = {f.name for f in dataclasses.fields(config_type)}  # type: ignore[arg-type]
    values = {k: v for k, v in vars(namespace).items() if k in names}
    values.update(overrides)
    for f in dataclasses.fields(config_type):  # type: ignore[arg-type]
        if isinstance(values.get(f.name), list) and f.default is not dataclasses.MISSING and isinstance(f.default, tuple):
            values[f.name] = tuple(values[f.name])
        value = values.get(f.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, float) and not math.isfinite(item):  # argparse's float() takes "nan" and "inf"
                raise UserError(f"{flag_of(f)} {item}: must be a finite number")
    return config_type(**values)


def read_toml(path: Path, label: str, missing_hint: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing file or one that is not TOML (or not text) is one line naming it."""
    import tomllib

    if not path.is_file():
        raise UserError(f"{label}{path}: no such file; {missing_hint}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{label}{path}: invalid TOML ({exc})") from None
