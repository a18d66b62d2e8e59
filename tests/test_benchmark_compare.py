"""`animegan benchmark --compare OLD.json`: slower (by same-run speedup), less faithful or broken rows are listed."""

from __future__ import annotations

import json

import pytest

from animegan_deploy.benchmarks.report import compare_results
from animegan_deploy.errors import UserError


def _row(variant, fps, speedup, psnr, status="ok"):
    return {"variant": variant, "backend": "onnxruntime", "where": "local", "size": 256, "threads": 2,
            "status": status, "reason": "" if status == "ok" else "boom", "fps": fps,
            "speedup_vs_original": speedup, "psnr_db": psnr}


def test_regressions_are_found_and_noise_is_not(tmp_path):
    old = [_row("original", 0.50, 1.0, None), _row("int8", 0.60, 1.20, 36.0), _row("fp16", 0.45, 0.90, 60.0),
           _row("pruned", 1.00, 2.00, 31.0)]
    (tmp_path / "old.json").write_text(json.dumps({"rows": old}))
    new = [_row("original", 0.40, 1.0, None),  # machine 20% slower overall: the original's fps regresses ...
           _row("int8", 0.48, 1.20, 35.8),  # ... but int8 keeps its speedup and PSNR within 0.5 dB: fine
           _row("fp16", 0.30, 0.75, 60.0),  # speedup 0.90 -> 0.75: a regression
           _row("pruned", None, None, None, status="failed"),  # stopped working
           _row("new-variant", 1.0, 2.0, 30.0)]  # not in the old run: nothing to compare
    found = compare_results(tmp_path / "old.json", new)
    assert len(found) == 3
    assert found[0].startswith("original") and "0.500 -> 0.400" in found[0]
    assert found[1].startswith("fp16") and "speedup_vs_original 0.900 -> 0.750" in found[1]
    assert found[2].startswith("pruned") and "now failed" in found[2]


def test_psnr_drop_over_half_a_db_is_a_regression(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"rows": [_row("int8", 0.6, 1.2, 36.0)]}))
    assert compare_results(tmp_path / "old.json", [_row("int8", 0.6, 1.2, 35.4)]) == [
        "int8 (onnxruntime, local, 256px, 2 threads): PSNR 36.00 -> 35.40 dB"]


def test_not_a_benchmark_json_is_a_user_error(tmp_path):
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="bad.json"):
        compare_results(tmp_path / "bad.json", [])
