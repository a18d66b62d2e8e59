"""Knowledge distillation: teacher generator -> student generator, on photos only (no anime data needed).

Losses: output L1 + VGG content between student and teacher outputs, optional feature-map hints on the
block outputs (1x1 adapters when widths differ), an optional adversarial term (a PatchGAN that tells the
teacher's outputs from the student's), and optional L1 sparsity on the student's norm scales (network
slimming; used by ``prune --sparsity`` with the student initialised as a copy of the teacher).
Resumable like training: atomic checkpoints every N steps, batches a pure function of (seed, step).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from animegan_deploy.atomic import atomic_path
from animegan_deploy.configs import at_least, option
from animegan_deploy.errors import UserError
from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from animegan_deploy.models.norms import has_channel_scale
from animegan_deploy.models.student import freeze_norm_statistics
from animegan_deploy.sidecar import read_sidecar, write_sidecar

HINT_BLOCKS = ("block_a", "block_b", "block_c", "block_d", "block_e")


# settings an interrupted distillation may be continued with changed (more steps, housekeeping, files moved); any
# other change (losses, learning rate, crops, seed) makes it another run: --restart or another output
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "eval_size", "eval_dir", "threads", "teacher",
                               "photo_dir"})


def check_loss_weights(config, names: tuple[str, ...]) -> None:
    """Each named loss weight of ``config`` is >= 0, else a one-line error naming its flag."""
    for name in names:
        if getattr(config, name) < 0:
            raise UserError(f"--{name.replace('_', '-')} {getattr(config, name)}: a loss weight must be >= 0")


@dataclass
class DistillOptions:
    """The options `distill` and `student` share (the student recipe distills with them): what the student is shown
    and judged on, the crops and their sampler, the losses' weights, the VGG weights, the threads, the steps, the
    learning rate and the checkpoint cadence. `student` defaults some of them otherwise (configs.with_defaults)."""

    photo_dir: str | None = option(None, "training photos (default: the bundled demo training photos)")
    eval_dir: str | None = option(None, "held-out photos for PSNR/SSIM vs the teacher (default: the 15 unseen "
                                  "pictures)")
    eval_size: int = option(256, "longest side of held-out photos in the report")
    batch_size: int = option(4, "photo crops per step")
    crop: int = option(128, "crop size in pixels (crops are taken at 0.5-1.0 of the photo's scale)")
    output_l1: float = option(1.0, "weight of the L1 loss between student and teacher outputs")
    vgg_weights: str = option("random", "VGG19 for the content loss: imagenet, a path, or random")
    seed: int = option(0, "seed of the crop sampler")
    threads: int | None = option(None, "torch CPU threads")
    # declared once, defaulted per command (DistillConfig: a general run; StudentConfig: its recipe, with_defaults)
    steps: int = option(600, "distillation steps")
    lr: float = option(2e-4, "Adam learning rate (cosine-annealed to 10%)")
    content: float = option(1.0, "weight of the VGG content loss between student and teacher outputs (0 = off)")
    hints: float = option(0.0, "weight of feature-map hints on the block outputs (through 1x1 adapters where widths "
                          "differ; 0 = off)")
    sparsity: float = option(0.0, "L1 weight on the student's norm scales |gamma| during distillation (network "
                             "slimming; 0 = off)")
    checkpoint_every: int = option(50, "write a resumable checkpoint every N steps")

    def __post_init__(self) -> None:
        at_least(self, ("batch_size", "eval_size", "threads", "checkpoint_every"))
        if self.crop < 16 or self.crop % 4:
            raise UserError(f"--crop {self.crop}: must be a multiple of 4, at least 16")
        if self.lr <= 0:
            raise UserError(f"--lr {self.lr}: must be > 0")
        check_loss_weights(self, ("output_l1", "content", "hints", "sparsity"))


@dataclass
class DistillConfig(DistillOptions):
    teacher: str | None = option(None, "teacher checkpoint (default: the embedded demo model)")
    beta1: float = option(0.5, "Adam beta1 (0.5 as in GAN training; 0.9 for plain output regression)")
    adversarial: float = option(0.0, "weight of the adversarial term (teacher outputs as real; 0 = off)")
    scale_lr: float | None = option(None, "learning rate of the norm scales |gamma| (default: --lr); sparsity "
                                    "training raises it so unneeded scales reach 0 in a short run")

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self, ("steps",))
        if self.scale_lr is not None and self.scale_lr <= 0:
            raise UserError(f"--scale-lr {self.scale_lr}: must be > 0")
        if not 0 <= self.beta1 < 1:
            raise UserError(f"--beta1 {self.beta1}: must be in [0, 1)")
        check_loss_weights(self, ("adversarial",))


@dataclass
class DistillResult:
    path: Path
    steps: int
    seconds: float
    last_losses: dict[str, float]

    def summary(self) -> list[str]:
        """The finished run's figures, from its sidecar: fidelity and speed vs the teacher, size."""
        metrics = read_sidecar(self.path)["metrics"]
        fid, speed = metrics["fidelity_vs_teacher"], metrics["torch_fps_vs_teacher"]
        teacher, student = metrics["teacher"], metrics["student"]
        return [f"distilled {self.steps} steps in {self.seconds:.0f} s; student vs teacher on held-out photos: "
                f"PSNR {fid['psnr_db']:.2f} dB, SSIM {fid['ssim']:.4f}",
                f"params {teacher['params']:,} -> {student['params']:,}; GMACs@256 {teacher['gmacs']:.2f} -> "
                f"{student['gmacs']:.2f}; torch CPU fps at {speed['size']}: {speed['student_fps']:.2f} vs "
                f"{speed['original_fps']:.2f} ({speed['fps_ratio']:.2f}x, one interleaved run)",
                f"wrote {self.path}"]


def norm_scales(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if has_channel_scale(m)]


class _Hints(nn.Module):
    """Forward hooks on block outputs plus 1x1 adapters from student to teacher widths."""

    def __init__(self, student: Generator, teacher: Generator) -> None:
        super().__init__()
        probe = torch.zeros(1, 3, 32, 32)
        s_shapes, t_shapes = _block_channels(student, probe), _block_channels(teacher, probe)
        self.adapters = nn.ModuleDict()
        for name in HINT_BLOCKS:
            conv = nn.Conv2d(s_shapes[name], t_shapes[name], 1, bias=False)
            if s_shapes[name] == t_shapes[name]:
                nn.init.dirac_(conv.weight)
            self.adapters[name] = conv

    def loss(self, s_feats: dict[str, torch.Tensor], t_feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(F.mse_loss(self.adapters[n](s_feats[n]), t_feats[n]) for n in HINT_BLOCKS) / len(HINT_BLOCKS)


def _block_channels(model: Generator, probe: torch.Tensor) -> dict[str, int]:
    feats = _capture(model)
    with torch.no_grad():
        model(probe)
    feats.remove()
    return {k: v.shape[1] for k, v in feats.items()}


class _capture(dict):
    """Records each hint block's output on every forward pass."""

    def __init__(self, model: Generator) -> None:
        super().__init__()
        self.handles = [getattr(model, n).register_forward_hook(self._hook(n)) for n in HINT_BLOCKS]

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            self[name] = output

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class Distiller:
    def __init__(self, student: Generator, teacher: Generator, config: DistillConfig, run_dir: Path,
                 progress: bool = True) -> None:
        from animegan_deploy.train.data import CropSampler, PhotoBatches
        from animegan_deploy.train.discriminator import Discriminator
        from animegan_deploy.train.vgg import load_vgg

        from .photos import default_train_photos

        self.config = config
        self.run_dir = run_dir
        self.progress = progress
        if config.threads:
            torch.set_num_threads(config.threads)
        # a student's BatchNorms keep their fitted running statistics: it trains as the affine net it deploys as
        self.student = freeze_norm_statistics(student.train())
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        photo_dir = config.photo_dir or default_train_photos()
        self.photos = PhotoBatches(photo_dir, CropSampler(config.crop, (0.5, 1.0), jitter=0.1))
        self.vgg = load_vgg(config.vgg_weights) if config.content > 0 else None
        with torch.random.fork_rng():  # adapters start from the run's seed, not from whatever ran before
            torch.manual_seed(config.seed)
            self.hints = _Hints(student, teacher) if config.hints > 0 else None
        scales = norm_scales(self.student)
        scale_ids = {id(p) for p in scales}
        rest = [p for p in self.student.parameters() if id(p) not in scale_ids]
        rest += list(self.hints.parameters()) if self.hints else []
        groups = [{"params": rest}, {"params": scales, "lr": config.scale_lr or config.lr}]
        self.opt = torch.optim.Adam(groups, lr=config.lr, betas=(config.beta1, 0.999))
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, max(1, config.steps), eta_min=config.lr * 0.1)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed + 1)
            self.D = Discriminator(32, 3) if config.adversarial > 0 else None
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=(0.5, 0.999)) if self.D else None
        self.step = 0
        self.last: dict[str, float] = {}

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "student": self.student.state_dict(),
            "hints": self.hints.state_dict() if self.hints else {},
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "D": self.D.state_dict() if self.D else {},
            "opt_d": self.opt_d.state_dict() if self.opt_d else {},
            "last": self.last,
            "config": json.dumps(asdict(self.config)),
        }

    def save(self) -> None:
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(self._state(), tmp)

    def resume(self) -> bool:
        for stale in self.checkpoint_path.parent.glob(".*.tmp*"):
            stale.unlink(missing_ok=True)
        if not self.checkpoint_path.is_file():
            return False
        from animegan_deploy.resume import check_same_settings, resume_errors

        with resume_errors(self.checkpoint_path, "the student and the distillation settings"):
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
            saved = json.loads(state["config"]) if isinstance(state.get("config"), str) else None
            check_same_settings(self.checkpoint_path, saved, asdict(self.config), RESUMABLE_CHANGES,
                                "another output")
            self.student.load_state_dict(state["student"])
            if self.hints:
                self.hints.load_state_dict(state["hints"])
            self.opt.load_state_dict(state["opt"])
            self.sched.load_state_dict(state["sched"])
            if self.D:
                self.D.load_state_dict(state["D"])
                self.opt_d.load_state_dict(state["opt_d"])
            self.step = int(state["step"])
            self.last = dict(state["last"])
        return True

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        c = self.config
        s_cap = _capture(self.student) if self.hints else None
        t_cap = _capture(self.teacher) if self.hints else None
        with torch.no_grad():
            target = self.teacher(x)
        out = self.student(x)
        terms: dict[str, torch.Tensor] = {}
        if c.output_l1 > 0:
            terms["output_l1"] = c.output_l1 * F.l1_loss(out, target)
        if self.vgg is not None:
            terms["content"] = c.content * F.l1_loss(self.vgg(out), self.vgg(target))
        if self.hints is not None:
            terms["hints"] = c.hints * self.hints.loss(s_cap, {k: v.detach() for k, v in t_cap.items()})
            s_cap.remove()
            t_cap.remove()
        if self.D is not None:
            self.opt_d.zero_grad(set_to_none=True)
            logits = self.D(torch.cat([target, out.detach()]))
            real, fake = logits.split(x.shape[0])
            d_loss = ((real - 1) ** 2).mean() + (fake**2).mean()
            d_loss.backward()
            self.opt_d.step()
            terms["adversarial"] = c.adversarial * ((self.D(out) - 1) ** 2).mean()
        if c.sparsity > 0:
            terms["sparsity"] = c.sparsity * sum(g.abs().sum() for g in norm_scales(self.student))
        loss = sum(terms.values())
        if not torch.isfinite(loss):
            raise UserError(f"distillation diverged at step {self.step} (non-finite loss); lower --lr and resume")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        return {k: float(v.detach()) for k, v in terms.items()}

    def fit(self, resume: bool = False, stop_after: int | None = None, restart: bool = False) -> float:
        """Train to ``config.steps`` (or ``stop_after`` more steps, then checkpoint); returns seconds spent.
        ``resume``: continue the interrupted run (started with the same settings) if there is one; ``restart``:
        discard it first."""
        started = time.perf_counter()
        if restart:
            self.checkpoint_path.unlink(missing_ok=True)
        if resume:
            self.resume()
        elif self.checkpoint_path.is_file():
            raise UserError(f"{self.checkpoint_path}: a distillation run exists here; continue it (resume) or pass "
                            "--restart to start over, or use another output")
        c = self.config
        with tqdm(total=c.steps, initial=self.step, desc="distill" if c.sparsity == 0 else "sparsity", unit="step",
                  disable=not self.progress, file=sys.stderr, dynamic_ncols=True) as bar:
            end = c.steps if stop_after is None else min(c.steps, self.step + stop_after)
            while self.step < end:
                x = self.photos.batch(self.step, c.batch_size, c.seed)
                self.last = self.train_step(x)
                self.step += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in self.last.items()})
                if self.step % c.checkpoint_every == 0 or self.step == end:
                    self.save()
        self.student.eval()
        return time.perf_counter() - started


def init_student(spec: str, teacher_path: Path) -> Generator:
    """``width:W`` builds a fresh student of width W; anything else is a checkpoint path."""
    from animegan_deploy.models.hub import resolve_weights

    if spec.startswith("width:"):
        try:
            width = float(spec.split(":", 1)[1])
        except ValueError:
            raise UserError(f"student {spec}: use width:W, e.g. width:0.5") from None
        if not 0 < width <= 8:
            raise UserError(f"student {spec}: the width must be in (0, 8], e.g. width:0.5")
        align = load_generator(teacher_path).model.align_corners
        return Generator(width=width, align_corners=align, norm="explicit")
    return load_generator(resolve_weights(spec)).model


def distill(student: str | Path, config: DistillConfig, output: str | Path, resume: bool = False,
            progress: bool = True, stop_after: int | None = None, restart: bool = False) -> DistillResult:
    """Train ``student`` (a checkpoint, or ``width:W``) to imitate the teacher; writes a safetensors + sidecar
    when finished (a run paused by ``stop_after`` only leaves its resumable checkpoint)."""
    from animegan_deploy.models.hub import resolve_weights

    from animegan_deploy.benchmarks.cost import torch_fps_ratio

    from .measurements import fidelity_vs, model_numbers

    output = Path(output)
    teacher_path = resolve_weights(config.teacher)
    teacher = load_generator(teacher_path).model
    model = init_student(str(student), teacher_path)
    run_dir = output.with_name(output.stem + ".run")
    distiller = Distiller(model, teacher, config, run_dir, progress=progress)
    seconds = distiller.fit(resume=resume, stop_after=stop_after, restart=restart)
    if distiller.step < config.steps:
        return DistillResult(output, distiller.step, seconds, distiller.last)
    source_info = load_generator(teacher_path).info
    save_checkpoint(model, output, style=source_info.style, provenance={
        "distilled_from": teacher_path.name, "student_init": str(student), "steps": distiller.step,
    })
    fidelity = fidelity_vs(teacher, model, config.eval_dir, config.eval_size)
    student_numbers, teacher_numbers = model_numbers(model, output), model_numbers(teacher, teacher_path)
    write_sidecar(output, "generator", source=teacher_path, config=config, metrics={
        "steps": distiller.step, "seconds_this_session": round(seconds, 1), "last_losses": distiller.last,
        "fidelity_vs_teacher": fidelity, "student": student_numbers, "teacher": teacher_numbers,
        # torch CPU speed of student and teacher at 256x256, measured interleaved in one run
        "torch_fps_vs_teacher": torch_fps_ratio(model, teacher, size=config.eval_size),
    }, extra={"generator": model.describe()})
    return DistillResult(output, distiller.step, seconds, distiller.last)


def copy_for_sparsity(model: Generator) -> Generator:
    student = copy.deepcopy(model)
    for p in student.parameters():
        p.requires_grad_(True)
    return student.train()
