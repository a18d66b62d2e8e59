"""User-facing errors: one line that names the file or argument and the fix, and a non-zero exit."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (bad path, wrong file, bad option). Printed as one line, exit code 2."""

    exit_code = 2


def failure_reason(exc: BaseException) -> str:
    """An unexpected exception as one line for a report row or message: its type and the first line of its text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


class MissingDependencyError(UserError):
    """An optional backend or tool is not installed here (e.g. TensorRT without a GPU)."""

    exit_code = 3
