"""The linear probe of chapter 02 (vadkit.experiment.probe): labels, controls, selection on validation."""

from __future__ import annotations

import numpy as np
import pytest

from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation
from vadkit.experiment.data import Splits
from vadkit.experiment.probe import colour_histograms, linear_probe, snippet_labels

L = 16


def _split(name: str, n: int, rng) -> DatasetAnnotations:
    ds = DatasetAnnotations(name, {}, ("normal", "event"))
    for i in range(n):
        T = int(rng.integers(8, 14)) * L + int(rng.integers(0, L))
        fl = np.zeros(T, np.uint8)
        if i % 2:
            s = int(rng.integers(0, T // 2))
            fl[s:s + T // 3] = 1
        ds.add(VideoAnnotation(f"{name}{i}", split=name, classes=("event",) if i % 2 else (), num_frames=T,
                               frame_labels=fl))
    return ds


def _features(split, rng, signal: float) -> dict:
    out = {}
    for vid, a in split.items():
        T = a.num_frames // L
        y = snippet_labels(a, T, L).astype(np.float32)
        x = rng.normal(size=(T, 8)).astype(np.float32)
        x[:, 0] += signal * y  # one direction carries the label
        out[vid] = x
    return out


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(0)
    return Splits(_split("train", 30, rng), _split("val", 10, rng), _split("test", 12, rng), None, "toy",
                  "the toy's val split", "frame", {})


def test_snippet_labels_read_the_encoded_frame():
    fl = np.zeros(40, np.uint8)
    fl[8] = 1  # the centre frame of snippet 0 (frames 0-15) is frame 8
    a = VideoAnnotation("v", num_frames=40, frame_labels=fl)
    assert snippet_labels(a, 2, L).tolist() == [1, 0]


def test_probe_finds_a_linear_signal_and_not_noise(splits):
    rng = np.random.default_rng(1)
    strong = {s: _features(splits.split(s), rng, 3.0) for s in ("train", "val", "test")}
    noise = {s: _features(splits.split(s), rng, 0.0) for s in ("train", "val", "test")}
    good, bad = linear_probe(splits, strong), linear_probe(splits, noise)
    assert good["test_auc_o"] > 0.9 and good["val_snippet_auc"] > 0.9
    assert abs(bad["test_auc_o"] - 0.5) < 0.15
    assert good["n_train_snippets"] == sum(a.num_frames // L for a in splits.train.values())


def test_probe_selects_on_validation_only(splits):
    rng = np.random.default_rng(2)
    feats = {s: _features(splits.split(s), rng, 1.0) for s in ("train", "val", "test")}
    ref = linear_probe(splits, feats)
    # scrambling the test labels' features must not change the chosen C (test is never looked at to select)
    scrambled = dict(feats, test={v: rng.normal(size=x.shape).astype(np.float32) for v, x in feats["test"].items()})
    assert linear_probe(splits, scrambled)["C"] == ref["C"]


def test_colour_histograms():
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    frames[0, ..., 0] = 255  # pure red
    h = colour_histograms(frames, bins=4)
    assert h.shape == (2, 4 ** 3 + 3)
    assert np.allclose(h[:, :64].sum(1), 1)
    assert h[0, (3 * 4 + 0) * 4 + 0] == 1 and h[1, 0] == 1
    assert np.allclose(h[0, 64:], [1, 0, 0])


def test_per_type_auc_and_snippet_types(splits):
    from vadkit.data.annotations import Segment
    from vadkit.experiment.probe import fit_probe, per_type_auc, snippet_types

    a = VideoAnnotation("v", num_frames=48, segments=[Segment(16, 31, "fall", end_inclusive=True)])
    assert snippet_types(a, 3) == ["normal", "fall", "normal"]
    rng = np.random.default_rng(3)
    feats = {s: _features(splits.split(s), rng, 3.0) for s in ("train", "val", "test")}
    model, info = fit_probe(splits, feats)
    assert info["C"] in (0.01, 0.1, 1.0) and info["val_snippet_auc"] > 0.9
    # the toy's anomalous videos carry frame labels only: every anomalous snippet is typed by its segment
    test = DatasetAnnotations("test", {}, ("normal", "event"))
    for ann in splits.test.values():
        fl = ann.frame_labels
        s = int(np.argmax(fl))
        segs = [Segment(s, s + int(fl.sum()) - 1, "event", end_inclusive=True)] if fl.any() else []
        test.add(ann.replace(segments=segs))
    assert per_type_auc(model, test, feats["test"])["event"] > 0.9


def test_learning_curve_nested_subsets_and_full_split(splits):
    from vadkit.errors import ConfigError
    from vadkit.experiment.probe import learning_curve

    rng = np.random.default_rng(4)
    feats = {s: _features(splits.split(s), rng, 1.5) for s in ("train", "val", "test")}
    rows = learning_curve(splits, feats, fractions=(1.0, 0.25, 0.5))
    assert [r["train_fraction"] for r in rows] == [0.25, 0.5, 1.0]
    assert [r["n_train_videos"] for r in rows] == [8, 15, 30]
    assert rows[0]["n_train_snippets"] < rows[1]["n_train_snippets"] < rows[2]["n_train_snippets"]
    full = linear_probe(splits, feats)  # the whole training split is the ordinary probe, C and all
    assert rows[-1]["test_auc_o"] == pytest.approx(full["test_auc_o"]) and rows[-1]["C"] == full["C"]
    with pytest.raises(ConfigError, match="fractions"):
        learning_curve(splits, feats, fractions=(0.0, 1.0))
