"""Rehearsal fixtures: tiny random-weight instances of the full profile's model classes, built offline, cached
atomically with a digest, and loaded through vadkit's real loaders (and transformers' own, for Qwen2.5-VL) exactly
as a hub id would be; one forward / generate each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vadkit.errors import ModelNotFoundError
from vadkit.models import load_captioner, load_clip, load_llm, load_vlm, model_identity
from vadkit.models.base import GenerationConfig
from vadkit.models.vlm import lora_target_modules

FRAMES = np.random.default_rng(0).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)  # SynthVAD-sized frames
GEN = GenerationConfig(max_new_tokens=4)


@pytest.fixture(scope="module")
def R(tmp_path_factory):
    """The rehearsal module with a private cache (the fixtures are built once for this module)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VADKIT_CACHE", str(tmp_path_factory.mktemp("rehearsal-cache")))
    torch.set_num_threads(1)
    from vadkit.models import rehearsal

    yield rehearsal
    mp.undo()


def test_clip_fixture_is_vit_b16_shaped(R):
    import open_clip

    clip = load_clip(R.clip_name())
    assert type(clip.model.visual).__name__ == "VisionTransformer" and clip.arch == R.OPEN_CLIP_ARCH
    ours, ref = open_clip.get_model_config(R.OPEN_CLIP_ARCH), open_clip.get_model_config("ViT-B-16")
    for k in ("image_size", "layers", "patch_size"):
        assert ours["vision_cfg"][k] == ref["vision_cfg"][k]
    for k in ("context_length", "vocab_size", "layers"):
        assert ours["text_cfg"][k] == ref["text_cfg"][k]
    assert ours["embed_dim"] == ref["embed_dim"] == clip.embed_dim == 512
    emb = clip.encode_images(FRAMES)
    assert emb.shape == (2, 512) and torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-4)
    taps = clip.patch_tokens(FRAMES, layers=(0, 5, -1))  # intermediate layers, class token dropped
    assert {k: tuple(v.shape) for k, v in taps.items()} == {0: (2, 196, 64), 5: (2, 196, 64), -1: (2, 196, 64)}
    assert clip.encode_texts(["a person runs", "a normal street"]).shape == (2, 512)
    assert clip.tokenize(["x"]).shape == (1, 77)
    assert model_identity(R.clip_name()).startswith(f"{R.OPEN_CLIP_ARCH}:") and "#" in model_identity(R.clip_name())
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_clip(f"{R.OPEN_CLIP_ARCH}:/nonexistent/open_clip_model.safetensors")


def test_clip_resnet_fixture_is_rn50_shaped_and_anomalyclip_reads_whole_frames(R):
    """RN50's class and depth (chapter 32's ``RN50:openai``); AnomalyCLIP's features squash the whole frame to
    S x S (its own Resize((S, S))) although the checkpoint's preprocessing is a shorter-side resize + centre crop."""
    import open_clip

    from vadkit.methods.anomalyclip import clip_frame_features
    from vadkit.models.clip import preprocess_frames

    name = R.clip_resnet_name()
    clip = load_clip(name)
    assert type(clip.model.visual).__name__ == "ModifiedResNet" and clip.is_resnet
    assert clip.arch == R.OPEN_CLIP_RESNET_ARCH and clip.resize_mode == "shortest"
    ours, ref = open_clip.get_model_config(R.OPEN_CLIP_RESNET_ARCH), open_clip.get_model_config("RN50")
    assert ours["vision_cfg"]["layers"] == ref["vision_cfg"]["layers"] == [3, 4, 6, 3]
    assert ours["vision_cfg"]["image_size"] == ref["vision_cfg"]["image_size"] == 224
    assert ours["embed_dim"] == ref["embed_dim"] == clip.embed_dim == 1024
    for k in ("context_length", "vocab_size", "layers"):
        assert ours["text_cfg"][k] == ref["text_cfg"][k]
    f = clip_frame_features(clip, FRAMES, stages=(0, 1, 2))
    assert [tuple(s.shape) for s in f["stages"]] == [(2, 56, 56, 32), (2, 28, 28, 64), (2, 14, 14, 128)]
    assert tuple(f["dense"].shape) == (2, 7, 7, 1024) and tuple(f["image"].shape) == (2, 1024)
    squash = preprocess_frames(FRAMES, 224, clip.mean, clip.std, resize_mode="squash")
    s0 = {k: clip.encode_pixels(px, layers=[0])[1][0].reshape(2, 56, 56, 32)
          for k, px in (("squash", squash), ("crop", clip.preprocess(FRAMES)))}
    assert torch.allclose(f["stages"][0], s0["squash"], atol=1e-5)
    assert not torch.allclose(f["stages"][0], s0["crop"], atol=1e-2)      # the checkpoint's centre crop differs
    assert model_identity(name).startswith(f"{R.OPEN_CLIP_RESNET_ARCH}:local#")
    with pytest.raises(ValueError, match="need a ResNet CLIP tower"):
        clip_frame_features(load_clip(R.clip_name()), FRAMES)


def test_a_named_pretrained_clip_missing_offline_says_which(tmp_path):
    """``RN50:openai`` through the real open_clip path (pretrained tag -> Hugging Face hub download) with an empty
    hub cache, offline and under the network guard: a ModelNotFoundError naming the model, no network, no
    traceback from deep inside open_clip."""
    import os
    import subprocess
    import sys

    code = ("from vadkit.pipeline import netguard\nnetguard.install()\n"
            "from vadkit.errors import ModelNotFoundError\nfrom vadkit.models import load_clip\n"
            "try:\n    load_clip('RN50:openai')\nexcept ModelNotFoundError as err:\n    print('ERROR:', err)\n"
            "else:\n    print('LOADED')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               VADKIT_HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    msg = out.stdout.strip()
    assert msg.startswith("ERROR:") and "'RN50:openai'" in msg and "offline" in msg, msg
    assert "NetworkBlockedError" not in msg, msg                # offline means no attempt, not a refused one


def test_llama_fixture_through_load_llm(R):
    llm = load_llm(str(R.path("llama")))
    assert type(llm.model).__name__ == "LlamaForCausalLM"
    assert llm.format_prompt("hello") == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|>"
                                          "<|start_header_id|>assistant<|end_header_id|>\n\n")
    a = llm.generate(["Is there any anomaly in the video?", "Rate this scene"], GEN)
    assert len(a) == 2 and a == llm.generate(["Is there any anomaly in the video?", "Rate this scene"], GEN)
    assert isinstance(llm.chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], GEN), str)
    cfg = llm.model.config
    assert cfg.num_key_value_heads < cfg.num_attention_heads and not cfg.tie_word_embeddings  # Llama-3-like GQA
    # VAD-LLaMA's path: a soft prompt through inputs_embeds
    emb = llm.model.get_input_embeddings()(torch.tensor([[llm.tokenizer.bos_token_id]]))
    soft = torch.cat([torch.randn(1, 3, cfg.hidden_size), emb], dim=1)
    out = llm.model.generate(inputs_embeds=soft, attention_mask=torch.ones(1, 4, dtype=torch.long), max_new_tokens=3,
                             do_sample=False, pad_token_id=llm.tokenizer.pad_token_id)
    assert out.shape[0] == 1 and 1 <= out.shape[1] <= 3


def test_blip2_fixture_through_load_captioner(R):
    cap = load_captioner(str(R.path("blip2")))
    assert type(cap.model).__name__ == "Blip2ForConditionalGeneration"
    assert type(cap.processor).__name__ == "Blip2Processor" and cap.model.config.num_query_tokens == 32
    assert cap.model.config.text_config.model_type == "opt"
    caps = cap.caption(FRAMES, config=GEN)
    assert len(caps) == 2 and all(isinstance(c, str) for c in caps)
    assert len(cap.caption(FRAMES, prompt="Question: what is happening? Answer:", config=GEN)) == 2


def test_qwen2_5_vl_fixture_through_transformers(R):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    d = str(R.path("qwen2_5_vl"))
    proc = AutoProcessor.from_pretrained(d)
    model = AutoModelForImageTextToText.from_pretrained(d, dtype=torch.float32).eval()
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration" and type(proc).__name__ == "Qwen2_5_VLProcessor"
    vc, tc = model.config.vision_config, model.config.text_config
    assert (vc.depth, list(vc.fullatt_block_indexes), vc.patch_size, vc.spatial_merge_size, vc.temporal_patch_size) == \
        (32, [7, 15, 23, 31], 14, 2, 2)
    assert tc.num_hidden_layers == 28
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Any anomaly?"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text.count("<|vision_start|><|image_pad|><|vision_end|>") == 2 and text.endswith("<|im_start|>assistant\n")
    enc = proc(images=list(FRAMES), text=[text], return_tensors="pt")
    n_img = int((enc["input_ids"] == model.config.image_token_id).sum())
    assert n_img == int(enc["image_grid_thw"].prod(-1).sum()) // 4  # 2 x 2 merge of the 14-px patches
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
        gen = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert len(out.hidden_states) == 29 and gen.shape[1] > enc["input_ids"].shape[1]
    # LoRA targets of the language decoder are separable from the vision tower's
    q = [n for n, _ in model.named_modules() if n.endswith(("q_proj", "v_proj"))]
    assert len(q) == 56 and all(".language_model." in f".{n}" for n in q)
    lang, vis = lora_target_modules(model, "language"), lora_target_modules(model, "vision")
    assert set(q) <= set(lang) and not set(lang) & set(vis) and len(vis) == 32 * 5 + 2  # qkv, proj, 3 MLP; merger
    # the same taps as the zoo's tiny VLM, through load_vlm: 160 x 120 -> 168 x 112, 12 x 8 patches of 14 px
    taps = load_vlm(d).vision_layer_features(FRAMES, layers=(7, 15, -1))
    assert {k: tuple(v.shape) for k, v in taps.items()} == {7: (2, 8, 12, 32), 15: (2, 8, 12, 32), -1: (2, 8, 12, 32)}


def test_gemma3_fixture_through_load_vlm(R):
    vlm = load_vlm(str(R.path("gemma3")))
    assert type(vlm.model).__name__ == "Gemma3ForConditionalGeneration"
    assert type(vlm.processor).__name__ == "Gemma3Processor"
    reply = vlm.chat(FRAMES, [{"role": "system", "content": "Be brief."},
                              {"role": "user", "content": "What are the two objects doing?"}], GEN)
    assert isinstance(reply, str)
    with pytest.raises(ValueError, match="implemented for Qwen2.5-VL"):
        vlm.vision_layer_features(FRAMES)
    assert lora_target_modules(vlm.model, "vision") and not set(lora_target_modules(vlm.model, "vision")) & set(
        lora_target_modules(vlm.model, "language"))
    text = vlm.processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}],
                                             add_generation_prompt=True, tokenize=False)
    assert text.startswith("<bos><start_of_turn>user\n<start_of_image>") and text.endswith("<start_of_turn>model\n")


def test_detector_fixture(R):
    from safetensors.torch import load_file

    d = R.path("detector")
    spec = json.loads((d / "detector.json").read_text())
    assert spec["builder"] == "fasterrcnn_mobilenet_v3_large_320_fpn"
    det = R.load_detector(d)
    assert type(det).__name__ == "FasterRCNN" and set(load_file(str(d / "model.safetensors"))) == set(det.state_dict())
    with torch.no_grad():
        out = det([torch.rand(3, 120, 160), torch.rand(3, 120, 160)])
    assert len(out) == 2 and set(out[0]) == {"boxes", "labels", "scores"} and out[0]["boxes"].shape[-1] == 4
    with pytest.raises(ModelNotFoundError, match="not a readable detector directory"):
        R.load_detector(d.parent)


def test_cache_is_atomic_digested_and_deterministic(R):
    d = R.path("llama")
    rec = R.verify("llama")
    assert d.name == f"llama-{R.REHEARSAL_VERSION}" and rec["class"] == "LlamaForCausalLM" and rec["files"]
    assert R.path("llama") == d and not list(d.parent.glob(".llama-*.partial-*"))
    (d / "config.json").write_text((d / "config.json").read_text() + " ")
    with pytest.raises(ModelNotFoundError, match="changed or missing"):
        R.verify("llama")
    R.path("llama", force=True)  # seeded: the rebuild gives the same files
    assert R.verify("llama")["files"] == rec["files"]
    with pytest.raises(ModelNotFoundError, match="unknown rehearsal fixture"):
        R.path("gpt5")
    names = R.names()
    assert set(names) == {"clip", "clip_resnet", "captioner", "llm", "vlm", "vlm_gemma3", "detector"}
    assert names["clip"] == R.clip_name() and names["llm"] == str(d)
