"""One torch.onnx trace per architecture and export form in a process; other weights are written into it.

The dynamo exporter spends about 13 s tracing the full-width generator on 2 cores (4 s at width 0.25), and the
graph it makes depends on the architecture and the export form, not on the weights. One `export onnx-int8` that
chooses its settings traces the equalized and the plain graph of one checkpoint; a zoo's members, the FP16 file of
a checkpoint traced for FP32 and a test session trace the same architecture again and again.

The graph is traced once from a probe: a copy of the model whose every floating-point tensor holds distinct random
values, so that each initializer the exporter made from a tensor is found by its values, whether kept as it is or
reshaped (the norms' scale/shift become (C, 1, 1) constants). Another model of the same architecture gets the graph
with its own tensors written into those initializers. What the exporter computed from the tensors in other ways is
not found; the caller's validation against torch then fails and :func:`forget` sends the architecture back to
plain tracing.

The probe graph is also kept on disk (``$ANIMEGAN_CACHE/traces``, ``ANIMEGAN_TRACE_CACHE=off`` to skip it), keyed by
the architecture, the export form, the torch/onnx versions and the code that draws the graph (models/ and the
exporter), so the next process (`animegan export onnx`, then `export onnx-int8`, `export tflite`, `benchmark`, a
pipeline run) takes it in a fraction of a second. It holds random probe values only, never a user's weights; every
graph written from it is validated against torch like any other (a failure forgets the stored one too).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from animegan_deploy.memo import Memo, content_key

# export settings that shape the traced graph; the others (precision, simplification, validation, equalization)
# apply to the model or to the graph after tracing
TRACE_FIELDS = ("opset", "norm", "affine", "staged_mean", "dynamic", "size", "align_corners")


@dataclass(frozen=True)
class Graph:
    """A traced graph and, per initializer made from a model tensor, that tensor's state_dict name."""

    proto: onnx.ModelProto
    sources: dict[str, str]


_GRAPHS: Memo[Graph | None] = Memo(limit=8)  # None: this architecture's graph cannot take other weights


def graph_key(model: torch.nn.Module, config) -> str:
    """The architecture (module tree, tensor names and shapes) and the export settings that shape the trace."""
    tensors = [(name, list(t.shape), str(t.dtype)) for name, t in model.state_dict().items()]
    form = {f.name: getattr(config, f.name) for f in fields(config) if f.name in TRACE_FIELDS}
    return content_key("onnx-graph", torch.__version__, repr(model), tensors, form)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def _probe_graph(model: torch.nn.Module, config, trace) -> Graph:
    probe = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(0)
    names_by_values: dict[str, str] = {}
    with torch.no_grad():
        for name, tensor in probe.state_dict().items():  # shares storage with the probe's parameters and buffers
            if tensor.is_floating_point() and tensor.numel():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)  # positive: variances stay valid
                names_by_values[_digest(tensor.numpy())] = name
    proto = trace(probe, config)
    sources = {}
    for init in proto.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype.kind == "f" and values.size:
            name = names_by_values.get(_digest(values))
            if name is not None:
                sources[init.name] = name
    return Graph(proto, sources)


def _with_weights(graph: Graph, model: torch.nn.Module) -> onnx.ModelProto:
    state = model.state_dict()
    proto = onnx.ModelProto()
    proto.CopyFrom(graph.proto)
    for init in proto.graph.initializer:
        name = graph.sources.get(init.name)
        if name is not None:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
            values = state[name].detach().cpu().numpy().astype(dtype).reshape(tuple(init.dims))
            init.CopyFrom(numpy_helper.from_array(values, init.name))
    return proto


def _stored_path(key: str) -> Path | None:
    """Where the probe graph of ``key`` is kept between processes (None: not kept)."""
    if os.environ.get("ANIMEGAN_TRACE_CACHE", "").strip().lower() in ("0", "off", "no", "false"):
        return None
    from animegan_deploy.models.hub import cache_dir

    name = hashlib.sha256(f"{key}:{_code_version()}".encode()).hexdigest()[:32]
    try:
        return cache_dir() / "traces" / f"{name}.onnx"
    except RuntimeError:  # no home folder to find the cache in: nothing is kept
        return None


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    """The onnx and onnxscript versions (torch's is in the graph key) and the source of what draws the graph: the
    model code and the exporter."""
    from importlib.metadata import PackageNotFoundError, version

    from animegan_deploy import models

    try:
        onnxscript = version("onnxscript")
    except PackageNotFoundError:
        onnxscript = "none"
    files = sorted(Path(models.__file__).parent.glob("*.py")) + [Path(__file__), Path(__file__).with_name(
        "onnx_export.py")]
    digest = hashlib.sha256(f"{onnx.__version__} {onnxscript}".encode())
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _load_stored(key: str) -> Graph | None:
    """The probe graph another process kept for ``key``; None where there is none or it cannot be read (a damaged
    or half-written entry is traced again, never trusted)."""
    path = _stored_path(key)
    try:
        if path is None or not path.is_file():
            return None
        sources = json.loads(path.with_suffix(".json").read_text())["sources"]
        proto = onnx.load_from_string(path.read_bytes())
        names = {init.name for init in proto.graph.initializer}
        if not isinstance(sources, dict) or not set(sources) <= names:
            return None
        return Graph(proto, {str(k): str(v) for k, v in sources.items()})
    except (OSError, ValueError, KeyError, TypeError, DecodeError):
        return None


def _store(key: str, graph: Graph) -> None:
    """Keep ``graph`` for the next process; a cache that cannot be written (read-only, full) only costs speed."""
    from animegan_deploy.atomic import atomic_path

    path = _stored_path(key)
    if path is None:
        return
    try:
        with atomic_path(path, own=True) as tmp:
            tmp.write_bytes(graph.proto.SerializeToString())
        with atomic_path(path.with_suffix(".json"), own=True) as tmp:  # written last: the entry is complete
            tmp.write_text(json.dumps({"sources": graph.sources}))
    except OSError:
        pass


def _drop_stored(key: str) -> None:
    path = _stored_path(key)
    if path is not None:
        for stale in (path.with_suffix(".json"), path):
            try:
                stale.unlink(missing_ok=True)
            except OSError:
                pass


def traced(model: torch.nn.Module, config, trace) -> tuple[onnx.ModelProto, bool]:
    """``trace(model, config)``'s graph: the probe's graph of this architecture (traced now if neither this process
    nor the disk cache has it) with ``model``'s tensors written in. Returns (graph, written): a written graph must be
    validated against torch, and :func:`forget` called where it fails."""
    key = graph_key(model, config)
    if key not in _GRAPHS:
        graph = _load_stored(key)
        if graph is None:
            graph = _probe_graph(model, config, trace)
            _store(key, graph)
        _GRAPHS.put(key, graph)
    graph = _GRAPHS.get(key)
    if graph is None:
        return trace(model, config), False
    return _with_weights(graph, model), True


def forget(model: torch.nn.Module, config) -> None:
    """This architecture's graph did not take another model's weights: trace it plainly from now on in this
    process, and drop the stored probe graph (a later process probes afresh)."""
    key = graph_key(model, config)
    _GRAPHS.put(key, None)
    _drop_stored(key)
