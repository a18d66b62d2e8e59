"""Generator checkpoints: public PyTorch ``.pt`` state_dicts in, the project's safetensors in and out.

Public files are read with ``torch.load(weights_only=True)``: a pickle that holds anything but tensors
and plain containers is refused, never executed. The project's own checkpoints are safetensors files
whose string metadata records everything needed to rebuild the generator (architecture, width, per-layer
channels, align_corners, normalization) plus the style name and provenance.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors_file
from safetensors.torch import save_file as save_safetensors_file

from animegan_deploy.atomic import atomic_path
from animegan_deploy.errors import UserError

from .generator import ChannelPlan, Generator
from .norms import FOLDABLE_KINDS, GROUP_KINDS, NormKind

CHECKPOINT_FORMAT = "animegan-deploy.generator/1"
# architecture -> its normalization forms: the public generator (whole-map GroupNorm) and the deployment
# student (same topology, BatchNorm with running statistics or folded into the convs; models/student.py)
ARCHITECTURES: dict[str, tuple[str, ...]] = {"animeganv2": GROUP_KINDS, "animeganv2-student": FOLDABLE_KINDS}
PUBLIC_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
# keys under which training scripts commonly nest a generator's state_dict
CONTAINER_KEYS = ("state_dict", "model_state_dict", "generator", "generator_state_dict", "netG", "G", "g",
                  "model", "params", "params_ema", "ema")


@dataclass
class GeneratorInfo:
    """What a checkpoint says about its generator; stored as safetensors metadata."""

    width: float = 1.0
    align_corners: bool = True
    normalization: NormKind = "group"
    channels: dict[str, int] = field(default_factory=lambda: ChannelPlan().to_dict())
    stat_channels: dict[str, int] | None = None  # unpruned widths of a pruned model's norm statistics
    style: str = "unknown"
    provenance: dict[str, Any] = field(default_factory=dict)
    architecture: str = "animeganv2"

    def to_metadata(self) -> dict[str, str]:
        return {
            "format": CHECKPOINT_FORMAT,
            "architecture": self.architecture,
            "width": repr(float(self.width)),
            "align_corners": json.dumps(bool(self.align_corners)),
            "normalization": self.normalization,
            "channels": json.dumps(self.channels, sort_keys=True),
            "stat_channels": json.dumps(self.stat_channels, sort_keys=True),
            "style": self.style,
            "provenance": json.dumps(self.provenance, sort_keys=True, default=str),
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], where: str) -> "GeneratorInfo":
        try:
            info = cls(
                width=float(meta.get("width", "1.0")),
                align_corners=json.loads(meta.get("align_corners", "true")),
                normalization=meta.get("normalization", "group"),  # type: ignore[arg-type]
                channels=json.loads(meta["channels"]) if "channels" in meta else ChannelPlan().to_dict(),
                stat_channels=json.loads(meta.get("stat_channels", "null")),
                style=meta.get("style", "unknown"),
                provenance=json.loads(meta.get("provenance", "{}")),
                architecture=meta.get("architecture", "animeganv2"),
            )
        except (ValueError, KeyError) as exc:
            raise UserError(f"{where}: unreadable checkpoint metadata ({exc}); re-save it with animegan") from exc
        if info.architecture not in ARCHITECTURES:
            raise UserError(f"{where}: architecture {info.architecture!r} is not supported "
                            f"({' or '.join(ARCHITECTURES)})")
        if info.normalization not in ARCHITECTURES[info.architecture]:
            raise UserError(f"{where}: normalization {info.normalization!r} does not belong to architecture "
                            f"{info.architecture!r} (it uses {'/'.join(ARCHITECTURES[info.architecture])})")
        return info

    def plan(self) -> ChannelPlan:
        return ChannelPlan.from_dict(self.channels)

    def stat_plan(self) -> ChannelPlan | None:
        return ChannelPlan.from_dict(self.stat_channels) if self.stat_channels else None


@dataclass
class LoadedGenerator:
    model: Generator
    info: GeneratorInfo
    path: Path


def _looks_like_safetensors(path: Path) -> bool:
    """safetensors files start with an 8-byte little-endian header length, then a JSON header ('{')."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size


def read_public_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a public ``.pt`` checkpoint: plain dict, or nested in a common container, ``module.`` stripped."""
    path = Path(path)
    _require_file(path)
    if _looks_like_safetensors(path):
        raise UserError(f"{path}: this is a safetensors file with a .pt name; rename it to "
                        f"{path.with_suffix('.safetensors').name}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{path}: refused to load: the pickle holds objects other than tensors ({reason[:160]}); "
            "only plain tensor state_dicts are accepted, re-save with torch.save(model.state_dict(), ...)"
        ) from None
    except Exception as exc:  # garbage bytes surface as any exception type from the unpickler
        if isinstance(exc, MemoryError):
            raise
        raise UserError(
            f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
            "expected a file written by torch.save(state_dict)"
        ) from None
    return _unwrap_state_dict(obj, path)


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for _ in range(3):  # containers nest at most a couple of levels in practice
        if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return _strip_prefix({str(k): v for k, v in obj.items()})
        if isinstance(obj, Mapping):
            nested = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if nested is not None:
                obj = nested
                continue
        break
    raise UserError(
        f"{path}: no generator state_dict found (expected a dict of tensors, or one under "
        f"{'/'.join(CONTAINER_KEYS[:4])}/...)"
    )


def _strip_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in ("module.", "generator.", "G.", "netG."):
        if all(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()}
    return state_dict


def state_dict_mismatch(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """One line naming missing, unexpected and mis-shaped keys, or None when the state_dict fits."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} vs model {expected[k]}"
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != expected[k]
    ]
    parts = [
        f"{label} {_head(items)}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped))
        if items
    ]
    return "; ".join(parts) if parts else None


def _head(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return f"[{shown}]{more}"


def build_generator(
    state_dict: Mapping[str, torch.Tensor],
    info: GeneratorInfo,
    where: str,
) -> Generator:
    """Construct the generator ``info`` describes and load ``state_dict`` strictly."""
    model = Generator(
        width=info.width,
        align_corners=info.align_corners,
        norm=info.normalization,
        channels=info.plan(),
        stat_channels=info.stat_plan(),
    )
    problem = state_dict_mismatch(model, state_dict)
    if not problem:
        from animegan_deploy.finite import check_finite_weights

        check_finite_weights(state_dict, where)
    if problem:
        raise UserError(
            f"{where}: checkpoint does not fit the AnimeGANv2 generator (width {info.width:g}): {problem}"
        )
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def load_public_checkpoint(
    path: str | os.PathLike[str],
    align_corners: bool = True,
    style: str | None = None,
) -> LoadedGenerator:
    """Load a public AnimeGANv2 ``.pt`` (any width: the layer widths are read off the tensors)."""
    path = Path(path)
    state_dict = read_public_state_dict(path)
    try:
        plan = ChannelPlan.from_state_dict(state_dict)
    except KeyError:
        plan = ChannelPlan()  # let the strict comparison name what is missing
    info = GeneratorInfo(
        width=plan.a0 / ChannelPlan().a0,
        align_corners=align_corners,
        channels=plan.to_dict(),
        style=style or path.stem,
        provenance={"source": "public-pytorch-port", "file": path.name},
    )
    return LoadedGenerator(build_generator(state_dict, info, str(path)), info, path)


def save_checkpoint(
    model: Generator,
    path: str | os.PathLike[str],
    style: str = "unknown",
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as safetensors with its architecture in the metadata, atomically."""
    desc = model.describe()
    info = GeneratorInfo(
        architecture=str(desc["architecture"]),
        width=float(desc["width"]),  # type: ignore[arg-type]
        align_corners=bool(desc["align_corners"]),
        normalization=desc["normalization"],  # type: ignore[arg-type]
        channels=dict(desc["channels"]),  # type: ignore[arg-type]
        stat_channels=dict(desc["stat_channels"]) if desc["stat_channels"] else None,  # type: ignore[arg-type]
        style=style,
        provenance=dict(provenance or {}),
    )
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    path = Path(path)
    from animegan_deploy.finite import check_finite_weights

    check_finite_weights(tensors, f"{path} (not written)")  # never a broken model on disk
    with atomic_path(path) as tmp:
        save_safetensors_file(tensors, str(tmp), metadata=info.to_metadata())
    return path


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    _require_file(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        tensors = load_safetensors_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable safetensors file ({exc}); re-export or re-download it") from None
    return tensors, metadata


def load_project_checkpoint(path: str | os.PathLike[str]) -> LoadedGenerator:
    path = Path(path)
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") == CHECKPOINT_FORMAT:
        info = GeneratorInfo.from_metadata(metadata, str(path))
    else:  # a bare safetensors state_dict in the public key format
        tensors = _strip_prefix(tensors)
        try:
            plan = ChannelPlan.from_state_dict(tensors)
        except KeyError:
            plan = ChannelPlan()
        info = GeneratorInfo(width=plan.a0 / ChannelPlan().a0, channels=plan.to_dict(), style=path.stem,
                             provenance={"source": "safetensors without animegan-deploy metadata"})
    return LoadedGenerator(build_generator(tensors, info, str(path)), info, path)


def load_generator(
    path: str | os.PathLike[str],
    align_corners: bool | None = None,
    norm: NormKind | None = None,
) -> LoadedGenerator:
    """Load any supported generator checkpoint; optional overrides of upsampling and normalization form."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        loaded = load_project_checkpoint(path)
    elif path.suffix.lower() in PUBLIC_SUFFIXES:
        loaded = load_public_checkpoint(path, align_corners=True if align_corners is None else align_corners)
    else:
        raise UserError(
            f"{path}: unsupported checkpoint type {path.suffix or '(no suffix)'!r}; "
            f"use .safetensors or a public PyTorch state_dict ({', '.join(PUBLIC_SUFFIXES)})"
        )
    if align_corners is not None and loaded.model.align_corners != align_corners:
        loaded.model.align_corners = align_corners
        loaded.info.align_corners = align_corners
    # ``norm`` picks the GroupNorm's export form; a student has no GroupNorm (its norms fold at export)
    if norm is not None and loaded.model.norm_kind != norm and not loaded.model.is_student:
        loaded.model.set_norm(norm)
        loaded.info.normalization = norm
    return loaded


def _require_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: checkpoint not found; pass an existing file (e.g. --weights path/to/model.safetensors)")
    if not path.is_file():
        raise UserError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file (0 bytes); the download or save was interrupted, fetch it again")
