"""Shared training loop of the trained VLM methods (VadCLIP, Ex-VAD, and later chapters).

* :func:`pad_or_sample` / :func:`collate` - sequences cut (uniformly subsampled) or zero-padded to ``max_len``;
* :func:`train_model` - AdamW + MultiStepLR, balanced normal/abnormal batches (as VadCLIP draws one normal and
  one abnormal loader), **model selection on a validation callback** (the reference code selects the checkpoint
  with the best *test* AUC; we never look at the test split while training);
* :func:`train_or_load` - train once, cache the selected weights under a config hash, reload afterwards;
* :func:`run_seeds` / :func:`mean_std` - multi-seed runs and their summary.
"""

from __future__ import annotations

import copy
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn


@dataclass
class SequenceItem:
    """One training video: ``features [T, D]``, ``binary`` in {0,1}, ``multi_hot [C]``, ``text`` ``[D_t]``/``[T, D_t]``."""

    video_id: str
    features: np.ndarray
    binary: int
    multi_hot: np.ndarray
    text: np.ndarray | None = None


@dataclass
class TrainConfig:
    """Optimisation hyperparameters. Defaults are VadCLIP's on UCF-Crime (lr 2e-5; XD-Violence uses 1e-5)."""

    epochs: int = 10
    lr: float = 2e-5
    weight_decay: float = 0.01       # AdamW default
    batch_size: int = 64             # half normal, half abnormal
    milestones: tuple[int, ...] = (4, 8)
    gamma: float = 0.1
    max_len: int = 256
    steps_per_epoch: int = 0         # 0 = one pass over the larger of the normal / abnormal sets
    grad_clip: float = 0.0           # 0 = off
    seed: int = 0


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pad_or_sample(x: np.ndarray, max_len: int) -> tuple[np.ndarray, int]:
    """``[T, D] -> ([max_len, D], length)``: uniform subsampling when ``T > max_len``, zero padding otherwise."""
    t = x.shape[0]
    if t == 0:
        raise ValueError("empty feature sequence")
    if t > max_len:
        idx = np.linspace(0, t - 1, max_len).round().astype(int)
        return x[idx], max_len
    out = np.zeros((max_len,) + x.shape[1:], dtype=np.float32)
    out[:t] = x
    return out, t


def collate(items: Sequence[SequenceItem], max_len: int) -> dict[str, torch.Tensor | None]:
    """Batch tensors: ``x [B, L, D]``, ``lengths [B]``, ``binary [B]``, ``multi_hot [B, C]``, ``text``."""
    xs, lens, texts = [], [], []
    for it in items:
        x, n = pad_or_sample(np.asarray(it.features, dtype=np.float32), max_len)
        xs.append(x)
        lens.append(n)
        if it.text is not None:
            tx = np.asarray(it.text, dtype=np.float32)
            texts.append(pad_or_sample(tx, max_len)[0] if tx.ndim == 2 else tx)
    batch = {
        "x": torch.from_numpy(np.stack(xs)),
        "lengths": torch.tensor(lens),
        "binary": torch.tensor([it.binary for it in items], dtype=torch.float32),
        "multi_hot": torch.from_numpy(np.stack([np.asarray(it.multi_hot, dtype=np.float32) for it in items])),
        "text": torch.from_numpy(np.stack(texts)) if texts else None,
    }
    return batch


@dataclass
class TrainResult:
    state: dict[str, Any]
    best_epoch: int
    best_val: float
    history: list[dict[str, float]] = field(default_factory=list)


def train_model(model: nn.Module, items: Sequence[SequenceItem], loss_fn: Callable, cfg: TrainConfig,
                validate: Callable[[nn.Module], float] | None = None, progress: bool = True) -> TrainResult:
    """Train ``model`` and keep the weights of the epoch with the best ``validate(model)`` (higher is better).

    ``loss_fn(model_out, batch) -> (loss, parts)``. Without ``validate`` the last epoch is kept.
    """
    from tqdm.auto import tqdm

    set_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    normal = [it for it in items if it.binary == 0]
    abnormal = [it for it in items if it.binary == 1]
    if not normal or not abnormal:
        raise ValueError(f"weak supervision needs normal and abnormal training videos, got "
                         f"{len(normal)} normal / {len(abnormal)} abnormal")
    half = max(1, cfg.batch_size // 2)
    steps = cfg.steps_per_epoch or max(1, int(np.ceil(max(len(normal), len(abnormal)) / half)))
    params = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device           # train where the model lives (CPU smoke, GPU full)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), cfg.gamma)
    best = TrainResult(copy.deepcopy(model.state_dict()), -1, float("-inf"))
    bar = tqdm(range(cfg.epochs), desc="epochs", leave=False, disable=not progress)
    for epoch in bar:
        model.train()
        losses = []
        for _ in range(steps):
            pick = [normal[i] for i in rng.choice(len(normal), min(half, len(normal)), replace=False)]
            pick += [abnormal[i] for i in rng.choice(len(abnormal), min(half, len(abnormal)), replace=False)]
            batch = {k: (None if v is None else v.to(device)) for k, v in collate(pick, cfg.max_len).items()}
            out = model(batch["x"], batch["lengths"], batch["text"])
            loss, parts = loss_fn(out, batch)
            opt.zero_grad()
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            losses.append(parts)
        sched.step()
        rec = {"epoch": epoch, **{k: float(np.mean([p[k] for p in losses])) for k in losses[0]}}
        if validate is not None:
            rec["val"] = float(validate(model))
            score = rec["val"]
        else:
            score = float(epoch)
        best.history.append(rec)
        if score > best.best_val:
            best.state, best.best_epoch, best.best_val = copy.deepcopy(model.state_dict()), epoch, score
        bar.set_postfix(loss=f"{rec['total']:.3f}", val=f"{rec.get('val', float('nan')):.3f}")
    model.load_state_dict(best.state)
    return best


def train_or_load(cache_dir: Path, key: dict, build: Callable[[], nn.Module],
                  train: Callable[[nn.Module], TrainResult]) -> tuple[nn.Module, dict]:
    """Train-or-load: ``build()`` a model, load cached weights for ``key`` if present, else ``train`` and cache.

    The cache file is ``<cache_dir>/<content_hash(key)>.pt`` holding the state dict, best epoch/val and history,
    written atomically so an interrupted run leaves no partial file. Returns ``(model, info)``.
    """
    from vadkit.io_utils import atomic_write, content_hash

    path = Path(cache_dir) / f"{content_hash(key)}.pt"
    model = build()
    if path.is_file():
        blob = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(blob["state"])
        return model, {**blob["info"], "cached": True, "path": str(path)}
    res = train(model)
    info = {"best_epoch": res.best_epoch, "best_val": res.best_val, "history": res.history, "key": key}
    buf = io.BytesIO()
    torch.save({"state": res.state, "info": info}, buf)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return model, {**info, "cached": False, "path": str(path)}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value: no spread is measured), NaNs ignored."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else float("nan"))


def run_seeds(seeds: Sequence[int], fn: Callable[[int], dict]) -> list[dict]:
    """Call ``fn(seed) -> dict of results`` for every seed; a failing seed is recorded as ``{"error": msg}``."""
    from vadkit.errors import VadkitError

    out = []
    for s in seeds:
        try:
            out.append({"seed": s, **fn(s)})
        except (VadkitError, ValueError, RuntimeError) as err:
            out.append({"seed": s, "error": f"{type(err).__name__}: {err}"})
    return out
