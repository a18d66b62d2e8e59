"""Functions named as ``"package.module:function"`` in the project's tables (export targets, backends), imported
only when first called, so that reading a table imports nothing heavy (torch, TensorFlow, TensorRT)."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def resolve(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    """``"package.module:function"`` imported now, or a callable as it is."""
    if callable(ref):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
