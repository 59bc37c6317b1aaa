"""VAD-LLaMA's pieces (vadkit.methods.vad_llama): Eq. 1, the causal LTC lists (Eqs. 2-3), the pseudo-instructions
and the soft-prompt LM of phase 3."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.methods import vad_llama as vl


def test_mil_bce_value_and_margin():
    p = torch.tensor([[0.1, 0.9, 0.2, 0.0], [0.1, 0.2, 0.3, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0]], dtype=torch.bool)
    y = torch.tensor([1.0, 0.0])
    value = vl.mil_bce(p, mask, y, "value")
    # max over real clips only: 0.9 for the abnormal video, 0.3 for the normal one
    expect = -(np.log(0.9) + np.log(0.7)) / 2
    assert float(value) == pytest.approx(expect, rel=1e-5)
    both = vl.mil_bce(p, mask, y, "value+margin")
    margin = -(np.log(0.9 - 0.1) + np.log(1 - (0.3 - 0.1))) / 2
    assert float(both) == pytest.approx(expect + margin, rel=1e-5)
    with pytest.raises(ValueError):
        vl.mil_bce(p, mask, y, "max")


def test_context_lists_are_causal_and_start_empty():
    s = torch.tensor([[0.5, 0.9, 0.1, 0.7, 0.3]])
    mask = torch.ones(1, 5, dtype=torch.bool)
    idx, valid = vl.context_lists(s, mask, 2, "abnormal")
    assert not valid[0, 0].any()                       # the first clip sees an empty list
    assert valid[0, 1].tolist() == [True, False]       # the second sees one earlier clip
    assert idx[0, 1, 0] == 0
    assert sorted(idx[0, 4][valid[0, 4]].tolist()) == [1, 3]    # highest of clips 0-3: 0.9, 0.7
    idx, valid = vl.context_lists(s, mask, 2, "normal")
    assert sorted(idx[0, 4][valid[0, 4]].tolist()) == [0, 2]    # lowest of clips 0-3: 0.1, 0.5
    idx, valid = vl.context_lists(s, mask, 2, "history")
    assert sorted(idx[0, 4][valid[0, 4]].tolist()) == [2, 3]    # the two most recent
    for i in range(5):                                # every listed clip is earlier than the clip itself
        assert (idx[0, i][valid[0, i]] < i).all()
    idx, valid = vl.context_lists(s, torch.tensor([[1, 1, 0, 1, 1]], dtype=torch.bool), 4, "normal")
    assert 2 not in idx[0, 4][valid[0, 4]].tolist()   # padding never enters a list


@pytest.mark.parametrize("lists", [("normal", "abnormal"), ("normal", "abnormal", "history")])
@pytest.mark.parametrize("attention", ["dot", "softmax"])
def test_ltc_update_is_causal(lists, attention):
    torch.manual_seed(0)
    model = vl.VADor(8, 16, 0.0, vl.LTC(8, 2, lists, attention), "cotrained").eval()
    x = torch.randn(1, 10, 8)
    out = model(x)["p"]
    y = x.clone()
    y[0, 6:] = torch.randn(4, 8) * 5                   # change the future
    out2 = model(y)["p"]
    assert torch.allclose(out[0, :6], out2[0, :6])     # the past does not move
    assert not torch.allclose(out[0, 6:], out2[0, 6:])


def test_first_clip_has_no_context_and_k0_is_the_baseline():
    torch.manual_seed(0)
    ltc = vl.LTC(8, 4, ("normal", "abnormal"))
    x = torch.randn(2, 5, 8)
    xt = ltc(x, torch.rand(2, 5), torch.ones(2, 5, dtype=torch.bool))
    assert torch.equal(xt[:, 0], x[:, 0])              # empty lists add nothing (no bias)
    assert not torch.equal(xt[:, 1], x[:, 1])
    base = vl.VADor(8, 16, 0.0, None)
    same = vl.VADor(8, 16, 0.0, vl.LTC(8, 0, ("normal",)))
    same.g.load_state_dict(base.g.state_dict())
    base.eval(), same.eval()
    assert torch.allclose(base(x)["p"], same(x)["p"])


def test_eq2_has_no_softmax_by_default():
    x = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]])
    idx, valid = vl.context_lists(torch.tensor([[0.1, 0.2, 0.3]]), torch.ones(1, 3, dtype=torch.bool), 2, "history")
    r = vl.retrieve(x, idx, valid, "dot")
    # clip 2: (x2 X^T) X with X = {x0, x1}: both weights 0 (orthogonal)
    assert torch.allclose(r[0, 2], torch.zeros(2))
    # clip 1: X = {x0}: (x1 . x0) x0 = 2 * [1, 0]
    assert torch.allclose(r[0, 1], torch.tensor([2.0, 0.0]))


def test_phase1_scores_are_frozen_and_no_gradient_reaches_the_lists():
    torch.manual_seed(0)
    p1 = vl.VADor(8, 16, 0.0)
    m = vl.VADor(8, 16, 0.0, vl.LTC(8, 2), "phase1")
    m.init_from_phase1(p1)
    assert all(not p.requires_grad for p in m.g0.parameters())
    x = torch.randn(2, 6, 8, requires_grad=True)
    m(x)["p"].sum().backward()
    assert all(p.grad is None for p in m.g0.parameters())
    assert m.g.fc1.weight.grad is not None


def test_segment_sample_and_index():
    x = np.arange(10, dtype=np.float32)[:, None]
    assert vl.segment_sample(x, 20).shape == (10, 1)
    c = vl.segment_sample(x, 5)[:, 0]
    assert c.tolist() == [0, 2, 4, 6, 8]
    r = vl.segment_sample(x, 5, np.random.default_rng(0))[:, 0]
    assert all(2 * i <= v < 2 * i + 2 for i, v in enumerate(r))
    assert vl.segment_index(10, 5).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_pseudo_instructions_round_trip_through_the_parser():
    from vadkit.models.parsing import parse_intervals

    ivs = vl.intervals_from_scores(np.array([0.1, 0.8, 0.9, 0.2, 0.7]), 0.5, 0.5)
    assert ivs == [(0.5, 1.5), (2.0, 2.5)]
    text = vl.answer_text(ivs)
    assert text == "Yes, there are anomalies from 0.5s to 1.5s and from 2s to 2.5s."
    assert parse_intervals(text) == [(0.5, 1.5), (2.0, 2.5)]
    assert parse_intervals("Yes, there are anomalies from 1.5s to 2s.") == [(1.5, 2.0)]   # the paper's form
    assert parse_intervals(vl.answer_text([])) == []
    assert vl.interval_iou([(0, 2)], [(1, 3)], 4) == pytest.approx(1 / 3, abs=0.02)
    assert vl.interval_iou([], [], 4) == 1.0 and vl.interval_iou([(0, 1)], [], 4) == 0.0


def test_sultani_loss_terms():
    sa = torch.tensor([[0.2, 0.9, 0.1]])
    sn = torch.tensor([[0.3, 0.1, 0.0]])
    loss = vl.sultani_loss(sa, sn, 1.0, 1.0)
    expect = max(0, 1 - 0.9 + 0.3) + ((0.7 ** 2) + (0.8 ** 2)) + 1.2
    assert float(loss) == pytest.approx(expect, rel=1e-5)


@pytest.fixture(scope="module")
def tiny_lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    from vadkit.models.rehearsal import byte_bpe

    tok = byte_bpe(["<s>", "</s>"], vocab_size=400, bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    return vl.SoftPromptLM(model, tok, max_new_tokens=12)


def test_soft_prompt_trains_only_the_adaptor_on_answer_tokens(tiny_lm):
    ad = vl.Adaptor(6, tiny_lm.dim)
    video = torch.randn(2, 4, 6)
    mask = torch.ones(2, 4, dtype=torch.bool)
    dialogues = [[vl.first_turn("A video.", answer="No, there is no anomaly in the video.")],
                 [vl.first_turn("A video.", answer="Yes, there are anomalies from 1s to 2s."),
                  vl.next_turn(vl.DESCRIBE, "A car drives.")]]
    emb, labels = tiny_lm._sequence(ad(video[1]), dialogues[1], False)
    n_answer = sum(len(tiny_lm._ids(" " + t.answer)) + 1 for t in dialogues[1])
    assert int((labels != -100).sum()) == n_answer       # Eq. 4: the answer tokens only
    loss = tiny_lm.loss(ad, video, mask, dialogues)
    loss.backward()
    assert ad.proj.weight.grad is not None
    assert all(p.grad is None for p in tiny_lm.model.parameters())
    text = tiny_lm.generate(ad, video[0], [vl.first_turn("A video.")])
    assert isinstance(text, str)
    # the answer depends on the soft prompt: a different video gives different logits
    e1, _ = tiny_lm._sequence(ad(video[0]), [vl.first_turn("A video.")], True)
    e2, _ = tiny_lm._sequence(ad(video[1]), [vl.first_turn("A video.")], True)
    l1 = tiny_lm.model(inputs_embeds=e1[None]).logits[0, -1]
    l2 = tiny_lm.model(inputs_embeds=e2[None]).logits[0, -1]
    assert not torch.allclose(l1, l2)


def _toy_split():
    from vadkit.data.annotations import DatasetAnnotations, Segment, VideoAnnotation

    vids = {"n0": VideoAnnotation("n0", "test", (), 64, 16.0),
            "n1": VideoAnnotation("n1", "test", (), 64, 16.0),
            "a0": VideoAnnotation("a0", "test", ("loitering",), 64, 16.0,
                                  segments=[Segment(32, 63, "loitering", True)]),
            "a1": VideoAnnotation("a1", "test", ("collision",), 64, 16.0,
                                  segments=[Segment(0, 31, "collision", True)])}
    return DatasetAnnotations("toy", vids)


def test_threshold_is_chosen_on_validation_and_pseudo_intervals_follow_the_weak_label():
    from types import SimpleNamespace

    from vadkit.experiment.recipes import vad_llama as rec
    from vadkit.experiment.types import VideoPrediction

    ann = _toy_split()
    cfg = SimpleNamespace(snippet_len=16)
    good = {"n0": [0.1, 0.2, 0.1, 0.3], "n1": [0.2, 0.1, 0.2, 0.1], "a0": [0.2, 0.3, 0.8, 0.9],
            "a1": [0.7, 0.75, 0.2, 0.1]}
    preds = {v: VideoPrediction(v, scores={rec.STREAM: np.array(s)}, snippet_len=16) for v, s in good.items()}
    tau, info = rec.choose_threshold(preds, ann, cfg)
    assert 0.3 <= tau < 0.7 and info["criterion"] == "interval IoU"
    assert info["curve"][tau] == pytest.approx(1.0)
    # a normal video is "no" whatever its scores (its weak label); an abnormal one below tau keeps its peak clip
    assert rec.pseudo_intervals(np.array([0.9, 0.9, 0.9, 0.9]), ann["n0"], tau, cfg) == []
    assert rec.pseudo_intervals(np.array([0.1, 0.2, 0.25, 0.1]), ann["a0"], 0.5, cfg) == [(2.0, 3.0)]


def test_paired_difference_restricted_to_a_group_of_videos():
    from vadkit.experiment.evaluation import EvalSettings
    from vadkit.experiment.reporting import paired_difference
    from vadkit.experiment.types import SeedRun, VideoPrediction

    ann = _toy_split()
    truth = {"n0": [0, 0, 0, 0], "n1": [0, 0, 0, 0], "a0": [0, 0, 1, 1], "a1": [1, 1, 0, 0]}
    noise = {"n0": [0.5, 0.1, 0.2, 0.3], "n1": [0.4, 0.6, 0.1, 0.2], "a0": [0.9, 0.8, 0.1, 0.2],
             "a1": [0.1, 0.2, 0.9, 0.8]}

    def runs(scores):
        return [SeedRun("m", s, predictions={v: VideoPrediction(v, scores={"x": np.array(p, float)}, snippet_len=16)
                                             for v, p in scores.items()}) for s in (0, 1)]

    d = paired_difference(runs(truth), runs(noise), ann, EvalSettings(gt_convention="exact"), stream="x",
                          video_filter=lambda a: not a.is_anomalous or "loitering" in a.classes)
    assert d["videos"] == 3 and d["diff"] > 0.5
    assert d["lo"] <= d["diff"] <= d["hi"]
