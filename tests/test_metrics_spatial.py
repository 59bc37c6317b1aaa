"""RBDC/TBDC: hand-worked curves, edge cases, loop reference, formats; heatmaps to regions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vadkit import metrics
from vadkit.data.annotations import DatasetAnnotations, Track, VideoAnnotation
from vadkit.errors import AnnotationError, ScoreError
from vadkit.metrics._reference import rbdc_tbdc_loop

GT = [("v", 0, 0, 0, 0, 9, 9), ("v", 0, 1, 0, 0, 9, 9)]  # one track, two regions
DET = [
    ("v", 0, 0, 0, 9, 9, 0.9),  # TP (region at frame 0)
    ("v", 5, 0, 0, 9, 9, 0.8),  # FP: no region in frame 5
    ("v", 1, 50, 50, 60, 60, 0.7),  # FP: region in frame 1 but IoU 0
    ("v", 1, 1, 1, 9, 9, 0.6),  # TP (region at frame 1; IoU 81/100)
]


def test_hand_worked_curve():
    # RBDR: 0.5 from FPR 0 to 0.2, then 1 to FPR 1 -> 0.5*0.2 + 1*0.8 = 0.9; TBDR: 1 from FPR 0
    rbdc, tbdc = metrics.rbdc_tbdc(GT, DET, num_frames=10)
    assert rbdc == pytest.approx(0.9) and tbdc == pytest.approx(1.0)
    # alpha 0.6: the track needs both regions, detected at FPR 0.2 -> TBDC 0.8
    assert metrics.rbdc_tbdc(GT, DET, 10, alpha=0.6)[1] == pytest.approx(0.8)
    c = metrics.rbdc_tbdc_curves(GT, DET, 10)
    assert c["fpr"].tolist() == pytest.approx([0, 0.1, 0.2, 0.2])
    assert c["rbdr"].tolist() == pytest.approx([0.5, 0.5, 0.5, 1.0])


def test_duplicate_detection_is_neither_tp_nor_fp():
    det = DET + [("v", 0, 0, 0, 9, 9, 0.95)]  # a second hit on the same region ranks first
    c = metrics.rbdc_tbdc_curves(GT, det, 10)
    assert c["fpr"][:2].tolist() == [0, 0] and c["rbdr"][:2].tolist() == [0.5, 0.5]
    assert metrics.rbdc_tbdc(GT, det, 10) == pytest.approx(metrics.rbdc_tbdc(GT, DET, 10))


def test_one_detection_can_hit_several_regions():
    gt = GT + [("v", 1, 0, 2, 2, 11, 11)]  # second track overlapping the first at frame 0
    c = metrics.rbdc_tbdc_curves(gt, [("v", 0, 0, 0, 10, 10, 1.0)], 10)
    assert c["rbdr"].tolist() == pytest.approx([2 / 3]) and c["tbdr"].tolist() == [1.0]


def test_fpr_cut_at_one_and_flat_extension():
    det = [("v", 9, 0, 0, 1, 1, 1.0 - i / 100) for i in range(30)]  # 30 FPs on 10 frames: FPR up to 3
    det.append(("v", 0, 0, 0, 9, 9, 0.1))  # TP after FPR 1: never counted
    assert metrics.rbdc_tbdc(GT, det, 10) == (0.0, 0.0)


def test_edge_cases():
    assert metrics.rbdc_tbdc(GT, np.zeros((0, 7)), 10) == (0.0, 0.0)  # empty detections
    gt = GT + [("w", 7, 3, 0, 0, 5, 5)]  # a track that is never hit
    _, tbdc = metrics.rbdc_tbdc(gt, DET, 10)
    assert tbdc == pytest.approx(0.5)
    with pytest.raises(AnnotationError, match="no ground-truth regions"):
        metrics.rbdc_tbdc(np.zeros((0, 7)), DET, 10)
    with pytest.raises(ScoreError, match="num_frames"):
        metrics.rbdc_tbdc(GT, DET, 0)
    with pytest.raises(ScoreError, match="shape"):
        metrics.rbdc_tbdc(GT, np.zeros((3, 6)), 10)
    bad = [list(r) for r in DET]
    bad[0][6] = float("nan")
    with pytest.raises(ScoreError, match="NaN"):
        metrics.rbdc_tbdc(GT, bad, 10)


@pytest.mark.parametrize("seed", range(8))
def test_matches_loop_reference_and_is_bounded(seed):
    rng = np.random.default_rng(seed)
    gt = []
    for v in range(4):
        for t in range(int(rng.integers(1, 4))):
            f0, L = int(rng.integers(0, 40)), int(rng.integers(1, 25))
            x, y = rng.uniform(0, 80, 2)
            gt += [(v, t, f, x, y, x + rng.uniform(5, 30), y + rng.uniform(5, 30)) for f in range(f0, f0 + L)]
    det = []
    for _ in range(int(rng.integers(1, 400))):
        x, y = rng.uniform(0, 100, 2)
        det.append((int(rng.integers(0, 5)), int(rng.integers(0, 70)), x, y, x + rng.uniform(5, 40),
                    y + rng.uniform(5, 40), round(float(rng.random()), 1)))
    a = metrics.rbdc_tbdc(np.array(gt), np.array(det), 150)
    b = rbdc_tbdc_loop(gt, det, 150)
    assert a == pytest.approx(b, abs=1e-12)
    assert all(0.0 <= x <= 1.0 for x in a)
    # invariance: scaling scores and shuffling rows (no ties broken differently: scores strictly scaled)
    det2 = np.array(det)
    det2[:, 6] *= 7.0
    assert metrics.rbdc_tbdc(np.array(gt)[rng.permutation(len(gt))], det2, 150) == pytest.approx(a, abs=1e-12)


def test_dataframe_and_file_inputs(tmp_path):
    gdf = pd.DataFrame(GT, columns=metrics.GT_COLUMNS)
    ddf = pd.DataFrame(DET, columns=metrics.DET_COLUMNS)
    assert metrics.rbdc_tbdc(gdf, ddf, 10) == pytest.approx((0.9, 1.0))
    (tmp_path / "v_gt.txt").write_text("0, 0, 0, 0, 9, 9\n0, 1, 0, 0, 9, 9\n")
    (tmp_path / "v_det.txt").write_text("\n".join(" ".join(map(str, r[1:])) for r in DET) + "\n")
    g = metrics.read_track_files({"v": tmp_path / "v_gt.txt"})
    d = metrics.read_detection_files({"v": tmp_path / "v_det.txt"})
    assert metrics.rbdc_tbdc(g, d, 10) == pytest.approx((0.9, 1.0))
    (tmp_path / "bad.txt").write_text("0, 1, 2\n")
    with pytest.raises(AnnotationError, match=r"bad.txt:1: expected 6"):
        metrics.read_track_files({"v": tmp_path / "bad.txt"})


def test_tracks_table_from_annotations():
    ann = VideoAnnotation("v", num_frames=10, tracks=[
        Track(0, [0, 1], [[0, 0, 9, 9], [0, 0, 9, 9]]),
        Track(1, [3], [[0, 0, 2, 2]], anomalous=False)])
    tab = metrics.tracks_table(DatasetAnnotations("t", {"v": ann}))
    assert len(tab) == 2 and list(tab.columns) == list(metrics.GT_COLUMNS)
    assert metrics.rbdc_tbdc(tab, DET, 10) == pytest.approx((0.9, 1.0))


def test_heatmap_to_regions():
    h = np.zeros((20, 30))
    h[2:5, 3:8] = 0.9
    h[10:12, 20:22] = 0.6
    h[15, 15] = 0.4  # below threshold
    r = metrics.heatmap_to_regions(h, threshold=0.5)
    assert r.tolist() == [[3, 2, 7, 4, 0.9], [20, 10, 21, 11, 0.6]]
    assert len(metrics.heatmap_to_regions(h, min_area=5)) == 1
    scaled = metrics.heatmap_to_regions(h, scale=(2.0, 2.0))
    assert scaled[0, :4].tolist() == [6, 4, 15, 9]
    d = metrics.heatmaps_to_detections({"v": np.stack([h, np.zeros_like(h)])})
    assert len(d) == 2 and set(d["frame"]) == {0}
    with pytest.raises(ScoreError):
        metrics.heatmap_to_regions(np.zeros((2, 2, 2)))
