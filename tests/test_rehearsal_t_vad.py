"""Dress rehearsal of chapter 13's full profile (and chapter 32's AnomalyCLIP with the CLIP rehearsal model is not
possible: its tiny CLIP is a ViT): ``--profile full`` on SynthVAD written in UBnormal's on-disk layout (object-id
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


def test_t_vad_full_profile_on_the_ubnormal_layout(home):
    from vadkit import registry
    from vadkit.data.layouts import generate_layout
    from vadkit.data.synth import SynthConfig
    from vadkit.models import rehearsal
    from vadkit.pipeline.notebooks import resolve, run_notebook

    tree = generate_layout(home / "ubnormal-tree", "ubnormal", videos=16, seed=3, progress=False, workers=1,
                           config=SynthConfig(min_frames=64, max_frames=96))
    params = {"data_root": str(tree), "vlm": str(rehearsal.path("qwen2_5_vl")), "device": "cpu",
              "precision": "fp32", "seeds": "[0]", "epochs": 2, "train_frames": 2, "normal_frames": 1,
              "frame_stride": 8, "baseline_seeds": "[0]", "flow_train_videos": 2, "threads": 1}
    out = home / "runs" / "13_t_vad-full.ipynb"
    res = run_notebook(resolve("13_t_vad"), out, profile="full", parameters=params)
    assert res.ok, res.error
    rec = registry.load("13_t_vad", "full")
    assert rec["status"] == "ok"
    assert rec["config"]["dataset"] == "ubnormal" and rec["config"]["vision_layers"] == [0, 7, 15, 31]
    keys = set(rec["metrics"])
    assert any(k.startswith("AHD (fine-tuned)/rbdc") for k in keys), sorted(keys)[:20]
    json.dumps(rec)
