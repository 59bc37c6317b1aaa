"""VadCLIP's training mechanics as its official code (nwpu-zxr/VadCLIP @ f643c91) has them, each a named option."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vadkit.methods.lgt_adapter import GraphConvolution, LGTAdapter
from vadkit.methods.mil import normal_contrastive
from vadkit.methods.sequences import SequenceItem, batches, bin_average, pad_or_sample, steps_per_epoch
from vadkit.methods.vadclip import visual_prompt


def test_gcn_residual_is_a_temporal_conv1d_kernel_5():
    g = GraphConvolution(8, 4)
    assert isinstance(g.residual, torch.nn.Conv1d)
    assert g.residual.kernel_size == (5,) and g.residual.padding == (2,)
    assert isinstance(GraphConvolution(8, 4, residual="linear").residual, torch.nn.Linear)
    assert isinstance(GraphConvolution(4, 4).residual, torch.nn.Identity)
    # the conv mixes neighbouring snippets: a change at t=5 moves the output at t=3..7 only
    x = torch.randn(1, 12, 8)
    adj = torch.zeros(1, 12, 12)
    y0 = g(x, adj)
    x2 = x.clone()
    x2[0, 5] += 1
    d = (g(x2, adj) - y0).abs().sum(-1)[0]
    assert set(torch.nonzero(d > 1e-7).flatten().tolist()) == {3, 4, 5, 6, 7}


def test_conv_residual_keeps_padding_out():
    torch.manual_seed(0)
    ad = LGTAdapter(width=8, max_len=16, window=4, layers=1).eval()
    x = torch.randn(1, 6, 8)
    short = ad(x, torch.tensor([6]))
    padded = ad(torch.cat([x, torch.randn(1, 10, 8) * 9], 1), torch.tensor([6]))
    assert torch.allclose(short, padded[:, :6], atol=1e-5)


def test_visual_prompt_uses_raw_logits_then_l2_normalises():
    torch.manual_seed(0)
    logits, f = torch.randn(2, 5), torch.randn(2, 5, 4)
    lengths = torch.tensor([5, 3])
    vp = visual_prompt(logits, f, lengths, "logits")
    want = torch.nn.functional.normalize((logits[0, :, None] * f[0]).sum(0), dim=0)
    assert torch.allclose(vp[0], want, atol=1e-6)
    want1 = torch.nn.functional.normalize((logits[1, :3, None] * f[1, :3]).sum(0), dim=0)
    assert torch.allclose(vp[1], want1, atol=1e-6)
    assert torch.allclose(vp.norm(dim=-1), torch.ones(2))
    old = visual_prompt(logits, f, lengths, "sigmoid")
    assert not torch.allclose(old, vp)


def test_contrastive_is_mean_absolute_cosine():
    e = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.6, 0.8]])        # cos with normal: -1 and 0.6
    assert math.isclose(float(normal_contrastive(e)), (1.0 + 0.6) / 2, rel_tol=1e-6)
    assert math.isclose(float(normal_contrastive(e, kind="hinge")), 0.6 / 2, rel_tol=1e-6)


def _items(n_norm, n_abn):
    return ([SequenceItem(f"n{i}", np.zeros((4, 2), "f4"), 0, np.eye(2)[0]) for i in range(n_norm)]
            + [SequenceItem(f"a{i}", np.ones((4, 2), "f4"), 1, np.eye(2)[1]) for i in range(n_abn)])


def test_official_batches_64_normal_plus_64_abnormal_from_two_shuffled_loaders():
    from vadkit.chapters.vadclip import VadCLIPConfig

    cfg = VadCLIPConfig.resolve("full")
    assert cfg.batch_size == 128 and cfg.batch_sampling == "balanced_loaders"
    items = _items(200, 150)
    steps = steps_per_epoch(items, 128, 0, "balanced_loaders")
    assert steps == 3                                               # one pass over the smaller (abnormal) set
    seen = []
    for b in batches(items, 128, steps, np.random.default_rng(0), 8, sampling="balanced_loaders"):
        assert int((b["binary"] == 0).sum()) <= 64 and int((b["binary"] == 1).sum()) <= 64
        seen.append(b)
    assert int(sum((b["binary"] == 1).sum() for b in seen)) == 150      # every abnormal video once per epoch


def test_xd_violence_settings_of_the_official_code():
    from vadkit.chapters.vadclip import VadCLIPConfig

    c = VadCLIPConfig.resolve("full", dataset="xd_violence")
    assert (c.lam, c.layers, c.batch_size, c.batch_sampling, c.milestones, c.window, c.lr) == \
        (1e-4, 1, 96, "single_loader", [3, 6, 10], 64, 1e-5)
    items = _items(30, 70)
    b = next(batches(items, 96, steps_per_epoch(items, 96, 0, "single_loader"), np.random.default_rng(0), 8,
                     sampling="single_loader"))
    assert len(b["binary"]) == 96                                   # one unbalanced loader


def test_long_training_videos_are_bin_averaged():
    x = np.arange(10, dtype="f4")[:, None]
    out, n = pad_or_sample(x, 4, "average")
    # official uniform_extract: bin edges linspace(0, 10, 5).astype(int32) = 0, 2, 5, 7, 10
    assert n == 4 and out[:, 0].tolist() == [0.5, 3.0, 5.5, 8.0]
    assert bin_average(x, 10)[:, 0].tolist() == list(range(10))


def test_ten_crop_training_items_one_per_crop():
    from vadkit.experiment.recipes.dual_branch import build_items
    from vadkit.chapters.vadclip import VadCLIPConfig
    from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation

    class Store:
        def load(self, vid):
            return np.random.rand(7, 10, 4).astype("f4")

    class D:
        classes = ["normal", "fighting"]
        texts: dict = {}
        stores = {"train": Store()}

        def split(self, name):
            return DatasetAnnotations("x", {"v": VideoAnnotation("v", split="train", classes=("fighting",))})

    items, fails = build_items(D(), "train")
    assert len(items) == 10 and not fails and items[3].video_id == "v__3" and items[3].features.shape == (7, 4)
    assert VadCLIPConfig.resolve("full").train_crops == 10


def test_map_over_all_test_videos_keeps_the_normal_class():
    from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation
    from vadkit.experiment.evaluation import EvalSettings, detection_metrics

    classes = ["normal", "fighting"]
    ann = DatasetAnnotations("t", {
        "a": VideoAnnotation("a", classes=("fighting",), num_frames=64, segments=(Segment(16, 47, "fighting", True),)),
        "n": VideoAnnotation("n", classes=(), num_frames=64)})       # its normal segment: [0, 64), mostly proposed
    pa = np.array([[0.6, 0.4], [0.0, 1.0], [0.0, 1.0], [0.6, 0.4]])
    pn = np.array([[0.8, 0.2], [1.0, 0.0], [1.0, 0.0], [0.8, 0.2]])
    preds = {"a": {"class_probs": pa}, "n": {"class_probs": pn}}
    s = EvalSettings(map_convention="vadclip")
    all_v = detection_metrics(preds, ann, classes, s, "all")["avg"]
    abn = detection_metrics(preds, ann, classes, s, "abnormal")["avg"]
    ucf = detection_metrics(preds, ann, classes, s, "all_ucf")["avg"]
    assert abn == pytest.approx(0.5)          # dropping the normal videos leaves the normal class at AP 0
    assert all_v > abn                        # XD's official protocol: normal videos are class-0 segments
    assert ucf == pytest.approx(0.5)          # UCF's: normal videos are 'A', in no class


def test_released_vadclip_test_crops():
    from vadkit.features.released import VADCLIP_TEST_CROP

    assert VADCLIP_TEST_CROP == {"ucf_crime": 5, "xd_violence": 0}


def test_truncation_report_counts_explanations_cut_at_77_tokens():
    from vadkit.methods.ex_vad import truncation_report

    class Clip:
        context_length = 77

        class tokenizer:
            @staticmethod
            def encode(t):
                return t.split()

    r = truncation_report(Clip, ["short text", "w " * 100])
    assert r["n"] == 2 and r["n_cut"] == 1 and r["mean_tokens_cut"] == 100 + 2 - 77


def test_explanations_come_from_the_validation_chosen_seed():
    from vadkit.experiment.recipes.ex_vad import explanation_records
    from vadkit.experiment.types import SeedRun, VideoPrediction
    from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation

    def run(seed, val, test):
        p = VideoPrediction("v", scores={"coarse": np.zeros(3)}, class_probs=np.full((3, 2), 0.5))
        return SeedRun("Ex-VAD", seed, val={"coarse": val}, selected="coarse", test={"selected/auc_o": test},
                       predictions={"v": p})

    class D:
        classes = ["normal", "fighting"]
        test = DatasetAnnotations("t", {"v": VideoAnnotation("v", classes=("fighting",))})

    out = explanation_records({}, [run(0, 0.9, 0.5), run(1, 0.5, 0.9)], D())
    assert out["v"]["seed"] == 0
