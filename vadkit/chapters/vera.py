"""Chapter 31, VERA: verbalized learning of guiding questions (Ye et al., CVPR 2025).

The config only; the method is :mod:`vadkit.methods.vera` (with :func:`vadkit.methods.knn.softmax_refine` and
:func:`vadkit.metrics.video_centred_gaussian`), its experiment glue :mod:`vadkit.experiment.recipes.vera`. Smoke:
the tiny-zoo captioner and instruction-following LLM as the learner, a search over a question pool as the
optimizer, on SynthVAD; full: BLIP-2 captions and a Llama-class chat LLM on UCF-Crime by parameters alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.vera import VERAChapterConfig, describe_data, models_label, prepare


@dataclass
class VERAConfig(VERAChapterConfig):
    """Parameters of chapter 31 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "31_vera"
    FULL = {"dataset": "ucf_crime", "clip": "ViT-H-14:laion2b_s32b_b79k", "captioner": "Salesforce/blip2-opt-6.7b-coco",
            "llm": "meta-llama/Llama-3.1-8B-Instruct", "caption_stride": 16, "segment_frames": 160,
            "window_s": 10.0, "window_frames": 10, "n_questions": 5, "epochs": 10, "batch_size": 64,
            "threads": 0}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(VERAConfig, namespace, prepare, describe=describe_data, models=models_label)
