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
    assert zoo.entry_dir("tiny-captioner", synth_root).name.startswith("tiny-vlm-")
    with pytest.raises(ModelNotFoundError, match="unknown tiny-zoo entry"):
        zoo.entry_dir("tiny-gpt5", synth_root)
    with pytest.raises(ModelNotFoundError, match="synthvad.json"):
        zoo.entry_dir("tiny-clip", home)


def _tiny_lm(zoo):
    return zoo.LMTrainConfig(vocab_size=500, hidden=32, layers=1, heads=2, intermediate=64, max_len=160, steps=2,
                             batch_size=2, laam_samples_per_label=2)


def test_train_or_load_clip(synth_root, home):
    from vadkit.models import load_clip, zoo

    cfg = zoo.ClipTrainConfig(image_size=32, vision_layers=1, text_layers=1, steps=3, batch_size=16,
                              frames_per_video=2)
    d = zoo.train_or_load("tiny-clip", root=synth_root, config=cfg, progress=False)
    meta = json.loads((d / "zoo.json").read_text())
    m = meta["metrics"]
    for k in ("event_zero_shot_acc", "event_chance", "untrained_event_zero_shot_acc"):
        assert 0.0 <= m[k] <= 1.0
    mtime = (d / "zoo.json").stat().st_mtime_ns
    assert zoo.train_or_load("tiny-clip", root=synth_root, config=cfg, progress=False) == d
    assert (d / "zoo.json").stat().st_mtime_ns == mtime  # loaded, not retrained
    clip = load_clip(str(d))  # a zoo entry is an ordinary open_clip directory
    assert clip.encode_texts([zoo.class_prompt("running")]).shape == (1, cfg.embed_dim)
    assert not list(d.parent.glob(".*"))  # no temporary directories left behind


def test_train_llm_and_vlm_load_through_hf_loaders(synth_root, home):
    from vadkit.models import GenerationConfig, load_llm, load_vlm, zoo
    from vadkit.models.prompts import LAAM_PHRASES_PROMPT

    d = zoo.train_or_load("tiny-llm", root=synth_root, config=_tiny_lm(zoo), progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert {"aegm_bleu4", "untrained_aegm_bleu4", "laam_parse_rate"} <= set(m)
    llm = load_llm(str(d))
    out = llm.generate([LAAM_PHRASES_PROMPT.format(label="running", m=3)], GenerationConfig(max_new_tokens=4))
    assert len(out) == 1
    vcfg = zoo.VLMTrainConfig(image_size=32, vision_width=32, vision_layers=1, steps=2, batch_size=2,
                              frames_per_video=2, lm=_tiny_lm(zoo))
    d = zoo.train_or_load("tiny-vlm", root=synth_root, config=vcfg, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert {"caption_bleu4", "untrained_caption_bleu4", "qa_accuracy", "qa_majority"} <= set(m)
    vlm = load_vlm(str(d))
    frames = np.zeros((2, 120, 160, 3), np.uint8)
    assert isinstance(vlm.chat(frames, [{"role": "user", "content": "Is there a car?"}],
                               GenerationConfig(max_new_tokens=3)), str)
