"""The probe graph of an architecture is kept on disk ($ANIMEGAN_CACHE/traces): the next process writes its
checkpoint into it instead of tracing again, the same bytes as a process that traced; a damaged entry is traced
again and replaced, never trusted; ANIMEGAN_TRACE_CACHE=off keeps nothing."""

import json
import os
import subprocess
import sys

from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx
from animegan_deploy.models.checkpoints import save_checkpoint

from conftest import randomized_generator

CONFIG = OnnxExportConfig(validate_sizes=((32, 32),))
# exports the checkpoint in a new process and says how many times it traced
SCRIPT = """
import sys
from animegan_deploy.export import onnx_export
calls = []
plain = onnx_export.trace_to_onnx
onnx_export.trace_to_onnx = lambda *a, **k: calls.append(1) or plain(*a, **k)
onnx_export.export_onnx(sys.argv[1], onnx_export.OnnxExportConfig(validate_sizes=((32, 32),)), sys.argv[2])
print(len(calls))
"""


def _export_in_new_process(checkpoint, output, cache) -> int:
    env = {**os.environ, "ANIMEGAN_CACHE": str(cache), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(checkpoint), str(output)], env=env, check=True,
                          capture_output=True, text=True)
    return int(done.stdout.split()[-1])


def test_the_next_process_takes_the_stored_graph(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ANIMEGAN_CACHE", str(cache))
    # a width no other test exports, so this process has not traced it yet
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    save_checkpoint(randomized_generator(width=0.1875, seed=1), first, style="test")
    save_checkpoint(randomized_generator(width=0.1875, seed=2), second, style="test")
    export_onnx(first, CONFIG, tmp_path / "first.onnx")
    (graph,) = (cache / "traces").glob("*.onnx")
    sources = json.loads(graph.with_suffix(".json").read_text())["sources"]
    assert len(sources) > 20  # every conv weight and norm scale/shift found by its values
    stamp = graph.stat().st_ino, graph.stat().st_mtime_ns

    here = export_onnx(second, CONFIG, tmp_path / "here.onnx").path.read_bytes()
    assert _export_in_new_process(second, tmp_path / "there.onnx", cache) == 0  # no trace: the stored graph
    assert (tmp_path / "there.onnx").read_bytes() == here
    assert (graph.stat().st_ino, graph.stat().st_mtime_ns) == stamp  # read, not written again

    graph.write_bytes(graph.read_bytes()[:1000])  # damaged (a full disk, a killed writer of another version)
    assert _export_in_new_process(second, tmp_path / "again.onnx", cache) == 1  # traced again
    assert (tmp_path / "again.onnx").read_bytes() == here
    assert graph.stat().st_size > 1000  # and stored whole again


def test_off_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ANIMEGAN_TRACE_CACHE", "off")
    checkpoint = tmp_path / "g.safetensors"
    save_checkpoint(randomized_generator(width=0.3125, seed=3), checkpoint, style="test")
    export_onnx(checkpoint, CONFIG, tmp_path / "g.onnx")
    assert not (tmp_path / "cache").exists()
