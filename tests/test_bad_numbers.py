"""Bad numbers are refused before any work: non-zero exit, one `error:` line naming the option, no traceback."""

import pytest

from animegan_deploy.cli import main

CASES = [
    (["distill", "width:0.25", "--checkpoint-every", "0"], "--checkpoint-every"),
    (["distill", "width:0", "--steps", "2"], "width"),
    (["distill", "width:0.25", "--crop", "0"], "--crop"),
    (["distill", "width:0.25", "--steps", "-5"], "--steps"),
    (["distill", "width:0.25", "--lr", "-1"], "--lr"),
    (["distill", "width:0.25", "--threads", "-1"], "--threads"),
    (["train", "--set", "run.log_every=0"], "run.log_every"),
    (["train", "--set", "run.sample_every=0"], "run.sample_every"),
    (["train", "--set", "model.width=-1"], "model.width"),
    (["train", "--set", "optim.init_lr=-1"], "optim.init_lr"),
    (["train", "--set", "loss.style=-2"], "loss.style"),
    (["prune", "--sparsity", "-1"], "--sparsity"),
    (["prune", "--sparsity-steps", "0", "--sparsity", "1e-4"], "--sparsity-steps"),
    (["check-fidelity", "x.onnx", "--size", "0"], "--size"),
    (["stylize", "x.png", "--threads", "-2"], "--threads"),
    (["stylize", "x.png", "--threads", "0"], "--threads"),
    (["export", "onnx", "--size", "7x7"], "7x7"),
    (["export", "onnx", "--size", "30"], "30x30"),
    (["student", "--width", "0"], "--width"),
    (["student", "--width", "1.5"], "--width"),
    (["student", "--target-gmacs", "-1"], "--target-gmacs"),
    (["student", "--crop", "30"], "--crop"),
    (["student", "--steps", "-1"], "--steps"),
    (["student-recipe", "--size", "10"], "--size"),
    (["student-recipe", "--eval-dir", "no/such/folder"], "--eval-dir"),
    (["student-recipe", "--repeats", "0"], "--repeats"),
]


@pytest.mark.parametrize("argv,names", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_number_is_one_error_line(argv, names, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written; outputs would land here
    code = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code != 0, captured
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], lines
    assert "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []
