"""report.html is self-contained and renders: headless Chromium (Debian's chromium package) decodes every
inlined image, shows the stage table, the benchmark table and the outputs; its screenshot is kept for a look."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from animegan_deploy.cli import main
from pipeline_helpers import public_pt, quick_argv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory, photo_folders):
    root = tmp_path_factory.mktemp("html")
    out = root / "out"
    # no TFLite here (test_pipeline_run covers it): the report's shape is the same with fewer variants
    argv = quick_argv(public_pt(root), photo_folders, out, "--set", "export.formats=[\"onnx\"]",
                      "--set", "gate.int8_min_psnr=99")
    assert main(argv) == 1  # the gate fails (floor 99 dB) and the report is still written
    return out


def test_failed_gate_still_writes_every_report(report):
    record = json.loads((report / "pipeline.json").read_text())
    assert record["ok"] is False and record["gate"]["passed"] is False
    gate = next(s for s in record["stages"] if s["name"] == "gate")
    assert gate["status"] == "failed" and "below 99" in gate["reason"]
    assert "## Gate: FAILED" in (report / "report.md").read_text()


def test_html_is_self_contained(report):
    html = (report / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", html), "every resource must be inlined"
    for variant in ("pruned", "distilled", "onnx fp32", "onnx int8"):
        assert f"<td>{variant}</td>" in html


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_chromium_renders_every_image(report, tmp_path):
    page = (report / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--virtual-time-budget=5000", "--dump-dom", page], capture_output=True,
                         text=True, timeout=120).stdout
    found = re.search(r'data-images="(\d+)" data-images-decoded="(\d+)"', dom)
    assert found, dom[:500]
    total, decoded = map(int, found.groups())
    assert total >= 2 + 2 * 2 * 4 + 1 and decoded == total  # inputs, originals, 4 variants x 2 images, the plot
    shot = report / "report.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,2400", f"--screenshot={shot}", page], capture_output=True,
                   timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2400, 1280)
    # a rendered report, not a blank page: text, bars and pictures give many distinct colours
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 2000
