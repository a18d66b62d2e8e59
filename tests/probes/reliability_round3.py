"""Adversarial probe of the reliability issue (round 3): cases not in tests/test_bad_input_corpus.py, run as a user
would (the installed `animegan` command, one process per case), each judged on: the exit code expected, no
traceback, no "failed unexpectedly", one `error:` line for a refused input, every fixture file unchanged, nothing
temporary left in the output place, every JSON written strict. Writes reports/reliability/probe-round3.md.

    .venv/bin/python tests/probes/reliability_round3.py [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ANIMEGAN = str(Path(sys.executable).with_name("animegan"))
DEMO = ROOT / "models" / "weights" / "animegan_demo.safetensors"
QUICK = ROOT / "pipelines" / "quick.toml"


def fixtures(fx: Path) -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    photos = fx / "photos"
    photos.mkdir(parents=True)
    for i in range(3):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(photos / f"p{i}.png")
    Image.fromarray((rng.random((1, 1, 3)) * 255).astype(np.uint8)).save(fx / "one_pixel.png")
    Image.fromarray((rng.random((1, 200)) * 65535).astype(np.uint16)).save(fx / "thin16.png")
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(fx / "flat.png")
    frames = [Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)) for _ in range(3)]
    frames[0].save(fx / "animated.png.gif", save_all=True, append_images=frames[1:])
    shutil.copy(fx / "animated.png.gif", fx / "animated.png")
    (fx / "unicode dir é").mkdir()
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(fx / "unicode dir é" / "ph oto.png")
    (fx / "loop").mkdir()
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(fx / "loop" / "a.png")
    os.symlink(fx / "loop", fx / "loop" / "self")
    (fx / "afile").write_text("a file")
    os.symlink(fx / "afile", fx / "link_to_file")
    (fx / "empty.mp4").write_bytes(b"")
    (fx / "mixed").mkdir()
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(fx / "mixed" / "a.png")
    (fx / "mixed" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40)
    (fx / "zeros").mkdir()
    (fx / "zeros" / "z.png").write_bytes(b"")
    with safe_open(str(DEMO), framework="pt") as handle:
        meta, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    torch.save({k: v for k, v in tensors.items()}, fx / "demo_public.pt")
    wrong = dict(tensors)
    first = sorted(wrong)[0]
    wrong[first] = torch.zeros(3)
    save_file(wrong, str(fx / "wrong_shape.safetensors"), metadata=meta)
    first_conv = next(k for k in sorted(tensors) if tensors[k].dim() == 4)
    big = {k: (v * 3e38 if k == first_conv else v) for k, v in tensors.items()}
    save_file(big, str(fx / "overflow.safetensors"), metadata=meta)  # finite weights, outputs overflow to inf/NaN
    (fx / "weights_int.toml").write_text("[source]\nweights = 5\n")
    (fx / "th_neg.toml").write_text("[fp32]\nmin_psnr = -1.0\nmin_ssim = 0.5\n")
    (fx / "sidecar.json").write_text(json.dumps({"artifact": "x"}))
    (fx / "user_out").mkdir()
    (fx / "user_out" / "p0.png").write_bytes(b"the user's p0.png")
    (fx / "user_out" / "p1.png").write_bytes(b"the user's p1.png")


# (name, argv, expected: "error" | "ok", words the error line must hold)
CASES = [
    ("stylize a 1x1 picture at its own size", ["stylize", "{fx}/one_pixel.png", "--size", "0", "-o", "{o}"], "ok", []),
    ("stylize a 1x200 16-bit grayscale strip", ["stylize", "{fx}/thin16.png", "--size", "0", "-o", "{o}"], "ok", []),
    ("stylize an animated GIF named .png", ["stylize", "{fx}/animated.png", "-o", "{o}"], "ok", []),
    ("stylize a folder holding a symlink loop", ["stylize", "{fx}/loop", "-o", "{o}"], "ok", []),
    ("stylize from a folder with spaces and accents", ["stylize", "{fx}/unicode dir é", "-o", "{o}"], "ok", []),
    ("stylize into a symlink to a file", ["stylize", "{fx}/flat.png", "-o", "{fx}/link_to_file"], "error",
     ["link_to_file"]),
    ("stylize --output-format bmp", ["stylize", "{fx}/flat.png", "--output-format", "bmp", "-o", "{o}"], "error",
     ["--output-format"]),
    ("stylize --batch-size 0", ["stylize", "{fx}/flat.png", "--batch-size", "0", "-o", "{o}"], "error",
     ["--batch-size"]),
    ("stylize with a JSON file as weights", ["stylize", "{fx}/flat.png", "-w", "{fx}/sidecar.json", "-o", "{o}"],
     "error", ["sidecar.json"]),
    ("stylize with weights whose outputs overflow", ["stylize", "{fx}/flat.png", "-w", "{fx}/overflow.safetensors",
                                                     "-o", "{o}"], "error", ["overflow.safetensors", "NaN"]),
    ("stylize a folder over a user's same-named files", ["stylize", "{fx}/photos", "-o", "{fx}/user_out"], "error",
     ["p0.png", "--overwrite"]),
    ("stylize an empty video among images", ["stylize", "{fx}/flat.png", "{fx}/empty.mp4", "-o", "{o}"], "error",
     ["empty.mp4"]),
    ("stylize a folder with a broken clip", ["stylize", "{fx}/mixed", "-o", "{o}"], "error", ["clip.mp4"]),
    ("stylize twice into one folder (own outputs replaced)", ["stylize", "{fx}/photos", "-o", "{o}", "&&", "stylize",
                                                              "{fx}/photos", "-o", "{o}"], "ok", []),
    ("export onnx --size 0x0", ["export", "onnx", "--size", "0x0", "-o", "{o}.onnx"], "error", ["0x0"]),
    ("export onnx of a wrong-shaped checkpoint", ["export", "onnx", "-w", "{fx}/wrong_shape.safetensors", "-o",
                                                  "{o}.onnx"], "error", ["wrong_shape.safetensors"]),
    ("export onnx of outputs that overflow", ["export", "onnx", "-w", "{fx}/overflow.safetensors", "-o", "{o}.onnx"],
     "error", ["overflow.safetensors", "NaN"]),
    ("convert a public .pt onto a user's file", ["convert", "{fx}/demo_public.pt", "{fx}/user_out/p0.png"], "error",
     ["p0.png"]),
    ("prune --threshold nan", ["prune", "--threshold", "nan", "-o", "{o}.safetensors"], "error", ["--threshold"]),
    ("prune --threshold inf", ["prune", "--threshold", "inf", "-o", "{o}.safetensors"], "error", ["--threshold"]),
    ("distill width:nan", ["distill", "width:nan", "-o", "{o}.safetensors"], "error", ["width"]),
    ("distill width:inf", ["distill", "width:inf", "-o", "{o}.safetensors"], "error", ["width"]),
    ("student --width nan", ["student", "--width", "nan", "-o", "{o}.safetensors"], "error", ["--width"]),
    ("quantize with calibration photos that are all empty files",
     ["quantize", "{o}.onnx", "--calib-dir", "{fx}/zeros", "-o", "{o}.int8.onnx"], "error", ["z.png"]),
    ("check-fidelity of a garbage .tflite", ["check-fidelity", "{fx}/afile.tflite", "--reference", str(DEMO),
                                             "--precision", "int8"], "error", ["afile.tflite"]),
    ("check-fidelity --min-psnr nan", ["check-fidelity", "{o}.onnx", "--min-psnr", "nan"], "error", ["--min-psnr"]),
    ("check-fidelity --min-ssim 5", ["check-fidelity", "{o}.onnx", "--min-ssim", "5"], "error", ["--min-ssim"]),
    ("check-fidelity with a negative floor in --thresholds", ["check-fidelity", "{o}.onnx", "--precision", "fp32",
                                                              "--thresholds", "{fx}/th_neg.toml"], "error",
     ["th_neg.toml"]),
    ("check-fidelity on flat photos (identical output)", ["check-fidelity", "{o}.onnx", "--photos", "{fx}/flatdir"],
     "ok", []),
    ("benchmark --sizes 0", ["benchmark", "--sizes", "0", "-o", "{o}"], "error", ["--sizes"]),
    ("benchmark --repeats 0", ["benchmark", "--repeats", "0", "-o", "{o}"], "error", ["--repeats"]),
    ("benchmark --photos naming a file", ["benchmark", "--photos", "{fx}/afile", "-o", "{o}"], "error", ["afile"]),
    ("benchmark --variants without NAME=", ["benchmark", "--variants", "bad", "-o", "{o}"], "error", ["bad"]),
    ("benchmark --variants naming a missing file", ["benchmark", "--variants", "x={fx}/missing.onnx", "-o", "{o}"],
     "error", ["missing.onnx"]),
    ("pipeline with weights = 5 in TOML", ["pipeline", "run", "{fx}/weights_int.toml", "-o", "{o}"], "error",
     ["weights"]),
    ("pipeline --set data.size=63", ["pipeline", "run", str(QUICK), "--set", "data.size=63", "-o", "{o}"], "error",
     ["size"]),
    ("pipeline --set export.formats=[]", ["pipeline", "run", str(QUICK), "--set", "export.formats=[\"coreml\"]",
                                          "-o", "{o}"], "error", ["coreml"]),
    ("pipeline -o under /proc", ["pipeline", "run", str(QUICK), "-o", "/proc/animegan-run"], "error", ["/proc"]),
    ("train --stop-after -1", ["train", "--stop-after", "-1", "--run-dir", "{o}"], "error", ["--stop-after"]),
    ("evaluate-style --size 0", ["evaluate-style", "--baseline", str(DEMO), "--size", "0", "--photos",
                                 "{fx}/photos", "--style", "{fx}/photos", "--output", "{o}/r"], "error", ["--size"]),
    ("demo -o naming a file", ["demo", "-o", "{fx}/afile"], "error", ["afile"]),
    ("simulate-int8 --schemes bogus", ["simulate-int8", "--schemes", "bogus", "-o", "{o}"], "error", ["bogus"]),
    ("zoo-report --models nosuch", ["zoo-report", "--models", "nosuch", "-o", "{o}"], "error", ["nosuch"]),
    ("empty ANIMEGAN_CACHE with a URL", ["ENV:ANIMEGAN_CACHE=", "stylize", "{fx}/flat.png", "-w",
                                         "file://{fx}/missing.pt", "-o", "{o}"], "error", ["missing.pt"]),
    ("no HOME with a public model name", ["ENV:HOME=", "ENV:ANIMEGAN_CACHE=/proc/nocache", "stylize",
                                          "{fx}/flat.png", "-w", "paprika", "-o", "{o}"], "error", ["paprika"]),
]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and "self" not in p.parts and ".animegan_cache" not in p.parts}
    # .animegan_cache: the documented grayscale/smoothed copies of a style folder (derived data, not a user file)


def leftovers(place: Path) -> list[str]:
    if not place.exists():
        return []
    return [str(p) for p in place.rglob("*") if ".tmp" in p.name or p.name.startswith(".animegan-scratch")
            or p.name in (".in-progress.json", ".pipeline.lock", ".animegan-temporaries")]


def strict_json(place: Path) -> list[str]:
    bad = []
    for path in (place.rglob("*.json") if place.exists() else []):
        try:
            json.loads(path.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError as exc:
            bad.append(f"{path.name}: {exc}")
    return bad


def run_case(case, fx: Path, work: Path) -> dict:
    name, argv, expected, words = case
    out = work / "o"
    env = dict(os.environ, ANIMEGAN_CACHE=str(work / "cache"))
    args = [a.replace("{fx}", str(fx)).replace("{o}", str(out)) for a in argv]
    for item in [a for a in args if a.startswith("ENV:")]:
        key, _, value = item[4:].partition("=")
        env[key] = value
    args = [a for a in args if not a.startswith("ENV:")]
    commands = [[]]
    for a in args:
        commands.append([]) if a == "&&" else commands[-1].append(a)
    before = snapshot(fx)
    code, err = 0, ""
    for command in commands:
        proc = subprocess.run([ANIMEGAN, *command], capture_output=True, text=True, env=env, cwd=work, timeout=300)
        code, err = proc.returncode, proc.stderr
        if code:
            break
    errors = [line for line in err.splitlines() if "error:" in line]  # ours, or argparse's "animegan X: error:"
    problems = []
    if "Traceback" in err:
        problems.append("traceback")
    if "failed unexpectedly" in err:
        problems.append("failed unexpectedly")
    if expected == "ok" and code != 0:
        problems.append(f"exit {code}")
    if expected == "error":
        if code == 0:
            problems.append("exit 0")
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        missing = [w for w in words if not any(w in e for e in errors)]
        if missing:
            problems.append(f"error line lacks {missing}")
    if snapshot(fx) != before:
        problems.append("a fixture (user file) changed")
    problems += [f"left behind {p}" for p in leftovers(out) + leftovers(fx)]
    problems += [f"non-strict JSON {p}" for p in strict_json(out)]
    return {"case": name, "command": "animegan " + " && animegan ".join(" ".join(c) for c in commands),
            "expected": expected, "exit": code, "message": (errors or [""])[-1][:220], "problems": problems}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("-o", "--output", default=str(ROOT / "reports" / "reliability" / "probe-round3.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fx = Path(tmp) / "fx"
        fixtures(fx)
        (fx / "flatdir").mkdir()
        shutil.copy(fx / "flat.png", fx / "flatdir" / "flat.png")
        onnx_work = Path(tmp) / "onnx"
        onnx_work.mkdir()
        results = []
        for case in [c for c in CASES if args.only in c[0]]:
            work = Path(tmp) / f"case{len(results)}"
            work.mkdir()
            if "{o}.onnx" in " ".join(case[1]) and case[1][0] in ("check-fidelity", "quantize"):
                subprocess.run([ANIMEGAN, "export", "onnx", "-o", str(work / "o.onnx")], capture_output=True, check=True,
                               env=dict(os.environ, ANIMEGAN_CACHE=str(work / "cache")))
            began = time.perf_counter()
            row = run_case(case, fx, work)
            row["seconds"] = round(time.perf_counter() - began, 1)
            results.append(row)
            mark = "ok" if not row["problems"] else "PROBLEM: " + "; ".join(row["problems"])
            print(f"[{len(results)}/{len(CASES)}] {row['case']}: exit {row['exit']} {mark}", flush=True)
    lines = ["# Reliability probe, round 3", "",
             f"{len(results)} cases of tests/probes/reliability_round3.py, none from tests/test_bad_input_corpus.py; "
             f"{sum(not r['problems'] for r in results)} without a problem.", "",
             "| # | case | expected | exit | message | problems |", "| ---: | --- | --- | ---: | --- | --- |"]
    for i, r in enumerate(results, 1):
        msg = r["message"].replace("|", "\\|")
        lines.append(f"| {i} | {r['case']} | {r['expected']} | {r['exit']} | {msg} | {'; '.join(r['problems']) or '-'} |")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")
    return 0 if all(not r["problems"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
