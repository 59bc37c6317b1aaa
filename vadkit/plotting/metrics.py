"""Figures of chapter 01: ground-truth conventions, ROC/PR with both AP estimators, proposals over a score
curve, RBDC/TBDC curves, and the size of each convention's effect."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from vadkit.plotting.core import ANOMALY_COLOUR, _runs


def plot_gt_conventions(gts: Mapping[str, np.ndarray], *, ax=None, title: str | None = None, xlim=None):
    """One row per convention: the anomalous frames of ``gts[name]`` ``[L]`` as bars, the length as a line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(gts) + 0.8))
    for i, (name, gt) in enumerate(gts.items()):
        y = len(gts) - 1 - i
        ax.plot([0, len(gt)], [y, y], color="0.75", lw=1)
        for s, e in _runs(gt):
            ax.broken_barh([(s, e - s)], (y - 0.3, 0.6), color=ANOMALY_COLOUR)
        ax.text(1.01, y, f"L={len(gt)}, {int(np.sum(gt))} anomalous", va="center", fontsize=7,
                transform=ax.get_yaxis_transform(), clip_on=False)  # axes x, data y: stays beside a zoomed plot
    ax.set_yticks(range(len(gts)))
    ax.set_yticklabels(list(gts)[::-1], fontsize=8)
    ax.set_xlabel("frame")
    if xlim:
        ax.set_xlim(*xlim)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_roc_pr(labels: np.ndarray, scores: np.ndarray, *, axes=None, title: str | None = None):
    """ROC curve and PR curve with the step-sum (AP) and trapezoid areas shaded differently."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    from vadkit.metrics import average_precision, roc_auc

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    fpr, tpr, _ = roc_curve(labels, scores)
    axes[0].plot(fpr, tpr, color="#1f4e9c")
    axes[0].plot([0, 1], [0, 1], ls=":", color="0.5")
    axes[0].set(xlabel="false positive rate", ylabel="true positive rate",
                title=f"ROC, AUC = {roc_auc(labels, scores):.3f}")
    p, r, _ = precision_recall_curve(labels, scores)
    axes[1].step(r, p, where="pre", color="#1f4e9c", label=f"step sum AP = {average_precision(labels, scores, 'step'):.3f}")
    axes[1].plot(r, p, color=ANOMALY_COLOUR, lw=1, ls="--",
                 label=f"trapezoid AP = {average_precision(labels, scores, 'trapezoid'):.3f}")
    axes[1].set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    axes[1].legend(fontsize=8, frameon=False)
    for a in axes:
        a.title.set_fontsize(10)
    if title:
        axes[0].figure.suptitle(title, fontsize=10)
    return axes


def plot_proposals(probs: np.ndarray, segments: np.ndarray, scores: np.ndarray, *, gt: np.ndarray | None = None,
                   threshold: float | None = None, ax=None, title: str | None = None, label: str = "class probability"):
    """A class-probability curve ``[T]`` with the VadCLIP threshold, the proposals ``[P, 2]`` (half-open)
    annotated with their scores, and ground-truth frames ``[T]`` shaded."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 2.8))
    probs = np.asarray(probs, dtype=float)
    if gt is not None:
        for i, (s, e) in enumerate(_runs(gt)):
            ax.axvspan(s, e, color="0.85", zorder=0, label="ground truth" if i == 0 else None)
    ax.plot(np.arange(len(probs)), probs, color="#1f4e9c", lw=1.3, label=label)
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="0.4", lw=1, label="max - 0.6 (max - min)")
    for i, ((s, e), sc) in enumerate(zip(np.asarray(segments).reshape(-1, 2), scores)):
        ax.plot([s, e], [1.04, 1.04], color=ANOMALY_COLOUR, lw=4, solid_capstyle="butt",
                label="proposals" if i == 0 else None)
        ax.text((s + e) / 2, 1.08, f"{sc:.2f}", ha="center", fontsize=7, color=ANOMALY_COLOUR)
    ax.set(xlim=(0, len(probs)), ylim=(0, 1.15), xlabel="frame", ylabel="probability")
    ax.legend(loc="center right", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_rbdc_tbdc(curves: Mapping[str, np.ndarray], *, ax=None, title: str | None = None):
    """RBDR and TBDR against false positives per frame on [0, 1] (the areas are RBDC and TBDC)."""
    import matplotlib.pyplot as plt

    from vadkit.metrics.spatial import _curve_area

    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.4))
    for key, colour, name in (("rbdr", "#1f4e9c", "RBDR"), ("tbdr", ANOMALY_COLOUR, "TBDR")):
        x = np.concatenate([[0.0], curves["fpr"]])
        y = np.concatenate([[0.0], curves[key]])
        keep = x <= 1
        x, y = np.append(x[keep], 1.0), np.append(y[keep], y[keep][-1])
        ax.plot(x, y, color=colour, drawstyle="default",
                label=f"{name} (area {_curve_area(curves['fpr'], curves[key]):.3f})")
        ax.fill_between(x, y, alpha=0.08, color=colour)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positives per frame", ylabel="detection rate")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_convention_effects(table, metric: str, *, reference: str | None = None, ax=None, title: str | None = None):
    """Horizontal bars of ``table[metric]`` (a DataFrame indexed by convention, optional ``<metric>_std``
    column for error bars), with a line at the ``reference`` row."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(table) + 0.9))
    vals = table[metric].to_numpy(dtype=float)
    err = table[f"{metric}_std"].to_numpy(dtype=float) if f"{metric}_std" in table else None
    y = np.arange(len(table))[::-1]
    ax.barh(y, vals, xerr=err, color="#9db4d8", edgecolor="#1f4e9c")
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in table.index], fontsize=8)
    if reference is not None and reference in table.index:
        ax.axvline(float(table.loc[reference, metric]), color=ANOMALY_COLOUR, ls="--", lw=1, label=reference)
        ax.legend(fontsize=7, frameon=False)
    lo = np.nanmin(vals - (err if err is not None else 0))
    hi = np.nanmax(vals + (err if err is not None else 0))
    pad = max(hi - lo, 1e-3) * 0.3
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(metric)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
