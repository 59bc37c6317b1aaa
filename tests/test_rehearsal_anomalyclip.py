"""Dress rehearsal of chapter 32's full profile (AnomalyCLIP): ``--profile full`` on SynthVAD written in UBnormal's
on-disk layout (object-id PNGs, tracks files, the official split lists), with a tiny local open_clip ``CLIP`` of
``RN50:openai``'s class in place of it (a ``ModifiedResNet`` tower with RN50's bottleneck counts, 224 px, the
attention pool and the 1024-d embedding; random weights, :mod:`vadkit.models.rehearsal`) and a small SynthVAD root
as the auxiliary data the prompts are learned on. Only parameters differ from a user's run: the data roots, the
model name, and sizes (a few steps, two seeds, every 8th frame)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow]

CHAPTER = "32_anomalyclip"


@pytest.fixture(scope="module")
def home(rehearsal_home):
    return rehearsal_home


def test_anomalyclip_full_profile_on_the_ubnormal_layout(home):
    from vadkit import registry
    from vadkit.chapters.anomalyclip import AnomalyCLIPConfig
    from vadkit.data.layouts import generate_layout
    from vadkit.data.synth import SynthConfig, generate
    from vadkit.experiment.recipes.heatmaps import evaluate_heatmaps, prepare_data
    from vadkit.experiment.runner import load_predictions, predictions_dir, weights_cache_dir
    from vadkit.identity import weights_digest
    from vadkit.models import rehearsal
    from vadkit.pipeline.notebooks import resolve, run_notebook

    short = SynthConfig(min_frames=64, max_frames=80)
    tree = generate_layout(home / "ubnormal-tree", "ubnormal", videos=12, seed=3, progress=False, workers=1,
                           config=short)
    aux = generate(home / "aux-synthvad", {"train": 6}, seed=11, progress=False, workers=1,
                   config=SynthConfig(min_frames=64, max_frames=80, abnormal_fraction=0.75))
    clip = rehearsal.clip_resnet_name()
    params = {"data_root": str(tree), "clip": clip, "aux_root": str(aux), "aux_videos": 6, "aux_frames": 2,
              "steps": 3, "batch_size": 4, "seeds": "[0, 1]", "frame_stride": 8, "baseline_seeds": "[0]",
              "flow_train_videos": 2, "threads": 1}
    res = run_notebook(resolve(CHAPTER), home / "runs" / f"{CHAPTER}-full.ipynb", profile="full", parameters=params)
    assert res.ok, res.error
    rec = registry.load(CHAPTER, "full")
    assert rec["status"] == "ok" and rec["profile"] == "full"
    c = rec["config"]
    assert (c["dataset"], c["clip"], c["aux_root"], c["stages"]) == ("ubnormal", clip, str(aux), [0, 1, 2])
    json.dumps(rec)

    # the model loaded is the local file: the cached prompts' key names its digest, not a hub tag
    arch, _, ckpt = clip.partition(":")
    infos = [json.loads(p.read_text()) for p in sorted(weights_cache_dir("anomalyclip").glob("*.json"))]
    assert sorted(i["seed"] for i in infos) == [0, 1]
    from pathlib import Path

    assert {i["fields"]["clip"] for i in infos} == {f"{arch}:local#{weights_digest(Path(ckpt))}"}
    assert all(i["aux_frames"] == 12 for i in infos)            # 6 auxiliary videos x 2 frames

    # heatmaps and regions are stored with the predictions; the metrics recompute from them alone
    cfg = AnomalyCLIPConfig.resolve("full", **{k: v for k, v in params.items() if k not in ("seeds",
                                                                                          "baseline_seeds")})
    data = prepare_data(cfg)
    test = data.split("test")
    assert any(a.is_anomalous for a in test.values())
    store = predictions_dir(CHAPTER, "full")
    for seed in (0, 1):
        preds = load_predictions(store / "AnomalyCLIP" / f"seed{seed}")
        assert set(preds) == set(test)
        for vid, p in preds.items():
            assert np.array_equal(p.heatmap_frames, np.arange(0, int(test[vid].num_frames), 8))
            assert p.heatmaps.shape == (len(p.heatmap_frames), 56, 56)   # stage 1's grid, the finest tap
            assert p.regions is not None and set(p.scores) == {"heatmap", "image", "glocal"}
        selected = next(s for s in ("heatmap", "image", "glocal")
                        if rec["metrics"][f"anomalyclip/seed{seed}/selected/micro"]
                        == pytest.approx(rec["metrics"][f"anomalyclip/seed{seed}/{s}/micro"]))
        again = evaluate_heatmaps(preds, test, data, selected, cfg)
        for k in ("pixel_auroc", "rbdc", "tbdc", "selected/micro", "selected/macro"):
            assert again[k] == pytest.approx(rec["metrics"][f"anomalyclip/seed{seed}/{k}"], nan_ok=True), k
    for name in ("flow_cells", "CLIP_prompts"):                    # the baselines of the same table
        assert f"{name}/seed0/pixel_auroc" in rec["metrics"], sorted(rec["metrics"])[:30]
    # the validation-chosen region threshold: one of the sweep's, for every seed and both baselines
    from vadkit.experiment.recipes.anomalyclip import REGION_THRESHOLDS

    for name, runs in (("AnomalyCLIP", 2), ("flow_cells", 1), ("CLIP_prompts", 1)):
        for k in range(runs):
            assert rec["metrics"][f"val_threshold/{name}/run{k}/threshold"] in REGION_THRESHOLDS
            assert 0 <= rec["metrics"][f"val_threshold/{name}/run{k}/rbdc"] <= 1
    assert not any(k.startswith("bench/") for k in rec["metrics"])  # UBnormal: the real data is the benchmark
