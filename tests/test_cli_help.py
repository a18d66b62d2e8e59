"""`animegan --help` and every subcommand's --help describe every option."""

import argparse

import pytest

from animegan_deploy.cli import build_parser, main


def subparsers(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from subparsers(sub, prefix + (name,))


def test_every_option_of_every_command_has_help_text():
    parser = build_parser()
    commands = dict(subparsers(parser))
    assert {("stylize",), ("convert",), ("export",), ("export", "onnx")} <= set(commands)
    for path, sub in commands.items():
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and len(action.help) > 10, (path, action.dest)


@pytest.mark.parametrize("argv", [["--help"], ["stylize", "--help"], ["export", "onnx", "--help"], ["convert", "--help"]])
def test_help_exits_zero_and_lists_options(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: animegan" in text
    if argv == ["stylize", "--help"]:
        for flag in ("--size", "--batch-size", "--device", "--backend", "--weights", "--output", "--threads"):
            assert flag in text
    if argv == ["export", "onnx", "--help"]:
        for flag in ("--opset", "--norm", "--dynamic", "--validate-sizes", "--tolerance", "--simplify"):
            assert flag in text


def test_every_subcommand_help_renders(capsys):
    """argparse formats help with %: an unescaped percent sign in any option's text breaks that --help."""
    for path, _ in subparsers(build_parser()):
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0, path
        assert "usage: animegan " + " ".join(path) in capsys.readouterr().out
