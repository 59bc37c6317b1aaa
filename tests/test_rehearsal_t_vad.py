"""Dress rehearsal of chapter 13's full profile (chapter 32's is :mod:`tests.test_rehearsal_anomalyclip`, with a
tiny RN50-class CLIP): ``--profile full`` on SynthVAD written in UBnormal's on-disk layout (object-id
PNGs, tracks files, the official split lists), with a tiny local ``Qwen2_5_VLForConditionalGeneration`` saved with
``save_pretrained`` (32 vision blocks, so the paper's taps 1, 8, 16, 32 exist). Only parameters differ from a
user's run: the data root, the model path, and sizes."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow]


@pytest.fixture(scope="module")
def home(rehearsal_home):
    return rehearsal_home


@pytest.fixture(scope="module")
def tree(home):
    from vadkit.data.layouts import generate_layout
    from vadkit.data.synth import SynthConfig

    return generate_layout(home / "ubnormal-tree", "ubnormal", videos=16, seed=3, progress=False, workers=1,
                           config=SynthConfig(min_frames=64, max_frames=96))


def test_t_vad_stage2_dataset_written_by_the_vlm(tree):
    """Sec. 3.3 in the full profile: the VLM extracts, re-extracts on blurred frames and verifies; every call is
    cached (a rerun makes none); the records are what both SFT phases and the evaluation read."""
    import numpy as np

    from vadkit.chapters.t_vad import TVADConfig
    from vadkit.experiment.recipes import t_vad as tv
    from vadkit.experiment.recipes.heatmaps import prepare_data
    from vadkit.models import calls, load_vlm, model_identity, rehearsal

    cfg = TVADConfig.resolve("full", data_root=str(tree), vlm=str(rehearsal.path("qwen2_5_vl")), device="cpu",
                             precision="fp32", build_frames=2, build_tokens=24, threads=1)
    assert cfg.stage2 and cfg.stage2_data == "vlm"
    data = prepare_data(cfg)
    vlm = load_vlm(cfg.vlm)
    train = data.split("train")
    calls.reset_stats()
    recs = tv.stage2_records(data, cfg, "train", vlm=vlm, progress=False)
    made = calls.stats("chat")["made"]
    n_abn = sum(a.is_anomalous for a in train.values())
    assert n_abn and made >= 2 * len(train) + 2 * n_abn            # plain + blurred extraction, at least
    assert set(recs) == set(train)
    for vid, r in recs.items():
        assert r["source"] == "vlm" and r["model"] == model_identity(cfg.vlm)
        assert r["stats"]["calls_extract"] == 2 * (1 + train[vid].is_anomalous)
        assert r["dialogue"][0] == [tv.ANOMALY_Q, "Yes" if train[vid].is_anomalous else "No"]
        rng = np.random.default_rng(0)
        for phase in ("A", "B"):
            turns = tv.stage2_examples(r, rng, phase)
            assert all(isinstance(q, str) and isinstance(a, str) and a for q, a in turns)
        assert set(tv.references(r)) == {"yes_no", "target", "trajectory"}
    # a rerun (a new process would do the same) is served from the cache
    data.models.pop("stage2_records")
    calls.reset_stats()
    again = tv.stage2_records(data, cfg, "train", vlm=vlm, progress=False)
    assert calls.stats("chat") == {"made": 0, "cached": made} and again == recs


def test_t_vad_full_profile_on_the_ubnormal_layout(home, tree):
    from vadkit import registry
    from vadkit.models import rehearsal
    from vadkit.pipeline.notebooks import resolve, run_notebook

    params = {"data_root": str(tree), "vlm": str(rehearsal.path("qwen2_5_vl")), "device": "cpu",
              "precision": "fp32", "seeds": "[0]", "epochs": 2, "train_frames": 2, "normal_frames": 1,
              "frame_stride": 8, "baseline_seeds": "[0]", "flow_train_videos": 2, "threads": 1,
              "build_frames": 2, "build_tokens": 24, "sft_seeds": "[0]", "sft_train_videos": 2, "sft_eval_stride": 4}
    out = home / "runs" / "13_t_vad-full.ipynb"
    res = run_notebook(resolve("13_t_vad"), out, profile="full", parameters=params)
    assert res.ok, res.error
    rec = registry.load("13_t_vad", "full")
    assert rec["status"] == "ok"
    assert rec["config"]["dataset"] == "ubnormal" and rec["config"]["vision_layers"] == [0, 7, 15, 31]
    keys = set(rec["metrics"])
    assert any(k.startswith("AHD (fine-tuned)/rbdc") for k in keys), sorted(keys)[:20]
    assert rec["config"]["stage2_data"] == "vlm"
    assert any(k.startswith("stage2/backbone (one-shot prompting)/") for k in keys), sorted(keys)[:40]
    json.dumps(rec)
