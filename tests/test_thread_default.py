"""ANIMEGAN_THREADS: the thread count every runtime takes when a command is not given --threads (jobs side by side,
the test workers of make test); a bad value is one error line naming the variable."""

import torch

from animegan_deploy.backends.onnxruntime_backend import OnnxRuntimeRunner
from animegan_deploy.cli import main
from animegan_deploy.threads import ENV, cpu_threads


def test_onnxruntime_sessions_take_the_set_count_unless_told(monkeypatch, tiny_int8):
    fp32, _ = tiny_int8
    monkeypatch.setenv(ENV, "1")
    assert OnnxRuntimeRunner(fp32).session.get_session_options().intra_op_num_threads == 1
    assert OnnxRuntimeRunner(fp32, threads=3).session.get_session_options().intra_op_num_threads == 3
    monkeypatch.delenv(ENV)
    assert cpu_threads(None) is None  # unset: ONNX Runtime's own choice (0: every core)
    assert OnnxRuntimeRunner(fp32).session.get_session_options().intra_op_num_threads == 0


def test_a_command_caps_torch_at_the_set_count(monkeypatch, tmp_path, tiny_checkpoint):
    before = torch.get_num_threads()
    monkeypatch.setenv(ENV, "1")
    try:
        assert main(["stylize", "-w", str(tiny_checkpoint), str(tmp_path / "none.png")]) != 0  # the file is missing
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_bad_count_is_one_error_line(monkeypatch, tmp_path, tiny_checkpoint, capsys):
    for value in ("0", "two"):
        monkeypatch.setenv(ENV, value)
        assert main(["export", "onnx", "-w", str(tiny_checkpoint), "-o", str(tmp_path / "m.onnx")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: {ENV}={value!r}: must be a whole number of threads >= 1; unset it to let each "
                       "runtime choose"]
    assert not (tmp_path / "m.onnx").exists()
