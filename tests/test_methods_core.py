"""Unit tests of the VadCLIP / Ex-VAD building blocks on random tensors (fast, CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vadkit.methods.lgt_adapter import (LGTAdapter, distance_adjacency, similarity_adjacency,
                                        windowed_attention_mask)
from vadkit.methods.mil import mil_align_ce, normal_contrastive, topk_bce, topk_k, topk_mean
from vadkit.methods.prompt_learning import (FixedClassEmbeddings, LearnablePrompt, TextEncoderHooks,
                                            label_augmented_embeddings)
from vadkit.methods.vadclip import (DualBranchConfig, DualBranchVAD, dual_branch_loss, predict_video,
                                    trainable_parameters)
from vadkit.methods.sequences import SequenceItem, balanced_batches, pad_or_sample, steps_per_epoch
from vadkit.trainer import FitConfig, Schedule, fit, mean_std
from vadkit.methods.ex_vad import clean_captions
from vadkit.methods.flops import count_macs


def train_model(model, items, loss, *, epochs=1, lr=1e-3, batch_size=4, max_len=32, milestones=(), seed=0,
                validate=None):
    """VadCLIP's training mechanics on the shared trainer: balanced batches, AdamW, MultiStepLR per epoch."""
    steps = steps_per_epoch(items, batch_size)
    rng = np.random.default_rng(seed)
    cfg = FitConfig(epochs=epochs, steps_per_epoch=steps, lr=lr, schedule=Schedule("multistep", milestones=milestones),
                    seed=seed)
    dev = next(model.parameters()).device
    return fit(model, lambda e: balanced_batches(items, batch_size, steps, rng, max_len, dev),
               lambda m, b: loss(m(b["x"], b["lengths"], b["text"]), b), cfg, validate=validate, progress=False)


def test_windowed_mask_blocks_across_windows():
    m = windowed_attention_mask(6, 2)
    assert not m[0, 1] and m[0, 2] and not m[5, 4] and m[3, 1]
    assert m.sum() == 36 - 3 * 4


def test_distance_adjacency_formula():
    h = distance_adjacency(4)
    assert h[0, 0] == 1 and math.isclose(float(h[0, 2]), math.exp(-2 / math.e), rel_tol=1e-6)


def test_similarity_adjacency_threshold_and_padding():
    x = torch.tensor([[[1.0, 0], [1, 0.1], [0, 1], [5, 5]]])
    valid = torch.tensor([[True, True, True, False]])
    a = similarity_adjacency(x, valid, 0.7)
    assert torch.allclose(a[0, :3].sum(-1), torch.ones(3))
    assert torch.all(a[0, :, 3] == 0) and torch.all(a[0, 3] == 0)
    # frames 0 and 2 are orthogonal -> thresholded to 0 -> weight exp(0) < weight of similar frame 1
    assert a[0, 0, 1] > a[0, 0, 2]


def test_adapter_ignores_padding():
    torch.manual_seed(0)
    ad = LGTAdapter(width=8, max_len=16, window=4, layers=1).eval()
    x = torch.randn(1, 6, 8)
    short = ad(x, torch.tensor([6]))
    padded = ad(torch.cat([x, torch.randn(1, 10, 8) * 9], 1), torch.tensor([6]))
    assert torch.allclose(short, padded[:, :6], atol=1e-5)
    with pytest.raises(ValueError):
        ad(torch.randn(1, 17, 8), torch.tensor([17]))


def test_topk_mean_matches_manual():
    v = torch.tensor([[0.1, 0.9, 0.5, 0.7, 100.0], [0.3, 0.2, 0.0, 0.0, 0.0]])
    lengths = torch.tensor([4, 2])
    assert topk_k(torch.tensor([15, 16, 33])).tolist() == [1, 2, 3]
    out = topk_mean(v, lengths, k=2)
    assert torch.allclose(out, torch.tensor([0.8, 0.25]))          # padding (100) never selected
    assert torch.allclose(topk_mean(v, lengths), torch.tensor([0.9, 0.3]))


def test_losses_behave():
    lengths = torch.tensor([8, 8])
    good = torch.tensor([[5.0] * 8, [-5.0] * 8])
    assert topk_bce(good, lengths, torch.tensor([1, 0])) < topk_bce(-good, lengths, torch.tensor([1, 0]))
    align = torch.zeros(2, 8, 3)
    align[0, :, 1] = 1
    align[1, :, 0] = 1
    tgt = torch.tensor([[0, 1, 0], [1, 0, 0]])
    assert mil_align_ce(align, lengths, tgt) < 0.01 < mil_align_ce(align, lengths, tgt[[1, 0]])
    e = torch.eye(3)
    assert normal_contrastive(e) == 0
    e2 = torch.tensor([[1.0, 0], [1, 0], [0, 1]])
    assert math.isclose(float(normal_contrastive(e2)), 0.5)


class _ToyText:
    """A toy text tower: vocab of 50 ids, SOT=1, EOT=49, context 12; encode = mean-pool + linear."""

    def __init__(self, width=6, dim=5):
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(50, width)
        self.proj = torch.nn.Linear(width, dim)

    def tokenize(self, texts):
        ids = torch.zeros(len(texts), 12, dtype=torch.long)
        for i, t in enumerate(texts):
            toks = [2 + (hash(w) % 40) for w in t.split()]
            row = [1] + toks + [49]
            ids[i, :len(row)] = torch.tensor(row)
        return ids

    def encode(self, e, eot):
        keep = (torch.arange(e.shape[1])[None, :] <= eot[:, None]).float()[..., None]
        return self.proj((e * keep).sum(1))


def test_learnable_prompt_layout_and_grad():
    tt = _ToyText()
    hooks = TextEncoderHooks(tt.tokenize, tt.emb, tt.encode)
    lp = LearnablePrompt(hooks, ["normal", "car on walkway"], n_prefix=3, n_postfix=2)
    pe = lp.prompt_embeddings()
    assert pe.shape == (2, 12, 6)
    assert torch.allclose(pe[1, 1:4], lp.prefix) and torch.allclose(pe[1, 7:9], lp.postfix)
    assert lp.eot_index.tolist() == [2 + 5, 4 + 5]
    assert torch.allclose(pe[1, 9], tt.emb.weight[49])            # EOT moved after the postfix
    lp().sum().backward()
    assert lp.prefix.grad is not None and lp.prefix.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        LearnablePrompt(hooks, ["a b c"], n_prefix=5, n_postfix=5)


def test_label_augmented_keeps_topk_most_similar():
    lab = torch.tensor([[1.0, 0, 0]])
    ph = [torch.tensor([[1.0, 0.1, 0], [0, 1, 0], [0.9, 0, 0.2], [0, 0, 1]])]
    emb, kept = label_augmented_embeddings(lab, ph, k=2)
    assert sorted(kept[0]) == [0, 2]
    assert math.isclose(float(emb.norm()), 1.0, rel_tol=1e-5)
    same, kept0 = label_augmented_embeddings(lab, ph, k=0)
    assert torch.allclose(same, lab) and kept0 == [[]]


def test_clean_captions_argmax():
    frames = torch.tensor([[1.0, 0], [0, 1], [1, 1]])
    caps = torch.tensor([[0, 2.0], [3.0, 0.1]])
    assert clean_captions(frames, caps) == [1, 0, 1]


def _model(fusion="none", visual_prompt=True):
    torch.manual_seed(0)
    src = FixedClassEmbeddings(torch.randn(3, 16))
    return DualBranchVAD(12, src, DualBranchConfig(width=16, max_len=32, window=4, layers=1,
                                                    visual_prompt=visual_prompt, text_fusion=fusion), text_dim=8)


def _items(n=24, seed=0):
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        y = i % 2
        t = int(rng.integers(10, 50))
        x = rng.normal(size=(t, 12)).astype("f4")
        if y:
            x[t // 3: t // 2, :4] += 3.0                           # the anomalous stretch
        items.append(SequenceItem(f"v{i}", x, y, np.eye(3)[1 + (i % 4 == 1) if y else 0], rng.normal(size=8)))
    return items


@pytest.mark.parametrize("fusion", ["none", "add", "concat"])
def test_forward_shapes_and_predict_chunks(fusion):
    m = _model(fusion)
    out = m(torch.randn(2, 32, 12), torch.tensor([32, 7]), torch.randn(2, 8))
    assert out["coarse_logits"].shape == (2, 32) and out["align"].shape == (2, 32, 3)
    p = predict_video(m, np.random.randn(70, 12), np.random.randn(8))  # 3 chunks of <= 32
    assert p["coarse"].shape == (70,) and p["class_probs"].shape == (70, 3)
    assert np.allclose(p["class_probs"].sum(1), 1, atol=1e-5)
    assert np.allclose(p["align_anomaly"], 1 - p["class_probs"][:, 0])
    if fusion != "none":
        with pytest.raises(ValueError):
            m(torch.randn(1, 4, 12), torch.tensor([4]))


def test_training_learns_and_selects_on_validation():
    items = _items()
    m = _model("add")
    vals = iter([0.1, 0.9, 0.2, 0.3])
    lf = lambda o, b: dual_branch_loss(o, b["lengths"], b["binary"], b["multi_hot"])  # noqa: E731
    res = train_model(m, items, lf, epochs=4, lr=3e-3, batch_size=8, milestones=(3,), validate=lambda _m: next(vals))
    assert res.best_epoch == 1 and res.best_val == 0.9
    assert res.history[-1]["total"] < res.history[0]["total"]
    assert all(torch.equal(v, res.state[k]) for k, v in m.state_dict().items())


def test_trained_model_separates_anomalous_snippets():
    items = _items(40)
    m = _model("none")
    lf = lambda o, b: dual_branch_loss(o, b["lengths"], b["binary"], b["multi_hot"])  # noqa: E731
    train_model(m, items, lf, epochs=15, lr=3e-3, batch_size=16, milestones=(12,))
    from sklearn.metrics import roc_auc_score

    scores, labels = [], []
    for it in _items(10, seed=1):
        s = predict_video(m, it.features)["coarse"]
        t = len(s)
        lab = np.zeros(t)
        if it.binary:
            lab[t // 3: t // 2] = 1
        scores.append(s)
        labels.append(lab)
    assert roc_auc_score(np.concatenate(labels), np.concatenate(scores)) > 0.8


def test_weights_cache_round_trip_without_pickle(tmp_path):
    from vadkit.experiment.runner import load_weights, save_weights

    m1 = _model()
    train_model(m1, _items(8), lambda o, b: dual_branch_loss(o, b["lengths"], b["binary"], b["multi_hot"]))
    save_weights(tmp_path / "w", m1, {"best_epoch": 0, "history": [{"epoch": 0, "total": 1.0}]})
    m2 = _model()
    info = load_weights(tmp_path / "w", m2)
    assert info["best_epoch"] == 0 and (tmp_path / "w.safetensors").is_file()
    assert all(torch.equal(v, m2.state_dict()[k]) for k, v in m1.state_dict().items())
    blob = bytearray((tmp_path / "w.safetensors").read_bytes())
    blob[-1] ^= 0xFF                                          # a damaged weights file is refused, not loaded
    (tmp_path / "w.safetensors").write_bytes(bytes(blob))
    assert load_weights(tmp_path / "w", _model()) is None


def test_pad_or_sample_and_stats():
    x = np.arange(10, dtype="f4")[:, None]
    s, n = pad_or_sample(x, 4)
    assert n == 4 and s[0, 0] == 0 and s[-1, 0] == 9
    p, n = pad_or_sample(x, 12)
    assert n == 10 and p.shape == (12, 1) and p[-1, 0] == 0
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert math.isnan(mean_std([1.0])[1]) and math.isnan(mean_std([])[0])


def test_macs_and_params():
    lin = torch.nn.Linear(10, 20)
    assert count_macs(lambda: lin(torch.randn(3, 10))) == 3 * 10 * 20
    m = _model(visual_prompt=False)
    m.class_source.mlp.requires_grad_(False)
    assert trainable_parameters(m) < sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("per_snippet_text", [False, True])
def test_batched_prediction_equals_single(per_snippet_text):
    from vadkit.methods.vadclip import predict_videos

    m = _model("add")
    rng = np.random.default_rng(3)
    feats = {f"v{i}": rng.normal(size=(n, 12)).astype("f4") for i, n in enumerate([5, 33, 70, 32])}
    texts = {v: rng.normal(size=(len(f), 8) if per_snippet_text else 8).astype("f4") for v, f in feats.items()}
    many = predict_videos(m, feats, texts, batch_size=3)
    for v in feats:
        one = predict_video(m, feats[v], texts[v])
        for k in one:
            assert np.allclose(one[k], many[v][k], atol=1e-5), (v, k)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_gpu():
    m = _model("add").cuda()
    lf = lambda o, b: dual_branch_loss(o, b["lengths"], b["binary"], b["multi_hot"])  # noqa: E731
    train_model(m, _items(8), lf)
    p = predict_video(m, np.random.randn(40, 12), np.random.randn(8))
    assert p["coarse"].shape == (40,)
