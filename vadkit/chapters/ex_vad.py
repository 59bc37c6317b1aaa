"""Chapter 12, Ex-VAD: explainable fine-grained VAD (Huang et al., ICML 2025).

The config only; the method is :mod:`vadkit.methods.ex_vad` on :mod:`vadkit.methods.vadclip`, its experiment glue
:mod:`vadkit.experiment.recipes.ex_vad`. Smoke: tiny-zoo captioner / LLM / CLIP on SynthVAD; full: BLIP-2,
Llama-3.1-8B-Instruct, CLIP ViT-B/16 on UCF-Crime or XD-Violence, by parameters alone. This chapter does not need
chapter 11 to have run: every trained model is trained or loaded from the cache by its own declared key.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.dual_branch import (DUAL_BRANCH_FULL, DUAL_BRANCH_FULL_XD, describe_data,
                                                   models_label, prepare)
from vadkit.experiment.recipes.ex_vad import ExVADChapterConfig


@dataclass
class ExVADConfig(ExVADChapterConfig):
    """Parameters of chapter 12 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "12_ex_vad"
    FULL = {**DUAL_BRANCH_FULL, "captioner": "Salesforce/blip2-opt-2.7b", "llm": "meta-llama/Llama-3.1-8B-Instruct",
            "n_caption_frames": 32, "m_phrases": 10, "max_new_tokens": 256, "ablation_seeds": [0, 1, 2],
            "laam_repetition_penalty": 1.0, "topk_sweep": [1, 2, 3, 4, 5, 6, 7, 8], "lam": 1.0}
    FULL_BY_DATASET = {"xd_violence": dict(DUAL_BRANCH_FULL_XD)}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(ExVADConfig, namespace, prepare, describe=describe_data, models=models_label)
