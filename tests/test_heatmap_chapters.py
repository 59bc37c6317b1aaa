"""Chapters 13 and 32's experiment layer on a few SynthVAD smoke videos with untrained / rehearsal models:
test-time heatmaps never read the test masks, and every metric is recomputable from the stored predictions."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small():
    from conftest import small_heatmap_data

    return small_heatmap_data((3, 2), 16)


def _without_masks(data):
    d = copy.copy(data)
    test = copy.deepcopy(data.splits.test)
    for a in test.values():
        a.pixel_mask_path, a.tracks = None, []
    d.splits = copy.copy(data.splits)
    d.splits.test = test
    return d


def _cfg(cls, **kw):
    return cls.resolve("smoke", **kw)


def test_anomalyclip_heatmaps_ignore_test_masks_and_metrics_recompute(small, tmp_path):
    import torch

    from vadkit.chapters.anomalyclip import AnomalyCLIPConfig
    from vadkit.experiment.recipes.anomalyclip import AnomalyCLIPMethod
    from vadkit.experiment.recipes.heatmaps import evaluate_heatmaps
    from vadkit.experiment.runner import load_predictions, save_predictions
    from vadkit.models.zoo import untrained_clip

    clip = untrained_clip()
    clip.model.requires_grad_(False)
    cfg = _cfg(AnomalyCLIPConfig, frame_stride=16)
    m = AnomalyCLIPMethod(small, cfg, clip)
    torch.manual_seed(0)
    model = m.build(0)
    a, _ = m.predict(model, "test")
    b, _ = AnomalyCLIPMethod(_without_masks(small), cfg, clip).predict(model, "test")
    for vid in a:
        assert np.array_equal(a[vid].heatmaps, b[vid].heatmaps)
        assert np.array_equal(a[vid].regions, b[vid].regions)
    metrics = evaluate_heatmaps(a, small.split("test"), small, "heatmap", cfg)
    save_predictions(tmp_path / "p", a)
    again = evaluate_heatmaps(load_predictions(tmp_path / "p"), small.split("test"), small, "heatmap", cfg)
    assert metrics == pytest.approx(again, nan_ok=True)
    assert 0 <= metrics["pixel_auroc"] <= 1 and 0 <= metrics["rbdc"] <= 1


def test_anomalyclip_shared_pass_matches_each_seed_alone_and_feeds_the_clip_prompt_baseline(small, monkeypatch):
    """One frozen pass for every seed (``prime``) predicts exactly what each seed predicts alone, and the
    CLIP-prompt baseline on the same frames reads that pass's features instead of running the tower again."""
    import copy

    import torch

    import vadkit.methods.anomalyclip as ac_methods
    from vadkit.chapters.anomalyclip import AnomalyCLIPConfig
    from vadkit.experiment.recipes.anomalyclip import AnomalyCLIPMethod
    from vadkit.experiment.recipes.heatmaps import ClipPromptHeatmaps
    from vadkit.models.zoo import untrained_clip

    clip = untrained_clip()
    clip.model.requires_grad_(False)
    cfg = _cfg(AnomalyCLIPConfig, frame_stride=16)
    data = copy.copy(small)
    data._memo = {}
    alone = AnomalyCLIPMethod(small, cfg, clip)
    shared = AnomalyCLIPMethod(data, cfg, clip)
    models = {}
    for seed in (0, 1):
        torch.manual_seed(seed)
        models[seed] = alone.build(seed)
    expected = {s: alone.predict(models[s], "test")[0] for s in models}
    fresh = ClipPromptHeatmaps(small, cfg, clip).predict(None, "test")[0]
    shared.prime(models, ("test",), progress=False)
    assert shared._primed and data._memo
    monkeypatch.setattr(ac_methods, "clip_frame_features", lambda *a, **k: pytest.fail("tower ran again"))
    for s in models:
        shared.seed = s
        got = shared.predict(models[s], "test")[0]
        for vid, p in expected[s].items():
            assert np.allclose(got[vid].heatmaps.astype(float), p.heatmaps.astype(float), atol=2e-3)
            for k in p.scores:
                assert np.allclose(got[vid].scores[k], p.scores[k], atol=1e-5), k
    assert not shared._primed                       # handed out once, then freed
    memo = ClipPromptHeatmaps(data, cfg, clip).predict(None, "test")[0]
    for vid, p in fresh.items():
        assert np.allclose(memo[vid].scores["heatmap"], p.scores["heatmap"], atol=1e-5)


def test_ahd_trains_and_ignores_test_masks(small):
    from vadkit.chapters.t_vad import TVADConfig
    from vadkit.experiment.recipes.t_vad import AHDMethod
    from vadkit.models import load_vlm, rehearsal

    vlm = load_vlm(str(rehearsal.path("qwen2_5_vl")))
    cfg = _cfg(TVADConfig, frame_stride=16, epochs=2, train_frames=2, normal_frames=1)
    m = AHDMethod(small, cfg, vlm, 2)
    model = m.build(0)                      # no runner: nothing is written to the caches
    info = m.fit(model, 0)
    assert info["best_epoch"] in (0, 1) and len(info["history"]) == 2
    preds, _ = m.predict(model, "test")
    assert {"selected/micro", "pixel_auroc", "rbdc", "tbdc"} <= set(m.evaluate(preds, "heatmap"))
    b, _ = AHDMethod(_without_masks(small), cfg, vlm, 2).predict(model, "test")
    for vid, p in preds.items():
        assert np.array_equal(p.heatmaps, b[vid].heatmaps)
