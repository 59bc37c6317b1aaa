"""Chapter 32, AnomalyCLIP: object-agnostic prompt learning for zero-shot anomaly detection (Zhou et al., ICLR 2024).

The config only; the method is :mod:`vadkit.methods.anomalyclip` on the shared heatmap core
:mod:`vadkit.methods.heatmap`, its experiment glue :mod:`vadkit.experiment.recipes.anomalyclip` and the heatmap
protocol and baselines :mod:`vadkit.experiment.recipes.heatmaps`. Smoke: the zoo's tiny CLIP, prompts learned on
the SynthVAD pretraining corpus, applied per frame to the smoke val/test splits. Full: a ResNet CLIP by name, a
SynthVAD root with masks as auxiliary data (``aux_root``, default the pretraining corpus), the target dataset by
``dataset`` / ``data_root`` (rehearsed: ``tests/test_rehearsal_anomalyclip.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.anomalyclip import AnomalyCLIPChapterConfig, describe_data, models_label, prepare


@dataclass
class AnomalyCLIPConfig(AnomalyCLIPChapterConfig):
    """Parameters of chapter 32 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "32_anomalyclip"
    FULL = {"dataset": "ubnormal", "clip": "RN50:openai", "frame_stride": 2, "threads": 0, "steps": 3000,
            "batch_size": 8, "aux_videos": 400, "aux_frames": 8}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(AnomalyCLIPConfig, namespace, prepare, describe=describe_data, models=models_label)
