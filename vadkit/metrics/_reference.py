"""Plain-loop reference implementations, written for clarity, not speed.

They follow the textual definitions step by step (Python loops over detections, regions and proposals, as
the public reference scripts do) and exist only to check the vectorised versions: the tests compare them on
random inputs and ``benchmarks/metrics/bench_metrics.py`` times both. Not part of the public API.
"""

from __future__ import annotations

import math

import numpy as np


def rbdc_tbdc_loop(gt_rows, det_rows, num_frames: int, beta: float = 0.1, alpha: float = 0.1) -> tuple[float, float]:
    """RBDC/TBDC by loops. ``gt_rows``: iterable of ``(video, track, frame, x1, y1, x2, y2)``;
    ``det_rows``: ``(video, frame, x1, y1, x2, y2, score)``."""
    regions = {}  # (video, frame) -> list of [box, track key, detected flag index]
    track_len: dict = {}
    n_regions = 0
    region_hit = []
    region_track = []
    for row in gt_rows:
        v, t, f = str(row[0]), int(row[1]), int(row[2])
        box = [float(x) for x in row[3:7]]
        regions.setdefault((v, f), []).append((box, n_regions))
        region_hit.append(False)
        region_track.append((v, t))
        track_len[(v, t)] = track_len.get((v, t), 0) + 1
        n_regions += 1
    dets = [(str(r[0]), int(r[1]), [float(x) for x in r[2:6]], float(r[6])) for r in det_rows]
    order = sorted(range(len(dets)), key=lambda i: -dets[i][3])  # sorted() is stable: ties in input order
    track_hits = {k: 0 for k in track_len}
    tracks_done = set()
    tp = fp = 0
    fprs, rbdrs, tbdrs = [], [], []
    for i in order:
        v, f, box, _ = dets[i]
        cands = regions.get((v, f), [])
        matched_any = False
        for gbox, ridx in cands:
            iw = min(box[2], gbox[2]) - max(box[0], gbox[0]) + 1
            ih = min(box[3], gbox[3]) - max(box[1], gbox[1]) + 1
            inter = max(iw, 0) * max(ih, 0)
            union = (box[2] - box[0] + 1) * (box[3] - box[1] + 1) + (gbox[2] - gbox[0] + 1) * (gbox[3] - gbox[1] + 1) - inter
            if inter / union >= beta:
                matched_any = True
                if not region_hit[ridx]:
                    region_hit[ridx] = True
                    tp += 1
                    key = region_track[ridx]
                    track_hits[key] += 1
                    if key not in tracks_done and track_hits[key] / track_len[key] >= alpha:
                        tracks_done.add(key)
        if not matched_any:
            fp += 1
        fprs.append(fp / num_frames)
        rbdrs.append(tp / n_regions)
        tbdrs.append(len(tracks_done) / len(track_len))

    def area(ys):
        x, y = [0.0], [0.0]
        for a, b in zip(fprs, ys):
            if a <= 1.0:
                x.append(a)
                y.append(b)
        if x[-1] < 1.0:
            x.append(1.0)
            y.append(y[-1])
        return sum((x[j + 1] - x[j]) * (y[j + 1] + y[j]) / 2.0 for j in range(len(x) - 1))

    return area(rbdrs), area(tbdrs)


def detection_map_loop(predictions, gt_segments, gt_labels, classes, iou_thresholds=(0.1, 0.2, 0.3, 0.4, 0.5),
                       zero_proposals: str = "zero_all", empty_classes: str = "zero") -> dict:
    """mAP@IoU by loops over videos, classes, frames and proposals (VadCLIP steps, module
    :mod:`vadkit.metrics.temporal`)."""
    C = len(classes)
    props = []  # (video, class, s, e, score)
    for v, p in enumerate(predictions):
        p = np.asarray(p, dtype=float)
        T = p.shape[0]
        k = max(1, T // 16)
        for c in range(C):
            col = [float(x) for x in p[:, c]]
            c_s = sum(sorted(col, reverse=True)[:k]) / k
            hi, lo = max(col), min(col)
            thr = hi - 0.6 * (hi - lo)
            cand = []
            t = 0
            while t < T:
                if col[t] > thr:
                    s = t
                    while t < T and col[t] > thr:
                        t += 1
                    if t - s >= 2:
                        cand.append((s, t, max(col[s:t]) + 0.7 * c_s))
                else:
                    t += 1
            cand_sorted = sorted(cand, key=lambda x: -x[2])
            kept = []
            for s, e, sc in cand_sorted:
                if all(_iou(s, e, ks, ke) <= 0.6 for ks, ke, _ in kept):
                    kept.append((s, e, sc))
            for s, e, sc in kept:
                props.append((v, c, s, e, sc))
    out = {}
    for tau in iou_thresholds:
        aps = []
        any_empty = False
        for c in range(C):
            gts = [(v, int(s), int(e)) for v in range(len(gt_segments))
                   for (s, e), lab in zip(gt_segments[v], gt_labels[v]) if lab == classes[c]]
            mine = [x for x in props if x[1] == c]
            if not mine:
                any_empty = True
            mine.sort(key=lambda x: (-x[4], x[0], x[2]))
            used = [False] * len(gts)
            tp_flags = []
            for v, _, s, e, _ in mine:
                best, best_j = -1.0, -1
                for j, (gv, gs, ge) in enumerate(gts):
                    if gv != v or used[j]:
                        continue
                    iou = _iou(s, e, gs, ge)
                    if iou >= tau and iou > best:
                        best, best_j = iou, j
                if best_j >= 0:
                    used[best_j] = True
                tp_flags.append(best_j >= 0)
            if not gts:
                if empty_classes == "zero":
                    aps.append(0.0)
                continue
            ap, tps = 0.0, 0
            for r, flag in enumerate(tp_flags):
                if flag:
                    tps += 1
                    ap += tps / (r + 1)
            aps.append(ap / len(gts))
        if zero_proposals == "zero_all" and any_empty:
            out[f"mAP@{tau:g}"] = 0.0
        else:
            out[f"mAP@{tau:g}"] = sum(aps) / len(aps) if aps else math.nan
    out["avg"] = sum(out[f"mAP@{t:g}"] for t in iou_thresholds) / len(iou_thresholds)
    return out


def _iou(s1, e1, s2, e2) -> float:
    inter = max(0, min(e1, e2) - max(s1, s2))
    union = (e1 - s1) + (e2 - s2) - inter
    return inter / union if union > 0 else 0.0
