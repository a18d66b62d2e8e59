"""The pipeline's record and reports: ``pipeline.json``, ``report.md`` and a self-contained ``report.html``
(stage timeline, benchmark table, fps-vs-PSNR plot, each variant's output beside the original with an error
heat map; every image inlined, so the file can be mailed or attached to a CI run)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from animegan_deploy import __version__
from animegan_deploy.atomic import atomic_write_json, atomic_write_text
from animegan_deploy.benchmarks.report import benchmark_lines, format_number as _num


def record(run: Any, config: Any) -> dict:
    stages = []
    for s in run.stages:
        entry = {"name": s.name, "status": s.status, "seconds": s.seconds,
                 "artifacts": [relative(p, run.out) for p in s.outputs.values()], "metrics": s.metrics, "reason": s.reason}
        if s.format:
            entry["format"] = s.format
        stages.append(entry)
    return {"tool": f"animegan-deploy {__version__}", "config": str(config.path), "settings": config.raw,
            "out": str(run.out), "seconds": run.seconds, "ok": run.ok, "machine": run.machine, "stages": stages,
            "benchmark": run.benchmark, "onnx_int8_vs_fp32_fps": int8_vs_fp32(run.benchmark), "gate": run.gate}


def int8_vs_fp32(rows: list[dict]) -> float | None:
    """fps of the run's INT8 ONNX over its FP32 ONNX (same model, same benchmark run): whether INT8 pays on this CPU
    (its int8 dot-product instructions are in ``machine``); None where either was not measured."""
    fps = {r["variant"]: r["fps"] for r in rows if r.get("status") == "ok" and r.get("fps")}
    return round(fps["onnx int8"] / fps["onnx fp32"], 3) if "onnx int8" in fps and "onnx fp32" in fps else None


def relative(path: Path | None, out: Path) -> str | None:
    """``path`` relative to the run folder (so a moved folder keeps its record), as given when outside it."""
    if path is None:
        return None
    try:
        return str(Path(path).relative_to(out))
    except ValueError:
        return str(path)


def write_reports(run: Any, config: Any) -> dict[str, Path]:
    data = record(run, config)
    return {"json": atomic_write_json(run.out / "pipeline.json", data),
            "md": atomic_write_text(run.out / "report.md", markdown(data)),
            "html": atomic_write_text(run.out / "report.html", html_report(data, run.out))}


def _stage_label(s: dict) -> str:
    return f"{s['name']} {s['format']}" if s.get("format") else s["name"]


def markdown(data: dict) -> str:
    m = data["machine"]
    lines = [f"# Pipeline `{Path(data['config']).name}`", "",
             f"{'OK' if data['ok'] else 'FAILED'} in {data['seconds']:.0f} s ({data['tool']}) on "
             f"{m.get('cpu', 'this machine')}; int8 dot product: {m.get('int8_dot_product') or 'none'}.", "",
             "| stage | status | seconds | notes |", "| --- | --- | ---: | --- |"]
    for s in data["stages"]:
        notes = s["reason"] or ", ".join(f"{k} {v}" for k, v in s["metrics"].items()
                                         if isinstance(v, (int, float, str)) and not isinstance(v, bool))
        lines.append(f"| {_stage_label(s)} | {s['status']} | {s['seconds']} | {notes} |")
    if data["benchmark"]:
        photos = next((r["photos"] for r in data["benchmark"] if r.get("photos")), None)
        lines += ["", f"## Benchmark (vs the FP32 original, one interleaved run; fidelity on {photos} evaluation "
                  "photos)", ""] + benchmark_lines(data["benchmark"])
        if data.get("onnx_int8_vs_fp32_fps") is not None:
            lines += ["", f"INT8 / FP32 ONNX Runtime fps of the final model, same run: {data['onnx_int8_vs_fp32_fps']}x "
                      f"(int8 dot product: {m.get('int8_dot_product') or 'none'})."]
    if data["gate"]:
        lines += ["", f"## Gate: {'passed' if data['gate']['passed'] else 'FAILED'}", "",
                  "| what | precision | PSNR dB | SSIM | floor | vs | |", "| --- | --- | ---: | ---: | --- | --- | --- |"]
        lines += [f"| {c['what']} | {c['precision']} | {c['psnr_db']} | {c['ssim']} | {c['min_psnr']} dB / "
                  f"{c['min_ssim']} | {c['vs']} | {'ok' if c['passed'] else 'BELOW'} |" for c in data["gate"]["checks"]]
    return "\n".join(lines) + "\n"


def _img(path: Path, alt: str) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
img{max-width:100%}table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#176317}.bad{color:#b00020;font-weight:600}
.bar{height:14px;background:#4a78c2;display:inline-block;vertical-align:middle}
.cached{background:#9bb7e3}.failed{background:#b00020}.unavailable{background:#bbb}
.grid{display:grid;gap:6px;align-items:start}.grid img{width:160px;height:160px;max-width:none;image-rendering:pixelated}
.grid div{font-size:12px;text-align:center}
"""

CHECK_SCRIPT = """
window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.imagesDecoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
});
"""


def html_report(data: dict, out: Path) -> str:
    e = html.escape
    m = data["machine"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Pipeline {e(Path(data['config']).name)}</title>",
             f"<style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head><body>",
             f"<h1>Pipeline <code>{e(Path(data['config']).name)}</code>: "
             f"<span class='{'ok' if data['ok'] else 'bad'}'>{'OK' if data['ok'] else 'FAILED'}</span></h1>",
             f"<p>{data['seconds']:.0f} s, {e(data['tool'])}, {e(str(m.get('cpu', 'this machine')))}; int8 dot "
             f"product: {e(str(m.get('int8_dot_product') or 'none'))}.</p>", "<h2>Stages</h2><table id='stages'>",
             "<tr><th>stage</th><th>status</th><th>seconds</th><th>timeline</th><th>notes</th></tr>"]
    longest = max([s["seconds"] for s in data["stages"]] + [1e-9])
    for s in data["stages"]:
        width = max(2, int(400 * s["seconds"] / longest)) if s["seconds"] else 2
        notes = s["reason"] or ", ".join(f"{k} {v}" for k, v in s["metrics"].items()
                                         if isinstance(v, (int, float, str)) and not isinstance(v, bool))
        parts.append(f"<tr><td>{e(_stage_label(s))}</td><td class='{'bad' if s['status'] == 'failed' else ''}'>"
                     f"{e(s['status'])}</td><td>{s['seconds']}</td><td style='text-align:left'><span class='bar "
                     f"{e(s['status'])}' style='width:{width}px'></span></td><td style='text-align:left'>{e(notes)}</td></tr>")
    parts.append("</table>")
    if data["benchmark"]:
        parts.append("<h2>Benchmark</h2><p>fps and speedup vs the FP32 original measured in one interleaved run; "
                     "PSNR/SSIM vs the original on the evaluation photos (worst photo in brackets).</p>"
                     "<table id='benchmark'><tr><th>variant</th><th>backend</th><th>precision</th><th>fps</th>"
                     "<th>speedup</th><th>PSNR dB (worst)</th><th>SSIM</th><th>MB</th><th>GMACs</th></tr>")
        for r in data["benchmark"]:
            if r["status"] != "ok":
                parts.append(f"<tr><td>{e(r['variant'])}</td><td>{e(str(r['backend']))}</td><td>{e(r['precision'])}"
                             f"</td><td colspan='6' style='text-align:left'>{e(r['status'])}: {e(r['reason'] or '')}</td></tr>")
                continue
            psnr = "identical" if r["psnr_db"] is None else f"{r['psnr_db']:.2f} ({_num(r['psnr_min_db'])})"
            parts.append(f"<tr><td>{e(r['variant'])}</td><td>{e(r['backend'])}</td><td>{e(r['precision'])}</td>"
                         f"<td>{_num(r['fps'])}</td><td>{_num(r['speedup'])}</td><td>{psnr}</td>"
                         f"<td>{_num(r['ssim'], '{:.4f}')}</td><td>{_num(r['size_mb'])}</td><td>{_num(r['gmacs'])}</td></tr>")
        parts.append("</table>")
        plot = out / "benchmark" / "benchmark.png"
        if plot.is_file():
            parts.append("<h2>fps vs PSNR</h2>" + _img(plot, "fps vs PSNR of every variant"))
    if data["gate"]:
        parts.append(f"<h2>Gate: <span class='{'ok' if data['gate']['passed'] else 'bad'}'>"
                     f"{'passed' if data['gate']['passed'] else 'FAILED'}</span></h2><table id='gate'>"
                     "<tr><th>what</th><th>precision</th><th>PSNR dB</th><th>SSIM</th><th>floor</th><th>vs</th><th></th></tr>")
        for c in data["gate"]["checks"]:
            parts.append(f"<tr><td>{e(c['what'])}</td><td>{e(c['precision'])}</td><td>{c['psnr_db']}</td>"
                         f"<td>{c['ssim']}</td><td>{c['min_psnr']} dB / {c['min_ssim']}</td><td>{e(c['vs'])}</td>"
                         f"<td class='{'ok' if c['passed'] else 'bad'}'>{'ok' if c['passed'] else 'BELOW'}</td></tr>")
        parts.append("</table>")
    parts += _samples(out / "benchmark" / "samples", [r["variant"].replace(" ", "-") for r in data["benchmark"]])
    parts.append("</body></html>")
    return "\n".join(parts)


def _samples(folder: Path, order: list[str]) -> list[str]:
    """Per evaluation photo: input, original output, then each variant's output over its error heat map."""
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.png"))
    photos = sorted({f.name.split("__")[0] for f in files})
    found = {f.stem.split("__")[1] for f in files if f.stem.count("__") == 1} - {"input", "original"}
    variants = [v for v in order if v in found] + sorted(found - set(order))  # the benchmark's order
    if not photos:
        return []
    parts = ["<h2>Outputs</h2><p>Each variant's output on evaluation photos beside the FP32 original's, with a heat "
             "map of |variant - original| (mean over channels; black 0, yellow 32 levels of 255 or more).</p>"]
    columns = 2 + len(variants)
    for photo in photos:
        parts.append(f"<h3>{html.escape(photo)}</h3><div class='grid' style='grid-template-columns:repeat({columns},"
                     "170px)'>")
        for label, name in [("input", "input"), ("original (FP32)", "original")] + [(v.replace("-", " "), v)
                                                                                     for v in variants]:
            cell = folder / f"{photo}__{name}.png"
            error = folder / f"{photo}__{name}__error.png"
            if not cell.is_file():
                parts.append("<div></div>")
                continue
            body = _img(cell, f"{label} on {photo}") + (_img(error, f"error of {label} on {photo}")
                                                          if error.is_file() else "")
            parts.append(f"<div>{body}<br>{html.escape(label)}</div>")
        parts.append("</div>")
    return parts
