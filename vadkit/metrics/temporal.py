"""Fine-grained temporal detection: mAP@IoU as VadCLIP and Ex-VAD report it (their Tables 1-2).

The protocol descends from weakly supervised action localisation (``getLocMAP``) through VadCLIP's
``{ucf,xd}_detectionMAP.py``. For every video ``v`` and class ``c`` with frame probabilities
``p[t, c]`` (snippet probabilities repeated 16x):

1. class score ``c_s = mean of the top floor(T / 16) values of p[:, c]`` (at least one value);
2. threshold ``theta = max p - 0.6 (max p - min p)``; every maximal run of >= 2 consecutive frames with
   ``p > theta`` is a proposal ``[s, e)`` (half-open frame range);
3. proposal score ``max_{s <= t < e} p[t, c] + 0.7 c_s``;
4. non-maximum suppression per video and class at IoU 0.6 (a proposal is dropped when its IoU with a
   kept, higher-scored one exceeds 0.6);
5. per class, all proposals sorted by score (descending, ties in video, then start order); each is a true
   positive if an unused ground-truth segment of its video and class overlaps it with
   ``IoU >= tau`` (the one with the largest IoU is used up), else a false positive;
6. ``AP_c = sum over true positives of precision-at-that-rank / #GT_c`` (no interpolation);
   ``mAP(tau) = mean_c AP_c``, reported for ``tau = 0.1 .. 0.5`` and their mean ("AVG").

IoU is over integer frame ranges: ``|A cap B| / |A cup B|`` with ``A = {s, ..., e - 1}``.

Quirks of the reference code, each a named option whose default under ``convention="vadclip"`` is faithful:

* ``zero_proposals="zero_all"``: if any class has no proposal at all, mAP at that IoU is 0 (VadCLIP);
  ``"class_zero"`` (corrected): that class's AP is 0, the others count normally.
* ``empty_classes="zero"``: a class without ground truth (UCF's normal class, whose videos are labelled
  ``'A'`` outside the class list) adds AP = 0 to the mean (VadCLIP on UCF); ``"exclude"`` (corrected)
  leaves it out. On XD-Violence the normal class ``'A'`` is class 0 with whole-video segments, which is a
  property of the ground truth the caller passes, not an option.

``convention="corrected"`` switches both to the corrected variant. Ex-VAD computes mAP on the abnormal test
videos only: pass only those.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vadkit.errors import AnnotationError, ConfigError, ScoreError
from vadkit.metrics.frame import check_scores

DEFAULT_IOUS = (0.1, 0.2, 0.3, 0.4, 0.5)

CONVENTIONS = {
    "vadclip": {"zero_proposals": "zero_all", "empty_classes": "zero"},
    "corrected": {"zero_proposals": "class_zero", "empty_classes": "exclude"},
}


def runs_above(mask: np.ndarray, min_len: int = 2) -> np.ndarray:
    """Maximal runs of ``True`` in a 1-d mask as half-open ``[s, e)`` rows ``[R, 2]`` int64 (``e - s >= min_len``)."""
    m = np.asarray(mask, dtype=np.int8).reshape(-1)
    edges = np.diff(np.concatenate([[0], m, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = (ends - starts) >= min_len
    return np.stack([starts[keep], ends[keep]], axis=1).astype(np.int64)


def interval_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[A, B]`` between half-open integer ranges ``a`` ``[A, 2]`` and ``b`` ``[B, 2]``."""
    a = np.asarray(a, dtype=np.int64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.int64).reshape(-1, 2)
    inter = np.clip(np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def nms_1d(segments: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.6) -> np.ndarray:
    """Indices of the segments kept by greedy NMS (descending score, stable), in kept order."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    if len(order) == 0:
        return order
    iou = interval_iou(segments, segments)
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def video_proposals(probs: np.ndarray, *, threshold_ratio: float = 0.6, score_weight: float = 0.7,
                    min_len: int = 2, snippet_len: int = 16, nms_iou: float | None = 0.6,
                    video_id: str = "video") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VadCLIP proposals of one video for all classes at once (steps 1-4 of the module docstring).

    Args:
        probs: ``[T, C]`` frame-level class probabilities.
    Returns:
        ``(classes [P] int, segments [P, 2] half-open frames, scores [P])``, ordered by class then start.

    Runs of one threshold are disjoint, so NMS at IoU 0.6 cannot remove any of them; it is still applied
    (cheaply skipped when the proposals of a class are disjoint) so that variants with overlapping
    proposals stay faithful.
    """
    p = check_scores(probs, video_id, ndim=2)
    T, C = p.shape
    k = max(1, T // snippet_len)
    c_s = np.sort(p, axis=0)[::-1][:k].mean(axis=0)  # [C] mean of the top floor(T/16) frames
    hi, lo = p.max(axis=0), p.min(axis=0)
    theta = hi - threshold_ratio * (hi - lo)
    pad = np.zeros((C, T + 2), dtype=np.int8)
    pad[:, 1:-1] = (p > theta[None, :]).T
    d = np.diff(pad, axis=1)  # [C, T + 1]
    cls, s = np.nonzero(d == 1)  # row-major: starts and ends pair up in order
    _, e = np.nonzero(d == -1)
    keep = (e - s) >= min_len
    cls, s, e = cls[keep], s[keep], e[keep]
    if len(cls) == 0:
        return cls.astype(np.int64), np.zeros((0, 2), np.int64), np.zeros(0)
    flat = np.concatenate([p.T, np.zeros((C, 1))], axis=1).ravel()  # sentinel column for e = T
    idx = np.stack([cls * (T + 1) + s, cls * (T + 1) + e], axis=1).ravel()
    seg_max = np.maximum.reduceat(flat, idx)[::2]
    score = seg_max + score_weight * c_s[cls]
    seg = np.stack([s, e], axis=1).astype(np.int64)
    if nms_iou is not None:
        same = cls[1:] == cls[:-1]
        if (same & (seg[1:, 0] < seg[:-1, 1])).any():  # overlapping proposals within a class
            kept = []
            for c in np.unique(cls):
                rows = np.flatnonzero(cls == c)
                kept.append(np.sort(rows[nms_1d(seg[rows], score[rows], nms_iou)]))
            kept = np.concatenate(kept)
            cls, seg, score = cls[kept], seg[kept], score[kept]
    return cls.astype(np.int64), seg, score


def class_proposals(probs: np.ndarray, **kw) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-class view of :func:`video_proposals`: ``C`` pairs ``(segments [P, 2], scores [P])``."""
    p = check_scores(probs, kw.get("video_id", "video"), ndim=2)
    cls, seg, sc = video_proposals(p, **kw)
    return [(seg[cls == c], sc[cls == c]) for c in range(p.shape[1])]


def _ap(tp: np.ndarray, n_gt: int) -> float:
    if n_gt == 0:
        return 0.0
    cum = np.cumsum(tp)
    prec = cum / np.arange(1, len(tp) + 1)
    return float(prec[tp].sum() / n_gt)


def detection_map(predictions: Sequence[np.ndarray], gt_segments: Sequence, gt_labels: Sequence, classes: Sequence[str],
                  *, iou_thresholds: Sequence[float] = DEFAULT_IOUS, convention: str = "vadclip",
                  zero_proposals: str | None = None, empty_classes: str | None = None,
                  threshold_ratio: float = 0.6, score_weight: float = 0.7, nms_iou: float | None = 0.6,
                  snippet_len: int = 16, return_per_class: bool = False) -> dict:
    """mAP@IoU of fine-grained temporal detection (module docstring for every step). Stable API.

    Args:
        predictions: per video, frame-level class probabilities ``[T_v, C]`` (columns in ``classes`` order).
        gt_segments: per video, ``[[start, end], ...]`` frame pairs (half-open, as in VadCLIP's lists).
        gt_labels: per video, the class name of each segment.
        classes: the ``C`` class names.
        convention: ``"vadclip"`` (faithful) or ``"corrected"``; ``zero_proposals`` / ``empty_classes``
            override single quirks.
    Returns:
        ``{"mAP@0.1": ..., ..., "avg": mean over thresholds}`` as fractions in [0, 1]; with
        ``return_per_class`` also ``"per_class": {tau: {class: AP}}`` and ``"n_proposals": {class: count}``.

    Empty input (no videos) raises :class:`~vadkit.errors.ScoreError`: an mAP over nothing is not a number
    anyone should report, and a NaN would travel silently into a table. With ``empty_classes="exclude"`` and
    no ground-truth segment in any class, mAP is NaN with an
    :class:`~vadkit.metrics.frame.UndefinedMetricWarning`.
    """
    if convention not in CONVENTIONS:
        raise ConfigError(f"unknown mAP convention {convention!r}; choose one of {tuple(CONVENTIONS)}")
    zero_proposals = zero_proposals or CONVENTIONS[convention]["zero_proposals"]
    empty_classes = empty_classes or CONVENTIONS[convention]["empty_classes"]
    if zero_proposals not in ("zero_all", "class_zero"):
        raise ConfigError(f"unknown zero_proposals {zero_proposals!r}; choose 'zero_all' or 'class_zero'")
    if empty_classes not in ("zero", "exclude"):
        raise ConfigError(f"unknown empty_classes {empty_classes!r}; choose 'zero' or 'exclude'")
    classes = list(classes)
    C = len(classes)
    if C == 0:
        raise ConfigError("detection_map: empty class list")
    if not (len(predictions) == len(gt_segments) == len(gt_labels)):
        raise ScoreError(f"detection_map: {len(predictions)} predictions, {len(gt_segments)} segment lists and "
                         f"{len(gt_labels)} label lists; they must match one-to-one")
    if len(predictions) == 0:
        raise ScoreError("detection_map: no videos to evaluate (empty predictions, segments and labels); "
                         "mAP@IoU is undefined on empty input")
    cidx = {c: i for i, c in enumerate(classes)}
    pv, pc, ps, psc = [], [], [], []  # proposals: video, class, segment, score
    gv, gc, gs = [], [], []  # ground truth: video, class, segment
    for v, (probs, segs, labs) in enumerate(zip(predictions, gt_segments, gt_labels)):
        p = check_scores(probs, f"video {v}", ndim=2)
        if p.shape[1] != C:
            raise ScoreError(f"video {v}: predictions have {p.shape[1]} class columns, classes lists {C}")
        segs = np.asarray(segs, dtype=np.int64).reshape(-1, 2)
        labs = [labs] if isinstance(labs, str) else list(labs)
        if len(labs) != len(segs):
            raise AnnotationError(f"video {v}: {len(segs)} segments but {len(labs)} labels")
        for (s, e), lab in zip(segs, labs):
            if lab not in cidx:
                raise AnnotationError(f"video {v}: unknown class {lab!r}; classes are {classes}")
            if e < s:
                raise AnnotationError(f"video {v}: segment end {e} < start {s}")
            gv.append(v)
            gc.append(cidx[lab])
            gs.append((s, e))
        cls, seg, sc = video_proposals(p, threshold_ratio=threshold_ratio, score_weight=score_weight,
                                       nms_iou=nms_iou, snippet_len=snippet_len, video_id=f"video {v}")
        pv.append(np.full(len(cls), v))
        pc.append(cls)
        ps.append(seg)
        psc.append(sc)
    pv, pc, ps, psc = np.concatenate(pv), np.concatenate(pc), np.concatenate(ps), np.concatenate(psc)
    gv, gc = np.asarray(gv, dtype=np.int64), np.asarray(gc, dtype=np.int64)
    gs = np.asarray(gs, dtype=np.int64).reshape(-1, 2)
    n_gt = np.bincount(gc, minlength=C)
    n_det = np.bincount(pc, minlength=C)
    # proposals in evaluation order: class, then descending score, ties by video then start
    order = np.lexsort((ps[:, 0], pv, -psc, pc))
    pv, pc, ps = pv[order], pc[order], ps[order]
    # candidate (proposal, gt) pairs of the same video and class, IoU in one batch
    V = len(predictions)
    gkey = gc * V + gv
    gorder = np.argsort(gkey, kind="stable")
    gkey_s, gs_s = gkey[gorder], gs[gorder]
    pkey = pc * V + pv
    lo = np.searchsorted(gkey_s, pkey, "left")
    cnt = np.searchsorted(gkey_s, pkey, "right") - lo
    pair_p = np.repeat(np.arange(len(pkey)), cnt)
    pair_g = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(lo, cnt)
    a, b = ps[pair_p], gs_s[pair_g]
    inter = np.clip(np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    union = (a[:, 1] - a[:, 0]) + (b[:, 1] - b[:, 0]) - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    class_start = np.searchsorted(pc, np.arange(C + 1))
    out: dict = {}
    per_class: dict = {}
    for tau in iou_thresholds:
        ok = iou >= tau
        cp, cg, ci = pair_p[ok], pair_g[ok], iou[ok]
        tp = np.zeros(len(pc), dtype=bool)
        used = np.zeros(len(gs_s), dtype=bool)
        # greedy, in evaluation order: each proposal takes the unused overlapping gt of largest IoU
        starts = np.searchsorted(cp, np.arange(len(pc) + 1))
        for i in np.unique(cp):
            rows = slice(starts[i], starts[i + 1])
            cand_g, cand_i = cg[rows], np.where(used[cg[rows]], -1.0, ci[rows])
            j = int(np.argmax(cand_i))
            if cand_i[j] >= 0:
                used[cand_g[j]] = True
                tp[i] = True
        aps = {classes[c]: _ap(tp[class_start[c]:class_start[c + 1]], int(n_gt[c])) for c in range(C)}
        counted = [classes[c] for c in range(C) if empty_classes == "zero" or n_gt[c] > 0]
        if zero_proposals == "zero_all" and (n_det == 0).any():
            m = 0.0
        else:
            m = float(np.mean([aps[c] for c in counted])) if counted else float("nan")
        out[f"mAP@{tau:g}"] = m
        per_class[tau] = aps
    out["avg"] = float(np.mean([out[f"mAP@{t:g}"] for t in iou_thresholds])) if len(iou_thresholds) else float("nan")
    if empty_classes == "exclude" and not n_gt.any() and not (zero_proposals == "zero_all" and (n_det == 0).any()):
        import warnings

        from vadkit.metrics.frame import UndefinedMetricWarning

        warnings.warn(f"detection_map: mAP undefined (NaN): none of the {len(predictions)} videos has a ground-truth "
                      f"segment, and empty_classes='exclude' leaves every class out", UndefinedMetricWarning,
                      stacklevel=2)
    if return_per_class:
        out["per_class"] = per_class
        out["n_proposals"] = {classes[c]: int(n_det[c]) for c in range(C)}
    return out
