"""Shared setup of the pipeline tests: quick.toml at 64 px on a public-format .pt and small photo folders."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from conftest import randomized_generator

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "pipelines" / "quick.toml"


def public_pt(folder: Path) -> Path:
    """What a user brings: a plain state_dict in the public AnimeGANv2 key format."""
    path = folder / "generator.pt"
    torch.save(randomized_generator(width=0.25, seed=7).state_dict(), path)
    return path


def quick_argv(weights: Path, photos: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["pipeline", "run", str(QUICK), "-o", str(out), "--quiet",
            "--set", f"source.weights={json.dumps(str(weights))}",
            "--set", f"data.eval_dir={json.dumps(str(photos['eval']))}",
            "--set", f"data.calib_dir={json.dumps(str(photos['calib']))}",
            "--set", f"data.photo_dir={json.dumps(str(photos['calib']))}",
            "--set", "data.size=64", "--set", "prune.eval_size=48", "--set", "distill.eval_size=48",
            "--set", "benchmark.threads=1", "--set", "benchmark.repeats=1", *extra]


def statuses(out: Path) -> dict[str, str]:
    record = json.loads((out / "pipeline.json").read_text())
    return {(s["name"] + (" " + s["format"] if s.get("format") else "")): s["status"] for s in record["stages"]}
