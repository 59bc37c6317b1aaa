"""Chapter 32's validation-chosen region threshold: maps that localise but never reach the protocol's 0.5 score 0
RBDC/TBDC at 0.5 and clearly above 0 at the threshold validation picks; the test masks are never read to pick it."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small():
    from conftest import small_heatmap_data

    return small_heatmap_data((1, 1), 8)


def _faint_maps(data, split, peak=0.3):
    """Heatmaps at 30 x 40 that are ``peak`` on the ground-truth mask and 0.05 elsewhere (below 0.5 everywhere)."""
    import torch
    import torch.nn.functional as F

    from vadkit.experiment.types import VideoPrediction

    out = {}
    for vid, ann in data.split(split).items():
        idx = data.frame_index(ann)
        m = data.masks(ann, idx)
        m = np.zeros((len(idx), 120, 160), np.float32) if m is None else m.astype(np.float32)
        small = F.adaptive_max_pool2d(torch.from_numpy(m)[:, None], (30, 40))[:, 0].numpy()
        out[vid] = VideoPrediction(vid, scores={}, heatmaps=(0.05 + (peak - 0.05) * small).astype(np.float16),
                                   heatmap_frames=idx)
    return out


def test_threshold_chosen_on_validation_finds_faint_maps(small):
    from vadkit.chapters.anomalyclip import AnomalyCLIPConfig
    from vadkit.experiment.recipes.anomalyclip import REGION_THRESHOLDS, threshold_on_val

    cfg = AnomalyCLIPConfig.resolve("smoke")
    val, test = _faint_maps(small, "val"), _faint_maps(small, "test")
    fixed = threshold_on_val(val, test, small, cfg, thresholds=(0.5,))
    assert fixed["rbdc"] == 0 and fixed["tbdc"] == 0                     # nothing reaches 0.5
    got = threshold_on_val(val, test, small, cfg, thresholds=REGION_THRESHOLDS)
    assert got["threshold"] in (0.1, 0.2, 0.3) and got["threshold"] < 0.5
    assert got["rbdc"] > 0.5 and got["tbdc"] > 0.5 and got["val_rbdc"] > 0.5
    # the choice is the validation split's: test maps that are pure noise leave it unchanged
    rng = np.random.default_rng(0)
    noise = {v: type(p)(v, scores={}, heatmaps=rng.random(p.heatmaps.shape).astype(np.float16) * 0.2,
                        heatmap_frames=p.heatmap_frames) for v, p in test.items()}
    assert threshold_on_val(val, noise, small, cfg)["threshold"] == got["threshold"]
