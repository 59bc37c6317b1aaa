"""Chapter 14, MLLM-EVAD: activity descriptions of objects and object pairs for explainable semi-supervised VAD
(Mumcu, Jones, Cherian & Yilmaz, arXiv 2510.14896, 2025).

The config only; the method is :mod:`vadkit.methods.mllm_evad`, its experiment glue
:mod:`vadkit.experiment.recipes.mllm_evad`. Smoke: SynthVAD's smoke splits (the normal training videos only),
MOG2 blobs tracked by ByteTrack, the tiny zoo's crop-pair describer, the real MiniLM embedder, chapter 00's flow
grid as the traditional method, the tiny zoo's VLM as the frame-level contrast; the real-footage demo on the
injected-anomaly set cut from vtest.avi (HOG people, a nominal bank of its normal clips). Full: Avenue (or any dataset with
normal training videos and frame labels: ShanghaiTech, UBnormal, Street Scene, ComplexVAD) with a torchvision /
HOG detector and an HF VLM (Gemma 3, Qwen2.5-VL) as describer, by parameters alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadkit.experiment.chapter import setup as _setup
from vadkit.experiment.recipes.mllm_evad import MLLMEVADChapterConfig, describe_data, models_label, prepare


@dataclass
class MLLMEVADConfig(MLLMEVADChapterConfig):
    """Parameters of chapter 14 (every field's paper value: :func:`vadkit.experiment.chapter.config_table`)."""

    CHAPTER = "14_mllm_evad"
    FULL = {"dataset": "avenue", "detector": "hog", "describer": "google/gemma-3-4b-it",
            "contrast_vlm": "google/gemma-3-4b-it",
            "max_train_videos": 0, "flow_width": 160, "grid_rows": 9, "grid_cols": 16, "threads": 0,
            "crop_size": 224, "describe_batch": 8}


def setup(namespace: dict):
    """``cfg, data, run`` for the notebook (its parameters from ``namespace``)."""
    return _setup(MLLMEVADConfig, namespace, prepare, describe=describe_data, models=models_label)
