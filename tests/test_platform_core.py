"""The shared pieces under every chapter: identity, the trainer, the model-call cache, the kNN bank."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vadkit import identity
from vadkit.errors import CacheMismatchError, VadkitError
from vadkit.methods import knn
from vadkit.trainer import FitConfig, Schedule, fit


# ---------------------------------------------------------------- identity ----------------------------------------

def test_json_entry_digest_detects_damage(tmp_path):
    p = tmp_path / "e.json"
    identity.write_json_entry(p, {"output": "a cat", "x": np.float32(0.5)})
    assert identity.read_json_entry(p)["output"] == "a cat"
    rec = json.loads(p.read_text())
    rec["output"] = "a dog"
    p.write_text(json.dumps(rec))
    assert identity.read_json_entry(p) is None
    with pytest.raises(CacheMismatchError, match="e.json"):
        identity.read_json_entry(p, strict=True)
    p.write_text('{"output": "trunc')
    assert identity.read_json_entry(p) is None


def test_weights_digest_follows_content_not_location(tmp_path, vadkit_home):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "config.json").write_text('{"h": 1}')
        (d / "model.safetensors").write_bytes(b"weights-1")
    assert identity.weights_digest(a) == identity.weights_digest(b)
    (b / "model.safetensors").write_bytes(b"weights-2")
    assert identity.weights_digest(a) != identity.weights_digest(b)


def test_dataset_identity_ignores_the_root_path(tmp_path):
    from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation

    def ds(root, label="fighting"):
        v = VideoAnnotation("v1", classes=(label,), segments=(Segment(3, 9, label),), num_frames=32)
        return DatasetAnnotations("synthvad", {"v1": v}, root=root)

    assert identity.dataset_identity(ds(tmp_path / "x")) == identity.dataset_identity(ds(tmp_path / "y"))
    assert identity.dataset_identity(ds(tmp_path / "x"))["digest"] != \
        identity.dataset_identity(ds(tmp_path / "x", "theft"))["digest"]


def test_rescore_handles_videos_longer_than_their_snippets(tmp_path):
    """Stored predictions cover 16 * floor(N / 16) frames; re-scoring under video-length conventions must not fail
    on the last partial snippet (a 237-frame video with 14 snippets failed chapter 11 once)."""
    from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation
    from vadkit.experiment.reporting import RESCORE_CONVENTIONS, rescore
    from vadkit.experiment.runner import save_predictions
    from vadkit.experiment.types import VideoPrediction

    rng = np.random.default_rng(0)
    vids, preds = {}, {}
    for i, n in enumerate((237, 250, 161, 208)):
        seg = (Segment(40, 120, "fighting", end_inclusive=False),) if i % 2 == 0 else ()
        vids[f"v{i}"] = VideoAnnotation(f"v{i}", classes=("fighting",) if seg else (), segments=seg, num_frames=n)
        s = rng.random(n // 16)
        if seg:
            s[40 // 16:120 // 16] += 1.0
        preds[f"v{i}"] = VideoPrediction(f"v{i}", scores={"coarse": s}, snippet_len=16)
    ann = DatasetAnnotations("synthvad", vids, root=tmp_path)
    save_predictions(tmp_path / "seed0", preds)
    df = rescore(tmp_path, ann, stream="coarse")
    assert len(df) == len(RESCORE_CONVENTIONS) and df["AUC_O"].between(50, 100).all()
    assert not df["note"].any()
    # annotation files that do not say whether a segment's end is inclusive (UCF-Crime's): the conventions that
    # need it are named as not applicable, the others are scored
    vague = DatasetAnnotations("synthvad", {k: VideoAnnotation(k, classes=a.classes, num_frames=a.num_frames,
                                                               segments=tuple(Segment(g.start, g.end, g.label)
                                                                              for g in a.segments))
                                            for k, a in vids.items()}, root=tmp_path)
    df = rescore(tmp_path, vague, stream="coarse")
    na = df[df["note"] != ""]
    assert len(na) >= 1 and na["note"].str.contains("inclusive").all() and na["AUC_O"].isna().all()
    assert df.loc[df["note"] == "", "AUC_O"].between(50, 100).all() and (df["note"] == "").any()


def test_synthvad_identity_ignores_how_long_generation_took(tmp_path):
    """Two generations of one SynthVAD request differ only in ``generation_seconds``: the same identity for the
    feature stores and the zoo (the zoo retrained ~10 min on every regenerated root before)."""
    from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation
    from vadkit.features.provenance import store_dataset_identity
    from vadkit.models import zoo

    ids = []
    for i, secs in enumerate((27.2, 36.6)):
        root = tmp_path / f"gen{i}"
        root.mkdir()
        (root / "synthvad.json").write_text(json.dumps({"name": "SynthVAD", "seed": 0, "request_hash": "ab12",
                                                        "generation_seconds": secs}))
        ds = DatasetAnnotations("synthvad", {"v": VideoAnnotation("v", num_frames=32)}, root=root)
        ids.append((identity.dataset_identity(ds), zoo.dataset_identity(root), store_dataset_identity(ds)))
    assert ids[0] == ids[1]
    (tmp_path / "gen1" / "synthvad.json").write_text(json.dumps({"name": "SynthVAD", "seed": 1,
                                                                "request_hash": "cd34", "generation_seconds": 1}))
    assert zoo.dataset_identity(tmp_path / "gen1") != ids[0][1]


# ---------------------------------------------------------------- trainer -----------------------------------------

def _toy(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(64, 3)
    y = (x[:, 0] > 0).float()
    model = torch.nn.Linear(3, 1)

    def batches(epoch):
        for i in range(0, 64, 16):
            yield x[i:i + 16], y[i:i + 16]

    def loss_fn(m, b):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(b[0]).squeeze(-1), b[1])
        return loss, {"total": float(loss.detach())}

    return model, batches, loss_fn, x, y


def test_fit_selects_the_best_validation_epoch():
    model, batches, loss_fn, x, y = _toy()
    vals = iter([0.1, 0.9, 0.3])
    res = fit(model, batches, loss_fn, FitConfig(epochs=3, steps_per_epoch=4, lr=0.1), validate=lambda m: next(vals),
              progress=False)
    assert res.best_epoch == 1 and res.best_val == 0.9
    assert [h["epoch"] for h in res.history] == [0, 1, 2]


def test_fit_refuses_a_validation_that_is_never_finite():
    model, batches, loss_fn, *_ = _toy()
    with pytest.raises(VadkitError, match="no finite value"):
        fit(model, batches, loss_fn, FitConfig(epochs=2, steps_per_epoch=4, lr=0.1),
            validate=lambda m: float("-inf"), progress=False)


def test_warmup_cosine_schedule_reaches_its_floor_and_peak():
    model, batches, loss_fn, *_ = _toy()
    lrs = []
    cfg = FitConfig(epochs=5, steps_per_epoch=4, lr=1e-3,
                    schedule=Schedule("warmup_cosine", warmup_ratio=0.1, min_lr=1e-8))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    fit(model, batches, loss_fn, cfg, optimizer=opt, step_hook=lambda s, p: lrs.append(opt.param_groups[0]["lr"]),
        progress=False)
    assert len(lrs) == 20
    assert max(lrs) == pytest.approx(1e-3, rel=1e-6)
    assert lrs[-1] == pytest.approx(1e-8, rel=1e-3)


def test_gradient_accumulation_equals_one_big_batch():
    torch.manual_seed(0)
    x, y = torch.randn(32, 3), torch.randn(32)
    init = torch.nn.Linear(3, 1).state_dict()

    def run(accum, bs):
        m = torch.nn.Linear(3, 1)
        m.load_state_dict(init)

        def batches(epoch):
            for i in range(0, 32, bs):
                yield x[i:i + bs], y[i:i + bs]

        def loss_fn(mm, b):
            loss = ((mm(b[0]).squeeze(-1) - b[1]) ** 2).mean()
            return loss, {"total": float(loss.detach())}

        fit(m, batches, loss_fn, FitConfig(epochs=1, steps_per_epoch=1, lr=0.1, grad_accum=accum,
                                           schedule=Schedule("constant")), progress=False)
        return m.weight.detach().clone()

    assert torch.allclose(run(4, 8), run(1, 32), atol=1e-6)


def test_zoo_loops_run_through_the_one_trainer(monkeypatch):
    """The tiny zoo trains with vadkit.trainer.fit: the same warm-up + cosine schedule, clipping and step hook as
    the methods (zoo.fit_steps), and the step hook sees every step."""
    import vadkit.trainer as trainer
    from vadkit.models import zoo

    calls = []
    real_fit = trainer.fit

    def spy(*a, **k):
        calls.append(a[3])
        return real_fit(*a, **k)

    monkeypatch.setattr(trainer, "fit", spy)
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 1)
    x = torch.randn(8, 3)
    seen = []
    loss = zoo.fit_steps(m, lambda s: x[s % 8:s % 8 + 2], 10, 0.1, "t", False,
                         lambda b: (m(b) ** 2).mean(), step_hook=lambda s, p: seen.append(s))
    assert len(calls) == 1 and calls[0].schedule.kind == "warmup_cosine" and calls[0].grad_clip == 1.0
    assert calls[0].steps_per_epoch == 10 and seen == list(range(10)) and np.isfinite(loss)
    assert not m.training


# ---------------------------------------------------------------- model-call cache --------------------------------

class _EchoLLM:
    name = "echo"
    identity = "echo#v1"

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, config=None):
        self.calls += len(prompts)
        return [p.upper() for p in prompts]


class _Captioner:
    name = "cap"
    identity = "cap#v1"

    def caption(self, frames, prompt=None):
        return [f"mean {int(f.mean())}" for f in frames]


def test_cached_generate_makes_no_new_calls_on_rerun(tmp_path):
    from vadkit.models import calls

    llm = _EchoLLM()
    calls.reset_stats()
    out = calls.cached_generate(llm, {"a": "hi", "b": "yo"}, tmp_path, progress=False)
    assert out == {"a": "HI", "b": "YO"} and llm.calls == 2
    again = calls.cached_generate(llm, {"a": "hi", "b": "yo"}, tmp_path, progress=False)
    assert again == out and llm.calls == 2
    assert calls.stats("generate") == {"made": 2, "cached": 2}
    llm.identity = "echo#v2"                           # a retrained model never reuses old outputs
    calls.cached_generate(llm, {"a": "hi"}, tmp_path, progress=False)
    assert llm.calls == 3


def test_cached_captions_key_on_pixels(tmp_path):
    from vadkit.models import calls

    cap = _Captioner()
    f0 = np.zeros((4, 4, 3), np.uint8)
    f1 = np.full((4, 4, 3), 9, np.uint8)
    out = calls.cached_captions(cap, {"x": f0, "y": f1}, cache=tmp_path, progress=False)
    assert out == {"x": "mean 0", "y": "mean 9"}
    calls.reset_stats()
    calls.cached_captions(cap, {"x": f1}, cache=tmp_path, progress=False)   # content-addressed: y's pixels
    assert calls.stats("caption") == {"made": 0, "cached": 1}
    calls.cached_captions(cap, {"x": f1 + 1}, cache=tmp_path, progress=False)   # same item key, new pixels
    assert calls.stats("caption")["made"] == 1


# ---------------------------------------------------------------- kNN bank ----------------------------------------

def test_knn_uses():
    rng = np.random.default_rng(0)
    bank = knn.KNNBank(rng.normal(size=(20, 8)), payload=[f"d{i}" for i in range(20)])
    q = bank.embeddings[:3]
    d = knn.nominal_distance(bank, q, k=1)
    assert np.allclose(d, 0, atol=1e-6)                        # each query is in the bank
    assert bank.neighbours(q[:1], 1)[0][0][0] == "d0"
    emb = np.repeat(np.eye(2), 3, axis=0)                      # two groups of three identical windows
    s = np.array([0, 0, 0.9, 1, 1, 1.0])
    assert np.allclose(knn.window_refine(s, emb, 3), [0.3, 0.3, 0.3, 1, 1, 1])
    r = knn.softmax_refine(s, emb, 3, tau=0.1)
    assert np.allclose(r[:3], 0.3) and np.allclose(r[3:], 1.0)
    with pytest.raises(ValueError):
        knn.window_refine(s[:2], emb, 2)
