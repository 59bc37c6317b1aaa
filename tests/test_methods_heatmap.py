"""The shared heatmap core (T-VAD Eqs. 2-7) and AnomalyCLIP on an untrained tiny CLIP (no zoo, no data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.methods import heatmap as hm


def test_pool_prompt_embeddings_eqs_2_and_4():
    tok = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [9.0, 9.0]],
                        [[0.0, 2.0], [0.0, 4.0], [0.0, 6.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    # template means [2, 0] and [0, 4] (the padded token is left out), then their mean
    assert torch.allclose(hm.pool_prompt_embeddings(tok, mask), torch.tensor([1.0, 2.0]))


def test_decoder_fuses_cosines_with_layer_weights():
    torch.manual_seed(0)
    dec = hm.HeatmapDecoder([4, 4], 4, projection="identity", init_scale=2.0)
    text = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    f = torch.zeros(1, 2, 3, 4)
    f[0, 0, 0, 1] = 1.0                     # one abnormal patch
    f[..., 0] += 0.5
    out = dec([f, f], text)
    maps = dec.layer_maps([f, f], text)
    assert maps.shape == (1, 2, 2, 2, 3)
    logits = (maps * dec.layer_weights.view(1, 2, 1, 1, 1)).sum(1)
    assert torch.allclose(out["logits"], logits)
    assert torch.allclose(out["prob"], logits.softmax(1)[:, 1])
    assert out["prob"][0, 0, 0] > 0.5 > out["prob"][0, 1, 2]


def test_decoder_resizes_layers_to_finest_grid_and_probs_fusion():
    dec = hm.HeatmapDecoder([3, 5], 4, projection=["linear", "mlp"], fusion="probs")
    out = dec([torch.randn(2, 6, 8, 3), torch.randn(2, 3, 4, 5)], torch.randn(2, 4))
    assert out["prob"].shape == (2, 6, 8) and out["logits"].shape == (2, 2, 6, 8)
    assert torch.allclose(out["logits"].exp().sum(1), torch.ones(2, 6, 8), atol=1e-5)


def test_balanced_ce_weighs_the_rare_class():
    logits = torch.zeros(1, 2, 4, 4)
    target = torch.zeros(1, 4, 4)
    target[0, 0, 0] = 1.0
    logits[:, 0] = 2.0                      # predicts normal everywhere
    plain = hm.pixel_ce(logits, target)
    bal = hm.pixel_ce(logits, target, balanced=True)
    assert bal > plain                      # the missed anomalous pixel counts half in the balanced loss


def test_pixel_ce_learns_a_rare_mask():
    torch.manual_seed(0)
    dec = hm.HeatmapDecoder([6], 8)
    text = torch.randn(2, 8)
    feats = torch.randn(4, 5, 5, 6)
    masks = (feats[..., 0] > 1.2).float()   # a rare region given by one feature direction
    opt = torch.optim.AdamW(dec.parameters(), lr=1e-2)
    for _ in range(150):
        loss = hm.pixel_ce(dec([feats], text)["logits"], masks, balanced=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    from vadkit.metrics import roc_auc

    p = dec([feats], text)["prob"].detach().numpy().ravel()
    assert roc_auc(masks.numpy().ravel(), p) > 0.95


def test_frame_scores_regions_and_pixel_auroc():
    from vadkit.metrics.spatial import pixel_auroc

    h = np.zeros((2, 4, 4), np.float32)
    h[1, 1:3, 1:3] = 0.9
    assert hm.frame_scores(h).tolist() == pytest.approx([0.0, 0.9])
    assert hm.frame_scores(h, "topk", top=0.25).tolist() == pytest.approx([0.0, 0.9])
    rows = hm.regions(h, [10, 12], (8, 8))
    assert rows.shape[1] == 6 and set(rows[:, 0]) == {12.0}
    m = np.zeros((2, 8, 8), np.uint8)
    m[1, 2:6, 2:6] = 1
    assert pixel_auroc({"v": hm.upsample(h, (8, 8))}, {"v": m}, stride=1) > 0.9


def test_anomalyclip_prompts_and_maps_on_untrained_tiny_clip():
    from vadkit.methods.anomalyclip import AnomalyCLIP, clip_frame_features, zero_shot_maps
    from vadkit.methods.prompt_learning import TextEncoderHooks
    from vadkit.models.zoo import untrained_clip

    clip = untrained_clip()
    clip.model.requires_grad_(False)            # frozen, as the recipe keeps it
    frames = np.random.default_rng(0).integers(0, 255, (3, 120, 160, 3), dtype=np.uint8)
    f = clip_frame_features(clip, frames, stages=(0, 1))
    assert f["image"].shape == (3, clip.embed_dim)
    side = clip.image_size // 32                # the last stage's map (stride 32)
    assert f["dense"].shape[-1] == clip.embed_dim and f["dense"].shape[1:3] == (side, side)
    model = AnomalyCLIP(TextEncoderHooks.from_clip(clip), [s.shape[-1] for s in f["stages"]], clip.embed_dim,
                        n_ctx=4)
    out = model(f["image"], f["stages"], f["dense"])
    finest = max(s.shape[1] for s in f["stages"])
    assert out["image"].shape == (3,) and out["prob"].shape == (3, finest, finest)
    masks = torch.zeros(3, 120, 160)
    masks[0, 40:60, 50:60] = 1
    parts = model.loss(out, torch.tensor([1, 0, 0]), masks)
    parts["total"].backward()
    assert model.prompts.ctx.grad is not None and model.prompts.ctx.grad.abs().sum() > 0
    # gradients reach the context vectors through the frozen tower, never its weights
    assert all(p.grad is None for p in clip.model.parameters())
    z = zero_shot_maps(f["image"], f["dense"], clip.encode_texts(["a normal thing", "an odd thing"]))
    assert z["prob"].shape == (3, side, side)
