"""Dress rehearsal of chapter 14's full profile: MLLM-EVAD with ``--profile full`` on SynthVAD written in CUHK
Avenue's on-disk layout (normal-only training videos, test frame labels from the label masks; validation carved
from the normal training videos), with a tiny random-weight Gemma 3 (the full profile's VLM class, built by
:mod:`vadkit.models.rehearsal`) as the crop-pair describer and as the contrast VLM. MOG2 has no weights, so it
finds boxes on the rehearsal's pixels and the describer is called (asserted); only sizes differ from a user's run.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow]


@pytest.fixture(scope="module")
def home(rehearsal_home):
    return rehearsal_home


def _run(tree, params: dict, home):
    from vadkit import registry
    from vadkit.pipeline.notebooks import resolve, run_notebook

    out = home / "runs" / "14_mllm_evad-full.ipynb"
    res = run_notebook(resolve("14_mllm_evad"), out, profile="full", parameters={"data_root": str(tree), **params})
    assert res.ok, res.error
    rec = registry.load("14_mllm_evad", "full")
    assert rec["status"] == "ok" and rec["profile"] == "full"
    return rec


def test_chapter_14_full_profile_on_the_avenue_layout(home):
    from vadkit.data.datasets import verify_dataset
    from vadkit.data.layouts import generate_layout
    from vadkit.data.synth import SynthConfig
    from vadkit.models import rehearsal

    tree = generate_layout(home / "avenue-tree", "avenue", videos=10, seed=3, progress=False, workers=1,
                           config=SynthConfig(min_frames=48, max_frames=64))
    assert verify_dataset("avenue", tree).ok
    vlm = str(rehearsal.path("gemma3"))
    # the full profile's HOG finds nobody in 160 x 120 frames (18-px people): MOG2, which has no weights, does
    params = {"detector": "mog2", "describer": vlm, "contrast_vlm": vlm, "contrast_max_videos": 2, "crop_size": 64,
              "describe_batch": 4, "max_train_videos": 3, "max_test_videos": 2, "run_ablations": False,
              "real_footage": None, "threads": 1, "k_grid": "[1, 3]", "flow_width": 80, "grid_rows": 6,
              "grid_cols": 8}
    rec = _run(tree, params, home)
    assert rec["config"]["describer"] == vlm and rec["config"]["dataset"] == "avenue"
    assert rec["validation"]["source"].startswith("held out from the normal-only training videos")
    assert rec["validation"]["criterion"] == "none"
    assert rec["metrics"]["describer_calls/made"] > 0                 # the VLM described real crop pairs
    assert "MLLM-EVAD/all/micro" in rec["metrics"]
    again = _run(tree, params, home)                                   # every description from the cache
    assert again["metrics"]["describer_calls/made"] == 0
    assert again["metrics"]["describer_calls/cached"] >= rec["metrics"]["describer_calls/made"]
    assert again["metrics"]["MLLM-EVAD/all/micro"] == rec["metrics"]["MLLM-EVAD/all/micro"]
