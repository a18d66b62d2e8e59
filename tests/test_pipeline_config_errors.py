"""Bad pipeline configs are one `error:` line naming the file, section and key, before any work starts."""

import pytest

from animegan_deploy.cli import main

from pipeline_helpers import QUICK as QUICK_PATH

QUICK = str(QUICK_PATH)


@pytest.mark.parametrize("extra, words", [
    (["--set", "prune.treshold=0.01"], ["[prune]", "treshold", "threshold"]),
    (["--set", "quantize.method=kl"], ["[quantize]", "method", "percentile"]),
    (["--set", "quantize.percentile=120"], ["[quantize]", "percentile"]),
    (["--set", "data.size=63"], ["[data] size 63", "multiple of 4"]),
    (["--set", "distill.steps=0"], ["[distill]", "steps"]),
    (["--set", "distill.steps=\"many\""], ["[distill] steps", "whole number"]),
    (["--set", "export.formats=[\"onnx\", \"coreml\"]"], ["[export] formats", "coreml"]),
    (["--set", "export.formats=[\"onnx-int8\"]"], ["onnx-int8", "[quantize]"]),
    (["--set", "bogus.key=1"], ["unknown section [bogus]"]),
    (["--set", "noequals"], ["--set noequals", "SECTION.KEY=VALUE"]),
    (["--set", "prune.enabled=false"], ["[distill]", "pruned", "width"]),
    (["--set", "distill.student=\"tiny\""], ["[distill]", "student", "width:W"]),
    (["--set", "data.eval_dir=\"/no/such/photos\""], ["[data] eval_dir", "/no/such/photos"]),
    (["--set", "source.weights=\"/no/such.pt\""], ["/no/such.pt"]),
    (["--from", "compile"], ["--from/--until compile", "train, prune, distill, student, export, quantize, benchmark, gate"]),
    (["--until", "train"], ["--until train", "not enabled"]),
    (["--from", "export", "--until", "prune"], ["--until prune comes before --from export"]),
])
def test_bad_setting_is_one_error_line(tmp_path, capsys, extra, words):
    out = tmp_path / "out"
    code = main(["pipeline", "run", QUICK, "-o", str(out), "--quiet", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("error:"), err
    for word in words:
        assert word in err[0], (word, err[0])
    assert "Traceback" not in err[0]
    assert not (out / "prune").exists()  # no stage started


def test_missing_or_broken_config_file(tmp_path, capsys):
    assert main(["pipeline", "run", str(tmp_path / "none.toml")]) == 2
    assert "no such file; see pipelines/" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[prune\nthreshold = ")
    assert main(["pipeline", "run", str(broken)]) == 2
    assert "invalid TOML" in capsys.readouterr().err


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert main(["pipeline", "run", QUICK, "-o", str(target), "--quiet"]) == 2
    assert "a file is there" in capsys.readouterr().err and target.read_text() == "keep me"


def test_dry_run_writes_nothing_and_lists_the_stages(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["pipeline", "run", QUICK, "-o", str(out), "--dry-run", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert not out.exists()
    for stage in ("prune: would run", "distill: would run", "quantize: would run", "benchmark: would run"):
        assert stage in text
