"""Snippet-feature sequences of weakly supervised methods (VadCLIP, Ex-VAD, VAD-LLaMA, Sultani's MIL).

* :class:`SequenceItem` - one training video: features ``[T, D]``, binary label, multi-hot classes, optional text;
* :func:`pad_or_sample` / :func:`collate` - sequences cut (uniformly subsampled) or zero-padded to ``max_len``;
* :func:`balanced_batches` - VadCLIP's two loaders: every step draws ``half`` normal and ``half`` abnormal videos
  (without replacement within a step) from one seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch


@dataclass
class SequenceItem:
    """One training video: ``features [T, D]``, ``binary`` in {0,1}, ``multi_hot [C]``, ``text`` ``[D_t]``/``[T, D_t]``."""

    video_id: str
    features: np.ndarray
    binary: int
    multi_hot: np.ndarray
    text: np.ndarray | None = None


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
    return {
        "x": torch.from_numpy(np.stack(xs)),
        "lengths": torch.tensor(lens),
        "binary": torch.tensor([it.binary for it in items], dtype=torch.float32),
        "multi_hot": torch.from_numpy(np.stack([np.asarray(it.multi_hot, dtype=np.float32) for it in items])),
        "text": torch.from_numpy(np.stack(texts)) if texts else None,
    }


def split_by_label(items: Sequence[SequenceItem]) -> tuple[list[SequenceItem], list[SequenceItem]]:
    normal = [it for it in items if it.binary == 0]
    abnormal = [it for it in items if it.binary == 1]
    if not normal or not abnormal:
        raise ValueError(f"weak supervision needs normal and abnormal training videos, got "
                         f"{len(normal)} normal / {len(abnormal)} abnormal")
    return normal, abnormal


def steps_per_epoch(items: Sequence[SequenceItem], batch_size: int, steps: int = 0) -> int:
    """``steps`` or one pass over the larger of the normal / abnormal sets at ``batch_size // 2`` each."""
    normal, abnormal = split_by_label(items)
    half = max(1, batch_size // 2)
    return steps or max(1, int(np.ceil(max(len(normal), len(abnormal)) / half)))


def balanced_batches(items: Sequence[SequenceItem], batch_size: int, steps: int, rng: np.random.Generator,
                     max_len: int, device=None) -> Iterator[dict]:
    """``steps`` collated batches of ``batch_size // 2`` normal + ``batch_size // 2`` abnormal videos."""
    normal, abnormal = split_by_label(items)
    half = max(1, batch_size // 2)
    for _ in range(steps):
        pick = [normal[i] for i in rng.choice(len(normal), min(half, len(normal)), replace=False)]
        pick += [abnormal[i] for i in rng.choice(len(abnormal), min(half, len(abnormal)), replace=False)]
        yield {k: (None if v is None else v.to(device)) for k, v in collate(pick, max_len).items()}
