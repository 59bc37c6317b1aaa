"""k-nearest-neighbour banks over text or visual embeddings, with their three uses in the book.

One implementation, three named uses (each a function below):

* :func:`nominal_distance` - **MLLM-EVAD**: a test description's anomaly score is its mean cosine distance to the
  ``k`` nearest descriptions of the nominal (normal-only) training bank;
* :func:`video_text_refine` - **LAVAD** (Zanella et al., CVPR 2024, Sec. 3.4): a window's score is replaced by
  the mean score of the ``K`` windows of the *same video* whose *summary text* embeddings are nearest to the
  window's *video* embedding, weighted by ``softmax(cos)`` over those ``K`` (the official ``src/eval.py``:
  ``exp(sim) / sum(exp(sim))``, temperature 1), a smoothing in video-text space; :func:`window_refine` is its
  unweighted, single-space variant;
* :func:`softmax_refine` - **VERA** (Ye et al., CVPR 2025): a segment's score becomes the softmax-weighted mean of
  the scores of its ``k`` nearest segments, weights ``softmax(cos / tau)``.

Embeddings are L2-normalised here, so cosine similarity is a dot product. Shapes: bank ``[N, D]``, queries
``[M, D]``; the raw payload of each bank row (e.g. the description text) is kept for explanations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {x.shape}")
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def _clean_float(x: np.ndarray, decimals: int = 12) -> np.ndarray:
    """Weighted means rounded to ``decimals``: a mean of equal scores is that score, not that score plus rounding
    noise (which an AUC would otherwise rank as if it were signal)."""
    return np.round(x, decimals)


@dataclass
class KNNBank:
    """A bank of L2-normalised embeddings ``[N, D]`` with one payload per row.

    ``query(q, k) -> (similarities [M, k], indices [M, k])``, most similar first. ``k`` larger than the bank is
    clipped to ``N``.
    """

    embeddings: np.ndarray
    payload: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.embeddings = _normalise(self.embeddings)
        if self.payload and len(self.payload) != len(self.embeddings):
            raise ValueError(f"{len(self.payload)} payload items for {len(self.embeddings)} embeddings")
        if len(self.embeddings) == 0:
            raise ValueError("a kNN bank needs at least one embedding")

    def __len__(self) -> int:
        return len(self.embeddings)

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = _normalise(queries)
        sims = q @ self.embeddings.T                                   # [M, N]
        k = min(int(k), sims.shape[1])
        if k < sims.shape[1]:                      # top-k by partition, then order those k (stable on ties)
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
            idx = np.take_along_axis(part, order, axis=1)
        else:
            idx = np.argsort(-sims, axis=1, kind="stable")
        return np.take_along_axis(sims, idx, axis=1), idx

    def neighbours(self, queries: np.ndarray, k: int) -> list[list[tuple[Any, float]]]:
        """``[[(payload, similarity), ...] per query]`` (for explanations)."""
        sims, idx = self.query(queries, k)
        return [[(self.payload[j] if self.payload else int(j), float(s)) for j, s in zip(row_i, row_s)]
                for row_i, row_s in zip(idx, sims)]


def nominal_distance(bank: KNNBank, queries: np.ndarray, k: int) -> np.ndarray:
    """MLLM-EVAD: mean cosine distance ``1 - cos`` to the ``k`` nearest nominal embeddings, ``[M]``."""
    sims, _ = bank.query(queries, k)
    return (1.0 - sims).mean(axis=1)


def window_refine(scores: Sequence[float], embeddings: np.ndarray, k: int) -> np.ndarray:
    """LAVAD: each window's score := mean score of its ``k`` nearest windows of the same video (itself included).

    ``scores [W]``, ``embeddings [W, D]`` (one video) -> ``[W]``.
    """
    s = np.asarray(scores, dtype=np.float64)
    if len(s) != len(embeddings):
        raise ValueError(f"{len(s)} scores for {len(embeddings)} window embeddings")
    _, idx = KNNBank(embeddings).query(embeddings, k)
    return s[idx].mean(axis=1)


def video_text_refine(scores: Sequence[float], video_embeddings: np.ndarray, text_embeddings: np.ndarray, k: int,
                      tau: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """LAVAD: window ``i``'s score := ``sum_{j in K_i} w_ij s_j``, ``K_i`` the ``k`` windows whose text embedding
    (of the window's temporal summary) is nearest to window ``i``'s video embedding, ``w_i = softmax(cos_i / tau)``
    over ``K_i`` (``tau = 1``: the official code's ``exp(sim)`` weights).

    ``scores [W]``, ``video_embeddings [W, D]``, ``text_embeddings [W, D]`` (one video) -> ``(refined [W],
    neighbour indices [W, min(k, W)])``.
    """
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    s = np.asarray(scores, dtype=np.float64)
    if not len(s) == len(video_embeddings) == len(text_embeddings):
        raise ValueError(f"{len(s)} scores, {len(video_embeddings)} video and {len(text_embeddings)} text embeddings")
    sims, idx = KNNBank(text_embeddings).query(video_embeddings, k)
    sims = sims.astype(np.float64)
    w = np.exp((sims - sims.max(axis=1, keepdims=True)) / tau)
    w /= w.sum(axis=1, keepdims=True)
    return _clean_float((w * s[idx]).sum(axis=1)), idx


def softmax_refine(scores: Sequence[float], embeddings: np.ndarray, k: int, tau: float = 0.1) -> np.ndarray:
    """VERA: each segment's score := ``sum_j softmax(cos_ij / tau) s_j`` over its ``k`` nearest segments.

    ``scores [S]``, ``embeddings [S, D]`` (one video) -> ``[S]``.
    """
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    s = np.asarray(scores, dtype=np.float64)
    if len(s) != len(embeddings):
        raise ValueError(f"{len(s)} scores for {len(embeddings)} segment embeddings")
    sims, idx = KNNBank(embeddings).query(embeddings, k)
    sims = sims.astype(np.float64)
    w = np.exp((sims - sims.max(axis=1, keepdims=True)) / tau)
    w /= w.sum(axis=1, keepdims=True)
    return _clean_float((w * s[idx]).sum(axis=1))
