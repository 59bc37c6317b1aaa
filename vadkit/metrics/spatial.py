"""Spatial localisation: RBDC and TBDC (Ramachandra & Jones, WACV 2020), and heatmaps to scored regions.

Definitions (re-implemented from the description in ``../shared/reference/metrics.md``; the reference
implementation ``lilygeorgescu/AED compute_tbdc_rbdc.py`` is CC BY-NC-ND and not used):

* a ground-truth **region** is one box of one anomalous track in one frame; a **track** is the set of its
  regions (one anomalous object over time);
* detections ``(video, frame, box, score)`` of all test videos (normal ones included) are visited in order
  of decreasing score (ties in input order). A detection in a frame without ground-truth regions is a false
  positive. Otherwise every ground-truth region of that frame with ``IoU >= beta`` that is not yet detected
  becomes a true positive (one detection may detect several regions); if all such regions were already
  detected the detection is neither; if there is none it is a false positive;
* after each detection: ``RBDR = #detected regions / #regions``, ``TBDR = #tracks with
  (#detected regions of the track / track length) >= alpha, / #tracks``, ``FPR = #false positives /
  num_frames`` (false positives per frame, over all test frames);
* the curves start at (0, 0), keep the points with ``FPR <= 1`` and, if the last FPR is below 1, stay flat
  to ``FPR = 1``. ``RBDC`` and ``TBDC`` are the areas under ``RBDR(FPR)`` and ``TBDR(FPR)`` on [0, 1]
  (trapezoid rule), so both lie in [0, 1].

Boxes follow the inclusive-pixel ("+1") convention of that code: a box ``(x1, y1, x2, y2)`` covers
``(x2 - x1 + 1) (y2 - y1 + 1)`` pixels. ``beta = 0.1`` and ``alpha = 0.1`` are the published defaults
(UBnormal, T-VAD).

Implementation: one sort of the detections, one ``searchsorted`` of their (video, frame) keys into the
sorted regions, IoU of all candidate (detection, region) pairs in one batch, and the first detection of
every region / the ``k``-th detected region of every track found by sorting, so there is no Python loop
over detections (``benchmarks/metrics`` checks it against a plain loop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from vadkit.errors import AnnotationError, ConfigError, ScoreError

GT_COLUMNS = ("video", "track_id", "frame", "x1", "y1", "x2", "y2")
DET_COLUMNS = ("video", "frame", "x1", "y1", "x2", "y2", "score")


def _table(data, columns: tuple[str, ...], what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(video keys [N] object, numeric [N, len(columns) - 1] float64)`` from an array or DataFrame."""
    if hasattr(data, "columns"):  # pandas
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ScoreError(f"{what}: DataFrame lacks column(s) {missing}; expected {list(columns)}")
        videos = data["video"].to_numpy()
        num = data[list(columns[1:])].to_numpy(dtype=np.float64)
    else:
        arr = np.asarray(data, dtype=object if not isinstance(data, np.ndarray) else None)
        if arr.size == 0:
            arr = arr.reshape(0, len(columns))
        if arr.ndim != 2 or arr.shape[1] != len(columns):
            raise ScoreError(f"{what}: expected rows {columns}, got an array of shape {arr.shape}")
        videos = arr[:, 0]
        try:
            num = arr[:, 1:].astype(np.float64)
        except (TypeError, ValueError) as err:
            raise ScoreError(f"{what}: non-numeric values in columns {columns[1:]}: {err}") from None
    if not np.isfinite(num).all():
        raise ScoreError(f"{what}: {int((~np.isfinite(num)).any(axis=1).sum())} row(s) hold NaN/inf")
    return videos, num


def box_iou_plus1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of box rows ``a``, ``b`` ``[N, 4]`` (x1, y1, x2, y2) with the +1 pixel convention."""
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + 1
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + 1
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    return inter / (area_a + area_b - inter)


def _curve_area(fpr: np.ndarray, rate: np.ndarray) -> float:
    """Area under ``rate(fpr)`` on [0, 1]: prepend (0, 0), keep FPR <= 1, extend flat to 1."""
    x = np.concatenate([[0.0], fpr])
    y = np.concatenate([[0.0], rate])
    keep = x <= 1.0
    x, y = x[keep], y[keep]
    if x[-1] < 1.0:
        x = np.append(x, 1.0)
        y = np.append(y, y[-1])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def rbdc_tbdc_curves(gt_tracks, detections, num_frames: int, *, beta: float = 0.1,
                     alpha: float = 0.1) -> dict[str, np.ndarray]:
    """The RBDR / TBDR / FPR curves after each detection (score order), each ``[D]`` float64.

    Same inputs as :func:`rbdc_tbdc`; also returns ``scores`` ``[D]`` (sorted) for threshold plots.
    """
    if not num_frames or num_frames <= 0:
        raise ScoreError(f"num_frames must be the positive number of test frames, got {num_frames}")
    if not 0 < alpha <= 1 or not 0 < beta <= 1:
        raise ConfigError(f"alpha and beta must lie in (0, 1], got alpha={alpha}, beta={beta}")
    gv, g = _table(gt_tracks, GT_COLUMNS, "gt_tracks")
    dv, d = _table(detections, DET_COLUMNS, "detections")
    if len(g) == 0:
        raise AnnotationError("gt_tracks: no ground-truth regions; RBDC/TBDC are undefined without anomalies")
    bad = (g[:, 5] < g[:, 3]) | (g[:, 4] < g[:, 2])
    if bad.any():
        raise AnnotationError(f"gt_tracks: {int(bad.sum())} box(es) with x2 < x1 or y2 < y1, first row {int(np.flatnonzero(bad)[0])}")
    # integer video codes over both tables
    allv = np.concatenate([gv, dv])
    if allv.dtype.kind not in "iuf":  # object/str video names: hash them once (pandas), not sort strings
        import pandas as pd

        vcodes = pd.factorize(pd.Series(allv).astype(str))[0]
    else:
        vcodes = np.unique(allv, return_inverse=True)[1]
    vcodes = np.asarray(vcodes, dtype=np.int64).reshape(-1)
    gcode, dcode = vcodes[: len(gv)], vcodes[len(gv):]
    # regions sorted by (video, frame); key = video * (max_frame + 1) + frame
    fmax = int(max(g[:, 1].max(initial=0), d[:, 0].max(initial=0))) + 1
    gkey = gcode * fmax + g[:, 1].astype(np.int64)
    gorder = np.argsort(gkey, kind="stable")
    gkey_s, gbox = gkey[gorder], g[gorder, 2:6]
    # tracks: (video, track_id) -> index; track length = number of regions
    tid = g[:, 0].astype(np.int64)
    tkey = gcode * (int(tid.max()) - int(tid.min()) + 1) + (tid - int(tid.min()))
    _, track_of = np.unique(tkey, return_inverse=True)
    track_of = track_of.reshape(-1)[gorder]
    n_tracks = int(track_of.max()) + 1
    track_len = np.bincount(track_of, minlength=n_tracks)
    R, D = len(gkey_s), len(d)
    # detections in score order (descending, ties in input order)
    dorder = np.argsort(-d[:, 5], kind="stable")
    d, dcode = d[dorder], dcode[dorder]
    dkey = dcode * fmax + d[:, 0].astype(np.int64)
    lo = np.searchsorted(gkey_s, dkey, "left")
    hi = np.searchsorted(gkey_s, dkey, "right")
    cnt = hi - lo
    # all candidate pairs (detection rank, region index)
    pair_det = np.repeat(np.arange(D), cnt)
    pair_reg = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(lo, cnt)
    iou = box_iou_plus1(d[pair_det, 1:5], gbox[pair_reg]) if len(pair_det) else np.zeros(0)
    ok = iou >= beta
    pair_det, pair_reg = pair_det[ok], pair_reg[ok]
    # first detection (rank) that hits each region; pairs are in rank order already
    first = np.full(R, D, dtype=np.int64)
    regs, at = np.unique(pair_reg, return_index=True)
    first[regs] = pair_det[at]
    hit = first < D
    tp_per_det = np.bincount(first[hit], minlength=D)[:D]
    fp_per_det = (np.bincount(pair_det, minlength=D)[:D] == 0).astype(np.int64)
    # tracks: detected at the rank of their k-th detected region, k = min k with k / len >= alpha
    k = np.ceil(alpha * track_len).astype(np.int64)
    k = np.where((k - 1) / track_len >= alpha, k - 1, k)
    k = np.where(k / track_len < alpha, k + 1, k)
    k = np.maximum(k, 1)
    rt, rf = track_of[hit], first[hit]
    o = np.lexsort((rf, rt))
    rt, rf = rt[o], rf[o]
    start = np.searchsorted(rt, np.arange(n_tracks), "left")
    n_hit = np.bincount(rt, minlength=n_tracks)
    detected = n_hit >= k
    track_rank = rf[start[detected] + k[detected] - 1]
    tracks_per_det = np.bincount(track_rank, minlength=D)[:D]
    return {
        "fpr": np.cumsum(fp_per_det) / float(num_frames),
        "rbdr": np.cumsum(tp_per_det) / float(R),
        "tbdr": np.cumsum(tracks_per_det) / float(n_tracks),
        "scores": d[:, 5].copy(),
        "n_regions": np.int64(R),
        "n_tracks": np.int64(n_tracks),
    }


def rbdc_tbdc(gt_tracks, detections, num_frames: int, *, beta: float = 0.1, alpha: float = 0.1) -> tuple[float, float]:
    """Region- and track-based detection criteria (areas under RBDR and TBDR vs FPR in [0, 1]). Stable API.

    Args:
        gt_tracks: rows ``(video, track_id, frame, x1, y1, x2, y2)`` of the anomalous ground-truth regions
            (array ``[R, 7]`` or DataFrame with these columns; ``video`` may be a string).
        detections: rows ``(video, frame, x1, y1, x2, y2, score)`` over all test videos (``[D, 7]``).
        num_frames: the total number of test frames (normal videos included).
        beta: region IoU threshold (0.1); alpha: fraction of a track's regions to detect it (0.1).
    Returns:
        ``(rbdc, tbdc)`` in [0, 1]. Empty detections give ``(0.0, 0.0)``.
    """
    c = rbdc_tbdc_curves(gt_tracks, detections, num_frames, beta=beta, alpha=alpha)
    return _curve_area(c["fpr"], c["rbdr"]), _curve_area(c["fpr"], c["tbdr"])


# ----------------------------------------------------------------------------------------------------------
# inputs: annotation types, standard text files, heatmaps


def tracks_table(annotations, *, anomalous_only: bool = True):
    """Ground-truth rows ``(video, track_id, frame, x1, y1, x2, y2)`` as a DataFrame from
    :class:`~vadkit.data.annotations.VideoAnnotation` tracks (only anomalous tracks by default)."""
    import pandas as pd

    rows = []
    for vid, ann in annotations.items():
        for tr in ann.tracks:
            if anomalous_only and not tr.anomalous:
                continue
            for f, b in zip(tr.frames, tr.boxes):
                rows.append((vid, tr.track_id, int(f), *map(float, b)))
    return pd.DataFrame(rows, columns=list(GT_COLUMNS))


def _per_video_table(files: Mapping[str, str | Path], read, columns: tuple[str, ...]):
    """Stack ``read(path) -> [N, len(columns) - 1]`` rows of every ``{video: path}`` into one DataFrame."""
    import pandas as pd

    parts = []
    for vid, path in files.items():
        df = pd.DataFrame(read(Path(path)), columns=list(columns[1:]))
        df.insert(0, "video", vid)
        parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))


def read_track_files(files: Mapping[str, str | Path]):
    """Ground truth from the standard per-video track files (Street Scene / UBnormal-derived layout):
    ``{video: path}``, each line ``track_id, frame, x1, y1, x2, y2``, read by
    :func:`vadkit.data.parsers.parse_box_tracks` (which names file and line on bad input)."""
    from vadkit.data.parsers import parse_box_tracks

    def read(path: Path) -> np.ndarray:
        rows = [np.column_stack([np.full(len(t), t.track_id), t.frames, t.boxes]) for t in parse_box_tracks(path)]
        return np.concatenate(rows).astype(np.float64) if rows else np.zeros((0, 6))

    return _per_video_table(files, read, GT_COLUMNS)


def read_detection_files(files: Mapping[str, str | Path]):
    """Detections from per-video files ``{video: path}``, each line ``frame, x1, y1, x2, y2, score``, read by
    :func:`vadkit.data.parsers.parse_detections`."""
    from vadkit.data.parsers import parse_detections

    return _per_video_table(files, parse_detections, DET_COLUMNS)


def heatmap_to_regions(heatmap: np.ndarray, *, threshold: float = 0.5, min_area: int = 1,
                       score: str = "max", connectivity: int = 8, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Scored regions of one pixel heatmap, as T-VAD turns AHD heatmaps into detections.

    Args:
        heatmap: ``[H, W]`` anomaly probabilities.
        threshold: binarisation threshold (0.5 in T-VAD); pixels ``>= threshold`` are foreground.
        min_area: connected components smaller than this (pixels) are dropped.
        score: ``"max"`` (default; T-VAD is silent, the peak keeps the ranking of confident regions) or
            ``"mean"`` of the heatmap inside the component.
        connectivity: 4 or 8 (8 by default).
        scale: ``(sx, sy)`` to map heatmap pixels to frame pixels when the heatmap is smaller.
    Returns:
        ``[K, 5]`` rows ``(x1, y1, x2, y2, score)`` in (inclusive) frame pixels.
    """
    from scipy import ndimage

    h = check_heatmap(heatmap)
    if score not in ("max", "mean"):
        raise ConfigError(f"unknown region score {score!r}; choose 'max' or 'mean'")
    structure = np.ones((3, 3)) if connectivity == 8 else None
    labels, n = ndimage.label(h >= threshold, structure=structure)
    if n == 0:
        return np.zeros((0, 5))
    idx = np.arange(1, n + 1)
    areas = ndimage.sum_labels(np.ones_like(h), labels, idx)
    vals = (ndimage.maximum if score == "max" else ndimage.mean)(h, labels, idx)
    out = []
    for (sl, a, v) in zip(ndimage.find_objects(labels), areas, vals):
        if a < min_area:
            continue
        ys, xs = sl
        sx, sy = scale
        out.append((xs.start * sx, ys.start * sy, (xs.stop - 1) * sx + (sx - 1), (ys.stop - 1) * sy + (sy - 1), float(v)))
    return np.asarray(out, dtype=np.float64).reshape(-1, 5)


def check_heatmap(heatmap) -> np.ndarray:
    h = np.asarray(heatmap, dtype=np.float64)
    if h.ndim != 2:
        raise ScoreError(f"heatmap: expected [H, W], got shape {h.shape}")
    if not np.isfinite(h).all():
        raise ScoreError("heatmap: holds NaN/inf")
    return h


def heatmaps_to_detections(heatmaps: Mapping[str, np.ndarray], *, threshold: float = 0.5, min_area: int = 1,
                           score: str = "max", frame_size: tuple[int, int] | None = None):
    """Detections table (``DET_COLUMNS``) from ``{video: [T, h, w] heatmaps}``; ``frame_size=(W, H)``
    rescales boxes from heatmap to frame pixels."""
    import pandas as pd

    rows = []
    for vid, hm in heatmaps.items():
        hm = np.asarray(hm)
        if hm.ndim != 3:
            raise ScoreError(f"{vid}: expected heatmaps [T, h, w], got shape {hm.shape}")
        scale = (1.0, 1.0) if frame_size is None else (frame_size[0] / hm.shape[2], frame_size[1] / hm.shape[1])
        for t in range(hm.shape[0]):
            for r in heatmap_to_regions(hm[t], threshold=threshold, min_area=min_area, score=score, scale=scale):
                rows.append((vid, t, *r))
    return pd.DataFrame(rows, columns=list(DET_COLUMNS))


def pixel_auroc(heatmaps: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray], *, stride: int = 4) -> float:
    """Pixel-level AUROC pooled over every pixel of every scored frame (MVTec / AnomalyCLIP's convention).

    ``heatmaps[video]`` ``[T, H, W]`` (already at the masks' size) and ``masks[video]`` ``[T, H, W]`` 0/1 of
    the same frames; videos without a mask (normal ones) count with all-zero masks. ``stride`` keeps every
    ``stride``-th pixel in each direction (a regular subsample of the pixels, so the pooled ranking stays
    affordable; ``stride=1``: every pixel).
    """
    from vadkit.metrics.frame import roc_auc

    ys, ss = [], []
    for vid, hm in heatmaps.items():
        hm = np.asarray(hm)
        m = np.asarray(masks[vid]) if vid in masks and masks[vid] is not None else np.zeros(hm.shape, np.uint8)
        if m.shape != hm.shape:
            raise ScoreError(f"{vid}: heatmaps {hm.shape} and masks {m.shape} differ")
        ss.append(hm[:, ::stride, ::stride].ravel())
        ys.append((m[:, ::stride, ::stride] > 0).ravel())
    if not ys:
        raise ScoreError("pixel_auroc: no heatmaps")
    return roc_auc(np.concatenate(ys).astype(np.uint8), np.concatenate(ss))
