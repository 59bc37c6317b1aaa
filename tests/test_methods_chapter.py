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


@pytest.fixture(scope="module")
def data():
    from vadkit.chapters.vadclip import ChapterData

    rng = np.random.default_rng(0)
    protos = {c: rng.normal(scale=2.0, size=16).astype("f4") for c in CLASSES[1:]}
    (tr, st), (va, sv), (te, ste) = (_split(n, k, rng, protos) for n, k in (("train", 32), ("val", 12), ("test", 16)))
    d = ChapterData(tr, va, te, {"train": st, "val": sv, "test": ste}, CLASSES, _FakeClip(), 16)
    d.texts["explanation"] = {v: rng.normal(size=16).astype("f4") for s in (tr, va, te) for v in s}
    return d


def test_run_variant_selects_on_val_and_caches(data, tmp_path, monkeypatch):
    from vadkit.chapters.vadclip import Variant, VadCLIPConfig, run_variant, summarize

    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    cfg = VadCLIPConfig.resolve("smoke", max_len=32, window=4, epochs=6, lr=3e-3, milestones=[5], batch_size=8)
    v = Variant("cls + text", class_mode="cls", text_source="explanation", visual_prompt=False, fusion="concat")
    r = run_variant(v, data, cfg, seed=0)
    assert not r["cached"] and r["coarse_variant"] in ("coarse", "align_anomaly")
    assert r["best_epoch"] == int(np.argmax([h["val"] for h in r["history"]]))
    assert r["test"]["selected/auc_o"] > 0.7                   # the planted anomalies are easy
    assert 0 <= r["test"]["map/avg"] <= 1
    assert set(r["preds"]) == set(data.test)
    r2 = run_variant(v, data, cfg, seed=0)
    assert r2["cached"] and r2["test"] == r["test"]
    s = summarize([r, r2], ["coarse/auc_o"])
    assert s["coarse/auc_o"][1] == 0.0


def test_random_baseline_and_multi_hot(data):
    from vadkit.chapters.vadclip import VadCLIPConfig, multi_hot, random_baseline_map

    cfg = VadCLIPConfig.resolve("smoke")
    m = random_baseline_map(data.test, CLASSES, cfg)
    assert 0 <= m["avg"] <= 1
    ann = next(a for a in data.train.values() if a.is_anomalous)
    y = multi_hot(ann, CLASSES)
    assert y[0] == 0 and y.sum() == 1
    assert multi_hot(next(a for a in data.train.values() if not a.is_anomalous), CLASSES).tolist() == [1, 0, 0]
