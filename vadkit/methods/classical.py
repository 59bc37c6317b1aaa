"""Classical, training-light baselines: frame-difference energy and a grid optical-flow model.

These are the floor every learned method in the book must beat, and they need no model weights, so
chapter 00 can score real footage and SynthVAD alike.

* :func:`frame_difference_scores`: mean absolute intensity change between consecutive frames
  (motion energy). Unsupervised; it fires on any motion, normal or not.
* :class:`FlowGridModel`: a semi-supervised model of normal motion in the spirit of local
  optical-flow statistics (Adam et al., TPAMI 2008): Farnebäck flow is averaged in a grid of cells;
  each cell keeps the mean and covariance of its feature ``(u, v, |f|)`` over frames of *normal*
  training videos; a test frame scores the largest Mahalanobis distance over cells. Wrong-way motion
  (direction), running (speed) and vehicles where none move (location) stand out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np


def to_gray(frames: np.ndarray, width: int | None = None) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 RGB -> ``[T, h, w]`` float32 in [0, 1], resized to ``width`` (aspect kept)."""
    import cv2

    frames = np.asarray(frames)
    T, H, W = frames.shape[:3]
    size = (width, max(1, round(H * width / W))) if width else (W, H)
    out = np.empty((T, size[1], size[0]), dtype=np.float32)
    for t in range(T):
        g = cv2.cvtColor(frames[t], cv2.COLOR_RGB2GRAY)
        out[t] = cv2.resize(g, size, interpolation=cv2.INTER_AREA) if width else g
    return out / 255.0


def frame_difference_scores(frames: np.ndarray, width: int | None = 80) -> np.ndarray:
    """Motion energy ``s_t = mean |I_t - I_{t-1}|`` per frame ``[T]`` (``s_0 = s_1``)."""
    g = to_gray(frames, width)
    if len(g) < 2:
        return np.zeros(len(g), dtype=np.float64)
    d = np.abs(np.diff(g, axis=0)).mean(axis=(1, 2)).astype(np.float64)
    return np.concatenate([d[:1], d])


def optical_flow(frames: np.ndarray, width: int = 80) -> np.ndarray:
    """Farnebäck dense flow between consecutive frames: ``[T, h, w, 2]`` in pixels of the resized frame.

    ``flow[0]`` repeats ``flow[1]`` so the output is frame-aligned with the input.
    """
    import cv2

    g = (to_gray(frames, width) * 255).astype(np.uint8)
    T, h, w = g.shape
    flow = np.zeros((T, h, w, 2), dtype=np.float32)
    for t in range(1, T):
        flow[t] = cv2.calcOpticalFlowFarneback(g[t - 1], g[t], None, pyr_scale=0.5, levels=2, winsize=9,
                                               iterations=2, poly_n=5, poly_sigma=1.1, flags=0)
    if T > 1:
        flow[0] = flow[1]
    return flow


def cell_features(flow: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Average ``(u, v, |f|)`` in a ``grid = (rows, cols)`` of cells: ``[T, rows*cols, 3]``."""
    T, h, w, _ = flow.shape
    rows, cols = grid
    hh, ww = h // rows * rows, w // cols * cols
    f = flow[:, :hh, :ww]
    mag = np.linalg.norm(f, axis=-1, keepdims=True)
    feat = np.concatenate([f, mag], axis=-1)  # [T, hh, ww, 3]
    feat = feat.reshape(T, rows, hh // rows, cols, ww // cols, 3).mean(axis=(2, 4))
    return feat.reshape(T, rows * cols, 3)


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average with edge padding; ``window <= 1`` returns ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if window <= 1 or len(x) == 0:
        return x
    pad = window // 2
    xp = np.pad(x, (pad, window - 1 - pad), mode="edge")
    return np.convolve(xp, np.ones(window) / window, mode="valid")


@dataclass
class FlowGridModel:
    """Per-cell Gaussian model of normal optical flow (see module docstring).

    ``fit`` takes an iterable of flows ``[T, h, w, 2]`` from normal videos; ``score`` returns ``[T]``.
    ``ridge`` regularises each 3x3 covariance (cells that never move get a finite, small variance).
    """

    grid: tuple[int, int] = (6, 8)
    ridge: float = 1e-2
    mean_: np.ndarray | None = field(default=None, repr=False)   # [C, 3]
    prec_: np.ndarray | None = field(default=None, repr=False)   # [C, 3, 3]
    n_frames_: int = 0

    def fit(self, flows) -> "FlowGridModel":
        # Streaming sums so long training sets never sit in memory at once.
        s1 = s2 = None
        n = 0
        for flow in flows:
            f = cell_features(flow, self.grid).astype(np.float64)  # [T, C, 3]
            s1 = f.sum(0) if s1 is None else s1 + f.sum(0)
            outer = np.einsum("tci,tcj->cij", f, f)
            s2 = outer if s2 is None else s2 + outer
            n += len(f)
        if not n:
            raise ValueError("FlowGridModel.fit: no training frames (need normal training videos)")
        mean = s1 / n
        cov = s2 / n - np.einsum("ci,cj->cij", mean, mean) + self.ridge * np.eye(3)
        self.mean_, self.prec_, self.n_frames_ = mean, np.linalg.inv(cov), n
        return self

    def cell_scores(self, flow: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of every cell's feature from its normal model: ``[T, rows * cols]``."""
        if self.mean_ is None:
            raise RuntimeError("FlowGridModel.score called before fit")
        d = cell_features(flow, self.grid).astype(np.float64) - self.mean_  # [T, C, 3]
        return np.sqrt(np.maximum(np.einsum("tci,cij,tcj->tc", d, self.prec_, d), 0.0))

    def score(self, flow: np.ndarray) -> np.ndarray:
        return self.cell_scores(flow).max(axis=1)


#: fits of :func:`fit_flow_grid` in this process, by (video files as they are now, grid, width)
_FITS: dict = {}


def fit_flow_grid(video_paths, grid: tuple[int, int], width: int = 80) -> FlowGridModel:
    """A :class:`FlowGridModel` fitted on the optical flow (:func:`optical_flow` at ``width``) of every frame of the
    normal videos ``video_paths``. Memoised in this process by the files (path, size, modification time), ``grid``
    and ``width``: a chapter that applies the same normal model to a second split (the shared benchmark, the
    validation heatmaps) fits it once. The returned model is shared: do not refit it."""
    from vadkit.data.video import VideoReader

    paths = tuple(str(p) for p in video_paths)
    key = (tuple((p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths), tuple(grid), int(width))
    if key not in _FITS:
        if len(_FITS) >= 64:     # each fit is a few kB; the bound only stops a long-lived process from growing
            _FITS.clear()
        flows = (optical_flow(VideoReader(p).read_all(), width) for p in paths)
        _FITS[key] = FlowGridModel(grid=tuple(grid)).fit(flows)
    return _FITS[key]
