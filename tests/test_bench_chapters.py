"""Chapters 00, 10, 11/12, 30 and 31 on the shared benchmark: each seed's validation-selected model, unchanged, on
every bench video, and the leaderboard rows that come out (small fakes instead of the smoke data and the zoo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation
from vadkit.experiment import benchmark as bm
from vadkit.experiment.types import SeedRun, VideoPrediction

CLASSES = ["normal", "fighting", "theft"]
D = 16


class _Store:
    def __init__(self, feats, name="fake"):
        self.feats, self.root = feats, Path("/nonexistent") / name

    def load(self, vid):
        return self.feats[vid]

    def __contains__(self, vid):
        return vid in self.feats


class _FakeClip:
    """Bag-of-characters text encoder with CLIP's interface (``encode_texts`` only)."""

    embed_dim = D
    name = "fake-clip"

    def encode_texts(self, texts, normalize=True):
        out = [torch.randn(D, generator=torch.Generator().manual_seed(sum(map(ord, t)))) for t in texts]
        return torch.nn.functional.normalize(torch.stack(out), dim=-1)


def _videos(split, n, rng, protos, types):
    """``n`` videos of 12-40 snippets; every odd one holds an event of one of ``types`` (its prototype added to
    the snippets it covers). Returns annotations and features ``{video: [S, D]}``."""
    anns, feats = {}, {}
    for i in range(n):
        vid = f"{split}{i}"
        s = int(rng.integers(12, 40))
        x = rng.normal(scale=0.5, size=(s, D)).astype("f4")
        labels, segs, classes = np.zeros(s * 16, np.uint8), [], ()
        if i % 2:
            c = types[(i // 2) % len(types)]
            a, b = s // 4, s // 4 + max(3, s // 3)
            x[a:b] += protos[c]
            labels[a * 16:b * 16] = 1
            segs, classes = [Segment(a * 16, b * 16 - 1, c, end_inclusive=True)], (c,)
        anns[vid] = VideoAnnotation(vid, split=split, classes=classes, num_frames=s * 16, segments=segs,
                                    frame_labels=labels)
        feats[vid] = x
    return DatasetAnnotations("fake", anns, tuple(CLASSES)), feats


@pytest.fixture(scope="module")
def world():
    """Chapter data (train / val / test of the two seen classes) and a bench of 16 videos: the seen classes
    and a held-out one ("intrusion", a prototype no training video shows)."""
    from vadkit.experiment.data import FeatureSet, Splits
    from vadkit.experiment.recipes.dual_branch import ChapterData

    rng = np.random.default_rng(0)
    protos = {c: rng.normal(scale=2.0, size=D).astype("f4") for c in (*CLASSES[1:], "intrusion")}
    parts = {s: _videos(s, n, rng, protos, CLASSES[1:]) for s, n in (("train", 32), ("val", 12), ("test", 16))}
    splits = Splits(parts["train"][0], parts["val"][0], parts["test"][0], None, "fake", "the 'val' split", "frame")
    feats = FeatureSet({s: _Store(f, s) for s, (_, f) in parts.items()}, _FakeClip(), D, 16)
    data = ChapterData(splits, feats, CLASSES)
    ann, bfeats = _videos("bench", 24, rng, protos, ["fighting", "theft", "intrusion"])
    bench = bm.Benchmark(ann, Path("."), seen=("fighting", "theft"), heldout=("intrusion",))
    return data, bench, _Store(bfeats, "bench")


@pytest.fixture
def attached(world, monkeypatch):
    """The fake bench in place of the cached one; records what the feature cache was asked for."""
    data, bench, store = world
    asked = []

    def features(b, clip_name, **kw):
        asked.append((b, clip_name, kw))
        return store

    monkeypatch.setattr(bm, "load_benchmark", lambda cfg=None, **kw: bench)
    monkeypatch.setattr(bm, "features", features)
    data.bench = None
    data.stores.pop("bench", None)
    yield data, bench, asked
    data.bench = None
    data.stores.pop("bench", None)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- the shared helpers ---------------------------

class _Method:
    """A runner method whose model is a dict ``{stream: {video: scores}}``; records what it was asked."""

    name = "fake"

    def __init__(self, bench, fail=None):
        self.bench, self.calls, self.fail = bench, [], fail

    def predict(self, model, split):
        self.calls.append((id(model), split))
        preds = {v: VideoPrediction(v, scores={k: s[v] for k, s in model.items()}, snippet_len=16)
                 for v in self.bench.ann if v != self.fail}
        return preds, ({self.fail: "no features"} if self.fail else {})


def _snippet_scores(bench, good: bool):
    """``[S]`` snippet scores per bench video: the truth (``good``) or its opposite."""
    out = {}
    for v, a in bench.ann.items():
        y = a.frame_labels.reshape(-1, 16).max(1).astype(float)
        out[v] = y if good else 1 - y
    return out


def test_score_method_uses_each_seeds_model_and_selected_stream_on_the_bench(world):
    _, bench, _ = world
    good, bad = _snippet_scores(bench, True), _snippet_scores(bench, False)
    runs = [SeedRun("fake", 0, selected="a", model={"a": good, "b": bad}),
            SeedRun("fake", 1, selected="b", model={"a": good, "b": bad}),
            SeedRun("fake", 2, error=object())]                              # a failed seed is skipped
    m = _Method(bench)
    per_seed = bm.score_method(bench, m, runs)
    assert [s["auc_o"] for s in per_seed] == [1.0, 0.0]                    # each seed's own stream
    assert m.calls == [(id(runs[0].model), "bench"), (id(runs[1].model), "bench")]
    with pytest.raises(Exception, match="could not score 1 videos"):
        bm.score_method(bench, _Method(bench, fail=next(iter(bench.ann))), runs[:1])
    with pytest.raises(ValueError, match="no successful seed"):
        bm.score_method(bench, m, runs[2:])


# ---------------------------------------------------------------- chapters 11 and 12 ---------------------------

def _dual_cfg(**kw):
    from vadkit.chapters.vadclip import VadCLIPConfig

    base = dict(max_len=32, window=4, epochs=4, lr=3e-3, milestones=[3], batch_size=8)
    return VadCLIPConfig.resolve("smoke", **{**base, **kw})


def test_dual_branch_bench_applies_each_selected_model_unchanged(attached, tmp_path, monkeypatch):
    from vadkit import registry
    from vadkit.experiment.recipes import dual_branch as db

    data, bench, asked = attached
    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    cfg = _dual_cfg()
    v = db.Variant("VadCLIP-cls", class_mode="cls", visual_prompt=False)
    runs = db.train_seeds(v, data, cfg, seeds=[0, 1])
    assert all(r.ok for r in runs)
    before = [(r.selected, r.best_epoch, _state(r.model)) for r in runs]
    out = db.score_bench({"VadCLIP": (v, runs)}, data, cfg)
    assert asked and asked[0][1] == cfg.clip and data.split("bench") is bench.ann
    per_seed = out["VadCLIP"]
    assert len(per_seed) == 2
    method = db.DualBranchMethod(v, data, cfg)
    for r, got, (sel, epoch, state) in zip(runs, per_seed, before):
        assert (r.selected, r.best_epoch) == (sel, epoch)                        # nothing chosen on the bench
        assert all(torch.equal(state[k], t) for k, t in r.model.state_dict().items())
        preds, failures = method.predict(r.model, "bench")
        assert not failures and set(preds) == set(bench.ann)                     # every bench video
        want = bm.score(bench, {x: p.scores[r.selected] for x, p in preds.items()}, snippet_len=16)
        assert got == pytest.approx(want, nan_ok=True)
        assert got["auc_seen"] > 0.7                                             # it learned the seen types
    run = registry.Run("11_vadclip", {"profile": "smoke"}, data="d", models="m")
    entries = db.log_headline(run, {"VadCLIP": runs}, data, cfg, bench=out)
    rows = [e for e in entries if e["split"] == "bench"]
    assert [e["metric"] for e in rows] == [n for _, n in bm.HEADLINE_METRICS]
    assert rows[0]["value"] == pytest.approx(np.mean([s["auc_o"] for s in per_seed]))
    assert rows[0]["seeds"] == 2 and rows[0]["note"] == db.BENCH_NOTE
    assert db.score_bench({"VadCLIP": (v, runs)}, data, cfg) == out               # attached once, same numbers
    assert len(asked) == 1


def test_no_bench_off_synthvad(world):
    from vadkit.experiment.recipes import dual_branch as db

    data, _, _ = world
    cfg = _dual_cfg(dataset="ucf_crime", data_root="/nonexistent")
    assert db.score_bench({}, data, cfg) is None and data.bench is None
    assert db.score_bench({}, data, _dual_cfg(bench=False)) is None


def test_text_variants_need_the_bench_videos_texts(attached, tmp_path, monkeypatch):
    from vadkit.experiment.recipes import dual_branch as db

    data, bench, _ = attached
    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    rng = np.random.default_rng(1)
    monkeypatch.setitem(data.texts, "explanation", {x: rng.normal(size=D).astype("f4")
                                                    for s in ("train", "val", "test") for x in data.split(s)})
    cfg = _dual_cfg(epochs=1)
    v = db.Variant("cls + text", class_mode="cls", text_source="explanation", visual_prompt=False, fusion="concat")
    runs = db.train_seeds(v, data, cfg, seeds=[0])
    with pytest.raises(Exception, match="no explanation text features"):
        db.score_bench({"x": (v, runs)}, data, cfg)
    data.texts["explanation"].update({x: rng.normal(size=D).astype("f4") for x in bench.ann})
    assert len(db.score_bench({"x": (v, runs)}, data, cfg)["x"]) == 1


# ---------------------------------------------------------------- chapter 10 -----------------------------------

def test_vad_llama_bench_scores_sultani_and_vador_with_their_own_predict(attached, tmp_path, monkeypatch):
    from vadkit.chapters.vad_llama import VADLLaMAConfig
    from vadkit.experiment.recipes import vad_llama as vl

    data, bench, _ = attached
    monkeypatch.setenv("VADKIT_HOME", str(tmp_path))
    cfg = VADLLaMAConfig.resolve("smoke", epochs1=3, epochs2=2, sultani_epochs=3, hidden=16, m_train=8,
                                 warmup_epochs=1, seeds=[0, 1])
    methods = {"Sultani et al.": vl.train_seeds(vl.SultaniMethod(data, cfg), cfg)}
    methods.update(vl.train_variants({k: v for k, v in vl.table3_variants(cfg).items()
                                      if k in ("VADor w/o LTC", "VADor w LTC")}, data, cfg))
    out = vl.score_bench(methods, data, cfg)
    assert set(out) == set(methods) and all(len(s) == 2 for s in out.values())
    ltc = methods["VADor w LTC"][1]
    preds, _ = vl.VADorMethod(vl.table3_variants(cfg)["VADor w LTC"], data, cfg).predict(ltc.model, "bench")
    assert set(preds) == set(bench.ann)
    want = bm.score(bench, {x: p.scores[vl.STREAM] for x, p in preds.items()}, snippet_len=cfg.snippet_len)
    assert out["VADor w LTC"][1] == pytest.approx(want, nan_ok=True)
    with pytest.raises(Exception, match="neither Sultani"):
        vl.score_bench({"VADor w LSTC (phase1 scores)": methods["VADor w LTC"]}, data, cfg)
    from vadkit import registry

    run = registry.Run("10_vad_llama", {"profile": "smoke"}, data="d", models="m")
    entries = vl.log_headline(run, methods, data, cfg, bench=out)
    assert sum(e["split"] == "bench" for e in entries) == 3 * len(methods)
    assert all("long videos" in e["note"] for e in entries if e["split"] == "bench")


# ---------------------------------------------------------------- chapters 30 and 31 ---------------------------

def _caps(bench, stride=8, seed=0):
    """Caption records as :func:`vadkit.experiment.recipes.lavad.caption_split` gives them; a frame's image
    embedding says whether it is abnormal (so the scene-context kNN groups abnormal segments together)."""
    rng = np.random.default_rng(seed)
    out = {}
    for v, a in bench.ann.items():
        frames = np.arange(0, a.num_frames, stride)
        emb = 3 * np.eye(2)[a.frame_labels[frames]] + rng.normal(scale=0.1, size=(len(frames), 2))
        out[v] = {"frames": frames, "captions": ["a street"] * len(frames), "cleaned": ["a street"] * len(frames),
                  "image_embeds": emb.astype("f4"), "num_frames": int(a.num_frames), "fps": 15.0}
    return out


class _Data:
    clip = None


def test_lavad_bench_scores_the_configuration_chosen_on_validation(world, monkeypatch):
    from vadkit.chapters.lavad import LAVADConfig
    from vadkit.experiment.recipes import lavad as lv

    _, bench, _ = world
    cfg = LAVADConfig.resolve("smoke")
    caps = _caps(bench)
    asked = {}

    def score_videos(c, llm, clip, cfg_, cost, *, prompts, tag="", frame_interval=None, **kw):
        asked.update(videos=set(c), prompts=prompts, llm=llm, fi=frame_interval)
        out = {}
        for v, r in c.items():
            centres = np.arange(0, r["num_frames"], frame_interval)
            y = bench.ann[v].frame_labels[centres].astype(float)
            out[v] = {"centres": centres, "num_frames": r["num_frames"], "parsed": 1 - y, "expected": y,
                      "video_emb": np.eye(len(y)), "text_emb": np.eye(len(y))}
        return out

    monkeypatch.setattr(lv, "caption_bench", lambda cfg_, data, captioner, cost: (bench, caps))
    monkeypatch.setattr(lv, "score_videos", score_videos)
    choice = {"prompts": "zoo", "reading": "expected", "k": 0, "val": 0.6}
    out = lv.score_bench(cfg, _Data(), "captioner", "llm", choice, lv.Cost())
    assert asked == {"videos": set(bench.ann), "prompts": "zoo", "llm": "llm",
                     "fi": cfg.frame_interval * cfg.bench_stride}       # the bench's own window spacing
    (numbers,) = out["LAVAD"]
    assert numbers["auc_o"] > 0.9                 # the reading chosen on val, not "parsed" (windows 32 frames apart)
    out = lv.score_bench(cfg, _Data(), "captioner", "llm", {**choice, "reading": "parsed"}, lv.Cost())
    assert out["LAVAD"][0]["auc_o"] < 0.1
    assert cfg.bench_stride == 2 and lv.bench_caption_stride(cfg) == 2 * cfg.caption_stride
    assert f"every {2 * cfg.caption_stride} frames" in lv.bench_note(cfg) and "2x" in lv.bench_note(cfg)


def test_vera_bench_asks_only_the_learned_questions_and_scores_each_seed_with_its_own(world, monkeypatch):
    from vadkit.chapters.vera import VERAConfig
    from vadkit.experiment.recipes import lavad as lv
    from vadkit.experiment.recipes import vera as vr

    _, bench, _ = world
    cfg = VERAConfig.resolve("smoke")
    pool = ["q0", "q-good", "q2", "q-bad", "q4"]
    asked = []

    def answer_pool(segs, llm, questions, cost, tag=""):
        asked.append(list(questions))
        out = {}
        for v, r in segs.items():
            y = bench.ann[v].frame_labels[r["centres"]].astype(float)
            cols = {"q-good": y, "q-bad": 1 - y}
            out[v] = np.stack([cols.get(q, np.full(len(y), 0.5)) for q in questions], axis=1)
        return out

    monkeypatch.setattr(lv, "caption_bench", lambda cfg_, data, captioner, cost: (bench, _caps(bench)))
    monkeypatch.setattr(vr, "answer_pool", answer_pool)
    runs = [SeedRun("VERA", 0, selected="smoothed", info={"questions": ["q-good"]}),
            SeedRun("VERA", 1, selected="smoothed", info={"questions": ["q-bad"]}),
            SeedRun("VERA", 2, selected="smoothed", info={"questions": ["q0", "q-good"]})]
    out = vr.score_bench(cfg, _Data(), "captioner", "llm", runs, pool, lv.Cost())
    assert asked == [["q0", "q-good", "q-bad"]]                    # the learned ones, in pool order, once
    auc = [s["auc_o"] for s in out["VERA"]]
    assert auc[0] > 0.8 and auc[1] < 0.2 and auc[2] > 0.8          # each seed's own questions
    assert "no Gaussian prior" in vr.bench_note(cfg)
