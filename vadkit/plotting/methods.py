"""Figures of the trained-method chapters (VadCLIP, Ex-VAD, VAD-LLaMA): training curves, top-k sensitivity, the
Ex-VAD Fig. 5 analogue (score curve with ground truth, predicted category and the generated explanation) and
class-wise bars (VAD-LLaMA Fig. 6)."""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np

from vadkit.plotting.core import plot_score_curve


def plot_training_curves(histories: dict[str, list[dict]], *, keys: Sequence[str] = ("total", "val"), axes=None):
    """One line per run (``{name: history}``, history = list of per-epoch dicts) for each of ``keys``."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 2.8))
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, keys):
        for name, hist in histories.items():
            ys = [h.get(key, np.nan) for h in hist]
            ax.plot([h["epoch"] for h in hist], ys, marker="o", ms=3, lw=1.2, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel({"total": "training loss", "val": "validation metric"}.get(key, key))
    axes[0].legend(fontsize=7, frameon=False)
    return axes


def plot_topk_sensitivity(ks: Sequence[int], coarse: Sequence[tuple[float, float]], fine: Sequence[tuple[float, float]],
                          *, coarse_label: str = "AUC (%)", fine_label: str = "mAP@IoU AVG (%)", axes=None):
    """Ex-VAD Fig. 4 analogue: metric (mean ± std over seeds, fractions) against the number of kept phrases k."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8.5, 2.8))
    for ax, vals, lab, col in ((axes[0], coarse, coarse_label, "#1f4e9c"), (axes[1], fine, fine_label, "#d62728")):
        m = np.array([100 * v[0] for v in vals])
        s = np.array([100 * v[1] for v in vals])
        ax.errorbar(ks, m, yerr=s, marker="o", ms=4, capsize=3, color=col)
        ax.set_xlabel("top-k phrases per label")
        ax.set_ylabel(lab)
        ax.set_xticks(list(ks))
    axes[0].set_title("(a) coarse-grained", fontsize=10)
    axes[1].set_title("(b) fine-grained", fontsize=10)
    return axes


def plot_explained_video(scores: np.ndarray, gt: np.ndarray | None, *, class_probs: np.ndarray | None = None,
                         classes: Sequence[str] | None = None, explanation: str | None = None,
                         title: str | None = None, snippet_len: int = 16, width: int = 110):
    """Ex-VAD Fig. 5 analogue. ``scores [S]`` snippet scores (repeated to frames), ``gt [T]`` frame labels,
    ``class_probs [S, C]``; the title names the predicted abnormal category (largest top-k mean probability among
    abnormal classes) and the explanation is printed under the curve."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    frames = np.repeat(np.asarray(scores, dtype=float), snippet_len)
    if gt is not None:
        n = min(len(frames), len(gt))
        frames, gt = frames[:n], np.asarray(gt)[:n]
    head = title or ""
    if class_probs is not None and classes is not None and len(classes) > 1:
        p = np.asarray(class_probs)[:, 1:]
        k = max(1, p.shape[0] // 16 + 1)
        video = np.sort(p, axis=0)[-k:].mean(0)
        head += f"  predicted: {classes[1 + int(video.argmax())]}"
    plot_score_curve(frames, gt, ax=ax, title=head.strip() or None)
    ax.set_ylim(-0.02, 1.02)
    if explanation:
        text = "\n".join(textwrap.wrap("Explanation: " + explanation, width)[:6])
        fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=8, family="monospace")
    fig.tight_layout()
    return fig, ax


def plot_classwise(table, *, highlight: Sequence[str] = (), ax=None, title: str | None = None,
                   ylabel: str = "AUC_A (%)"):
    """Grouped bars of a class x method table (VAD-LLaMA's Fig. 6 analogue); the class names in ``highlight``
    (named before the run) are printed bold and starred on the x axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(table)), 3.0))
    n = len(table.columns)
    width = 0.8 / max(n, 1)
    x = np.arange(len(table))
    for i, col in enumerate(table.columns):
        ax.bar(x + (i - (n - 1) / 2) * width, table[col].to_numpy(dtype=float), width, label=str(col))
    labels = [f"{c} *" if c in highlight else str(c) for c in table.index]
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    for tick, c in zip(ax.get_xticklabels(), table.index):
        if c in highlight:
            tick.set_fontweight("bold")
    ax.axhline(50, ls=":", color="0.5", lw=1)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False, ncol=n)
    return ax
