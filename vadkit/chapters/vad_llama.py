"""Chapter 10, VAD-LLaMA: VADor with Long-Term Context and a frozen LM read through a trained adaptor
(Lv & Sun, 2024).

The config only; the method is :mod:`vadkit.methods.vad_llama`, its experiment glue
:mod:`vadkit.experiment.recipes.vad_llama`. Smoke: SynthVAD's long videos (600-900 frames, seven TAD-like types,
four of them context-defined), tiny-zoo CLIP features and the tiny zoo's Llama. Full: UCF-Crime (default) or TAD
(``dataset="tad"``) with open_clip ViT-B/16 features and Vicuna-7B; both ship train/test only, so validation is
carved from the training videos and selects by a video-level criterion (:mod:`vadkit.experiment.data`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.vad_llama import (VAD_LLAMA_FULL, VADLLaMAChapterConfig, describe_data, models_label,
                                                 prepare)


@dataclass
class VADLLaMAConfig(VADLLaMAChapterConfig):
    """Parameters of chapter 10 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "10_vad_llama"
    # the context-defined classes, named before a run: TAD's that need seconds of context; UCF-Crime's that the
    # paper's Fig. 6 calls dependent on "long-range temporal analysis" (Arson, Shoplifting) plus Burglary, its
    # introduction's example
    FULL = {**VAD_LLAMA_FULL, "context_types": ["Arson", "Shoplifting", "Burglary"]}
    FULL_BY_DATASET = {"tad": {"context_types": ["IllegalOccupation", "PedestrianOnRoad", "IllegalTurn"]}}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(VADLLaMAConfig, namespace, prepare, describe=describe_data, models=models_label)
