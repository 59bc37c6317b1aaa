"""Chapter 30, LAVAD: training-free VAD with a captioner and an LLM (Zanella et al., CVPR 2024).

The config only; the method is :mod:`vadkit.methods.lavad` (with :mod:`vadkit.methods.captions` and
:func:`vadkit.methods.knn.video_text_refine`), its experiment glue :mod:`vadkit.experiment.recipes.lavad`. Smoke:
the tiny-zoo captioner, instruction-following LLM and CLIP on SynthVAD, plus the real Gemma-3-270m on a capped
subset; full: BLIP-2, Llama-2-13b-chat and OpenCLIP ViT-H-14 (ImageBind's frozen image/text towers) on UCF-Crime or
XD-Violence, by parameters alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.lavad import LAVADChapterConfig, describe_data, models_label, prepare


@dataclass
class LAVADConfig(LAVADChapterConfig):
    """Parameters of chapter 30 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "30_lavad"
    FULL = {"dataset": "ucf_crime", "clip": "ViT-H-14:laion2b_s32b_b79k", "captioner": "Salesforce/blip2-opt-6.7b-coco",
            "llm": "meta-llama/Llama-2-13b-chat-hf", "caption_stride": 16, "window_s": 10.0, "window_frames": 10,
            "k_sweep": [10], "summary_tokens": 96, "score_tokens": 16, "score_format": "[{:.1f}]",
            "subset_llm": None, "prompt_sets": ["paper"], "run_ablations": False, "threads": 0, "llm_batch_size": 32}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(LAVADConfig, namespace, prepare, describe=describe_data, models=models_label)
