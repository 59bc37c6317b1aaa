"""Frame-level metrics: ground-truth conventions, expansion, alignment, AUC/AP against sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from vadkit import metrics
from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation
from vadkit.errors import AnnotationError, ConfigError, LengthMismatchError, ScoreError


def make_dataset(rng, n_videos=6, snippet_len=16):
    ds = DatasetAnnotations("toy")
    for i in range(n_videos):
        n = int(rng.integers(5, 20)) * snippet_len + int(rng.integers(0, snippet_len))
        if i % 2 == 0:
            s = int(rng.integers(0, n // 2))
            e = int(rng.integers(s + 1, n))
            ann = VideoAnnotation(f"v{i}", num_frames=n, classes=(["Fight", "Theft"][i % 4 // 2],),
                                  segments=[Segment(s, e, None, False)])
        else:
            ann = VideoAnnotation(f"v{i}", num_frames=n)
        ds.add(ann)
    return ds


# ---------------------------------------------------------------------------------------------- ground truth

def test_end_conventions_and_placeholders():
    ann = VideoAnnotation("a", num_frames=20, segments=[Segment(5, 9, "x", True), Segment(-1, -1)])
    assert metrics.build_frame_gt(ann, "exact").tolist() == [0] * 5 + [1] * 5 + [0] * 10
    assert metrics.build_frame_gt(ann, "lavad").sum() == 5  # inclusive: 5..9
    assert metrics.build_frame_gt(ann, "vera").sum() == 4  # exclusive: 5..8
    assert len(metrics.build_frame_gt(ann, "vadclip", n_snippets=1)) == 16


def test_vad_llama_ignores_segments_starting_at_zero():
    ann = VideoAnnotation("a", num_frames=30, segments=[Segment(0, 10, "x", False), Segment(20, 25, "x", False)])
    assert metrics.build_frame_gt(ann, "vad_llama").sum() == 5
    assert metrics.build_frame_gt(ann, "vera").sum() == 15


@pytest.mark.parametrize("n,expected", [(160, 144), (170, 160), (175, 160), (161, 160), (16, 0)])
def test_off_by_16_length(n, expected):
    ann = VideoAnnotation("a", num_frames=n)
    assert metrics.gt_length(n, "off_by_16") == expected
    assert len(metrics.build_frame_gt(ann, "xdviodet")) == expected
    assert metrics.gt_length(n, "exact") == n


def test_frame_labels_convention_requires_them():
    with_labels = VideoAnnotation("a", num_frames=4, frame_labels=np.array([0, 1, 1, 0], np.uint8),
                                  segments=[Segment(0, 3, "x", True)])
    assert metrics.build_frame_gt(with_labels, "frame_labels").tolist() == [0, 1, 1, 0]
    assert metrics.build_frame_gt(with_labels, "lavad").tolist() == [1, 1, 1, 1]  # lineage ignores shipped labels
    with pytest.raises(AnnotationError, match="per-frame labels"):
        metrics.build_frame_gt(VideoAnnotation("b", num_frames=4), "frame_labels")


def test_unannotated_end_convention_refuses_to_guess():
    ann = VideoAnnotation("a", num_frames=20, segments=[Segment(2, 5, "x", None)])
    with pytest.raises(AnnotationError, match="inclusive"):
        metrics.build_frame_gt(ann, "exact")


def test_unknown_convention():
    with pytest.raises(ConfigError, match="gt_convention"):
        metrics.build_frame_gt(VideoAnnotation("a", num_frames=3), "nope")


# ---------------------------------------------------------------------------------------------- expansion

def test_expand_methods():
    s = np.array([0.0, 1.0, 2.0])
    assert metrics.expand_scores(s, "repeat", snippet_len=2).tolist() == [0, 0, 1, 1, 2, 2]
    near = metrics.expand_scores(s, "nearest", num_frames=6)
    assert near.tolist() == [0, 1, 1, 2, 2, 2]  # int(t * 3 / 6 + 0.5)
    lin = metrics.expand_scores(s, "linear", num_frames=6)
    assert lin[0] == 0 and lin[-1] == 2 and np.all(np.diff(lin) >= 0)
    wm = metrics.expand_scores(s, "window_mean", num_frames=6, windows=2)
    assert np.allclose(wm, [2 / 3] * 3 + [2] * 3)
    assert metrics.expand_scores(s, "none") is not None


def test_length_mismatch_names_video_and_difference():
    ann = DatasetAnnotations("t", {"clip7": VideoAnnotation("clip7", num_frames=100)})
    with pytest.raises(LengthMismatchError, match=r"clip7.*100.*96.*-4"):
        metrics.frame_arrays({"clip7": np.zeros(6)}, ann, gt_convention="exact", expand="repeat")
    pairs = metrics.frame_arrays({"clip7": np.zeros(6)}, ann, expand="repeat", align="pad_edge")
    assert len(pairs["clip7"][1]) == 100
    with pytest.raises(LengthMismatchError, match="only shortens"):
        metrics.frame_arrays({"clip7": np.zeros(6)}, ann, expand="repeat", align="cut")
    gt, sc = metrics.frame_arrays({"clip7": np.zeros(7)}, ann, expand="repeat", align="cut")["clip7"]
    assert len(gt) == len(sc) == 100


def test_bad_scores():
    ann = DatasetAnnotations("t", {"a": VideoAnnotation("a", num_frames=32)})
    with pytest.raises(ScoreError, match="a: 1 non-finite"):
        metrics.evaluate_frame_level({"a": np.array([0.1, np.nan])}, ann, gt_convention="vadclip")
    with pytest.raises(ScoreError, match="shape"):
        metrics.evaluate_frame_level({"a": np.zeros((2, 3))}, ann, gt_convention="vadclip")
    with pytest.raises(AnnotationError, match="no annotation"):
        metrics.evaluate_frame_level({"zz": np.zeros(2)}, ann, gt_convention="vadclip")
    with pytest.raises(ConfigError, match="expand"):
        metrics.evaluate_frame_level({"a": np.zeros(2)}, ann, expand="stretch")


def test_missing_videos_policy():
    rng = np.random.default_rng(0)
    ds = make_dataset(rng)
    scores = {k: rng.random(3) for k in list(ds)[:3]}
    with pytest.warns(UserWarning, match="3 of 6"):
        metrics.frame_arrays(scores, ds, gt_convention="vadclip")
    with pytest.raises(ScoreError, match="without scores|have no scores"):
        metrics.frame_arrays(scores, ds, gt_convention="vadclip", missing="error")


# ---------------------------------------------------------------------------------------------- estimators

@pytest.mark.parametrize("seed", range(5))
def test_auc_ap_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.random(500), 2)  # ties
    assert metrics.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert metrics.average_precision(y, s, "step") == pytest.approx(average_precision_score(y, s), abs=1e-12)
    p, r, _ = precision_recall_curve(y, s)
    assert metrics.average_precision(y, s, "trapezoid") == pytest.approx(auc(r, p), abs=1e-12)


def test_evaluate_frame_level_matches_independent_computation():
    rng = np.random.default_rng(3)
    ds = make_dataset(rng, 8)
    scores = {k: rng.random(ds[k].num_frames // 16) for k in ds}
    res = metrics.evaluate_frame_level(scores, ds, gt_convention="vadclip", expand="repeat")
    gts, scs, abn_g, abn_s = [], [], [], []
    for k, ann in ds.items():
        g = np.zeros(16 * len(scores[k]), int)
        for seg in ann.segments:
            g[seg.start:seg.end] = 1
        s = np.repeat(scores[k], 16)
        gts.append(g)
        scs.append(s)
        if g.any():
            abn_g.append(g)
            abn_s.append(s)
    g, s = np.concatenate(gts), np.concatenate(scs)
    assert res["auc_o"] == pytest.approx(roc_auc_score(g, s), abs=1e-12)
    assert res["auc_a"] == pytest.approx(roc_auc_score(np.concatenate(abn_g), np.concatenate(abn_s)), abs=1e-12)
    assert res["ap_step"] == pytest.approx(average_precision_score(g, s), abs=1e-12)
    assert res["n_frames"] == len(g) and res["n_videos"] == 8
    assert {"auc_a/Fight", "auc_a/Theft"} <= set(res)


def test_macro_policies():
    pairs = {
        "mixed": (np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])),
        "all_abnormal": (np.array([1, 1]), np.array([0.3, 0.6])),
        "all_normal": (np.array([0, 0]), np.array([0.2, 0.9])),
    }
    per = metrics.per_video_auc(pairs, "skip")
    assert per["mixed"] == pytest.approx(0.75) and np.isnan(per["all_abnormal"]) and np.isnan(per["all_normal"])
    assert metrics.macro_auc(pairs, "skip") == pytest.approx(0.75)
    ub = metrics.per_video_auc(pairs, "ubnormal")
    assert ub["mixed"] == pytest.approx(roc_auc_score([0, 0, 0, 1, 1, 1], [0, 0.1, 0.4, 0.35, 0.8, 1]))
    assert ub["all_normal"] == pytest.approx(roc_auc_score([0, 0, 0, 1], [0, 0.2, 0.9, 1]))
    sp = metrics.per_video_auc(pairs, "sspcab")
    assert sp["mixed"] == pytest.approx(0.75) and sp["all_abnormal"] == 1.0
    ss = metrics.per_video_auc(pairs, "ssmtl")
    assert ss["all_abnormal"] == 1.0 and np.isnan(ss["all_normal"])


def test_single_video_and_single_class_edge_cases():
    ds = DatasetAnnotations("t", {"a": VideoAnnotation("a", num_frames=32, segments=[Segment(0, 16, "x", False)],
                                                       classes=("x",))})
    res = metrics.evaluate_frame_level({"a": np.r_[1.0, 0.0]}, ds, gt_convention="exact")
    assert res["auc_o"] == 1.0 and res["n_abnormal_videos"] == 1
    normal = DatasetAnnotations("n", {"b": VideoAnnotation("b", num_frames=32)})
    res = metrics.evaluate_frame_level({"b": np.r_[0.2, 0.1]}, normal)
    assert np.isnan(res["auc_o"]) and np.isnan(res["auc_a"]) and np.isnan(res["ap_step"])
    with pytest.raises(ScoreError, match="undefined"):
        metrics.roc_auc([1, 1], [0.2, 0.3], undefined="raise")
    assert metrics.roc_auc([0, 1, 0, 1], [0.5] * 4) == 0.5  # all ties


# ---------------------------------------------------------------------------------------------- properties

labels_scores = st.integers(2, 60).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 1), min_size=n, max_size=n),
                        st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n)))


@settings(max_examples=60, deadline=None)
@given(labels_scores, st.floats(0.01, 100), st.floats(-10, 10))
def test_auc_invariant_to_monotone_rescaling_and_bounded(ls, a, b):
    y, s = np.array(ls[0]), np.round(np.array(ls[1]), 3)
    base = metrics.roc_auc(y, s)
    if np.isnan(base):
        assert y.min() == y.max()
        return
    assert 0.0 <= base <= 1.0
    assert metrics.roc_auc(y, a * s + b) == pytest.approx(base, abs=1e-9)
    for est in metrics.AP_ESTIMATORS:
        ap = metrics.average_precision(y, s, est)
        assert 0.0 <= ap <= 1.0 + 1e-12
        assert metrics.average_precision(y, a * s + b, est) == pytest.approx(ap, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_frame_level_invariant_to_video_order(seed, rnd):
    rng = np.random.default_rng(seed)
    ds = make_dataset(rng, 5)
    scores = {k: rng.random(ds[k].num_frames // 16) for k in ds}
    keys = list(ds)
    rnd.shuffle(keys)
    shuffled = DatasetAnnotations("toy", {k: ds[k] for k in keys})
    a = metrics.evaluate_frame_level(scores, ds, gt_convention="vadclip")
    b = metrics.evaluate_frame_level({k: scores[k] for k in keys}, shuffled, gt_convention="vadclip")
    for k in a:
        assert (np.isnan(a[k]) and np.isnan(b[k])) or a[k] == pytest.approx(b[k], abs=1e-12)


# ---------------------------------------------------------------------------------------------- real files

def test_real_ucf_off_by_16_is_visible(shared_annotations):
    """On the real UCF temporal file: segment ends past the off-by-16 length are clipped, never an error."""
    path = shared_annotations / "ucf_crime" / "Temporal_Anomaly_Annotation.txt"
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    assert len(lines) == 290
    name, cls, s1, e1 = lines[0][:4]
    n = int(e1) + 40
    ann = VideoAnnotation(name, num_frames=n, classes=(cls,), segments=[Segment(int(s1), int(e1), cls, None)])
    exact = metrics.build_frame_gt(ann, "lavad")
    trunc = metrics.build_frame_gt(ann, "off_by_16")
    assert len(trunc) == 16 * ((n - 1) // 16) and exact.sum() - trunc.sum() >= 1


def test_all_normal_split_warns_which_metrics_are_undefined():
    """Issue 10: an all-normal test split gave AUC_O NaN with no warning."""
    ds = DatasetAnnotations("normal-only")
    for i in range(3):
        ds.add(VideoAnnotation(f"n{i}", num_frames=32))
    scores = {f"n{i}": np.linspace(0, 1, 2) for i in range(3)}
    with pytest.warns(metrics.UndefinedMetricWarning, match=r"auc_o.*undefined \(NaN\).*no abnormal frame") as rec:
        res = metrics.evaluate_frame_level(scores, ds, gt_convention="vadclip", expand="repeat")
    # one warning, not one per metric
    assert len([w for w in rec if issubclass(w.category, metrics.UndefinedMetricWarning)]) == 1
    assert np.isnan(res["auc_o"]) and np.isnan(res["auc_a"]) and np.isnan(res["ap_step"])
    with pytest.warns(metrics.UndefinedMetricWarning, match="all 4 frames have label 0"):
        assert np.isnan(metrics.micro_auc({"a": (np.zeros(4), np.arange(4.0))}))
    with pytest.raises(ScoreError, match="undefined"):
        metrics.roc_auc(np.zeros(4), np.arange(4.0), undefined="raise")


def test_defined_metrics_do_not_warn():
    import warnings

    rng = np.random.default_rng(3)
    ds = make_dataset(rng, 8)
    scores = {k: rng.random(ds[k].num_frames // 16) for k in ds}
    with warnings.catch_warnings():
        warnings.simplefilter("error", metrics.UndefinedMetricWarning)
        res = metrics.evaluate_frame_level(scores, ds, gt_convention="vadclip", expand="repeat", per_class=False)
    assert 0.0 <= res["auc_o"] <= 1.0
