"""Core figures: score curves with ground truth shaded, frames with boxes and masks, heatmap overlays."""

from __future__ import annotations

from typing import Sequence

import numpy as np

AGENT_COLOURS = {"person": "#1f77b4", "car": "#ff7f0e", "bicycle": "#2ca02c"}
ANOMALY_COLOUR = "#d62728"


def _runs(binary: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` runs of ones in a 0/1 vector."""
    b = np.asarray(binary).astype(np.int8).ravel()
    edges = np.diff(np.concatenate([[0], b, [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def plot_score_curve(scores: np.ndarray, gt: np.ndarray | None = None, *, ax=None, fps: float | None = None,
                     label: str = "anomaly score", title: str | None = None, threshold: float | None = None,
                     extra: dict[str, np.ndarray] | None = None, color: str = "#1f4e9c"):
    """Frame-level score curve ``[T]`` with ground-truth anomalous frames ``gt`` ``[T]`` shaded grey.

    ``extra`` adds more curves (name -> ``[T]``). The x axis is seconds when ``fps`` is given.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 2.6))
    scores = np.asarray(scores, dtype=float)
    x = np.arange(len(scores)) / (fps or 1.0)
    if gt is not None:
        for i, (s, e) in enumerate(_runs(gt)):
            ax.axvspan(s / (fps or 1.0), e / (fps or 1.0), color="0.82", zorder=0,
                       label="ground truth" if i == 0 else None)
    ax.plot(x, scores, color=color, lw=1.6, label=label)
    for name, curve in (extra or {}).items():
        ax.plot(np.arange(len(curve)) / (fps or 1.0), curve, lw=1.2, label=name)
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="0.4", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlim(0, max(len(scores) - 1, 1) / (fps or 1.0))
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_ylabel("score")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return ax


def draw_boxes(frame: np.ndarray, boxes: np.ndarray, *, ax=None, labels: Sequence[str] | None = None,
               colors: Sequence[str] | None = None, mask: np.ndarray | None = None, title: str | None = None):
    """Show ``frame`` ``[H, W, 3]`` uint8 with boxes ``[N, 4]`` (x1, y1, x2, y2) and an optional mask ``[H, W]``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(frame)
    if mask is not None and np.any(mask):
        overlay = np.zeros((*mask.shape, 4))
        overlay[mask > 0] = (0.84, 0.15, 0.16, 0.45)
        ax.imshow(overlay)
    for i, box in enumerate(np.asarray(boxes, dtype=float).reshape(-1, 4)):
        c = colors[i] if colors else ANOMALY_COLOUR
        ax.add_patch(Rectangle((box[0], box[1]), box[2] - box[0], box[3] - box[1], fill=False, ec=c, lw=1.5))
        if labels:
            ax.text(box[0], box[1] - 1, labels[i], color="white", fontsize=6,
                    bbox=dict(facecolor=c, alpha=0.8, pad=0.5, lw=0), va="bottom")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def frame_grid(frames: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 4,
               width: float = 12.0):
    """A grid of frames; returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    n = len(frames)
    nrows = int(np.ceil(n / ncols))
    h, w = frames[0].shape[:2]
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, width / ncols * h / w * nrows + 0.3 * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(frames[i])
            if titles:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig, axes


def overlay_heatmap(frame: np.ndarray, heatmap: np.ndarray, *, ax=None, alpha: float = 0.5, cmap: str = "jet",
                    title: str | None = None):
    """Overlay ``heatmap`` ``[h, w]`` (any size, resized bilinearly) on ``frame`` ``[H, W, 3]``."""
    import matplotlib.pyplot as plt
    import cv2

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    H, W = frame.shape[:2]
    hm = cv2.resize(np.asarray(heatmap, dtype=np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    ax.imshow(frame)
    ax.imshow(hm, cmap=cmap, alpha=alpha, vmin=0, vmax=max(float(hm.max()), 1e-6))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def draw_instance_map(frame: np.ndarray, ids: np.ndarray, *, ax=None, alpha: float = 0.6, labels=None,
                      title: str | None = None):
    """Colour each object of an id map ``ids`` ``[H, W]`` (0 = background) over ``frame`` ``[H, W, 3]``;
    ``labels`` (``{id: text}``) are written at each object's top-left pixel."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(frame)
    present = [int(i) for i in np.unique(ids) if i]
    cmap = plt.get_cmap("tab20")
    rgba = np.zeros((*ids.shape, 4), np.float32)
    for k, i in enumerate(present):
        rgba[ids == i] = (*cmap(k % 20)[:3], alpha)
        if labels and i in labels:
            ys, xs = np.nonzero(ids == i)
            ax.text(xs.min(), ys.min() - 1, str(labels[i]), color="white", fontsize=6,
                    bbox=dict(facecolor=cmap(k % 20), alpha=0.8, pad=0.5, linewidth=0))
    ax.imshow(rgba)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    return ax
