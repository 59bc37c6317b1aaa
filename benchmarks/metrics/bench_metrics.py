"""Time vadkit's vectorised RBDC/TBDC and mAP@IoU against plain-loop implementations on the same inputs.

Inputs are synthetic but shaped like the real test sets:

* ``ubnormal``: 211 test videos, ~93k frames, ~300 anomalous tracks (~25k regions), ~100k detections
  (a third near ground-truth boxes, the rest false alarms); mAP on 211 videos x 22 classes;
* ``ucf``: 290 test videos, ~1.1M frames, 14 classes for mAP (frame probabilities [T, 14], snippet
  probabilities repeated 16x); RBDC/TBDC with ~1M frames and 10^5 detections;
* ``small``: a few seconds in all, for a quick check.

Prints the wall time of each implementation, the speed-up and max |difference| (target < 1e-9) of the
results. Nothing is asserted: timings depend on the machine.

Usage: python benchmarks/metrics/bench_metrics.py --scale ubnormal|ucf|small [--seed 0] [--skip-loop]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vadkit.metrics import detection_map, rbdc_tbdc
from vadkit.metrics._reference import detection_map_loop, rbdc_tbdc_loop

SCALES = {
    # videos, mean frames per video, tracks per abnormal video, detections, classes
    "small": dict(videos=30, frames=300, tracks=2, detections=3_000, classes=6),
    "ubnormal": dict(videos=211, frames=440, tracks=3, detections=100_000, classes=22),
    "ucf": dict(videos=290, frames=3_800, tracks=2, detections=100_000, classes=14),
}


def make_spatial(rng: np.random.Generator, videos: int, frames: int, tracks: int, detections: int, **_):
    lengths = rng.integers(frames // 2, frames * 3 // 2, size=videos)
    gt = []
    abnormal = rng.random(videos) < 0.45
    for v in np.flatnonzero(abnormal):
        L = int(lengths[v])
        for t in range(rng.integers(1, tracks + 1)):
            f0 = int(rng.integers(0, max(L - 20, 1)))
            n = int(rng.integers(10, max(min(L - f0, 150), 11)))
            x, y = rng.uniform(0, 1000), rng.uniform(0, 600)
            w, h = rng.uniform(20, 120), rng.uniform(40, 200)
            vx, vy = rng.normal(0, 2, 2)
            for k in range(n):
                f = f0 + k
                if f >= L:
                    break
                gt.append((v, t, f, x + vx * k, y + vy * k, x + vx * k + w, y + vy * k + h))
    gt = np.asarray(gt, dtype=np.float64)
    n_near = detections // 3
    pick = gt[rng.integers(0, len(gt), n_near)]
    jit = rng.normal(0, 12, (n_near, 4))
    near = np.column_stack([pick[:, 0], pick[:, 2], pick[:, 3:7] + jit, rng.beta(4, 2, n_near)])
    near[:, 4] = np.maximum(near[:, 4], near[:, 2] + 1)
    near[:, 5] = np.maximum(near[:, 5], near[:, 3] + 1)
    n_far = detections - n_near
    vids = rng.integers(0, videos, n_far)
    fr = (rng.random(n_far) * lengths[vids]).astype(int)
    xy = rng.uniform(0, 1000, (n_far, 2))
    wh = rng.uniform(20, 150, (n_far, 2))
    far = np.column_stack([vids, fr, xy, xy + wh, rng.beta(2, 4, n_far)])
    det = np.concatenate([near, far])
    det[:, 6] = np.round(det[:, 6], 3)  # ties, as detector scores have
    return gt, det, int(lengths.sum())


def make_temporal(rng: np.random.Generator, videos: int, frames: int, classes: int, **_):
    preds, segs, labs = [], [], []
    names = [f"class{c}" for c in range(classes)]
    for v in range(videos):
        S = max(2, int(rng.integers(frames // 2, frames * 3 // 2)) // 16)
        logits = rng.normal(0, 1, (S, classes))
        c = int(rng.integers(1, classes))
        s0 = int(rng.integers(0, S - 1))
        s1 = int(rng.integers(s0 + 1, S + 1))
        logits[s0:s1, c] += rng.uniform(1, 4)
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        preds.append(np.repeat(np.round(p, 4), 16, axis=0))
        a = s0 * 16 + int(rng.integers(0, 8))
        segs.append([[a, max(s1 * 16 - int(rng.integers(0, 8)), a + 1)]])
        labs.append([names[c]])
    return preds, segs, labs, names


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=tuple(SCALES), default="small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-loop", action="store_true", help="time vadkit only (the loops take minutes at ucf scale)")
    args = ap.parse_args()
    cfg = SCALES[args.scale]
    rng = np.random.default_rng(args.seed)

    gt, det, num_frames = make_spatial(rng, **cfg)
    print(f"[{args.scale}] RBDC/TBDC: {len(gt):,} regions, {len(det):,} detections, {num_frames:,} frames")
    (rb, tb), t_vec = timed(rbdc_tbdc, gt, det, num_frames)
    print(f"  vadkit   {t_vec:8.3f} s   RBDC {rb:.6f}  TBDC {tb:.6f}")
    if not args.skip_loop:
        (rb0, tb0), t_loop = timed(rbdc_tbdc_loop, gt.tolist(), det.tolist(), num_frames)
        print(f"  loop     {t_loop:8.3f} s   RBDC {rb0:.6f}  TBDC {tb0:.6f}")
        print(f"  speed-up {t_loop / t_vec:8.1f} x   max |diff| {max(abs(rb - rb0), abs(tb - tb0)):.3e}")

    preds, segs, labs, names = make_temporal(rng, **cfg)
    n = sum(len(p) for p in preds)
    print(f"[{args.scale}] mAP@IoU: {len(preds)} videos, {n:,} frames, {len(names)} classes")
    for conv, kw in {"vadclip": dict(zero_proposals="zero_all", empty_classes="zero"),
                     "corrected": dict(zero_proposals="class_zero", empty_classes="exclude")}.items():
        m, t_vec = timed(detection_map, preds, segs, labs, names, convention=conv)
        print(f"  vadkit   {t_vec:8.3f} s   {conv:9s} AVG {m['avg']:.6f}")
        if not args.skip_loop:
            m0, t_loop = timed(detection_map_loop, preds, segs, labs, names, **kw)
            diff = max(abs(m[k] - m0[k]) for k in m0)
            print(f"  loop     {t_loop:8.3f} s   {conv:9s} AVG {m0['avg']:.6f}")
            print(f"  speed-up {t_loop / t_vec:8.1f} x   max |diff| {diff:.3e}")


if __name__ == "__main__":
    main()
