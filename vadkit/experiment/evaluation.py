"""Evaluation chosen by what a prediction holds, under named conventions (chapter 01 explains each).

=====================================  ==========================================================================
a :class:`~.types.VideoPrediction`     gives
=====================================  ==========================================================================
``scores[name]`` (per snippet/frame)   frame AUC_O / AUC_A / AP (step and trapezoid) / macro AUC under
                                       ``gt_convention`` (:func:`frame_metrics`), or a video-level AUC
                                       (:func:`video_level_auc`) where only video labels exist
``class_probs``                        fine-grained mAP@IoU 0.1..0.5 and AVG (:func:`detection_metrics`)
``regions``                            RBDC / TBDC (:func:`region_metrics`)
``explanation``                        BLEU-4 against the ground-truth explanation (:func:`text_metrics`)
``answers``                            Yes/No accuracy and balanced accuracy (:func:`answer_metrics`)
=====================================  ==========================================================================

:func:`evaluate` applies every one that fits and returns one flat ``{name: fraction}`` dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from vadkit.errors import VadkitError
from vadkit.experiment.types import VideoPrediction

IOUS = (0.1, 0.2, 0.3, 0.4, 0.5)
MAP_VIDEOS = ("all", "all_ucf", "abnormal")


@dataclass
class EvalSettings:
    """Metric conventions of a run (each named in :mod:`vadkit.metrics` and chapter 01).

    ``map_videos``: which test videos mAP@IoU scores (:data:`MAP_VIDEOS`):

    * ``"all"`` - VadCLIP's official XD-Violence code: every test video, a normal one as a whole-video segment of
      class ``normal`` (so the normal class has a real AP);
    * ``"all_ucf"`` - VadCLIP's official UCF-Crime code: every test video, a normal one labelled ``A``, which is in no
      class list, so its proposals can only be false positives and the normal class's AP is 0;
    * ``"abnormal"`` - Ex-VAD's text: abnormal test videos only (the normal class then has no ground truth and adds
      AP 0 under the faithful convention).
    """

    gt_convention: str = "vadclip"
    map_convention: str = "vadclip"
    map_videos: str = "abnormal"
    snippet_len: int = 16
    expand: str = "repeat"
    video_topk_divisor: int = 16

    def __post_init__(self) -> None:
        if self.map_videos not in MAP_VIDEOS:
            raise ValueError(f"map_videos must be one of {MAP_VIDEOS}, got {self.map_videos!r}")


def frame_metrics(preds: Mapping[str, VideoPrediction | Mapping], ann, stream: str, s: EvalSettings) -> dict:
    """Frame-level numbers of score stream ``stream`` (:func:`vadkit.metrics.evaluate_frame_level`)."""
    from vadkit.metrics import evaluate_frame_level

    scores = {v: p[stream] for v, p in preds.items()}
    sub = ann.filter(lambda a: a.video_id in scores)
    return evaluate_frame_level(scores, sub, gt_convention=s.gt_convention, expand=s.expand,
                                snippet_len=s.snippet_len, align="error", per_class=False, missing="ignore")


def video_level_auc(preds: Mapping[str, VideoPrediction | Mapping], ann, stream: str, topk_divisor: int = 16) -> float:
    """Video AUC of each video's top-k mean snippet score (k = T // divisor + 1) against its video label.

    The validation criterion where training videos carry only video-level labels (UCF-Crime, XD-Violence, TAD).
    """
    from vadkit.metrics import roc_auc

    y, s = [], []
    for vid, p in preds.items():
        x = np.sort(np.asarray(p[stream], dtype=np.float64))[::-1]
        k = len(x) // topk_divisor + 1
        y.append(int(ann[vid].is_anomalous))
        s.append(float(x[:k].mean()))
    return roc_auc(np.asarray(y), np.asarray(s))


def half_open_segments(a) -> tuple[list, list]:
    segs, labs = [], []
    for seg in a.segments:
        end = seg.end + 1 if seg.end_inclusive else seg.end
        segs.append([int(seg.start), int(end)])
        labs.append(seg.label)
    return segs, labs


def detection_metrics(preds: Mapping[str, VideoPrediction | Mapping], ann, classes: list[str], s: EvalSettings,
                      map_videos: str | None = None) -> dict:
    """mAP@IoU 0.1..0.5 and AVG of the class probabilities (repeated ``snippet_len`` times to frames), on the test
    videos ``map_videos`` (default ``s.map_videos``) names."""
    from vadkit.metrics.temporal import detection_map

    which = map_videos or s.map_videos
    if which not in MAP_VIDEOS:
        raise ValueError(f"map_videos must be one of {MAP_VIDEOS}, got {which!r}")
    P, S, L = [], [], []
    for vid, p in preds.items():
        a = ann[vid]
        probs = p["class_probs"]
        if not a.is_anomalous:
            if which == "abnormal":
                continue
            P.append(np.repeat(probs, s.snippet_len, axis=0))
            if which == "all":
                S.append([[0, len(probs) * s.snippet_len]])
                L.append([classes[0]])
            else:                                   # "A" segments match no class: no ground truth at all
                S.append([])
                L.append([])
            continue
        segs, labs = half_open_segments(a)
        if not segs or any(lab not in classes for lab in labs):
            continue
        P.append(np.repeat(probs, s.snippet_len, axis=0))
        S.append(segs)
        L.append(labs)
    if not P:
        raise VadkitError(f"{ann.name}: no abnormal video with labelled segments to compute mAP@IoU")
    return detection_map(P, S, L, classes, convention=s.map_convention, snippet_len=s.snippet_len)


def random_baseline_map(ann, classes: list[str], s: EvalSettings, seed: int = 0, map_videos: str | None = None) -> dict:
    """mAP@IoU of uniform random class probabilities (the 'Random Baseline' row of Ex-VAD Tables 1-2)."""
    rng = np.random.default_rng(seed)
    preds = {}
    for vid, a in ann.items():
        n = max(1, int(np.ceil((a.num_frames or s.snippet_len) / s.snippet_len)))
        p = rng.random((n, len(classes)))
        preds[vid] = {"class_probs": p / p.sum(1, keepdims=True)}
    return detection_metrics(preds, ann, classes, s, map_videos)


def region_metrics(preds: Mapping[str, VideoPrediction], ann, *, beta: float = 0.1, alpha: float = 0.1) -> dict:
    """RBDC / TBDC of the predicted ``regions`` against the anomalous ground-truth tracks of ``ann``.

    Every video in ``preds`` counts towards the number of test frames (normal ones included).
    """
    from vadkit.metrics.spatial import rbdc_tbdc, tracks_table

    rows, frames = [], 0
    for vid, p in preds.items():
        frames += int(ann[vid].num_frames or 0)
        if p.regions is not None:
            for r in np.asarray(p.regions, dtype=np.float64).reshape(-1, 6):
                rows.append((vid, *r.tolist()))
    gt = tracks_table(ann.filter(lambda a: a.video_id in preds))
    det = np.array(rows, dtype=object).reshape(-1, 7)
    rbdc, tbdc = rbdc_tbdc(gt, det, frames, beta=beta, alpha=alpha)
    return {"rbdc": rbdc, "tbdc": tbdc}


def text_metrics(preds: Mapping[str, VideoPrediction], ann, backend: str = "sacrebleu") -> dict:
    """BLEU-4 (named ``backend``) of the explanations against the ground-truth explanations, videos with both."""
    from vadkit.metrics.text import bleu4

    hyp, ref = [], []
    for vid, p in preds.items():
        gt = getattr(ann[vid], "explanation", None)
        if p.explanation and gt:
            hyp.append(p.explanation)
            ref.append([gt])
    if not hyp:
        return {}
    return {f"bleu4/{backend}": float(bleu4(hyp, ref, backend=backend)), "n_text": len(hyp)}


def answer_metrics(preds: Mapping[str, VideoPrediction], truth: Mapping[str, Mapping[str, str]]) -> dict:
    """Yes/No accuracy and balanced accuracy of ``answers`` against ``truth[video][question]`` ("Yes"/"No")."""
    from vadkit.metrics.text import balanced_accuracy, yes_no_accuracy

    pred_list, true_list = [], []
    for vid, p in preds.items():
        for q, a in p.answers.items():
            if vid in truth and q in truth[vid]:
                pred_list.append(a)
                true_list.append(truth[vid][q])
    if not pred_list:
        return {}
    return {"yes_no/accuracy": yes_no_accuracy(pred_list, true_list),
            "yes_no/balanced_accuracy": balanced_accuracy(pred_list, true_list)}


def evaluate(preds: Mapping[str, VideoPrediction], ann, s: EvalSettings, *, classes: list[str] | None = None,
             streams: list[str] | None = None) -> dict:
    """Every metric the predictions support (module docstring); keys ``<stream>/auc_o``, ``map/avg``, ``rbdc``..."""
    out: dict[str, float] = {}
    first = next(iter(preds.values()))
    for name in (streams if streams is not None else list(first.scores)):
        m = frame_metrics(preds, ann, name, s)
        out[f"{name}/auc_o"], out[f"{name}/auc_a"], out[f"{name}/ap"] = m["auc_o"], m["auc_a"], m["ap_step"]
    if first.class_probs is not None and classes is not None:
        out.update({f"map/{k}": v for k, v in detection_metrics(preds, ann, classes, s).items()
                    if not isinstance(v, dict)})
    if first.regions is not None:
        out.update(region_metrics(preds, ann))
    if first.explanation is not None:
        out.update(text_metrics(preds, ann))
    return out
