"""Dress rehearsals of the full profile: chapters 11 and 12 with ``--profile full`` on SynthVAD written in the real
UCF-Crime / XD-Violence on-disk layouts, with tiny local instances of the full profile's model classes (open_clip's
VisionTransformer CLIP, HF BLIP-2, HF Llama). Only parameters differ from a user's run (README, "Switching a chapter
to the full profile"): the data root, the model names, and sizes (a handful of videos, one epoch, one seed).

Run them alone with ``pytest -m rehearsal``; each stays under 45 s on 2 cores (``benchmarks/book_times.py``).
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow]

SMALL = {"seeds": "[0]", "epochs": 1, "max_len": 32, "batch_size": 4, "feature_batch_size": 32, "threads": 1}


@pytest.fixture(scope="module")
def home(rehearsal_home):
    return rehearsal_home


@pytest.fixture(scope="module")
def models(home):
    from vadkit.models import rehearsal

    return {"clip": rehearsal.clip_name(), "captioner": str(rehearsal.path("blip2")),
            "llm": str(rehearsal.path("llama"))}


def _tree(home, layout: str):
    from vadkit.data.layouts import generate_layout
    from vadkit.data.synth import SynthConfig

    # short videos (64-96 frames at 15 fps): a handful of snippets each keeps a rehearsal within its budget
    return generate_layout(home / f"{layout}-tree", layout, videos=12, seed=3, progress=False, workers=1,
                           config=SynthConfig(min_frames=64, max_frames=96))


def _run(chapter: str, tree, params: dict, home):
    from vadkit import registry
    from vadkit.pipeline.notebooks import resolve, run_notebook

    out = home / "runs" / f"{chapter}-full.ipynb"
    res = run_notebook(resolve(chapter), out, profile="full", parameters={"data_root": str(tree), **params})
    assert res.ok, res.error
    rec = registry.load(resolve(chapter).stem, "full")
    assert rec["status"] == "ok" and rec["profile"] == "full"
    return rec


@pytest.mark.parametrize("layout", ["ucf_crime", "xd_violence"])
def test_chapter_11_full_profile_on_a_real_layout(home, models, layout):
    from vadkit.data.datasets import verify_dataset

    tree = _tree(home, layout)
    assert verify_dataset(layout, tree).ok
    crops = 10 if layout == "ucf_crime" else 1          # the full profile's ten-crop training features, once
    rec = _run("11_vadclip", tree, {"clip": models["clip"], "dataset": layout, "train_crops": crops, **SMALL}, home)
    val = rec["validation"]
    # the real training splits carry video-level labels only: validation is carved and selects by video AUC
    assert val["criterion"] == "video" and "carved" in val["source"]
    assert open(val["files"]["val_list"]).read().split()
    assert rec["config"]["dataset"] == layout and rec["config"]["clip"] == models["clip"]
    assert any(k.endswith("selected/auc_o/mean") for k in rec["metrics"])


def test_chapter_12_full_profile_on_the_ucf_layout(home, models):
    tree = _tree(home, "ucf_crime")
    params = {**SMALL, "clip": models["clip"], "captioner": models["captioner"], "llm": models["llm"],
              "n_caption_frames": 2, "m_phrases": 2, "max_new_tokens": 8, "run_ablations": False,
              "topk_sweep": "[1]", "topk_phrases": 1, "train_crops": 1}
    rec = _run("12_ex_vad", tree, params, home)
    assert rec["validation"]["criterion"] == "video"
    assert rec["metrics"]["aegm/n_videos"] >= 10
    assert rec["config"]["captioner"] == models["captioner"]


@pytest.mark.parametrize("layout", ["tad", "ucf_crime"])
def test_chapter_10_full_profile_on_a_real_layout(home, models, layout):
    """VAD-LLaMA's full path (UCF-Crime and TAD ship train/test only) with a tiny Llama-class LM behind the
    soft prompt: the three phases run, the LM is asked, and a rerun is served from the cache."""
    from vadkit.data.datasets import verify_dataset

    tree = _tree(home, layout)
    assert verify_dataset(layout, tree).ok
    params = {"seeds": "[0]", "epochs1": 2, "epochs2": 2, "sultani_epochs": 2, "batch_size": 4,
              "feature_batch_size": 32, "threads": 1, "clip": models["clip"], "llm": models["llm"],
              "dataset": layout, "phase3_steps": 4, "phase3_batch": 2, "phase3_warmup": 1, "lm_tokens": 8,
              "max_new_tokens": 6, "run_ablations": False}
    rec = _run("10_vad_llama", tree, params, home)
    assert rec["validation"]["criterion"] == "video" and "carved" in rec["validation"]["source"]
    assert rec["config"]["llm"] == models["llm"] and rec["config"]["dataset"] == layout
    assert any(k.startswith("VADor w LTC/seed0/auc_o") for k in rec["metrics"])
    assert rec["metrics"]["lm_calls/made"] > 0
    if layout == "tad":                  # a rerun loads every trained phase and serves every LM answer from the cache
        again = _run("10_vad_llama", tree, params, home)
        assert again["metrics"]["lm_calls/made"] == 0
        assert again["metrics"]["lm_calls/cached"] == rec["metrics"]["lm_calls/made"]
        assert again["metrics"]["VADor w LTC/seed0/auc_o"] == rec["metrics"]["VADor w LTC/seed0/auc_o"]


def test_chapter_30_lavad_full_profile_on_the_ucf_layout(home, models):
    """LAVAD's full path with a BLIP-2-class captioner, a Llama-class chat LLM and a ViT CLIP (ImageBind's role):
    the paper's prompts, validation carved from the training videos, and a rerun served from the cache."""
    tree = _tree(home, "ucf_crime")
    params = {"clip": models["clip"], "captioner": models["captioner"], "llm": models["llm"],
              "summary_tokens": 6, "score_tokens": 4, "window_frames": 3, "caption_stride": 16,
              "frame_interval": 32, "threads": 1}
    rec = _run("30_lavad", tree, params, home)
    assert rec["validation"]["criterion"] == "video" and "carved" in rec["validation"]["source"]
    assert rec["config"]["llm"] == models["llm"] and rec["config"]["prompt_sets"] == ["paper"]
    assert rec["metrics"]["cost/calls_made"] > 0
    assert rec["headline"][0]["method"] == "LAVAD" and rec["headline"][0]["paper"]["value"] == 80.28
    again = _run("30_lavad", tree, params, home)
    assert again["metrics"]["cost/calls_made"] == 0
    assert again["metrics"]["test/auc_o"] == rec["metrics"]["test/auc_o"]


def test_chapter_31_vera_full_profile_on_the_ucf_layout(home, models):
    """VERA's full path: a Llama-class learner over BLIP-2-class captions, the question search on video-level
    labels, validation carved from the training videos; a rerun makes no model call."""
    tree = _tree(home, "ucf_crime")
    params = {"clip": models["clip"], "captioner": models["captioner"], "llm": models["llm"], "seeds": "[0]",
              "epochs": 2, "batch_size": 4, "window_frames": 3, "caption_stride": 16, "segment_frames": 32,
              "window_s": 4.0, "threads": 1}
    rec = _run("31_vera", tree, params, home)
    assert rec["validation"]["criterion"] == "video" and "carved" in rec["validation"]["source"]
    assert rec["config"]["llm"] == models["llm"]
    assert rec["metrics"]["cost/calls_made"] > 0
    assert rec["headline"][0]["method"] == "VERA" and rec["headline"][0]["paper"]["value"] == 86.6
    again = _run("31_vera", tree, params, home)
    assert again["metrics"]["cost/calls_made"] == 0
