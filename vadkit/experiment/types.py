"""What every method returns and what every seed of a run records.

* :class:`VideoPrediction` - one output type for every model (as anomalib has one): per-video score streams at a
  stated temporal resolution, class probabilities, an explanation, heatmaps or regions, answers to questions. Which
  metrics apply follows from what it holds (:mod:`vadkit.experiment.evaluation`).
* :class:`SeedRun` - one (method, seed): the selection made on validation, the test metrics, the predictions, the
  training history, and, if it failed, the exception (a failed seed is recorded, never a dict key).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class VideoPrediction:
    """A method's output for one video.

    Attributes:
        video_id: the video.
        scores: named anomaly-score streams ``{name: [T]}`` (e.g. VadCLIP's ``coarse`` and ``align_anomaly``), one value
            per ``snippet_len`` frames (``snippet_len = 1``: per frame).
        snippet_len: frames per score step.
        class_probs: ``[T, C]`` per-step class probabilities (class 0 = normal), for mAP@IoU.
        classes: the ``C`` class names of ``class_probs``.
        explanation: generated text about the video.
        heatmaps: ``[T_h, H, W]`` float anomaly maps (``heatmap_frames`` gives their frame indices).
        regions: detection rows ``[N, 6]`` = ``frame, x1, y1, x2, y2, score`` (RBDC/TBDC input).
        answers: ``{question: answer text}``.
        extra: anything else a chapter shows (kept in memory; arrays and JSON-able values are stored).
    """

    video_id: str
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    snippet_len: int = 1
    class_probs: np.ndarray | None = None
    classes: tuple[str, ...] | None = None
    explanation: str | None = None
    heatmaps: np.ndarray | None = None
    heatmap_frames: np.ndarray | None = None
    regions: np.ndarray | None = None
    answers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        """``pred["coarse"]`` is a score stream, ``pred["class_probs"]`` the class probabilities."""
        if key == "class_probs":
            if self.class_probs is None:
                raise KeyError(f"{self.video_id}: no class probabilities")
            return self.class_probs
        return self.scores[key]


@dataclass
class ErrorInfo:
    """A failure kept with the run: exception type, message and the last frames of its traceback."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def of(cls, err: BaseException) -> "ErrorInfo":
        tb = "".join(traceback.format_exception(type(err), err, err.__traceback__, limit=-4))
        return cls(type(err).__name__, str(err), tb)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass
class SeedRun:
    """One (method, seed) of a run. ``ok`` is False when ``error`` is set; all other fields may then be empty.

    ``val`` holds the validation value of each candidate score stream; ``selected`` the one chosen on it;
    ``test`` flat metrics (``"coarse/auc_o"``, ``"selected/auc_o"``, ``"map/avg"``, ...), fractions.
    """

    method: str
    seed: int
    error: ErrorInfo | None = None
    best_epoch: int = -1
    best_val: float = float("nan")
    val: dict[str, float] = field(default_factory=dict)
    val_criterion: str = ""
    selected: str | None = None
    test: dict[str, float] = field(default_factory=dict)
    predictions: dict[str, VideoPrediction] = field(default_factory=dict)
    val_predictions: dict[str, VideoPrediction] = field(default_factory=dict)  # what selected the stream
    history: list[dict] = field(default_factory=list)
    cached: bool = False
    failures: dict[str, str] = field(default_factory=dict)
    model: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def ok_runs(runs) -> list[SeedRun]:
    return [r for r in runs if r.ok]
