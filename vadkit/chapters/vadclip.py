"""Chapter 11, VadCLIP: the dual-branch CLIP adapter for weakly supervised VAD (Wu et al., AAAI 2024).

The config only; the method is :mod:`vadkit.methods.vadclip`, its experiment glue
:mod:`vadkit.experiment.recipes.dual_branch`. Smoke: SynthVAD smoke splits, tiny-zoo CLIP features, scaled-down
widths/epochs. Full: UCF-Crime (default) or XD-Violence (``dataset="xd_violence", window=64, lr=1e-5``) with CLIP
ViT-B/16 features, the paper's values; UCF-Crime has no validation split, so one is carved from the training videos
and the model is selected by a video-level criterion (see :mod:`vadkit.experiment.data`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.dual_branch import (DUAL_BRANCH_FULL, DUAL_BRANCH_FULL_XD, DualBranchChapterConfig,
                                                   describe_data, models_label, prepare)


@dataclass
class VadCLIPConfig(DualBranchChapterConfig):
    """Parameters of chapter 11 (every field's paper and official-code value: :func:`config_table`)."""

    CHAPTER = "11_vadclip"
    FULL = dict(DUAL_BRANCH_FULL)
    FULL_BY_DATASET = {"xd_violence": dict(DUAL_BRANCH_FULL_XD)}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(VadCLIPConfig, namespace, prepare, describe=describe_data, models=models_label)
