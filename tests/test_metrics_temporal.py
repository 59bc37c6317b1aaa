"""mAP@IoU (VadCLIP protocol): hand-worked cases, quirks vs corrected variant, the loop reference, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from vadkit import metrics
from vadkit.errors import AnnotationError, ConfigError, ScoreError
from vadkit.metrics._reference import detection_map_loop


def two_class_video():
    p = np.zeros((64, 2))
    p[10:30, 1] = 1.0  # class b: one clean run [10, 30)
    p[:, 0] = 0.5
    p[40:42, 0] = 0.9  # class a: a 2-frame run [40, 42)
    return p


def test_hand_worked_map():
    # b: IoU([10,30),[10,30)) = 1; a: IoU([40,42),[35,45)) = 2/10 = 0.2
    res = metrics.detection_map([two_class_video()], [[[10, 30], [35, 45]]], [["b", "a"]], ["a", "b"],
                                return_per_class=True)
    assert res["mAP@0.1"] == 1.0 and res["mAP@0.2"] == 1.0
    assert res["mAP@0.3"] == 0.5 and res["mAP@0.5"] == 0.5
    assert res["avg"] == pytest.approx(0.7)
    assert res["per_class"][0.3] == {"a": 0.0, "b": 1.0}
    assert res["n_proposals"] == {"a": 1, "b": 1}


def test_proposal_scores_and_threshold():
    p = two_class_video()
    cls, seg, sc = metrics.video_proposals(p)
    assert cls.tolist() == [0, 1] and seg.tolist() == [[40, 42], [10, 30]]
    # score = segment max + 0.7 * mean of the top floor(64/16)=4 frames
    assert sc[0] == pytest.approx(0.9 + 0.7 * 0.7)  # top-4 of class a: 0.9, 0.9, 0.5, 0.5
    assert sc[1] == pytest.approx(1.0 + 0.7 * 1.0)
    assert len(metrics.runs_above(np.array([1, 0, 1, 1, 0]), 2)) == 1  # single frames are no proposals


def test_precision_counts_false_positives_ranked_first():
    hi = np.zeros((32, 1))
    hi[0:20, 0] = 1.0  # video 0: a confident proposal with no ground truth
    lo = np.zeros((32, 1))
    lo[0:20, 0] = 0.5  # video 1: a weaker proposal on its ground truth
    res = metrics.detection_map([hi, lo], [[], [[0, 20]]], [[], ["x"]], ["x"])
    assert res["avg"] == pytest.approx(0.5)  # TP at rank 2: precision 1/2, one GT


def test_zero_proposal_and_empty_class_quirks():
    p = two_class_video()
    p[:, 0] = 0.5  # class a constant: no proposal at all
    args = ([p], [[[10, 30]]], [["b"]], ["a", "b"])
    assert metrics.detection_map(*args)["avg"] == 0.0  # VadCLIP: any class without proposals zeroes mAP
    assert metrics.detection_map(*args, convention="corrected")["avg"] == 1.0
    assert metrics.detection_map(*args, zero_proposals="class_zero")["avg"] == 0.5  # a: AP 0 (no GT) in mean
    # UCF's normal class: proposals but no ground truth -> adds AP 0 under the faithful convention
    q = two_class_video()
    args = ([q], [[[10, 30]]], [["b"]], ["Normal", "b"])
    assert metrics.detection_map(*args)["avg"] == 0.5
    assert metrics.detection_map(*args, convention="corrected")["avg"] == 1.0


def test_each_gt_used_once():
    p = np.zeros((64, 1))
    p[0:10, 0] = 1.0
    p[12:30, 0] = 0.9
    res = metrics.detection_map([p], [[[0, 30]]], [["x"]], ["x"], iou_thresholds=(0.1,), return_per_class=True)
    # two proposals overlap the single GT: the first is a TP, the second a FP -> AP = 1/1 (precision at rank 1)
    assert res["mAP@0.1"] == 1.0
    res = metrics.detection_map([p, p], [[[0, 30]], [[0, 30]]], [["x"], ["x"]], ["x"], iou_thresholds=(0.1,))
    # ranks: TP(v0), TP(v1), FP, FP -> (1 + 1) / 2
    assert res["mAP@0.1"] == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_matches_loop_reference(seed):
    rng = np.random.default_rng(seed)
    C = 5
    names = [f"c{i}" for i in range(C)]
    preds, segs, labs = [], [], []
    for _ in range(12):
        S = int(rng.integers(2, 15))
        probs = rng.dirichlet(np.ones(C), S)
        preds.append(np.repeat(np.round(probs, 2), 16, axis=0))
        k = int(rng.integers(0, 3))
        starts = rng.integers(0, 16 * S - 2, k)
        segs.append([[int(s), int(s + rng.integers(1, 16 * S - s))] for s in starts])
        labs.append([names[int(rng.integers(0, C))] for _ in range(k)])
    for conv, kw in [("vadclip", {}), ("corrected", dict(zero_proposals="class_zero", empty_classes="exclude"))]:
        a = metrics.detection_map(preds, segs, labs, names, convention=conv)
        b = detection_map_loop(preds, segs, labs, names, **kw)
        for key in b:
            assert a[key] == pytest.approx(b[key], abs=1e-12), (conv, key)


def test_bounds_and_permutation_invariance():
    rng = np.random.default_rng(9)
    preds = [np.repeat(rng.dirichlet(np.ones(3), 8), 16, axis=0) for _ in range(6)]
    segs = [[[16, 64]] for _ in range(6)]
    labs = [["c1"] if i % 2 else ["c2"] for i in range(6)]
    a = metrics.detection_map(preds, segs, labs, ["c0", "c1", "c2"], convention="corrected")
    perm = rng.permutation(6)
    b = metrics.detection_map([preds[i] for i in perm], [segs[i] for i in perm], [labs[i] for i in perm],
                              ["c0", "c1", "c2"], convention="corrected")
    for k in a:
        assert 0.0 <= a[k] <= 1.0
        assert a[k] == pytest.approx(b[k], abs=1e-12)


def test_bad_input():
    p = two_class_video()
    with pytest.raises(AnnotationError, match="unknown class 'zz'"):
        metrics.detection_map([p], [[[1, 5]]], [["zz"]], ["a", "b"])
    with pytest.raises(ScoreError, match="3 class columns"):
        metrics.detection_map([np.zeros((5, 3))], [[]], [[]], ["a", "b"])
    bad = p.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ScoreError, match="non-finite"):
        metrics.detection_map([bad], [[]], [[]], ["a", "b"])
    with pytest.raises(ScoreError, match="one-to-one"):
        metrics.detection_map([p, p], [[]], [[]], ["a", "b"])
    with pytest.raises(ConfigError, match="convention"):
        metrics.detection_map([p], [[]], [[]], ["a", "b"], convention="fancy")


def test_detection_map_on_empty_input_is_a_clear_error():
    """Issue 10: empty input raised numpy's 'need at least one array to concatenate'."""
    with pytest.raises(ScoreError, match="no videos to evaluate"):
        metrics.detection_map([], [], [], ["a", "b"])


def test_detection_map_without_ground_truth_warns_when_nan():
    p = np.zeros((64, 1))
    p[10:30, 0] = 1.0
    with pytest.warns(metrics.UndefinedMetricWarning, match="none of the 1 videos has a ground-truth segment"):
        res = metrics.detection_map([p], [[]], [[]], ["x"], convention="corrected")
    assert np.isnan(res["avg"])
