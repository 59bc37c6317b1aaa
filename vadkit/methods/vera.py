"""VERA (Ye et al., *Explainable Video Anomaly Detection via Verbalized Learning of Vision-Language Models*,
CVPR 2025).

VERA keeps the VLM frozen and learns *text*: a small set of guiding questions ``Q`` is the parameter.

* **Training** (verbalized learning): a *learner* answers the questions on training videos and predicts each
  video's label; an *optimizer* model reads the errors against the video-level labels and rewrites ``Q``; a fixed
  number of epochs, a batch of videos per step.
* **Inference**: (1) segment-level scores from the learned questions; (2) *scene context*: each segment's score is
  the softmax-weighted mean of the scores of its ``k`` nearest segments of the video by visual feature
  (:func:`vadkit.methods.knn.softmax_refine`); (3) *temporal context*: Gaussian smoothing over segments
  (:func:`gaussian_smooth`); (4) frame scores by repetition. VERA's own evaluation (``compute_auc.py``)
  then rounds the scores to 0.1 and multiplies them by a Gaussian centred on the video's middle (sigma = half
  the length): :func:`vadkit.metrics.frame.video_centred_gaussian` names that convention; chapter 31 reports
  both.

What vadkit does where a tiny model cannot do what the paper's 8B VLMs do (each stated in chapter 31):

* the learner is the instruction-following tiny LLM answering each question over the segment's timed captions
  (a captioner + LLM stand in for the VLM); its answer is read as ``p(yes)``: the softmax of the teacher-forced
  log-probabilities of ``"Yes."`` and ``"No."`` (:func:`p_yes`); a segment's score is the mean over the questions;
* the optimizer is a **search over a question pool**: each step scores every one-question replacement of ``Q`` on
  the batch by its errors on the video-level labels, counted as mis-ordered (abnormal, normal) video pairs
  (``1 - AUC``: errors that do not hinge on where the tiny model's ``p(yes)`` is calibrated), ties broken by the
  thresholded errors (``video score > 0.5``), and takes the best one, so the questions change every epoch; the
  epoch is chosen on validation, where epoch 0 (the initial questions) competes.

Shapes: one video has ``S`` segments; answers ``P [S, |pool|]`` (``p(yes)`` of every pool question).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: The learner's request for one question; the zoo LLM's trained yes/no wording (template 0) with the question.
QUESTION_TEMPLATE = "Captions of a surveillance clip:\n{captions}\n{question} Answer yes or no."
ANSWERS = ("Yes.", "No.")

#: VERA's starting point: generic questions (VERA initialises with simple, general questions).
INITIAL_QUESTIONS = (
    "Does anything anomalous happen?",
    "Is there any suspicious activity?",
    "Is anyone behaving unusually?",
)

#: The search space of the optimizer (written by us from the kinds of events a surveillance scene holds, as an
#: optimizer VLM proposes from the training errors' content; it never reads a test video).
QUESTION_POOL = INITIAL_QUESTIONS + (
    "Does a vehicle drive where people walk?",
    "Does a person fall to the ground?",
    "Do people fight or push each other?",
    "Does someone run away suddenly?",
    "Does a vehicle move against the traffic?",
    "Does someone steal or snatch a bag?",
    "Does a person linger or pace back and forth?",
    "Is there a crash or a collision?",
    "Does someone lie on the ground?",
)


def question_prompt(captions: str, question: str) -> str:
    return QUESTION_TEMPLATE.format(captions=captions, question=question.strip())


def p_yes(logprobs: Sequence[float]) -> float:
    """``p("Yes.")`` normalised over the two answers, from their log-probabilities ``[2]``."""
    lp = np.asarray(logprobs, dtype=np.float64)
    m = lp.max()
    e = np.exp(lp - m)
    return float(e[0] / e.sum())


def segment_scores(answers: np.ndarray, questions: Sequence[int]) -> np.ndarray:
    """``[S]``: mean ``p(yes)`` over the chosen questions (column indices of ``answers [S, |pool|]``)."""
    a = np.asarray(answers, dtype=np.float64)
    return a[:, list(questions)].mean(axis=1)


def video_score(seg: np.ndarray, topk_divisor: int = 4) -> float:
    """A video's score: the mean of its top ``S // topk_divisor + 1`` segment scores."""
    x = np.sort(np.asarray(seg, dtype=np.float64))[::-1]
    return float(x[:len(x) // topk_divisor + 1].mean())


def objective(answers: dict, labels: dict, questions: Sequence[int], videos: Sequence[str],
              threshold: float = 0.5) -> tuple[int, float]:
    """``(errors, AUC)`` of the video-level predictions ``video_score > threshold`` on ``videos``."""
    from vadkit.metrics import roc_auc

    s = np.array([video_score(segment_scores(answers[v], questions)) for v in videos])
    y = np.array([int(labels[v]) for v in videos])
    errors = int(((s > threshold).astype(int) != y).sum())
    auc = roc_auc(y, s) if 0 < y.sum() < len(y) else float("nan")
    return errors, float(auc)


@dataclass
class Epoch:
    epoch: int
    questions: list[int]
    errors: int
    batch_auc: float
    changed: str = ""
    history: list = field(default_factory=list)


def search_questions(answers: dict, labels: dict, initial: Sequence[int], pool_size: int, *, epochs: int,
                     batch_size: int, seed: int, threshold: float = 0.5) -> list[Epoch]:
    """The optimizer as a search over the pool: ``epochs`` steps, each on a batch of training videos drawn with
    ``numpy.random.default_rng(seed)``; each step takes the best one-question replacement of the current set
    (highest batch AUC = fewest mis-ordered pairs, then fewest thresholded errors, then pool order). Returns
    epoch 0 (the initial
    questions) and one :class:`Epoch` per step."""
    rng = np.random.default_rng(seed)
    ids = sorted(answers)
    q = list(initial)
    e0, a0 = objective(answers, labels, q, ids, threshold)
    out = [Epoch(0, list(q), e0, a0, "initial questions (errors / AUC on all training videos)")]
    for ep in range(1, epochs + 1):
        batch = list(rng.choice(ids, size=min(batch_size, len(ids)), replace=False))
        best = None
        for pos in range(len(q)):
            for cand in range(pool_size):
                if cand in q:
                    continue
                new = q[:pos] + [cand] + q[pos + 1:]
                err, auc = objective(answers, labels, new, batch, threshold)
                key = (-(auc if np.isfinite(auc) else 0.0), err, pos, cand)
                if best is None or key < best[0]:
                    best = (key, new, pos, cand, err, auc)
        if best is None:                                     # pool exhausted: nothing to replace
            out.append(Epoch(ep, list(q), *objective(answers, labels, q, batch, threshold), "no candidate"))
            continue
        _, new, pos, cand, err, auc = best
        out.append(Epoch(ep, new, err, auc, f"question {pos + 1}: {q[pos]} -> {cand}"))
        q = new
    return out


def gaussian_smooth(x: Sequence[float], sigma: float) -> np.ndarray:
    """Temporal context: a Gaussian filter over the segment axis (``sigma`` in segments, edges reflected;
    ``sigma <= 0`` returns ``x``)."""
    a = np.asarray(x, dtype=np.float64)
    if sigma <= 0 or len(a) < 2:
        return a.copy()
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(a, sigma, mode="nearest")
