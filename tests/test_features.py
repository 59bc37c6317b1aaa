"""Feature extraction: frame sampling, cache + provenance, resume, failures, shards, released formats."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vadkit.errors import CacheMismatchError, DatasetError


@pytest.fixture(scope="module")
def clip():
    from vadkit.models.zoo import ClipTrainConfig, _new_clip

    return _new_clip(ClipTrainConfig(tower="vit", image_size=32, vision_width=64, vision_layers=1, text_layers=1))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from vadkit.data.video import write_video

    d = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    out = {}
    for i, n in enumerate([40, 35, 70]):
        frames = rng.integers(0, 255, (n, 48, 64, 3), dtype=np.uint8)
        out[f"vid{i}"] = write_video(d / f"vid{i}.mp4", frames, 15)
    (d / "broken.mp4").write_bytes(b"not a video")
    out["broken"] = d / "broken.mp4"
    return out


def test_snippet_frame_indices():
    from vadkit.features import snippet_frame_indices

    idx = snippet_frame_indices(50, 16, 1)
    assert idx.tolist() == [[8], [24], [40]]  # T = 50 // 16, the snippet centre
    idx = snippet_frame_indices(32, 16, 4)
    assert idx.tolist() == [[2, 6, 10, 14], [18, 22, 26, 30]]
    assert snippet_frame_indices(5, 16, 1).tolist() == [[4]]  # shorter than a snippet: one padded snippet
    with pytest.raises(ValueError):
        snippet_frame_indices(32, 16, 0)


def test_extract_store_resume_failures(clip, videos, tmp_path):
    from vadkit.features import extract_dataset, naive_extract

    store = extract_dataset(videos, "tiny", clip=clip, cache_root=tmp_path, batch_size=3, layers=(0,),
                            progress=False)
    assert store.video_ids == ["vid0", "vid1", "vid2"]
    assert set(store.failures) == {"broken"} and "broken.mp4" in store.failures["broken"]
    x = store.load("vid2")
    assert x.shape == (70 // 16, clip.embed_dim) and x.dtype == np.float32
    assert store.load_tokens("vid2", 0).shape == (4, (32 // 8) ** 2, clip.width)
    # cross-video batching gives the same rows as a naive one-frame-at-a-time loop
    np.testing.assert_allclose(x, naive_extract(videos["vid2"], clip), atol=1e-5)
    prov = store.provenance
    assert prov["sampling"]["snippet_len"] == 16 and prov["sampling"]["crop"] == "center"
    assert prov["model"]["image_size"] == 32 and "vadkit_version" in prov
    assert store.source("vid0")["T"] == 2 and store.source("vid0")["num_frames"] == 40
    with pytest.raises(KeyError, match="extraction failed"):
        store.load("broken")
    # resume: finished videos are not recomputed
    mtime = os.stat(store.root / "features" / "vid0.npy").st_mtime_ns
    store2 = extract_dataset(videos, "tiny", clip=clip, cache_root=tmp_path, batch_size=3, layers=(0,),
                             progress=False)
    assert os.stat(store2.root / "features" / "vid0.npy").st_mtime_ns == mtime
    # a deleted feature file is redone
    (store.root / "features" / "vid1.npy").unlink()
    store3 = extract_dataset(videos, "tiny", clip=clip, cache_root=tmp_path, batch_size=3, layers=(0,),
                             progress=False)
    assert "vid1" in store3


def test_cache_mismatch_is_an_error(clip, videos, tmp_path):
    from vadkit.features import extract_dataset

    store = extract_dataset({"vid0": videos["vid0"]}, "tiny", clip=clip, cache_root=tmp_path, progress=False)
    prov = json.loads((store.root / "provenance.json").read_text())
    prov["model"]["mean"] = [0.5, 0.5, 0.5]
    (store.root / "provenance.json").write_text(json.dumps(prov))
    with pytest.raises(CacheMismatchError, match="model.mean"):
        extract_dataset({"vid0": videos["vid0"]}, "tiny", clip=clip, cache_root=tmp_path, progress=False)


def test_changed_source_is_recomputed(clip, videos, tmp_path):
    """A video whose file changed since it was cached is recomputed (with a warning), never served stale."""
    from vadkit.data.video import write_video
    from vadkit.features import extract_dataset, naive_extract

    p = tmp_path / "v.mp4"
    write_video(p, np.zeros((20, 48, 64, 3), np.uint8), 15)
    extract_dataset({"v": p}, "tiny", clip=clip, cache_root=tmp_path / "c", progress=False)
    write_video(p, np.full((20, 48, 64, 3), 200, np.uint8), 15)
    with pytest.warns(UserWarning, match="changed"):
        store = extract_dataset({"v": p}, "tiny", clip=clip, cache_root=tmp_path / "c", progress=False)
    np.testing.assert_allclose(store.load("v"), naive_extract(p, clip), atol=1e-5)


def test_shards_partition_the_work(clip, videos, tmp_path):
    from vadkit.features import extract_dataset, parse_shard

    good = {k: v for k, v in videos.items() if k != "broken"}
    a = extract_dataset(good, "tiny", clip=clip, cache_root=tmp_path, shard="0/2", progress=False)
    assert a.video_ids == ["vid0", "vid2"]
    b = extract_dataset(good, "tiny", clip=clip, cache_root=tmp_path, shard=(1, 2), progress=False)
    assert b.video_ids == ["vid0", "vid1", "vid2"] and b.root == a.root
    with pytest.raises(ValueError):
        parse_shard("2/2")


def test_ten_crop_store(clip, videos, tmp_path):
    from vadkit.features import extract_dataset

    store = extract_dataset({"vid0": videos["vid0"]}, "tiny", clip=clip, cache_root=tmp_path, crop="ten_crop",
                            progress=False)
    x = store.load("vid0")
    assert x.shape == (2, 10, clip.embed_dim)
    assert not np.allclose(x[:, 0], x[:, 4])


def test_read_released_and_compare(tmp_path):
    from vadkit.features import compare_features, compare_stores, read_released

    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 512)).astype(np.float32)
    for c in range(3):
        np.save(tmp_path / f"Abuse001_x264__{c}.npy", a + c)
    np.save(tmp_path / "Abuse002_x264__0.npy", a[:5])
    feats = read_released(tmp_path, "vadclip", crop=0)
    assert set(feats) == {"Abuse001_x264", "Abuse002_x264"} and feats["Abuse001_x264"].shape == (7, 512)
    allc = read_released(tmp_path, "vadclip")
    assert allc["Abuse001_x264"].shape == (7, 3, 512)
    r = tmp_path / "rtfm"
    r.mkdir()
    np.save(r / "v1_i3d.npy", rng.normal(size=(4, 10, 2048)).astype(np.float32))
    assert read_released(r, "rtfm")["v1"].shape == (4, 10, 2048)
    np.save(r / "bad_i3d.npy", np.zeros((4, 2048), np.float32))
    with pytest.raises(DatasetError, match="bad_i3d"):
        read_released(r, "rtfm")
    s = compare_features(a, a * 3.0)
    assert s["cos_mean"] == pytest.approx(1.0) and s["n"] == 7
    s = compare_features(a, -a[:5])
    assert s["cos_max" if "cos_max" in s else "cos_mean"] == pytest.approx(-1.0) and s["len_a"] == 7 and s["len_b"] == 5
    noisy = a + rng.normal(scale=1.0, size=a.shape).astype(np.float32)
    assert 0.5 < compare_features(a, noisy)["cos_mean"] < 0.9
    df = compare_stores(feats, {"Abuse001_x264": a})
    assert list(df["video_id"]) == ["Abuse001_x264"] and df["cos_mean"].iloc[0] == pytest.approx(1.0)


# ------------------------------------------------------------------ reliability (issue 10)
def test_damaged_entry_is_named_on_load_and_recomputed(clip, videos, tmp_path):
    """A truncated or bit-flipped feature file fails its recorded digest: load names the file, the next
    extraction recomputes it (before: counted as done, and numpy's error without the path)."""
    from vadkit.features import extract_dataset

    good = {k: videos[k] for k in ("vid0", "vid1")}
    store = extract_dataset(good, "tiny", clip=clip, cache_root=tmp_path, layers=(0,), progress=False)
    ref = store.load("vid0")
    f = store.root / "features" / "vid0.npy"
    f.write_bytes(f.read_bytes()[:100])                       # truncated, as by a full disk or a killed copy
    with pytest.raises(CacheMismatchError, match=r"vid0\.npy: damaged feature file"):
        store.load("vid0")
    t = store.root / "tokens" / "vid1.L0.npy"
    data = bytearray(t.read_bytes())
    data[-1] ^= 0xFF                                          # same size, one bit pattern changed
    t.write_bytes(bytes(data))
    with pytest.raises(CacheMismatchError, match=r"vid1\.L0\.npy: damaged feature file"):
        store.load_tokens("vid1", 0)
    with pytest.warns(UserWarning, match=r"vid0\.npy: missing or damaged"):
        store = extract_dataset(good, "tiny", clip=clip, cache_root=tmp_path, layers=(0,), progress=False)
    np.testing.assert_allclose(store.load("vid0"), ref, atol=1e-5)   # batch composition differs: float noise
    # a damaged entry record is recomputed too
    rec = store.root / "sources" / "vid1.json"
    rec.write_text(rec.read_text().replace('"T": 2', '"T": 3'))
    with pytest.raises(CacheMismatchError, match=r"vid1\.json: the entry record"):
        store.load("vid1")
    with pytest.warns(UserWarning, match="entry record damaged"):
        store = extract_dataset(good, "tiny", clip=clip, cache_root=tmp_path, layers=(0,), progress=False)
    assert store.load("vid1").shape[0] == 2 and store.source("vid1")["T"] == 2
    # the resumed store's tokens were recomputed with the record, so they verify again
    assert store.load_tokens("vid1", 0).dtype == np.float16


def test_missing_video_does_not_stop_the_batch(clip, videos, tmp_path):
    from vadkit.features import extract_dataset

    items = {"vid0": videos["vid0"], "gone": tmp_path / "gone.mp4", "broken": videos["broken"]}
    store = extract_dataset(items, "tiny", clip=clip, cache_root=tmp_path, progress=False)
    assert store.video_ids == ["vid0"]
    assert set(store.failed()) == {"gone", "broken"} and "gone.mp4" in store.failed()["gone"]


@pytest.mark.parametrize("kw, problem", [({"batch_size": 0}, "batch_size"), ({"frames_per_snippet": 0}, "frames_per"),
                                         ({"snippet_len": 0}, "snippet_len"), ({"frames_per_snippet": 17}, "[1, "),
                                         ({"crop": "left"}, "crop"), ({"precision": "fp8"}, "precision")])
def test_bad_settings_fail_before_any_work(clip, videos, tmp_path, kw, problem):
    from vadkit.errors import ConfigError
    from vadkit.features import extract_dataset

    with pytest.raises(ConfigError, match=problem.replace("[", r"\[")):
        extract_dataset({"vid0": videos["vid0"]}, "tiny", clip=clip, cache_root=tmp_path, progress=False, **kw)
    assert not any(tmp_path.iterdir())


def test_precision_is_recorded_and_keys_the_store(clip, videos, tmp_path):
    """A resumed store can never mix precisions: the compute precision is in the provenance and the key."""
    from types import SimpleNamespace

    import torch

    from vadkit.errors import ConfigError
    from vadkit.features import extract_dataset, store_dir_for
    from vadkit.features.provenance import compute_precision

    store = extract_dataset({"vid0": videos["vid0"]}, "tiny", clip=clip, cache_root=tmp_path, progress=False)
    assert store.provenance["compute_precision"] == "fp32" and store.provenance["dtype"] == "float32"
    assert compute_precision(SimpleNamespace(device=torch.device("cuda"), precision="bf16")) == "bf16"
    assert compute_precision(SimpleNamespace(device=torch.device("cpu"), precision="bf16")) == "fp32"  # no autocast
    args = ("tiny", tmp_path, 16, 1, "center", ())
    assert store_dir_for(*args, precision="bf16") != store_dir_for(*args, precision="fp32")
    with pytest.raises(ConfigError, match="precision"):
        extract_dataset({"vid0": videos["vid0"]}, "tiny", clip=clip, cache_root=tmp_path, precision="bf16",
                        progress=False)


@pytest.fixture(scope="module")
def two_synth_roots(tmp_path_factory):
    """Two tiny SynthVAD roots that differ only by their seed: same video ids, other content."""
    from vadkit.data.synth import SynthConfig, generate

    cfg = SynthConfig(min_frames=32, max_frames=40)
    d = tmp_path_factory.mktemp("synth")
    return [generate(d / f"seed{s}", {"train": 2, "test": 2}, seed=s, config=cfg, progress=False, workers=1)
            for s in (0, 1)]


def test_store_is_keyed_by_dataset_identity_not_path_or_split(clip, two_synth_roots, tmp_path):
    import shutil

    from vadkit.data.datasets import load_dataset
    from vadkit.features import extract_dataset, naive_extract

    a0, a1 = (load_dataset("synthvad", r, split="test") for r in two_synth_roots)
    common = sorted(set(a0) & set(a1))
    assert common                                              # ids shared by both seeds: they collided before
    s0 = extract_dataset(a0, "tiny", clip=clip, cache_root=tmp_path, progress=False)
    s1 = extract_dataset(a1, "tiny", clip=clip, cache_root=tmp_path, progress=False)
    assert s0.root != s1.root
    vid = common[0]
    np.testing.assert_allclose(s1.load(vid), naive_extract(a1[vid].video_path, clip), atol=1e-5)
    assert s0.provenance["dataset"]["dataset"] == "synthvad" and "manifest" in s0.provenance["dataset"]
    # the other split, a subset, and the same root moved elsewhere: one store (shared across chapters)
    train = load_dataset("synthvad", two_synth_roots[0], split="train")
    assert extract_dataset(train, "tiny", clip=clip, cache_root=tmp_path, progress=False).root == s0.root
    sub = a0.filter(lambda a: a.video_id == vid)
    assert extract_dataset(sub, "tiny", clip=clip, cache_root=tmp_path, progress=False).root == s0.root
    moved = tmp_path / "moved"
    shutil.copytree(two_synth_roots[0], moved)
    m = load_dataset("synthvad", moved, split="test")
    s_moved = extract_dataset(m, "tiny", clip=clip, cache_root=tmp_path, progress=False)
    assert s_moved.root == s0.root and sorted(s_moved.video_ids) == sorted(set(a0) | set(train))
