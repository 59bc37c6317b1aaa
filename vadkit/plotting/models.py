"""Figures of chapter 02: tiny-zoo held-out figures, snippet-prompt similarity over time, feature agreement,
the crop-pair describer's inputs."""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np


def plot_zoo_figures(df, ax=None, title: str = "tiny zoo, held-out SynthVAD"):
    """Grouped bars ``trained`` / ``untrained`` / ``reference`` per (entry, metric) row of ``df``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(10.0, 0.5 * len(df)), 3.6))  # ~0.5 in per row keeps labels legible
    labels = [f"{e}\n{m}" for e, m in zip(df["entry"], df["metric"])]
    x = np.arange(len(df))
    w = 0.27
    for i, (col, colour) in enumerate([("trained", "#1f4e9c"), ("untrained", "#9aa5b1"), ("reference", "#e0a458")]):
        vals = np.array([np.nan if v is None else float(v) for v in df[col]], float)
        ax.bar(x + (i - 1) * w, np.nan_to_num(vals), w, label=col if col != "reference" else "chance / majority",
               color=colour)
    ax.set_xticks(x)
    crowded = len(df) > 12
    ax.set_xticklabels(labels, fontsize=7, rotation=55 if crowded else 0, ha="right" if crowded else "center")
    ax.set_ylim(0, 1)
    ax.set_ylabel("held-out value")
    ax.legend(fontsize=8, ncol=3, loc="upper right")
    ax.set_title(title)
    return ax


def plot_snippet_similarity(sims: np.ndarray, labels: Sequence[str], gt: np.ndarray | None = None, *, ax=None,
                            highlight: Sequence[str] = (), title: str | None = None):
    """Cosine of snippet features with class prompts over time (``sims`` ``[T, C]``); GT snippets shaded."""
    import matplotlib.pyplot as plt

    from vadkit.plotting.core import _runs

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 2.8))
    t = np.arange(len(sims))
    for j, name in enumerate(labels):
        strong = name in highlight or not highlight
        ax.plot(t, sims[:, j], lw=2 if strong else 0.8, alpha=1 if strong else 0.35, label=name if strong else None)
    if gt is not None:
        for a, b in _runs(gt):
            ax.axvspan(a - 0.5, b - 0.5, color="0.85", zorder=0)
    ax.set_xlabel("snippet (16 frames)")
    ax.set_ylabel("cosine with prompt")
    ax.legend(fontsize=7, ncol=3)
    if title:
        ax.set_title(title)
    return ax


def plot_feature_agreement(df, ax=None):
    """Per-video mean cosine (with the 5th percentile as a whisker) for each reference in ``df``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.6))
    refs = list(dict.fromkeys(df["reference"]))
    for i, ref in enumerate(refs):
        d = df[df["reference"] == ref]
        y = np.full(len(d), i) + np.linspace(-0.15, 0.15, len(d))
        ax.errorbar(d["cos_mean"], y, xerr=[d["cos_mean"] - d["cos_p05"], np.zeros(len(d))], fmt="o", ms=4,
                    capsize=2)
    ax.set_yticks(range(len(refs)))
    ax.set_yticklabels(refs)
    ax.set_xlabel("cosine with cached features (mean; whisker to 5th percentile)")
    ax.set_xlim(min(0.0, float(df["cos_p05"].min()) - 0.05), 1.02)
    return ax


def plot_crop_pairs(crops_t: np.ndarray, crops_t1: np.ndarray, titles: Sequence[str] | None = None, *,
                    ncols: int = 3, scale: float = 1.6):
    """The describer's view: each row's two crops (``t`` left, ``t + delta`` right), ``titles`` under them."""
    n = len(crops_t)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 2 * scale, nrows * scale * 1.35), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        gap = np.full((crops_t[k].shape[0], 2, 3), 255, dtype=np.uint8)
        ax.imshow(np.concatenate([crops_t[k], gap, crops_t1[k]], axis=1))
        if titles is not None:
            ax.set_title(textwrap.fill(str(titles[k]), 38), fontsize=7, loc="left")
    fig.tight_layout()
    return fig
