"""Inference backends: one registry entry per runtime; every entry loads a file into a :class:`Runner`."""

from .registry import BACKENDS, Backend, Runner, backend_for_path, load_runner

__all__ = ["BACKENDS", "Backend", "Runner", "backend_for_path", "load_runner"]
