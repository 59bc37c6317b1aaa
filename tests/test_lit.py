"""The LiT tower (vadkit.models.lit): frozen packaged towers, trained heads, one interface with ClipModel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.models.lit import LitModel, load_lit, new_lit


@pytest.fixture(scope="module")
def lit() -> LitModel:
    return new_lit({"width": 32, "embed_dim": 16, "heads": 2})


def _frames(n=3, h=120, w=160, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_shapes_and_taps(lit):
    fr = _frames()
    emb = lit.encode_images(fr)
    assert emb.shape == (3, 16)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    e2, taps = lit.encode_pixels(lit.preprocess(fr), layers=(-1, 4))
    assert torch.allclose(e2, emb, atol=1e-5)
    # 192 x 256 input: stage 5 has stride 16 (12 x 16 positions, 112 channels), stage 7 stride 32 (6 x 8, 320)
    assert taps[4].shape == (3, 192, 112) and taps[-1].shape == (3, 48, 320)
    with pytest.raises(ValueError, match="out of range"):
        lit.encode_pixels(lit.preprocess(fr), layers=(7,))
    with pytest.raises(ValueError, match="crop"):
        lit.preprocess(fr, crop="ten_crop")
    assert lit.encode_texts(["a person walks", "a car drives"]).shape == (2, 16)


def test_crops_of_any_size_use_the_resized_positional_grid(lit):
    crop = _frames(1, 20, 9)
    assert lit.encode_images(crop).shape == (1, 16)
    fmap = lit.stage_maps(lit.preprocess(crop, size=(96, 128)))[0]
    assert fmap.shape == (1, 3, 4, 320)
    assert lit.embed_maps(fmap).shape == (1, 16)


def test_towers_are_frozen_and_only_heads_train(lit):
    assert not any(p.requires_grad for p in lit.trunk.parameters())
    fmap = lit.stage_maps(lit.preprocess(_frames(2)))[0]
    loss = lit.heads.image(fmap).sum() + lit.heads.text(lit.sentence_embeddings(["a", "b"])).sum()
    loss.backward()
    assert all(p.grad is not None for n, p in lit.heads.named_parameters() if n != "logit_scale")
    lit.heads.zero_grad(set_to_none=True)


def test_save_load_roundtrip_and_routing(lit, tmp_path):
    fr = _frames(2, seed=1)
    d = lit.save_pretrained(tmp_path / "lit")
    back = load_lit(d)
    assert torch.allclose(back.encode_images(fr), lit.encode_images(fr), atol=1e-5)
    assert torch.allclose(back.encode_texts(["x y"]), lit.encode_texts(["x y"]), atol=1e-5)
    from vadkit.models import load_clip

    routed = load_clip(str(d))
    assert isinstance(routed, LitModel) and routed.describe()["embed_dim"] == 16
    # trained parameters only: the towers come from their packages
    assert sum(f.stat().st_size for f in d.iterdir()) < 2_000_000


def test_retrained_heads_get_their_own_feature_store(lit, tmp_path):
    """The store key carries the heads' digest: a retrained tiny-lit (same name, same config) must not read the
    features of the one it replaced."""
    from vadkit.features.extract import _model_identity, store_dir_for

    a = load_lit(lit.save_pretrained(tmp_path / "a"), name="zoo:tiny-lit")
    other = new_lit({"width": 32, "embed_dim": 16, "heads": 2}, seed=5)
    b = load_lit(other.save_pretrained(tmp_path / "b"), name="zoo:tiny-lit")
    a2 = load_lit(tmp_path / "a", name="zoo:tiny-lit")

    def store(m):
        return store_dir_for("zoo:tiny-lit", tmp_path, 16, 1, "center", (), model=_model_identity(m))

    assert a.describe()["weights"] and a.describe()["weights"] != b.describe()["weights"]
    assert store(a) != store(b) and store(a) == store(a2)


def test_untrained_trunk_differs_from_the_pretrained_one(lit):
    twin = new_lit({"width": 32, "embed_dim": 16, "heads": 2}, pretrained_trunk=False)
    a = lit.stage_maps(lit.preprocess(_frames(1)))[0]
    b = twin.stage_maps(twin.preprocess(_frames(1)))[0]
    assert not torch.allclose(a, b)


def test_damaged_head_file_is_named(lit, tmp_path):
    d = lit.save_pretrained(tmp_path / "lit")
    f = d / "lit_head.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    from vadkit.models.weights import CorruptWeightsError

    with pytest.raises(CorruptWeightsError, match="lit_head.safetensors"):
        load_lit(d)
