"""Turning a damaged or mismatched resume checkpoint into one line that says what to do."""

from __future__ import annotations

import contextlib
import json
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
        raise UserError(f"{path}: cannot resume from it: {reason}; pass --restart (or delete it) to start over") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if "size mismatch" in str(exc) or "Missing key" in str(exc) or "Unexpected key" in str(exc):
            reason = f"it is from another model or settings ({text}); check {settings}"
        else:
            reason = f"it is damaged or truncated ({type(exc).__name__}: {text})"
        raise UserError(f"{path}: cannot resume from it: {reason}; pass --restart (or delete it) to start over") from None


def changed_settings(saved: dict, current: dict, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Dotted names of the settings whose values differ between a run's saved settings and the current ones
    (nested dicts are walked; a name in ``ignore``, or under one, is a setting a resumed run may change)."""
    def flat(d: dict, prefix: str = "") -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    a, b = (flat(json.loads(json.dumps(d, default=str))) for d in (saved, current))  # tuples and lists alike
    kept = lambda name: not any(name == i or name.startswith(i + ".") for i in ignore)  # noqa: E731
    return sorted(n for n in set(a) | set(b) if kept(n) and a.get(n) != b.get(n))


def check_same_settings(checkpoint: Path, saved: dict | None, current: dict, ignore: frozenset[str],
                        elsewhere: str, unrecorded: dict | None = None) -> None:
    """An interrupted run is continued only with the settings it was started with: a UserError naming the
    checkpoint, what changed and the two ways out (``--restart``, or ``elsewhere``) otherwise. ``saved`` None: a run
    that recorded no settings (older versions), continued as before.

    ``unrecorded``: what a setting added since the run's version was, for that version (the one rule for every kind
    of run that resumes: a training run's keys take the TrainConfig defaults, which are the older behaviour; a
    student narrowed before ``norm`` existed was BatchNorm); a setting it names is compared as that value, one it
    does not name as unset, which any value changes."""
    if saved is None:
        return
    if unrecorded:
        saved = _under(unrecorded, saved)
    changed = changed_settings(saved, current, ignore)
    if changed:
        shown = ", ".join(f"{n} ({_value(saved, n)} -> {_value(current, n)})" for n in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise UserError(f"{checkpoint}: an interrupted run with other settings is here ({shown}{more}); pass "
                        f"--restart to discard it and start over, or choose {elsewhere}")


def _under(base: dict, saved: dict) -> dict:
    """``saved`` over ``base``, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in saved.items():
        merged[key] = _under(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def _value(d: dict, dotted: str) -> object:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return "unset"
        d = d[part]
    return d
