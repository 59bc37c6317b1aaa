"""The one training loop of vadkit: methods (VadCLIP, Ex-VAD, VAD-LLaMA, T-VAD, ...) and the tiny zoo use it.

:func:`fit` runs ``epochs x steps_per_epoch`` optimisation steps of ``loss_fn(model, batch) -> (loss, parts)`` over
the batches that ``batches(epoch)`` yields, with

* AdamW (the optimiser every paper in the book uses) or a given optimiser;
* the schedules the papers use (:class:`Schedule`): ``multistep`` (VadCLIP: MultiStepLR per epoch),
  ``warmup_cosine`` (T-VAD: warm-up ratio 0.1, peak lr, floor 1e-8, per step; VAD-LLaMA: 5 warm-up epochs, per step;
  the tiny zoo), ``cosine`` and ``constant``;
* gradient accumulation (T-VAD: 8), gradient clipping, a ``step_hook(step, parts)`` for logging or early stops;
* model selection on a validation callback: after each epoch ``validate(model) -> float`` (higher is better) and the
  weights of the best epoch are restored at the end. A validation that is never finite (every epoch ``-inf``/NaN)
  raises :class:`~vadkit.errors.VadkitError` instead of silently keeping untrained weights.

Determinism: :func:`set_seed` seeds Python, NumPy and torch at the start; batches are drawn by the caller, so the
caller's random generator decides the order (the runner passes one seeded ``numpy`` generator per seed).
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from vadkit.errors import VadkitError


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Schedule:
    """Learning-rate schedule.

    * ``multistep``: lr x ``gamma`` at each epoch in ``milestones`` (stepped once per epoch);
    * ``warmup_cosine``: linear warm-up over ``warmup_steps`` (or ``warmup_ratio`` of all steps, or
      ``warmup_epochs`` epochs), then cosine from the peak lr down to ``min_lr`` at the last step (stepped per
      optimiser step); ``cosine`` is the same without warm-up;
    * ``constant``.

    ``warmup_start`` is the first warm-up factor: ``"linear"`` gives ``(s + 1) / warmup`` at step ``s``.
    """

    kind: str = "multistep"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup_ratio: float = 0.0
    warmup_steps: int = 0
    warmup_epochs: int = 0
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("multistep", "warmup_cosine", "cosine", "constant"):
            raise ValueError(f"unknown schedule {self.kind!r}; choose multistep, warmup_cosine, cosine or constant")

    @property
    def per_step(self) -> bool:
        return self.kind in ("warmup_cosine", "cosine")

    def build(self, opt: torch.optim.Optimizer, total_steps: int, steps_per_epoch: int, base_lr: float):
        if self.kind == "multistep":
            return torch.optim.lr_scheduler.MultiStepLR(opt, list(self.milestones), self.gamma)
        if self.kind == "constant":
            return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        warm = 0
        if self.kind == "warmup_cosine":
            warm = self.warmup_steps or int(self.warmup_epochs * steps_per_epoch) or \
                int(round(self.warmup_ratio * total_steps))
            warm = max(1, warm)
        floor = self.min_lr / base_lr if base_lr > 0 else 0.0

        def factor(s: int) -> float:
            if s < warm:
                return (s + 1) / warm
            progress = (s - warm) / max(1, total_steps - warm)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        return torch.optim.lr_scheduler.LambdaLR(opt, factor)


@dataclass
class FitConfig:
    """Optimisation settings of one :func:`fit` call."""

    epochs: int = 10
    steps_per_epoch: int = 1
    lr: float = 2e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Schedule = field(default_factory=Schedule)
    grad_accum: int = 1
    grad_clip: float = 0.0          # 0 = off
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.grad_accum < 1:
            raise ValueError(f"epochs, steps_per_epoch and grad_accum must be >= 1, got {self.epochs}, "
                             f"{self.steps_per_epoch}, {self.grad_accum}")


@dataclass
class TrainResult:
    """Selected weights and the training record: ``history[e] = {"epoch", <loss parts>..., "val"?, "lr"}``."""

    state: dict[str, Any]
    best_epoch: int
    best_val: float
    history: list[dict[str, float]] = field(default_factory=list)


def fit(model: nn.Module, batches: Callable[[int], Iterable[Any]], loss_fn: Callable[[nn.Module, Any], tuple],
        cfg: FitConfig, *, validate: Callable[[nn.Module], float] | None = None,
        step_hook: Callable[[int, dict], None] | None = None, params: list | None = None,
        optimizer: torch.optim.Optimizer | None = None, progress: bool = True, desc: str = "epochs",
        seeded: bool = True, restart_from_best: bool = False) -> TrainResult:
    """Train ``model``; keep the epoch with the best ``validate(model)`` (the last epoch without ``validate``).

    ``batches(epoch)`` yields ``steps_per_epoch x grad_accum`` batches (it may yield fewer; the epoch then ends);
    ``loss_fn(model, batch) -> (loss, parts)`` with ``parts`` a dict of floats (``"total"`` among them is shown on
    the progress bar). ``seeded=False`` leaves the global seeds alone (the caller seeded them).
    ``restart_from_best``: after each epoch, continue from the best weights so far (VadCLIP's official training
    reloads its best checkpoint at the end of every epoch); the optimiser state is kept.
    """
    from tqdm.auto import tqdm

    if seeded:
        set_seed(cfg.seed)
    params = params if params is not None else [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise VadkitError("fit: the model has no trainable parameters")
    opt = optimizer or torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas)
    sched = cfg.schedule.build(opt, cfg.epochs * cfg.steps_per_epoch, cfg.steps_per_epoch, cfg.lr)
    best = TrainResult(copy.deepcopy(model.state_dict()), -1, float("-inf"))
    any_finite = validate is None
    step = 0
    bar = tqdm(range(cfg.epochs), desc=desc, leave=False, disable=not progress)
    for epoch in bar:
        model.train()
        losses: list[dict] = []
        micro = 0
        for batch in batches(epoch):
            loss, parts = loss_fn(model, batch)
            if micro == 0:
                opt.zero_grad()
            (loss / cfg.grad_accum if cfg.grad_accum > 1 else loss).backward()
            micro += 1
            losses.append(parts)
            if micro == cfg.grad_accum:
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                micro = 0
                if cfg.schedule.per_step:
                    sched.step()
                if step_hook is not None:
                    step_hook(step, parts)
                step += 1
        if micro:                                       # a last, partial accumulation still counts
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            if cfg.schedule.per_step:
                sched.step()
            step += 1
        if not cfg.schedule.per_step:
            sched.step()
        if not losses:
            raise VadkitError(f"fit: epoch {epoch} produced no batches")
        rec = {"epoch": epoch, **{k: float(np.mean([p[k] for p in losses])) for k in losses[0]}}
        rec["lr"] = float(opt.param_groups[0]["lr"])
        if validate is not None:
            rec["val"] = float(validate(model))
            score = rec["val"]
            any_finite = any_finite or math.isfinite(score)
        else:
            score = float(epoch)
        best.history.append(rec)
        if math.isfinite(score) and score > best.best_val:
            best.state, best.best_epoch, best.best_val = copy.deepcopy(model.state_dict()), epoch, score
        elif restart_from_best and best.best_epoch >= 0:
            model.load_state_dict(best.state)
        bar.set_postfix(loss=f"{rec.get('total', float('nan')):.3f}", val=f"{rec.get('val', float('nan')):.3f}")
    if not any_finite:
        raise VadkitError(f"fit: validation returned no finite value in {cfg.epochs} epochs "
                          f"({[h.get('val') for h in best.history]}); refusing to keep untrained weights. "
                          "Check that the validation split has both normal and anomalous videos.")
    model.load_state_dict(best.state)
    return best


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value: no spread is measured), NaNs ignored."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else float("nan"))
