"""The crop-pair describer: crops C_t / C_{t+delta}, the canonical reference text, the zoo entry and its loaders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vadkit.errors import ModelNotFoundError


# -- crops ------------------------------------------------------------------------------------------------------
def test_crop_box_is_square_encloses_every_box_and_keeps_context():
    from vadkit.data.pairs import crop_box

    boxes = [(40, 50, 48, 68), (44, 52, 52, 70), (60, 55, 68, 73)]   # one object at t and t + delta, and a second
    a, b, c, d = crop_box(boxes, (120, 160, 3), margin=0.5, min_side=32)
    assert c - a == d - b                                             # square
    assert a <= 40 and b <= 50 and c >= 68 and d >= 73                # encloses all of them
    assert c - a == round(max(28, 23) * 1.5)                          # side = larger extent * (1 + margin)
    small = crop_box([(10, 10, 14, 18)], (120, 160, 3), margin=0.5, min_side=32)
    assert small[2] - small[0] == 32                                  # at least min_side
    with pytest.raises(ValueError, match="at least one box"):
        crop_box([], (120, 160, 3))
    with pytest.raises(ValueError, match="do not meet"):
        crop_box([(200, 10, 210, 20)], (120, 160, 3))


def test_crop_pair_cuts_the_same_box_from_both_frames_and_pads_outside_with_zeros():
    from vadkit.data.pairs import crop_pair

    rng = np.random.default_rng(0)
    f0 = rng.integers(1, 255, (120, 160, 3), dtype=np.uint8)
    f1 = rng.integers(1, 255, (120, 160, 3), dtype=np.uint8)
    a, b = crop_pair(f0, f1, (20, 30, 68, 78), size=48)               # 48 px box: no resampling
    assert a.shape == b.shape == (48, 48, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, f0[30:78, 20:68])
    np.testing.assert_array_equal(b, f1[30:78, 20:68])
    edge, _ = crop_pair(f0, f1, (-10, -10, 38, 38), size=48)          # past the top-left corner
    assert (edge[:10] == 0).all() and (edge[:, :10] == 0).all()
    np.testing.assert_array_equal(edge[10:, 10:], f0[:38, :38])


# -- reference text ---------------------------------------------------------------------------------------------
def test_reference_text_orders_a_pair_left_to_right_and_keeps_singles():
    from vadkit.models.describer import reference_text

    assert reference_text("single", ["a person runs to the left"]) == "a person runs to the left"
    left, right = (10, 50, 18, 70), (40, 50, 48, 70)
    sa, sb = "a person grabs a bag", "a person walks to the right"
    rel = "one snatches the other's bag"
    # the generator orders by track id; pixels decide the canonical order
    assert reference_text("pair", [sa, sb], rel, [right, left]) == f"A person walks to the right; {sa}; {rel}"
    assert reference_text("pair", [sa, sb], rel, [left, right]) == f"A person grabs a bag; {sb}; {rel}"
    with pytest.raises(ValueError, match="kind"):
        reference_text("trio", [sa])
    with pytest.raises(ValueError, match="two sentences"):
        reference_text("pair", [sa], rel, [left])


def test_stack_crops_gives_both_crops_and_their_difference():
    import torch

    from vadkit.models.describer import stack_crops

    a = np.zeros((2, 8, 8, 3), np.uint8)
    b = np.full((2, 8, 8, 3), 255, np.uint8)
    x = stack_crops(a, b)
    assert x.shape == (2, 9, 8, 8)
    assert torch.allclose(x[:, :3], torch.tensor(-1.0)) and torch.allclose(x[:, 3:6], torch.tensor(1.0))
    assert torch.allclose(x[:, 6:], torch.tensor(2.0))
    with pytest.raises(ValueError, match="differ in shape"):
        stack_crops(a, b[:1])


# -- the zoo entry ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    synth = pytest.importorskip("vadkit.data.synth")
    cfg = synth.SynthConfig(min_frames=48, max_frames=64)
    return synth.generate(tmp_path_factory.mktemp("synth") / "root", {"train": 4, "test": 3}, seed=5, config=cfg,
                          progress=False)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _tiny(zoo, **kw):
    lm = zoo.LMTrainConfig(vocab_size=400, hidden=32, layers=1, heads=2, intermediate=64, max_len=64)
    return zoo.DescriberTrainConfig(lm=lm, width=8, steps=kw.pop("steps", 4), batch_size=8, pretrain=False, **kw)


def test_describer_rows_match_the_activity_ground_truth(synth_root):
    from vadkit.data.synth.loader import load_activity
    from vadkit.models import zoo

    c = _tiny(zoo)
    rows = zoo.describer_rows(synth_root, "test", c, seed=0)
    n = len(rows.texts)
    assert n > 0 and rows.crops_t.shape == rows.crops_t1.shape == (n, c.crop_size, c.crop_size, 3)
    assert len(rows.kinds) == len(rows.labels) == len(rows.anomalous) == len(rows.video_ids) == n
    # every single row's text is the activity document's own sentence for that window
    for k in range(n):
        if rows.kinds[k] != "single":
            continue
        doc = load_activity(synth_root, rows.video_ids[k])
        w = next(w for w in doc["windows"] if w["start"] == rows.frames[k])
        assert rows.texts[k] in {r["text"] for r in w["singles"]}
    # a pair row is "<left>; <right>; <relation>" with a relation the document names
    for k in (k for k in range(n) if rows.kinds[k] == "pair"):
        doc = load_activity(synth_root, rows.video_ids[k])
        w = next(w for w in doc["windows"] if w["start"] == rows.frames[k])
        assert rows.texts[k].split("; ")[-1] in {r["relation"] for r in w["pairs"]}
    # the crops move: t and t + delta differ for most rows
    assert np.mean([not np.array_equal(a, b) for a, b in zip(rows.crops_t, rows.crops_t1)]) > 0.5


def test_train_describer_saves_a_directory_the_loader_reads_back_identically(synth_root, home):
    from vadkit.models import load_describer, zoo
    from vadkit.models.describer import PrefixDescriber

    c = _tiny(zoo, steps=6)
    d = zoo.train_or_load("tiny-describer", root=synth_root, config=c, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    for k in ("describer_bleu4", "majority_bleu4", "untrained_describer_bleu4", "distinct_description_share"):
        assert 0.0 <= m[k] <= 1.0, k
    assert m["n_train_rows"] > 0 and m["train_root"] == synth_root.name
    rows = zoo.describer_rows(synth_root, "test", c, seed=1)
    desc = load_describer(str(d))
    assert isinstance(desc, PrefixDescriber)
    out = desc.describe_crops(rows.crops_t[:5], rows.crops_t1[:5], rows.kinds[:5])
    assert len(out) == 5 and all(isinstance(t, str) for t in out)
    assert load_describer(str(d)).describe_crops(rows.crops_t[:5], rows.crops_t1[:5], rows.kinds[:5]) == out
    with pytest.raises(ValueError, match="48 x 48"):
        desc.describe_crops(rows.crops_t[:1, :32, :32], rows.crops_t1[:1, :32, :32], ["single"])
    with pytest.raises(ValueError, match="kinds"):
        desc.describe_crops(rows.crops_t[:1], rows.crops_t1[:1], ["group"])
    # a damaged encoder file is refused naming the file
    (d / "encoder.safetensors").write_bytes(b"\x00\x01")
    with pytest.raises(ModelNotFoundError, match="encoder.safetensors"):
        load_describer(str(d))


def test_describer_learns_on_a_tiny_world(synth_root, home):
    """A few hundred steps on 4 videos must beat the untrained twin's BLEU-4 on the training rows themselves (a
    fitting check: the held-out comparison is the zoo entry's, on the real corpus)."""
    import torch

    from vadkit.models import zoo
    from vadkit.models.describer import KINDS, CropEncoder, PrefixDescriber, stack_crops

    c = _tiny(zoo)
    rows = zoo.describer_rows(synth_root, "train", c, seed=0)
    tok = zoo.train_tokenizer(sorted(set(rows.texts)), c.lm.vocab_size)
    torch.manual_seed(0)
    enc, lm = CropEncoder(c.lm.hidden, c.width, c.grid), __import__("transformers").LlamaForCausalLM(
        zoo._llama_config(tok, c.lm))
    x = stack_crops(rows.crops_t, rows.crops_t1)
    kid = torch.tensor([KINDS.index(k) for k in rows.kinds])
    tgt = zoo._eos_targets(tok, rows.texts, c.lm.max_len)
    opt = torch.optim.AdamW(list(enc.parameters()) + list(lm.parameters()), 3e-3)
    enc.train(), lm.train()
    losses = []
    for step in range(150):
        idx = np.random.default_rng(step).choice(len(tgt), 16)
        loss = zoo._prefix_lm_loss(lm, tok, enc(x[idx], kid[idx]), [tgt[i] for i in idx])
        opt.zero_grad(), loss.backward(), opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    tok.padding_side = "left"
    hyps = PrefixDescriber(enc, lm, tok, "t").describe_crops(rows.crops_t[:40], rows.crops_t1[:40], rows.kinds[:40])
    assert zoo._bleu4(hyps, rows.texts[:40]) > 0.2


def test_load_describer_wraps_a_vlm_with_the_activity_prompt(monkeypatch):
    from vadkit import models
    from vadkit.models.describer import VLMDescriber
    from vadkit.models.prompts import ACTIVITY_PROMPTS

    seen = []

    class FakeVLM:
        name = "fake"

        def chat(self, frames, messages, config=None):
            seen.append((np.asarray(frames).shape, messages[-1]["content"]))
            return "a person walks"

        def describe(self):
            return {"name": "fake"}

    monkeypatch.setattr(models, "load_vlm", lambda name, device=None: FakeVLM())
    monkeypatch.setattr(models, "resolve_name", lambda name: ("hub", name))
    d = models.load_describer("Qwen/Qwen2.5-VL-7B-Instruct")
    assert isinstance(d, VLMDescriber)
    crops = np.zeros((2, 48, 48, 3), np.uint8)
    assert d.describe_crops(crops, crops, ["single", "pair"], delta_s=0.5) == ["a person walks"] * 2
    assert seen[0] == ((2, 48, 48, 3), ACTIVITY_PROMPTS["single"].format(delta=0.5))
    assert seen[1][1] == ACTIVITY_PROMPTS["pair"].format(delta=0.5) and "0.5 s" in seen[1][1]
