"""Snippet-feature sequences of weakly supervised methods (VadCLIP, Ex-VAD, VAD-LLaMA, Sultani's MIL).

* :class:`SequenceItem` - one training video: features ``[T, D]``, binary label, multi-hot classes, optional text;
* :func:`pad_or_sample` / :func:`collate` - sequences cut (uniformly subsampled) or zero-padded to ``max_len``;
* batch samplers (:func:`batches`): ``balanced_loaders`` (VadCLIP's official UCF training: a shuffled normal and a
  shuffled abnormal loader of ``batch_size // 2`` each, zipped, so an epoch is one pass over the smaller set and no
  video repeats within it), ``single_loader`` (the official XD training: one shuffled loader over all videos,
  unbalanced), ``balanced_random`` (earlier vadkit: every step draws ``half`` normal and ``half`` abnormal videos
  independently; an epoch is one pass over the larger set).

Sequences longer than ``max_len`` are shortened by ``long_videos="average"`` (the official code: the mean of each of
``max_len`` equal bins) or ``"sample"`` (uniform subsampling).
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


def bin_average(x: np.ndarray, max_len: int) -> np.ndarray:
    """``[T, D] -> [max_len, D]``: mean of each of ``max_len`` bins with edges ``linspace(0, T, max_len + 1)`` (as
    int32, the official code's ``uniform_extract``); an empty bin takes the row at its edge."""
    r = np.linspace(0, len(x), max_len + 1, dtype=np.int32)
    out = np.empty((max_len,) + x.shape[1:], dtype=np.float32)
    for i in range(max_len):
        out[i] = x[r[i]:r[i + 1]].mean(0) if r[i] != r[i + 1] else x[min(r[i], len(x) - 1)]
    return out


def pad_or_sample(x: np.ndarray, max_len: int, long_videos: str = "sample") -> tuple[np.ndarray, int]:
    """``[T, D] -> ([max_len, D], length)``: shortened when ``T > max_len`` (``long_videos``: ``"sample"`` uniform
    subsampling, ``"average"`` bin means), zero padding otherwise."""
    t = x.shape[0]
    if t == 0:
        raise ValueError("empty feature sequence")
    if t > max_len:
        if long_videos == "average":
            return bin_average(x, max_len), max_len
        if long_videos != "sample":
            raise ValueError(f"long_videos must be 'average' or 'sample', got {long_videos!r}")
        idx = np.linspace(0, t - 1, max_len).round().astype(int)
        return x[idx], max_len
    out = np.zeros((max_len,) + x.shape[1:], dtype=np.float32)
    out[:t] = x
    return out, t


def collate(items: Sequence[SequenceItem], max_len: int, long_videos: str = "sample") -> dict[str, torch.Tensor | None]:
    """Batch tensors: ``x [B, L, D]``, ``lengths [B]``, ``binary [B]``, ``multi_hot [B, C]``, ``text``."""
    xs, lens, texts = [], [], []
    for it in items:
        x, n = pad_or_sample(np.asarray(it.features, dtype=np.float32), max_len, long_videos)
        xs.append(x)
        lens.append(n)
        if it.text is not None:
            tx = np.asarray(it.text, dtype=np.float32)
            texts.append(pad_or_sample(tx, max_len, long_videos)[0] if tx.ndim == 2 else tx)
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


SAMPLERS = ("balanced_loaders", "single_loader", "balanced_random")


def steps_per_epoch(items: Sequence[SequenceItem], batch_size: int, steps: int = 0,
                    sampling: str = "balanced_random") -> int:
    """Optimiser steps in one epoch: ``steps`` if given, else what the sampler's epoch holds (module docstring)."""
    if sampling not in SAMPLERS:
        raise ValueError(f"unknown batch sampling {sampling!r}; choose one of {SAMPLERS}")
    if steps:
        return steps
    normal, abnormal = split_by_label(items)
    half = max(1, batch_size // 2)
    if sampling == "balanced_loaders":
        return max(1, int(np.ceil(min(len(normal), len(abnormal)) / half)))
    if sampling == "single_loader":
        return max(1, int(np.ceil(len(items) / batch_size)))
    return max(1, int(np.ceil(max(len(normal), len(abnormal)) / half)))


def batches(items: Sequence[SequenceItem], batch_size: int, steps: int, rng: np.random.Generator, max_len: int,
            device=None, sampling: str = "balanced_random", long_videos: str = "sample") -> Iterator[dict]:
    """One epoch of ``steps`` collated batches drawn by ``sampling`` (module docstring)."""
    if sampling == "balanced_random":
        yield from balanced_batches(items, batch_size, steps, rng, max_len, device, long_videos)
        return
    if sampling == "balanced_loaders":
        normal, abnormal = split_by_label(items)
        half = max(1, batch_size // 2)
        pn, pa = rng.permutation(len(normal)), rng.permutation(len(abnormal))
        for s in range(steps):
            pick = [normal[i] for i in pn[s * half:(s + 1) * half]] + [abnormal[i] for i in pa[s * half:(s + 1) * half]]
            if not pick:
                break
            yield {k: (None if v is None else v.to(device)) for k, v in collate(pick, max_len, long_videos).items()}
        return
    if sampling == "single_loader":
        perm = rng.permutation(len(items))
        for s in range(steps):
            pick = [items[i] for i in perm[s * batch_size:(s + 1) * batch_size]]
            if not pick:
                break
            yield {k: (None if v is None else v.to(device)) for k, v in collate(pick, max_len, long_videos).items()}
        return
    raise ValueError(f"unknown batch sampling {sampling!r}; choose one of {SAMPLERS}")


def balanced_batches(items: Sequence[SequenceItem], batch_size: int, steps: int, rng: np.random.Generator,
                     max_len: int, device=None, long_videos: str = "sample") -> Iterator[dict]:
    """``steps`` collated batches of ``batch_size // 2`` normal + ``batch_size // 2`` abnormal videos."""
    normal, abnormal = split_by_label(items)
    half = max(1, batch_size // 2)
    for _ in range(steps):
        pick = [normal[i] for i in rng.choice(len(normal), min(half, len(normal)), replace=False)]
        pick += [abnormal[i] for i in rng.choice(len(abnormal), min(half, len(abnormal)), replace=False)]
        yield {k: (None if v is None else v.to(device)) for k, v in collate(pick, max_len, long_videos).items()}
