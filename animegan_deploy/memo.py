"""Work done once per process and found again by content: the FP32 graph traced from a checkpoint
(export/onnx_export.py), a graph's calibration statistics over a photo set (compress/quantize.py), onnx2tf's
conversion of a graph and TensorFlow's calibration of a float TFLite file (export/tflite*.py), and the FP32 torch
model's output per photo (compress/measurements.checkpoint_reference).

One benchmark run, one `export onnx-int8` that chooses its settings, or one test session builds several INT8
files of one model (placements, methods, equalized and plain graphs); each used to trace the FP32 graph again
(about 14 s with torch's dynamo exporter) and run its calibration pass again (about 17 s at 256 px on 2 cores).
The keys are content digests (the checkpoint's and the photos' bytes, the canonical config), never paths: a file
changed in place is a new key. The tables are bounded (least recently used out), and nothing is kept on disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from typing import Any, Callable, Generic, Hashable, TypeVar

import numpy as np

Value = TypeVar("Value")


def content_key(*parts: Any) -> str:
    """A digest of ``parts``: JSON-able values, dataclasses (by their fields) and numpy arrays (by dtype, shape and
    bytes)."""
    digest = hashlib.sha256()

    def plain(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return {"array": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                    "dtype": str(value.dtype), "shape": list(value.shape)}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {type(value).__name__: plain(dataclasses.asdict(value))}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)

    digest.update(json.dumps(plain(list(parts)), sort_keys=True).encode())
    return digest.hexdigest()


class Memo(Generic[Value]):
    """A bounded table of results by key; the least recently used entry leaves first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, Value] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> Value | None:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: Value) -> Value:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], Value]) -> Value:
        found = self.get(key)
        return found if found is not None else self.put(key, make())
