"""Chapter orchestration (chapters 11/12) on a small synthetic feature set: train -> select on val -> evaluate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation

CLASSES = ["normal", "fighting", "theft"]


class _FakeStore:
    def __init__(self, feats):
        self.feats = feats

    def load(self, vid):
        return self.feats[vid]


class _FakeClip:
    """Deterministic bag-of-words text encoder with CLIP's interface (encode_texts only)."""

    embed_dim = 16
    name = "fake-clip"

    def encode_texts(self, texts, normalize=True):
        out = []
        for t in texts:
            g = torch.Generator().manual_seed(sum(ord(ch) for ch in t))
            out.append(torch.randn(16, generator=g))
        return torch.nn.functional.normalize(torch.stack(out), dim=-1)


def _split(name, n, rng, protos):
    anns, feats = {}, {}
    for i in range(n):
        vid = f"{name}{i}"
        s = int(rng.integers(12, 40))
        x = rng.normal(scale=0.5, size=(s, 16)).astype("f4")
        segs, classes = [], ()
        if i % 2:
            c = CLASSES[1 + (i // 2) % 2]
            a, b = s // 4, s // 4 + max(3, s // 3)
            x[a:b] += protos[c]
            segs = [Segment(a * 16, b * 16 - 1, c, end_inclusive=True)]
            classes = (c,)
        anns[vid] = VideoAnnotation(vid, split=name, classes=classes, num_frames=s * 16, segments=segs)
        feats[vid] = x
    return DatasetAnnotations("fake", anns, tuple(CLASSES)), _FakeStore(feats)


class _Store(_FakeStore):
    def __init__(self, feats, name):
        super().__init__(feats)
        from pathlib import Path

        self.root = Path("/nonexistent") / name


@pytest.fixture(scope="module")
def data():
    from vadkit.experiment.data import FeatureSet, Splits
    from vadkit.experiment.recipes.dual_branch import ChapterData

    rng = np.random.default_rng(0)
    protos = {c: rng.normal(scale=2.0, size=16).astype("f4") for c in CLASSES[1:]}
    (tr, st), (va, sv), (te, ste) = (_split(n, k, rng, protos) for n, k in (("train", 32), ("val", 12), ("test", 16)))
    splits = Splits(tr, va, te, None, "fake", "the dataset's 'val' split", "frame")
    feats = FeatureSet({"train": _Store(st.feats, "tr"), "val": _Store(sv.feats, "va"), "test": _Store(ste.feats, "te")},
                       _FakeClip(), 16, 16)
    d = ChapterData(splits, feats, CLASSES)
    d.texts["explanation"] = {v: rng.normal(size=16).astype("f4") for s in (tr, va, te) for v in s}
    return d


def _cfg(**kw):
    from vadkit.chapters.vadclip import VadCLIPConfig

    base = dict(max_len=32, window=4, epochs=6, lr=3e-3, milestones=[5], batch_size=8)
    return VadCLIPConfig.resolve("smoke", **{**base, **kw})


def test_runner_selects_on_val_caches_and_stores_predictions(data, tmp_path, monkeypatch):
    from vadkit.experiment.recipes.dual_branch import Variant, train_seeds
    from vadkit.experiment.reporting import summarize
    from vadkit.experiment.runner import load_predictions, predictions_dir

    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    cfg = _cfg()
    v = Variant("cls + text", class_mode="cls", text_source="explanation", visual_prompt=False, fusion="concat")
    (r,) = train_seeds(v, data, cfg, seeds=[0])
    assert r.ok and not r.cached and r.selected in ("coarse", "align_anomaly")
    assert r.best_epoch == int(np.argmax([h["val"] for h in r.history]))
    assert r.test["selected/auc_o"] > 0.7                   # the planted anomalies are easy
    assert 0 <= r.test["map/avg"] <= 1
    assert set(r.predictions) == set(data.test)
    (r2,) = train_seeds(v, data, cfg, seeds=[0])
    assert r2.cached and r2.test == r.test
    s = summarize([r, r2], ["coarse/auc_o"])
    assert s["coarse/auc_o"][1] == 0.0
    back = load_predictions(predictions_dir(cfg.CHAPTER, "smoke") / "cls_+_text" / "seed0")
    vid = next(iter(data.test))
    assert np.allclose(back[vid].scores["coarse"], r.predictions[vid].scores["coarse"], atol=1e-6)
    assert np.allclose(back[vid].class_probs, r.predictions[vid].class_probs, atol=1e-6)


def test_a_failing_seed_is_recorded_and_the_others_run(data, tmp_path, monkeypatch):
    from vadkit.experiment.recipes.dual_branch import Variant, train_seeds

    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    v = Variant("laam without phrases", class_mode="laam", visual_prompt=False)   # no LAAM embeddings: fails
    runs = train_seeds(v, data, _cfg(epochs=1), seeds=[0, 1])
    assert [r.ok for r in runs] == [False, False]
    assert runs[0].error.type == "ValueError" and "LAAM" in runs[0].error.message


def test_video_level_validation_when_validation_has_no_frame_labels(data, tmp_path, monkeypatch):
    import dataclasses

    from vadkit.experiment.recipes.dual_branch import ChapterData, Variant, train_seeds

    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    weak = ChapterData(dataclasses.replace(data.splits, val_criterion="video"), data.features, data.classes,
                       dict(data.texts))
    (r,) = train_seeds(Variant("VadCLIP-cls", class_mode="cls", visual_prompt=False), weak, _cfg(), seeds=[0])
    assert r.ok
    from vadkit.experiment.evaluation import video_level_auc

    preds = r.predictions
    assert 0 <= video_level_auc(preds, data.test, r.selected) <= 1
    assert all(np.isfinite(h["val"]) for h in r.history)


def test_random_baseline_and_multi_hot(data):
    from vadkit.experiment.recipes.dual_branch import multi_hot, random_baseline_map

    m = random_baseline_map(data, _cfg())
    assert 0 <= m["avg"] <= 1
    ann = next(a for a in data.train.values() if a.is_anomalous)
    y = multi_hot(ann, CLASSES)
    assert y[0] == 0 and y.sum() == 1
    assert multi_hot(next(a for a in data.train.values() if not a.is_anomalous), CLASSES).tolist() == [1, 0, 0]
