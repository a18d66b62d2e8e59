"""Turning a damaged or mismatched resume checkpoint into one line that says what to do."""

from __future__ import annotations

import contextlib
import pickle
import zipfile
from pathlib import Path
from typing import Iterator

from .errors import UserError


@contextlib.contextmanager
def resume_errors(path: Path, settings: str) -> Iterator[None]:
    """Errors while loading a resume checkpoint (truncated, empty, not a checkpoint, from another model size)
    become a UserError naming the file and the way out."""
    try:
        yield
    except UserError:
        raise
    except pickle.UnpicklingError as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else ""
        reason = "holds objects other than tensors (refused, nothing was run)" if "weights_only" in str(exc) \
            else f"not a readable checkpoint ({text})"
        raise UserError(f"{path}: cannot resume from it: {reason}; delete it to start over") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if "size mismatch" in str(exc) or "Missing key" in str(exc) or "Unexpected key" in str(exc):
            reason = f"it is from another model or settings ({text}); check {settings}"
        else:
            reason = f"it is damaged or truncated ({type(exc).__name__}: {text})"
        raise UserError(f"{path}: cannot resume from it: {reason}; delete it to start over") from None
