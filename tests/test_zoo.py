"""The tiny zoo: cache keying, train-or-load, and that entries load through the full-profile loaders.

Trains every entry for a handful of steps on a 6-video SynthVAD root (seconds); the real smoke-profile
training and its held-out figures run in chapter 02.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from vadkit.errors import ModelNotFoundError


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    synth = pytest.importorskip("vadkit.data.synth")
    cfg = synth.SynthConfig(min_frames=48, max_frames=64)
    return synth.generate(tmp_path_factory.mktemp("synth") / "root", {"train": 4, "test": 2}, seed=3, config=cfg,
                          progress=False)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_entry_dir_keys_config_and_data(synth_root, home):
    from vadkit.models import zoo

    a = zoo.entry_dir("tiny-clip", synth_root)
    assert a.parent == home / "cache" / "zoo" and a.name.startswith("tiny-clip-")
    assert zoo.entry_dir("tiny-clip", synth_root) == a
    assert zoo.entry_dir("tiny-clip", synth_root, replace(zoo.ClipTrainConfig(), steps=7)) != a
    assert zoo.entry_dir("tiny-captioner", synth_root).name.startswith("tiny-captioner-")
    # the tiny CLIP's key names its pretraining corpus (by generation request, without generating it)
    assert zoo.entry_dir("tiny-clip", synth_root, replace(zoo.ClipTrainConfig(), pretrain=False)) != a
    with pytest.raises(ModelNotFoundError, match="unknown tiny-zoo entry"):
        zoo.entry_dir("tiny-gpt5", synth_root)
    with pytest.raises(ModelNotFoundError, match="synthvad.json"):
        zoo.entry_dir("tiny-clip", home)


def _tiny_lm(zoo):
    return zoo.LMTrainConfig(vocab_size=500, hidden=32, layers=1, heads=2, intermediate=64, max_len=160, steps=2,
                             batch_size=2, laam_samples_per_label=2, pretrain=False)


def test_train_or_load_clip(synth_root, home):
    from vadkit.models import load_clip, zoo

    cfg = zoo.ClipTrainConfig(tower="resnet", image_size=32, vision_width=8, text_layers=1, steps=3, batch_size=16,
                              frames_per_video=2, pretrain=False)
    d = zoo.train_or_load("tiny-clip", root=synth_root, config=cfg, progress=False)
    meta = json.loads((d / "zoo.json").read_text())
    m = meta["metrics"]
    for k in ("event_zero_shot_acc", "event_chance", "untrained_event_zero_shot_acc"):
        assert 0.0 <= m[k] <= 1.0
    assert m["train_root"] == synth_root.name  # pretrain=False: trained on the given root
    mtime = (d / "zoo.json").stat().st_mtime_ns
    assert zoo.train_or_load("tiny-clip", root=synth_root, config=cfg, progress=False) == d
    assert (d / "zoo.json").stat().st_mtime_ns == mtime  # loaded, not retrained
    clip = load_clip(str(d))  # a zoo entry is an ordinary open_clip directory
    assert clip.encode_texts([zoo.class_prompt("running")]).shape == (1, cfg.embed_dim)
    assert not list(d.parent.glob(".*"))  # no temporary directories left behind


def test_train_or_load_locked_clip(synth_root, home):
    """The default tower: frozen packaged EfficientNet-Lite0 under a trained pool; the saved file holds only the
    trained tensors, a reload gives the same embeddings, and the untrained twin has no pretrained trunk."""
    import torch
    from safetensors.torch import load_file

    from vadkit.models import load_clip, zoo
    from vadkit.models.locked_clip import FROZEN_PREFIXES

    cfg = zoo.ClipTrainConfig(image_size=64, crop_size=32, embed_dim=16, text_width=32, text_layers=1, steps=3,
                              batch_size=8, frames_per_video=2, max_crops=1, pretrain=False)
    assert cfg.tower == "locked"
    d = zoo.train_or_load("tiny-clip", root=synth_root, config=cfg, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert 0.0 <= m["event_zero_shot_bacc"] <= 1.0 and m["frozen_encode_seconds"] >= 0
    saved = load_file(str(d / "open_clip_model.safetensors"))
    assert saved and not [k for k in saved if k.startswith(tuple(f"visual.{p}" for p in FROZEN_PREFIXES))]
    assert any(k.startswith("visual.attnpool.") for k in saved)
    clip = load_clip(str(d))
    assert clip.is_resnet and clip.image_size == 64 and clip.resize_mode == "squash"
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    again = load_clip(str(d))
    assert torch.allclose(clip.encode_images(frames), again.encode_images(frames), atol=1e-6)
    _, taps = clip.encode_pixels(clip.preprocess(frames), layers=(0, 3))
    assert taps[0].shape == (2, 16 * 16, 24) and taps[3].shape == (2, 2 * 2, 320)
    # the trunk is frozen: its tensors are the packaged ones, and the untrained twin's differ
    twin = zoo.untrained_clip(cfg)
    w = "visual.stem.0.weight"
    assert torch.equal(clip.model.state_dict()[w], again.model.state_dict()[w])
    assert not torch.equal(clip.model.state_dict()[w], twin.model.state_dict()[w])
    # a file from another architecture is refused, naming the file
    bad = dict(saved)
    bad.pop(next(k for k in bad if k.startswith("visual.attnpool.")))
    from vadkit.models.locked_clip import build_locked_clip, load_trained_state
    from vadkit.models.weights import CorruptWeightsError

    with pytest.raises(CorruptWeightsError, match="open_clip_model"):
        load_trained_state(build_locked_clip(clip.model_cfg), bad, d / "open_clip_model.safetensors")


def test_train_or_load_lit(synth_root, home):
    from vadkit.models import load_clip, zoo
    from vadkit.models.lit import LitModel

    cfg = zoo.LitTrainConfig(width=32, embed_dim=16, heads=2, steps=3, batch_size=8, frames_per_video=2,
                             pretrain=False)
    d = zoo.train_or_load("tiny-lit", root=synth_root, config=cfg, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    for k in ("agent_zero_shot_bacc", "event_zero_shot_bacc", "untrained_event_zero_shot_bacc"):
        assert 0.0 <= m[k] <= 1.0
    assert m["train_root"] == synth_root.name and m["frozen_encode_seconds"] >= 0
    lit = load_clip(str(d))                      # routed to the LiT loader by its config file
    assert isinstance(lit, LitModel) and lit.encode_texts(["a car"]).shape == (1, 16)
    assert zoo.train_or_load("tiny-lit", root=synth_root, config=cfg, progress=False) == d


def test_frozen_corpus_maps_are_computed_once_shared_and_recomputed_when_damaged(synth_root, home, caplog):
    """The tiny CLIP, the LiT and the captioner read one stored frozen pass: it is the LiT trunk's own maps and
    the captioner's own CLIP features, a second call reads it, and a damaged file is recomputed, not trusted."""
    import torch

    from vadkit.models import zoo
    from vadkit.models.captioner import clip_image_features
    from vadkit.models.lit import new_lit

    train = zoo.SynthText(synth_root, "train", 2, seed=0, max_crops=1, anomalous_stride=8)
    fm, cm, took = zoo.corpus_maps(train, 64, 32, progress=False)
    assert took > 0 and fm.shape == (len(train.frames), 320, 2, 2) and cm.shape == (len(train.crops), 320, 1, 1)
    (blob,) = (home / "cache" / "zoo" / "_frozen").glob("*.safetensors")
    again, _, took = zoo.corpus_maps(train, 64, 32, progress=False)
    assert took == 0 and torch.equal(again, fm)
    # another sampling or size is another file
    zoo.corpus_maps(zoo.SynthText(synth_root, "train", 3, seed=0, max_crops=1), 64, 32, progress=False)
    assert len(list(blob.parent.glob("*.safetensors"))) == 2
    lit = new_lit({"image_size": [64, 64], "width": 32, "embed_dim": 16, "heads": 2})
    own = zoo._stage7_maps(lit, train.frames, (64, 64))
    assert torch.allclose(own.float(), fm.permute(0, 2, 3, 1).float(), atol=2e-2)
    clip_cfg = zoo.ClipTrainConfig(image_size=64, crop_size=32, embed_dim=16, text_width=32, text_layers=1)
    clip = zoo._new_clip(clip_cfg)
    cap_cfg = zoo.CaptionerTrainConfig(clip=clip_cfg, frames_per_video=2, anomalous_stride=8)
    pooled, grid = zoo._captioner_inputs(clip, train, cap_cfg, progress=False)
    p_ref, g_ref = clip_image_features(clip, train.frames, -1)
    assert torch.allclose(pooled, p_ref, atol=2e-2) and torch.allclose(grid, g_ref, atol=2e-2)
    blob.write_bytes(blob.read_bytes()[:-7] + b"damaged")
    with caplog.at_level("WARNING"):
        fixed, _, took = zoo.corpus_maps(train, 64, 32, progress=False)
    assert took > 0 and "fail their digest" in caplog.text and torch.equal(fixed, fm)


def test_train_captioner_on_frozen_clip_and_load(synth_root, home):
    from vadkit.models import load_captioner, zoo
    from vadkit.models.captioner import PrefixCaptioner

    clip_cfg = zoo.ClipTrainConfig(tower="resnet", image_size=32, vision_width=8, text_layers=1, steps=2, batch_size=8,
                                   frames_per_video=2, pretrain=False)
    cfg = zoo.CaptionerTrainConfig(clip=clip_cfg, lm=_tiny_lm(zoo), frames_per_video=2, steps=3, batch_size=4)
    d = zoo.train_or_load("tiny-captioner", root=synth_root, config=cfg, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert {"caption_bleu4", "untrained_caption_bleu4", "distinct_caption_share"} <= set(m)
    assert zoo.entry_dir("tiny-clip", synth_root, clip_cfg).is_dir()  # its CLIP was trained (or loaded) first
    cap = load_captioner(str(d))
    assert isinstance(cap, PrefixCaptioner)
    frames = np.zeros((3, 120, 160, 3), np.uint8)
    out = cap.caption(frames, config=__import__("vadkit.models", fromlist=["GenerationConfig"]).GenerationConfig(
        max_new_tokens=4))
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    with pytest.raises(ValueError, match="no prompt"):
        cap.caption(frames, prompt="Describe the weather.")
    with pytest.raises(ModelNotFoundError, match="prefix-captioner"):
        (d / "prefix.safetensors").write_bytes(b"broken")
        load_captioner(str(d))


def test_train_llm_and_vlm_load_through_hf_loaders(synth_root, home):
    from vadkit.models import GenerationConfig, load_llm, load_vlm, zoo
    from vadkit.models.prompts import LAAM_PHRASES_PROMPT

    d = zoo.train_or_load("tiny-llm", root=synth_root, config=_tiny_lm(zoo), progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert {"aegm_bleu4", "untrained_aegm_bleu4", "laam_parse_rate"} <= set(m)
    llm = load_llm(str(d))
    out = llm.generate([LAAM_PHRASES_PROMPT.format(label="running", m=3)], GenerationConfig(max_new_tokens=4))
    assert len(out) == 1
    vcfg = zoo.VLMTrainConfig(vision_width=32, vision_depth=2, vision_heads=2, fullatt_block_indexes=[1], steps=2,
                              batch_size=2, lm=replace(_tiny_lm(zoo), max_len=320), pretrain=False)
    assert zoo.entry_dir("tiny-vlm", synth_root, vcfg) != zoo.entry_dir("tiny-vlm", synth_root,
                                                                       replace(vcfg, pretrain=True))
    d = zoo.train_or_load("tiny-vlm", root=synth_root, config=vcfg, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert {"caption_bleu4", "untrained_caption_bleu4", "qa_accuracy", "qa_majority"} <= set(m)
    assert m["train_root"] == synth_root.name and m["visual_tokens_per_frame"] == 70  # 160 x 112: 10 x 7 merged
    vlm = load_vlm(str(d))                     # the saved entry loads as a hub checkpoint would
    assert type(vlm.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    frames = np.zeros((2, 120, 160, 3), np.uint8)
    msgs = [{"role": "user", "content": "Is there a car?"}]
    reply = vlm.chat(frames, msgs, GenerationConfig(max_new_tokens=3))
    assert isinstance(reply, str) and reply == load_vlm(str(d)).chat(frames, msgs, GenerationConfig(max_new_tokens=3))
    taps = vlm.vision_layer_features(frames, layers=(0, -1))
    assert {k: tuple(v.shape) for k, v in taps.items()} == {0: (2, 14, 20, 32), -1: (2, 14, 20, 32)}


def test_check_competence_names_every_figure_below_its_floor():
    import pandas as pd

    from vadkit.chapters.features_and_models import check_competence
    from vadkit.errors import VadkitError

    def df(bacc, auc, bleu):
        return pd.DataFrame([
            {"entry": "tiny-clip", "metric": "event zero-shot balanced acc", "trained": bacc, "untrained": 0.11,
             "reference": 0.111},
            {"entry": "tiny-clip", "metric": "frame anomaly zero-shot AUC", "trained": auc, "untrained": 0.5,
             "reference": 0.5},
            {"entry": "tiny-vlm", "metric": "caption BLEU-4", "trained": bleu, "untrained": 0.02, "reference": None},
        ])

    ok = check_competence(df(0.35, 0.64, 0.3))   # the locked tiny CLIP measured 0.35 and 0.64
    assert ok["ok"].all() and len(ok) == 3
    with pytest.raises(VadkitError) as err:
        check_competence(df(0.111, 0.49, 0.01))  # the BatchNorm-on-crops regression looked like this
    msg = str(err.value)
    assert "event zero-shot balanced acc" in msg and "anomaly zero-shot AUC" in msg and "caption BLEU-4" in msg
    assert check_competence(df(0.25, 0.61, 0.3).iloc[:0]).empty  # full profile: nothing to check


def test_train_all_names_unknown_entries_and_trains_in_order_with_one_worker(monkeypatch, home, synth_root):
    from pathlib import Path

    from vadkit.data import synth
    from vadkit.models import zoo

    with pytest.raises(ModelNotFoundError, match="tiny-nope"):
        zoo.train_all(["tiny-clip", "tiny-nope"])
    calls = []
    monkeypatch.setattr(synth, "smoke_dataset", lambda *a, **k: Path(synth_root))
    monkeypatch.setattr(synth, "pretrain_dataset", lambda *a, **k: Path(synth_root))
    monkeypatch.setattr(zoo, "train_or_load", lambda e, root=None, **k: calls.append(e) or zoo.entry_dir(e, root))
    out = zoo.train_all(["tiny-llm", "tiny-instruct"], workers=1)
    assert calls == ["tiny-llm", "tiny-instruct"] and set(out) == {"tiny-llm", "tiny-instruct"}
    assert zoo.REQUIRES["tiny-captioner"] == ("tiny-clip",)
