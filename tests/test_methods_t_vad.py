"""T-VAD's pieces on a tiny local Qwen2.5-VL (the rehearsal fixture): AHD text and taps, RAE shapes (Eqs. 8-12),
the prompt injection, and the stage-2 LoRA on the language decoder's q_proj / v_proj only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.methods import t_vad


@pytest.fixture(scope="module")
def vlm():
    from vadkit.models import load_vlm, rehearsal

    return load_vlm(str(rehearsal.path("qwen2_5_vl")))


def test_prompt_sets_say_occurs_and_not_occurs():
    p = t_vad.prompt_sets(["person jumping"])
    assert p["normal"][0] == "A short surveillance clip where surveillance video of person jumping not occurs"
    assert p["abnormal"][0].endswith("person jumping occurs")


def test_rae_shapes_eqs_8_to_12():
    rae = t_vad.RegionAnomalyEncoder(d=24, hidden=8, n_base=4)
    hc = torch.randn(5, 2, 7, 10)
    p = rae(hc)
    assert p.shape == (4, 4 + 9 + 1, 24) and rae.n_tokens(5) == 4 * 14
    # a still scene (no temporal change) gives the same prompt at every step
    still = rae(hc[:1].expand(3, -1, -1, -1))
    assert torch.allclose(still[0], still[1])
    with pytest.raises(ValueError):
        rae(hc[:1])


def test_ahd_on_vision_taps_and_embedding_table(vlm):
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    feats = vlm.vision_layer_features(frames, layers=[0, -1])
    text = t_vad.class_text_embeddings(vlm.processor.tokenizer, vlm.model.get_input_embeddings(),
                                       t_vad.prompt_sets(["a person running"]))
    hidden = vlm.model.get_input_embeddings().weight.shape[1]
    assert text.shape == (2, hidden)
    ahd = t_vad.AnomalyHeatmapDecoder([f.shape[-1] for f in feats.values()], text)
    out = ahd(list(feats.values()))
    h, w = next(iter(feats.values())).shape[1:3]
    assert out["logits"].shape == (2, 2, h, w) and out["prob"].shape == (2, h, w)


def test_injection_replaces_pad_embeddings_and_reaches_the_rae(vlm):
    import copy

    model = copy.deepcopy(vlm.model)
    tok = copy.deepcopy(vlm.processor.tokenizer)
    start, pad, end = t_vad.add_prompt_tokens(model, tok)
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
    rae = t_vad.RegionAnomalyEncoder(d=model.get_input_embeddings().weight.shape[1], hidden=4)
    prompts = rae(torch.randn(3, 2, 4, 5))                              # [2, 14, D]
    n = prompts.shape[0] * prompts.shape[1]
    ids = tok("is there an anomaly " + t_vad.prompt_block(n), return_tensors="pt")["input_ids"]
    assert int((ids == pad).sum()) == n
    inj = t_vad.PromptInjector(model, pad)
    with inj.using(prompts.reshape(1, n, -1)):
        emb = model.get_input_embeddings()(ids)
        loss = model(input_ids=ids, labels=ids).loss
    assert torch.allclose(emb[ids == pad], prompts.reshape(n, -1))
    loss.backward()
    assert rae.base.grad is not None and rae.base.grad.abs().sum() > 0
    # outside the context the embedding layer is untouched
    assert not torch.allclose(model.get_input_embeddings()(ids)[ids == pad], prompts.reshape(n, -1))


def test_lora_targets_language_q_v_of_last_layers_only(vlm):
    import copy

    from peft import get_peft_model

    model = copy.deepcopy(vlm.model)
    cfg, layers = t_vad.lora_config(model, last_layers=1)
    assert all(".language_model." in m and m.rsplit(".", 1)[-1] in ("q_proj", "v_proj") for m in cfg.target_modules)
    assert all(f".layers.{layers[0]}." in m for m in cfg.target_modules)
    assert cfg.r == 16 and cfg.lora_alpha == 32 and cfg.lora_dropout == 0.05
    peft_model = get_peft_model(model, cfg)
    names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n and "visual" not in n for n in names)
    merged = peft_model.merge_and_unload()
    assert not any("lora_" in n for n, _ in merged.named_parameters())
