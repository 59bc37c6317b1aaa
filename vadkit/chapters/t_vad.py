"""Chapter 13, T-VAD: text-guided fine-grained VAD on a frozen LVLM (Gu et al. 2025).

The config only; the method is :mod:`vadkit.methods.t_vad` on the shared heatmap core :mod:`vadkit.methods.heatmap`,
its experiment glue :mod:`vadkit.experiment.recipes.t_vad` and the heatmap protocol and baselines
:mod:`vadkit.experiment.recipes.heatmaps`. Smoke: the zoo's tiny Qwen2.5-VL on the SynthVAD smoke splits (their
per-pixel masks in UBnormal's sense); full: Qwen2.5-VL-7B on UBnormal (``dataset="ubnormal"``) by parameters alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.t_vad import TVADChapterConfig, describe_data, models_label, prepare


@dataclass
class TVADConfig(TVADChapterConfig):
    """Parameters of chapter 13 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "13_t_vad"
    FULL = {"dataset": "ubnormal", "vlm": "Qwen/Qwen2.5-VL-7B-Instruct", "vision_layers": [0, 7, 15, 31],
            "device": "cuda", "precision": "bf16",
            "frame_stride": 2, "threads": 0, "epochs": 10, "train_frames": 32, "normal_frames": 8,
            "stage2_data": "vlm", "build_frames": 16, "oneshot_frames": 2, "max_len": 2048, "sft_lr": 2e-4, "sft_accum": 8, "sft_train_videos": 0, "sft_eval_stride": 1}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(TVADConfig, namespace, prepare, describe=describe_data, models=models_label)
