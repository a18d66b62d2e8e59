"""The AnimeGANv2 training loop: init phase (content only), then adversarial phase.

Resumable: a checkpoint (generator, discriminator, optimizers, schedulers, RNG, step) is written atomically
every N steps and at the end; ``resume=True`` continues from it with the same step counter. Batches depend
only on (seed, step, rank), so a resumed run reproduces an uninterrupted one. Distributed: under
``torchrun`` it wraps both networks in DistributedDataParallel (gloo on CPU, nccl on CUDA); rank 0 writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
import types
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from animegan_deploy.atomic import atomic_path
from animegan_deploy.errors import UserError
from animegan_deploy.finite import strict
from animegan_deploy.imageio import write_image
from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from animegan_deploy.resume import check_same_settings, resume_errors
from animegan_deploy.sidecar import write_sidecar

from . import losses as L
from .config import TrainConfig
from .data import Batch, UnpairedData, read_rgb
from .discriminator import Discriminator
from .preprocess import list_images
from .vgg import load_vgg

CHECKPOINT = "last.pt"
INIT_GENERATOR = "init_generator.safetensors"
FINAL_GENERATOR = "generator.safetensors"
LOSS_LOG = "losses.jsonl"
# settings an interrupted run may be continued with changed (longer training, housekeeping, another machine); any
# other change (data, model, losses, learning rates, seed) makes it another run: --restart or another run_dir
RESUMABLE_CHANGES = frozenset({"optim.init_steps", "optim.gan_steps", "run.run_dir", "run.checkpoint_every",
                               "run.sample_every", "run.log_every", "run.device", "run.amp", "run.threads",
                               "run.max_nonfinite", "run.tensorboard", "data.eval_dir"})


class TrainingDiverged(UserError):
    pass


@dataclass
class TrainResult:
    generator: Path
    steps: int
    seconds: float
    last_losses: dict[str, float]
    weight_checksums: list[str]
    main_rank: bool = True  # the process that writes the files (rank 0 under torchrun); the others report nothing


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(config: TrainConfig) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device_name = config.run.device
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"run.device {device_name}: CUDA is not available here; use cpu")
    if world <= 1:
        return _Dist(device=torch.device(device_name))
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device_name.startswith("cuda"):
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return _Dist(rank, world, device)


def weights_checksum(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": json.dumps([kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]),
        "python": json.dumps([version, list(internal), gauss]),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, pos, has_gauss, cached = json.loads(state["numpy"])
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))


class Trainer:
    def __init__(self, config: TrainConfig, progress: bool = True) -> None:
        self.config = config
        self.dist = _init_distributed(config)
        self.progress = progress and self.dist.main
        run = config.run
        if run.threads:
            torch.set_num_threads(run.threads)
        self.run_dir = Path(run.run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        torch.manual_seed(run.seed)
        self.data = UnpairedData(
            config.data.photo_dir, config.data.style_dir, crop=config.data.crop,
            scale_range=(config.data.scale_min, config.data.scale_max), jitter=config.data.jitter,
            face_crop=config.data.face_crop, progress=self.progress, hue_jitter=config.data.hue_jitter,
        )
        self.vgg = load_vgg(run.vgg_weights).to(self.dist.device)
        if config.model.init_from:
            loaded = load_generator(config.model.init_from, align_corners=config.model.align_corners)
            if abs(loaded.info.width - config.model.width) > 1e-6:
                raise UserError(f"model.init_from {config.model.init_from} has width {loaded.info.width:g} but "
                                f"model.width is {config.model.width:g}; set model.width = {loaded.info.width:g}")
            self.G = loaded.model
            self.G.train()
        else:
            self.G = Generator(width=config.model.width, align_corners=config.model.align_corners)
        self.D = Discriminator(config.model.d_channels, config.model.d_layers)
        self.G.to(self.dist.device)
        self.D.to(self.dist.device)
        o = config.optim
        betas = (o.beta1, o.beta2)
        self.opt_init = torch.optim.Adam(self.G.parameters(), lr=o.init_lr, betas=betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=betas)
        span = max(1, o.cosine_steps or o.gan_steps)
        if o.cosine:
            self.sched_g = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt_g, span, eta_min=o.g_lr * o.min_lr_ratio)
            self.sched_d = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt_d, span, eta_min=o.d_lr * o.min_lr_ratio)
        else:
            self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, lambda _: 1.0)
            self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, lambda _: 1.0)
        self.weights = config.loss.resolved()
        self.d_weights = L.DiscriminatorWeights(
            self.weights["d_real"], self.weights["d_fake"], self.weights["d_gray"], self.weights["d_smooth"]
        )
        use_amp = run.amp and self.dist.device.type == "cuda"
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.float16)) if use_amp else nullcontext
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        self.step = 0
        self.nonfinite = 0
        self.last_losses: dict[str, float] = {}
        self.tb = None

    # ----- checkpoints -------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_init": self.opt_init.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
            "last_losses": self.last_losses,
            "config": json.dumps(self.config.to_dict()),
        }

    def save_checkpoint(self) -> None:
        if not self.dist.main:
            return
        with atomic_path(self.ckpt_dir / CHECKPOINT) as tmp:
            torch.save(self._state(), tmp)

    def _saved_settings(self) -> dict | None:
        """The settings the run in run_dir was started with (its config.json), None where it kept none."""
        try:
            return json.loads((self.run_dir / "config.json").read_text())
        except (OSError, ValueError):
            return None

    def load_checkpoint(self) -> bool:
        path = self.ckpt_dir / CHECKPOINT
        for stale in self.ckpt_dir.glob(".*.tmp*"):
            stale.unlink(missing_ok=True)  # a run killed mid-write leaves only its temporary file
        if not path.is_file():
            return False
        with resume_errors(path, "model.width / run.run_dir"):
            state = torch.load(path, map_location=self.dist.device, weights_only=True)
            self.G.load_state_dict(state["generator"])
            self.D.load_state_dict(state["discriminator"])
            self.opt_init.load_state_dict(state["opt_init"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.sched_g.load_state_dict(state["sched_g"])
            self.sched_d.load_state_dict(state["sched_d"])
            self.scaler.load_state_dict(state["scaler"])
            _set_rng_state(state["rng"])
            self.step = int(state["step"])
            self.last_losses = dict(state["last_losses"])
        self._truncate_log(self.step)
        return True

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint (and a torn last line) so steps continue cleanly."""
        log = self.run_dir / LOSS_LOG
        if not self.dist.main or not log.is_file():
            return
        kept = []
        for line in log.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (ValueError, KeyError):
                break
        with atomic_path(log, own=True) as tmp:  # the run's own log (appended to, so not in the manifest)
            tmp.write_text("".join(line + "\n" for line in kept))

    def _log(self, losses: dict[str, float]) -> None:
        if not self.dist.main:
            return
        record = {"step": self.step, "phase": self.phase_of(self.step - 1), **{k: round(v, 6) for k, v in losses.items()}}
        with open(self.run_dir / LOSS_LOG, "a") as handle:
            handle.write(json.dumps(strict(record), allow_nan=False) + "\n")
        if self.tb is not None:
            for key, value in losses.items():
                self.tb.add_scalar(f"loss/{key}", value, self.step)
            self.tb.add_scalar("lr/g", self.opt_g.param_groups[0]["lr"], self.step)

    # ----- steps -------------------------------------------------------------------------------
    def phase_of(self, step: int) -> str:
        return "init" if step < self.config.optim.init_steps else "gan"

    def _guard(self, total: torch.Tensor) -> bool:
        """True when the loss is finite on every rank; counts and bounds consecutive failures."""
        finite = torch.isfinite(total.detach()).float()
        if self.dist.world > 1:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if finite.item() == 1.0:
            self.nonfinite = 0
            return True
        self.nonfinite += 1
        if self.nonfinite > self.config.run.max_nonfinite:
            raise TrainingDiverged(
                f"training diverged: {self.nonfinite} consecutive non-finite losses at step {self.step}; "
                f"lower the learning rates and resume from {self.ckpt_dir / CHECKPOINT}"
            )
        return False

    def init_step(self, G: nn.Module, batch: Batch) -> dict[str, float]:
        self.opt_init.zero_grad(set_to_none=True)
        with self.autocast():
            fake = G(batch.photo)
            terms = {"content": self.weights["content"] * L.content_loss(self.vgg(batch.photo), self.vgg(fake))}
            if self.weights["init_pixel"] > 0:
                terms["pixel"] = self.weights["init_pixel"] * L.pixel_loss(batch.photo, fake)
            if self.weights["chroma"] > 0:
                terms["chroma"] = self.weights["chroma"] * L.chroma_loss(batch.photo, fake)
            loss = sum(terms.values())
        if self._guard(loss):
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt_init)
            self.scaler.update()
        return {k: float(v.detach()) for k, v in terms.items()}

    def gan_step(self, G: nn.Module, D: nn.Module, batch: Batch) -> dict[str, float]:
        w = self.weights
        kind = self.config.loss.gan
        n = batch.photo.shape[0]
        with self.autocast():
            fake = G(batch.photo)
        # discriminator: real anime vs generated, grayscale and edge-smoothed anime
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            logits = D(torch.cat([batch.style, fake.detach(), batch.style_gray, batch.style_smooth]))
            real, fake_l, gray, smooth = logits.split(n)
            d_total, d_terms = L.discriminator_loss(real, fake_l, gray, smooth, kind, self.d_weights)
            d_loss = w["d_adv"] * d_total
        if self._guard(d_loss):
            self.scaler.scale(d_loss).backward()
            self.scaler.step(self.opt_d)
        # generator: adversarial + content + grayscale Gram style + color + total variation
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            fake_features = self.vgg(fake)
            terms = {
                "g_adv": w["g_adv"] * L.generator_adv_loss(D(fake), kind),
                "content": w["content"] * L.content_loss(self.vgg(batch.photo), fake_features),
                "style": w["style"] * L.style_loss(self.vgg(batch.style_gray), fake_features),
                "color": w["color"] * L.color_loss(batch.photo, fake),
                "tv": w["tv"] * L.tv_loss(fake),
            }
            if w["chroma"] > 0:
                terms["chroma"] = w["chroma"] * L.chroma_loss(batch.photo, fake)
            g_loss = sum(terms.values())
        if self._guard(g_loss):
            self.scaler.scale(g_loss).backward()
            self.scaler.step(self.opt_g)
        self.scaler.update()
        self.sched_g.step()
        self.sched_d.step()
        out = {k: float(v.detach()) for k, v in terms.items()}
        out.update({k: float(v.detach()) for k, v in d_terms.items()})
        out["d_loss"] = float(d_loss.detach())
        out["g_loss"] = float(g_loss.detach())
        return out

    # ----- samples -----------------------------------------------------------------------------
    def _preview_photos(self) -> list[np.ndarray]:
        folder = self.config.data.eval_dir
        paths = list_images(Path(folder))[:4] if folder and Path(folder).is_dir() else []
        paths = [str(p) for p in paths] or self.data.photos[:4]
        size = self.config.data.crop
        previews = []
        for path in paths:
            rgb = read_rgb(path)
            h, w = rgb.shape[:2]
            side = min(h, w)
            y, x = (h - side) // 2, (w - side) // 2
            previews.append(cv2_resize(rgb[y : y + side, x : x + side], size))
        return previews

    def write_samples(self) -> Path | None:
        if not self.dist.main:
            return None
        photos = self._preview_photos()
        x = torch.from_numpy(np.stack(photos).astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2).to(self.dist.device)
        self.G.eval()
        with torch.no_grad():
            y = self.G(x).float().cpu()
        self.G.train()
        rows = [np.concatenate([p.astype(np.float32) / 255, ((o.permute(1, 2, 0).numpy() + 1) / 2)], axis=1)
                for p, o in zip(photos, y)]
        grid = np.concatenate(rows, axis=0)
        path = self.run_dir / "samples" / f"step_{self.step:07d}.png"
        write_image(path, grid)
        if self.tb is not None:
            self.tb.add_image("samples", np.clip(grid, 0, 1).transpose(2, 0, 1), self.step)
        return path

    # ----- run ---------------------------------------------------------------------------------
    def _open_tensorboard(self) -> None:
        if not (self.dist.main and self.config.run.tensorboard):
            return
        self.tb = open_summary_writer(self.run_dir / "tensorboard")

    def _save_init_generator(self) -> None:
        if self.dist.main:
            save_checkpoint(self.G, self.run_dir / INIT_GENERATOR, style=f"{self.config.run.style_name}-init",
                            provenance={"phase": "init", "steps": self.step})

    def fit(self, resume: bool = False, stop_after: int | None = None, restart: bool = False) -> TrainResult:
        """Train to the configured step count (or ``stop_after`` more steps); returns the final generator.
        ``resume``: continue the interrupted run in run_dir (started with the same settings) if there is one;
        ``restart``: discard it first."""
        started = time.perf_counter()
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if restart:
                (self.ckpt_dir / CHECKPOINT).unlink(missing_ok=True)
        if self.dist.world > 1:
            dist.barrier()  # every rank sees the checkpoint the main rank kept or discarded
        if resume:
            if (self.ckpt_dir / CHECKPOINT).is_file():
                # a key added since the run's version (data.hue_jitter, loss.chroma) takes its default, the
                # behaviour that version had
                check_same_settings(self.ckpt_dir / CHECKPOINT, self._saved_settings(), self.config.to_dict(),
                                    RESUMABLE_CHANGES, "another run.run_dir", unrecorded=TrainConfig().to_dict())
            if not self.load_checkpoint() and self.dist.main:
                self._truncate_log(0)  # steps a run killed before its first checkpoint logged
        elif (self.ckpt_dir / CHECKPOINT).is_file():
            raise UserError(
                f"{self.ckpt_dir / CHECKPOINT}: a run already exists here; continue it (resume) or pass --restart "
                "to start over, or choose another run.run_dir"
            )
        elif self.dist.main:
            (self.run_dir / LOSS_LOG).unlink(missing_ok=True)
        self._open_tensorboard()
        if self.dist.main:
            with atomic_path(self.run_dir / "config.json") as tmp:
                tmp.write_text(json.dumps(self.config.to_dict(), indent=2))
        G: nn.Module = self.G
        D: nn.Module = self.D
        if self.dist.world > 1:
            G = DDP(self.G)
            D = DDP(self.D)
        G.train()
        D.train()
        cfg = self.config
        end = cfg.total_steps if stop_after is None else min(cfg.total_steps, self.step + stop_after)
        bar = tqdm(total=cfg.total_steps, initial=self.step, desc="train", unit="step", disable=not self.progress,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            while self.step < end:
                if self.step == cfg.optim.init_steps and cfg.optim.init_steps > 0 and not (self.run_dir / INIT_GENERATOR).exists():
                    self._save_init_generator()
                batch = self.data.batch(self.step, cfg.optim.batch_size, cfg.run.seed, self.dist.rank).to(self.dist.device)
                if self.phase_of(self.step) == "init":
                    losses = self.init_step(G, batch)
                else:
                    losses = self.gan_step(G, D, batch)
                self.step += 1
                self.last_losses = losses
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items() if not k.startswith("d_") or k == "d_loss"})
                if self.step % cfg.run.log_every == 0 or self.step == end:
                    self._log(losses)
                if self.step % cfg.run.sample_every == 0:
                    self.write_samples()
                if self.step % cfg.run.checkpoint_every == 0 or self.step == end:
                    self.save_checkpoint()
                if self.dist.world > 1 and self.step % cfg.run.checkpoint_every == 0:
                    dist.barrier()
        finally:
            bar.close()
        if self.step == cfg.optim.init_steps and cfg.optim.init_steps > 0 and not (self.run_dir / INIT_GENERATOR).exists():
            self._save_init_generator()
        checksums = self._gather_checksums()
        final = self.run_dir / FINAL_GENERATOR
        seconds = time.perf_counter() - started
        if self.dist.main and self.step >= cfg.total_steps:
            self.write_samples()
            save_checkpoint(self.G, final, style=cfg.run.style_name, provenance={
                "trained_steps": self.step, "init_steps": cfg.optim.init_steps, "gan": cfg.loss.gan,
                "preset": cfg.loss.preset, "vgg": self.vgg.source, "world_size": self.dist.world,
            })
            write_sidecar(final, "generator", source=cfg.model.init_from, config=cfg.to_dict(), metrics={
                "steps": self.step, "seconds_this_session": round(seconds, 1), "last_losses": self.last_losses,
                "loss_weights": self.weights, "ddp_weight_checksums": checksums,
            })
        if self.tb is not None:
            self.tb.close()
        if self.dist.world > 1:
            dist.barrier()
        return TrainResult(final, self.step, seconds, self.last_losses, checksums, self.dist.main)

    def _gather_checksums(self) -> list[str]:
        mine = weights_checksum(self.G)
        if self.dist.world == 1:
            return [mine]
        gathered: list[Any] = [None] * self.dist.world
        dist.all_gather_object(gathered, mine)
        if len(set(gathered)) != 1 and self.dist.main:
            raise RuntimeError(f"DDP ranks ended with different generator weights: {gathered}")
        return list(gathered)


def open_summary_writer(log_dir: Path):
    """A TensorBoard event writer, None (with a warning) where tensorboard is not installed. It writes events with
    tensorboard's own TensorFlow stub: left to itself, tensorboard imports the TensorFlow that onnx2tf needs (6.5 s
    and TensorFlow's log lines at every training start); a module named ``tensorboard.compat.notf`` is its switch
    for the stub (what its no-TensorFlow build ships)."""
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("warning: tensorboard is not installed; scalars go to losses.jsonl only", file=sys.stderr)
        return None
    return SummaryWriter(log_dir=str(log_dir))


def cv2_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def train(config: TrainConfig, resume: bool = False, progress: bool = True, stop_after: int | None = None,
          restart: bool = False) -> TrainResult:
    """Library entry point: train (or resume) per ``config``; writes checkpoints and the final generator."""
    trainer = Trainer(config, progress=progress)
    try:
        return trainer.fit(resume=resume, stop_after=stop_after, restart=restart)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
