"""Frame-level metrics: ground-truth builders, snippet-to-frame expansion, ROC-AUC and AP.

Every convention the reference repositories use is a named option (see ``../shared/reference/metrics.md``
and chapter 01). Nothing here guesses: when ground truth and scores disagree in length and no alignment
policy was named, :class:`~vadkit.errors.LengthMismatchError` says by how much and for which video.

Ground-truth conventions (:data:`GT_CONVENTIONS`, argument ``gt_convention``)
------------------------------------------------------------------------------
==============  =========================================================================================
name            definition (who uses it)
==============  =========================================================================================
``exact``       shipped per-frame labels where present, else segments under the dataset's documented end
                convention; length = true frame count. vadkit's default: the truth, no lineage artefact.
``frame_labels`` shipped per-frame labels only (ShanghaiTech ``test_frame_mask``, SynthVAD); error if absent.
``vadclip``     VadCLIP / RTFM / DeepMIL ``make_gt_*.py``: length = 16 x #feature snippets (taken from the
                score count, not the video), ``gt[s:e] = 1`` (end exclusive), ``-1`` pairs skipped.
``rtfm``        alias of ``vadclip``.
``off_by_16``   the same, but the length computed from the video as ``16 * ((N - 1) // 16)``, the snippet
                count of the VadCLIP/RTFM/XDVioDet extractors: videos whose frame count divides by 16 lose
                their last 16 frames (1,109,680 instead of 1,109,824 frames on UCF test).
``xdviodet``    XDVioDet: drop the last frame, then ``(N - 1) % 16`` more (same length as ``off_by_16``).
``lavad``       LAVAD ``src/eval.py``: true frame count, ``start <= t <= end`` (end inclusive).
``vad_llama``   VAD-LLaMA ``evaluate_result``: true frame count, end exclusive, a segment only counts if
                ``start > 0``.
``vera``        VERA ``compute_auc.py``: length from the annotation, end clipped to it, end exclusive.
==============  =========================================================================================

Snippet-to-frame expansion (argument ``expand``)
------------------------------------------------
``none`` (scores are already per frame), ``repeat`` (``np.repeat(s, 16)``: VadCLIP, RTFM, LAVAD),
``nearest`` (frame ``t`` takes snippet ``int(t * S / N + 0.5)``: VAD-LLaMA's stretching), ``window_mean``
(nearest stretching, then the mean over ``windows`` equal windows is given to every frame of the window:
VAD-LLaMA's 32-window smoothing), ``linear`` (linear interpolation between snippet centres).

Alignment when lengths still differ (argument ``align``)
--------------------------------------------------------
``error`` (default), ``cut`` (scores cut to the ground-truth length; shorter scores are an error: LAVAD),
``truncate`` (both cut to the shorter: what ``zip``/slicing in many scripts does silently), ``pad_edge``
(scores cut, or padded with their last value).

AUC and AP
----------
ROC-AUC is the Mann-Whitney statistic on average ranks, equal to sklearn's ``roc_auc_score`` and to
``roc_curve`` + ``auc`` (both used in the lineages; the tests check the equality) but cheap enough to call
once per video for macro AUC.
AP has two estimators, named: ``step`` (sklearn ``average_precision_score``, the step sum
``sum_n (R_n - R_{n-1}) P_n``: VadCLIP) and ``trapezoid`` (``auc(recall, precision)`` on
``precision_recall_curve``: XDVioDet, LAVAD, VERA). The trapezoid estimator interpolates linearly
between PR points and is optimistic; the two differ by up to a few points on XD-Violence.

Micro vs macro AUC (argument ``policy`` of :func:`macro_auc`)
-------------------------------------------------------------
Micro: all frames concatenated, one AUC (= AUC_O). Macro: mean of per-video AUCs; a video holding a single
class has no AUC, and the lineages differ in what they do with it:

* ``ubnormal`` (UBnormal ``compute_auc_score.py``; T-VAD reports it): every video is padded with a normal
  frame of score 0 in front and an abnormal frame of score 1 at the end;
* ``sspcab``: the same (0, 0) / (1, 1) padding, applied only to the videos that hold a single class;
* ``ssmtl`` (AED-SSMTL): one normal frame with score 0 is prepended only to videos without normal frames;
  all-normal videos stay undefined and are left out (vadkit's choice: the AUC does not exist);
* ``skip``: single-class videos are left out of the mean.

The padding policies assume scores in [0, 1] (those repositories min-max normalise per video); with other
scales the padded frames are not the extremes they are meant to be, so pass ``normalize="minmax"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation
from vadkit.errors import AnnotationError, ConfigError, LengthMismatchError, ScoreError

# ----------------------------------------------------------------------------------------------------------
# conventions


@dataclass(frozen=True)
class GTConvention:
    """How one lineage turns published annotations into a frame-level 0/1 array.

    * ``end``: ``"annotated"`` (the segment's own ``end_inclusive``), ``"inclusive"`` or ``"exclusive"``;
    * ``length``: ``"video"`` (N), ``"features"`` (``snippet_len * S``, S = number of snippet scores),
      ``"floor"`` (``snippet_len * (N // snippet_len)``) or ``"off_by_16"`` (``snippet_len * ((N - 1) // snippet_len)``);
    * ``frame_labels``: ``"prefer"`` shipped per-frame labels, ``"require"`` them, or ``"ignore"`` them;
    * ``positive_start_only``: a segment counts only if ``start > 0`` (VAD-LLaMA);
    * ``used_by``: who computes it this way.
    """

    name: str
    end: str = "annotated"
    length: str = "video"
    frame_labels: str = "prefer"
    positive_start_only: bool = False
    used_by: str = ""


GT_CONVENTIONS: dict[str, GTConvention] = {
    c.name: c
    for c in [
        GTConvention("exact", "annotated", "video", "prefer", False, "vadkit default (the truth)"),
        GTConvention("frame_labels", "annotated", "video", "require", False, "ShanghaiTech masks, SynthVAD"),
        GTConvention("vadclip", "exclusive", "features", "ignore", False, "VadCLIP, RTFM, DeepMIL, Ex-VAD"),
        GTConvention("rtfm", "exclusive", "features", "ignore", False, "alias of vadclip"),
        GTConvention("off_by_16", "exclusive", "off_by_16", "ignore", False, "VadCLIP/RTFM extractor count"),
        GTConvention("xdviodet", "exclusive", "off_by_16", "ignore", False, "XDVioDet"),
        GTConvention("lavad", "inclusive", "video", "ignore", False, "LAVAD"),
        GTConvention("vad_llama", "exclusive", "video", "ignore", True, "VAD-LLaMA (VADor)"),
        GTConvention("vera", "exclusive", "video", "ignore", False, "VERA"),
    ]
}

class UndefinedMetricWarning(UserWarning):
    """A metric is NaN because it does not exist for this input (e.g. AUC_O of an all-normal test split)."""


EXPAND_METHODS = ("none", "repeat", "nearest", "window_mean", "linear")
ALIGN_POLICIES = ("error", "cut", "truncate", "pad_edge")
MACRO_POLICIES = ("ubnormal", "sspcab", "ssmtl", "skip")
AP_ESTIMATORS = ("step", "trapezoid")


def _choice(name: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {allowed}")
    return value


def get_gt_convention(convention: str | GTConvention) -> GTConvention:
    """Look a convention up by name (or pass a :class:`GTConvention` through)."""
    if isinstance(convention, GTConvention):
        return convention
    _choice("gt_convention", convention, GT_CONVENTIONS)
    return GT_CONVENTIONS[convention]


# ----------------------------------------------------------------------------------------------------------
# validation


def check_scores(scores, video_id: str = "scores", *, ndim: int = 1) -> np.ndarray:
    """Return ``scores`` as float64 with ``ndim`` dims; NaN/inf or a wrong shape raise :class:`ScoreError`."""
    arr = np.asarray(scores, dtype=np.float64)
    if ndim == 1 and arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)  # [T, 1] column vectors are common model outputs
    if arr.ndim != ndim:
        raise ScoreError(f"{video_id}: expected a {ndim}-d score array, got shape {arr.shape}")
    if arr.size == 0:
        raise ScoreError(f"{video_id}: empty score array")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(-1))[0])
        raise ScoreError(f"{video_id}: {int(bad.sum())} non-finite score(s) (NaN/inf), first at flat index {first}")
    return arr


def _check_labels(labels, name: str = "labels") -> np.ndarray:
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ScoreError(f"{name}: expected a 1-d 0/1 array, got shape {lab.shape}")
    if lab.size and not np.isin(lab, (0, 1)).all():
        raise ScoreError(f"{name}: labels must be 0/1, got values {np.unique(lab)[:5].tolist()}")
    return lab.astype(np.uint8)


def _pair(labels, scores, name: str = "frames") -> tuple[np.ndarray, np.ndarray]:
    lab = _check_labels(labels, name)
    sc = check_scores(scores, name)
    if len(lab) != len(sc):
        raise LengthMismatchError(f"{name}: {len(lab)} labels but {len(sc)} scores (difference {len(sc) - len(lab):+d})")
    return lab, sc


# ----------------------------------------------------------------------------------------------------------
# ground truth


def gt_length(num_frames: int | None, convention: str | GTConvention = "exact", *, n_snippets: int | None = None,
              snippet_len: int = 16, video_id: str = "video") -> int:
    """Length of the ground-truth array under a convention's ``length`` rule."""
    conv = get_gt_convention(convention)
    if conv.length == "features":
        if n_snippets is None:
            raise ConfigError(f"{video_id}: gt_convention {conv.name!r} takes its length from the feature count; "
                              "pass n_snippets (the number of snippet scores)")
        return int(snippet_len * n_snippets)
    if num_frames is None:
        raise AnnotationError(f"{video_id}: gt_convention {conv.name!r} needs the video's frame count, "
                              "but the annotation has num_frames=None")
    n = int(num_frames)
    if conv.length == "video":
        return n
    if conv.length == "floor":
        return snippet_len * (n // snippet_len)
    if conv.length == "off_by_16":
        return snippet_len * (max(n - 1, 0) // snippet_len)
    raise ConfigError(f"unknown length rule {conv.length!r} in gt convention {conv.name!r}")


def build_frame_gt(ann: VideoAnnotation, convention: str | GTConvention = "exact", *, n_snippets: int | None = None,
                   snippet_len: int = 16) -> np.ndarray:
    """Frame-level ground truth ``[L]`` uint8 of one video under a named convention.

    ``L`` follows the convention's length rule (see :func:`gt_length`). Segments are taken as published;
    ``start < 0`` (UCF's ``-1`` placeholder) is skipped; ends past ``L`` are clipped, which is exactly
    how every lineage truncates. Shipped ``frame_labels`` are used where the convention prefers them
    (and cut or zero-padded to ``L`` when a length rule other than ``video`` shortens them).
    """
    conv = get_gt_convention(convention)
    length = gt_length(ann.num_frames if ann.num_frames is not None else
                       (len(ann.frame_labels) if ann.frame_labels is not None else None),
                       conv, n_snippets=n_snippets, snippet_len=snippet_len, video_id=ann.video_id)
    if conv.frame_labels == "require" and ann.frame_labels is None:
        raise AnnotationError(f"{ann.video_id}: gt_convention 'frame_labels' needs shipped per-frame labels, "
                              "and this annotation has none (use 'exact' or a segment-based convention)")
    if conv.frame_labels != "ignore" and ann.frame_labels is not None:
        fl = _check_labels(np.asarray(ann.frame_labels).reshape(-1), f"{ann.video_id} frame_labels")
        gt = np.zeros(length, dtype=np.uint8)
        gt[: min(length, len(fl))] = fl[:length]
        return gt
    gt = np.zeros(length, dtype=np.uint8)
    for seg in ann.segments:
        if seg.start < 0:
            continue
        if conv.positive_start_only and seg.start <= 0:
            continue
        if conv.end == "annotated":
            if seg.end_inclusive is None:
                raise AnnotationError(
                    f"{ann.video_id}: segment {seg.start}-{seg.end} does not say whether its end is inclusive; "
                    "name a lineage convention (e.g. 'vadclip' exclusive, 'lavad' inclusive)")
            inclusive = seg.end_inclusive
        else:
            inclusive = conv.end == "inclusive"
        stop = min(seg.end + 1 if inclusive else seg.end, length)
        if stop > seg.start:
            gt[seg.start:stop] = 1
    return gt


# ----------------------------------------------------------------------------------------------------------
# snippet -> frame expansion and alignment


def video_centred_gaussian(scores, *, sigma_fraction: float = 0.5, round_to: float | None = 0.1) -> np.ndarray:
    """VERA's score prior (``compute_auc.py``), a convention of that evaluation, not of the method: frame scores
    ``[T]`` are rounded to ``round_to`` (0.1; ``None`` = not rounded) and multiplied by a Gaussian centred on the
    video's middle, ``exp(-(t - c)^2 / (2 sigma^2))`` with ``c = (T - 1) / 2`` and ``sigma = sigma_fraction * T``.

    It raises the middle of every video relative to its ends, which helps wherever anomalies sit mid-video (as in
    UCF-Crime's trimmed test videos) whatever the scores say; report numbers with and without it.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"frame scores must be [T], got shape {s.shape}")
    if round_to:
        s = np.round(s / round_to) * round_to
    n = len(s)
    if n == 0:
        return s
    t = np.arange(n, dtype=np.float64)
    sigma = max(sigma_fraction * n, 1e-12)
    return s * np.exp(-((t - (n - 1) / 2.0) ** 2) / (2.0 * sigma ** 2))


def expand_scores(scores, method: str = "repeat", *, snippet_len: int = 16, num_frames: int | None = None,
                  windows: int = 32, video_id: str = "scores") -> np.ndarray:
    """Snippet scores ``[S]`` to frame scores.

    * ``none``: returned as is; ``repeat``: ``[S * snippet_len]`` (``num_frames`` ignored);
    * ``nearest``, ``window_mean``, ``linear``: ``[num_frames]`` (default ``S * snippet_len``).
      ``nearest`` maps frame ``t`` to snippet ``min(int(t * S / N + 0.5), S - 1)``; ``window_mean`` then
      averages over ``windows`` equal windows; ``linear`` interpolates between snippet centres
      ``(s + 0.5) * N / S``.
    """
    _choice("expand", method, EXPAND_METHODS)
    s = check_scores(scores, video_id)
    if method == "none":
        return s
    if method == "repeat":
        return np.repeat(s, snippet_len)
    n = int(num_frames) if num_frames is not None else len(s) * snippet_len
    if n <= 0:
        raise ScoreError(f"{video_id}: cannot expand to {n} frames")
    if method == "linear":
        centres = (np.arange(len(s)) + 0.5) * n / len(s)
        return np.interp(np.arange(n) + 0.5, centres, s)
    idx = np.minimum((np.arange(n) * (len(s) / n) + 0.5).astype(np.int64), len(s) - 1)
    frame = s[idx]
    if method == "nearest":
        return frame
    edges = np.unique(np.linspace(0, n, min(windows, n) + 1).astype(np.int64))
    sums = np.add.reduceat(frame, edges[:-1])
    means = sums / np.diff(edges)
    return np.repeat(means, np.diff(edges))


def align_lengths(gt: np.ndarray, scores: np.ndarray, policy: str = "error", *,
                  video_id: str = "video") -> tuple[np.ndarray, np.ndarray]:
    """Make ``gt`` ``[L]`` and ``scores`` ``[M]`` equally long under a named policy (module docstring)."""
    _choice("align", policy, ALIGN_POLICIES)
    L, M = len(gt), len(scores)
    if L == M:
        return gt, scores
    what = (f"{video_id}: ground truth has {L} frames, scores have {M} "
            f"({'+' if M > L else ''}{M - L} frames{', ' + format(abs(M - L) / 16, 'g') + ' snippets of 16' if (M - L) % 16 == 0 else ''})")
    if policy == "error":
        raise LengthMismatchError(what + "; name an alignment policy (align='cut' | 'truncate' | 'pad_edge') "
                                  "or a ground-truth convention whose length matches")
    if policy == "cut":
        if M < L:
            raise LengthMismatchError(what + "; align='cut' only shortens scores")
        return gt, scores[:L]
    if policy == "truncate":
        n = min(L, M)
        return gt[:n], scores[:n]
    # pad_edge
    if M > L:
        return gt, scores[:L]
    return gt, np.concatenate([scores, np.full(L - M, scores[-1])])


def frame_arrays(scores: Mapping[str, np.ndarray], annotations: DatasetAnnotations | Mapping[str, VideoAnnotation], *,
                 gt_convention: str | GTConvention = "exact", expand: str = "repeat", snippet_len: int = 16,
                 align: str = "error", windows: int = 32, missing: str = "warn") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-video ``(gt [L] uint8, frame scores [L] float64)`` pairs, ready for any frame metric.

    ``scores[video_id]`` holds per-frame (``expand="none"``) or per-snippet scores ``[S]``. Videos of
    ``annotations`` without scores: ``missing="error"`` raises, ``"warn"`` warns with the count, ``"ignore"``.
    A score key unknown to the annotations raises :class:`~vadkit.errors.AnnotationError`.
    """
    _choice("missing", missing, ("error", "warn", "ignore"))
    conv = get_gt_convention(gt_convention)
    _choice("expand", expand, EXPAND_METHODS)
    if not scores:
        raise ScoreError("no scores given (empty mapping)")
    name = getattr(annotations, "name", "annotations")
    unknown = [k for k in scores if k not in annotations]
    if unknown:
        raise AnnotationError(f"{name}: {len(unknown)} scored video(s) have no annotation, e.g. {unknown[:3]}")
    absent = [k for k in annotations if k not in scores]
    if absent and missing == "error":
        raise ScoreError(f"{name}: {len(absent)} annotated video(s) have no scores, e.g. {absent[:3]}")
    if absent and missing == "warn":
        warnings.warn(f"{name}: evaluating {len(scores)} of {len(annotations)} videos; "
                      f"{len(absent)} without scores, e.g. {absent[:3]}", stacklevel=3)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for vid in annotations:
        if vid not in scores:
            continue
        ann = annotations[vid]
        raw = check_scores(scores[vid], vid)
        gt = build_frame_gt(ann, conv, n_snippets=len(raw), snippet_len=snippet_len)
        fr = expand_scores(raw, expand, snippet_len=snippet_len, num_frames=len(gt), windows=windows, video_id=vid)
        out[vid] = align_lengths(gt, fr, align, video_id=vid)
    return out


# ----------------------------------------------------------------------------------------------------------
# estimators


def roc_auc(labels, scores, *, undefined: str = "nan") -> float:
    """ROC-AUC of 0/1 ``labels`` ``[N]`` vs ``scores`` ``[N]``; ties count 1/2.

    Computed as the Mann-Whitney statistic on average ranks (``scipy.stats.rankdata``),
    ``AUC = (sum of positive ranks - n1 (n1 + 1) / 2) / (n1 n0)``, which equals sklearn's
    ``roc_auc_score`` and ``auc(roc_curve(...))`` (the tests check it) at a fraction of the per-call cost
    (macro AUC calls it once per video). With a single class the AUC does not exist: ``undefined="nan"``
    returns NaN, ``"warn"`` returns NaN with an :class:`UndefinedMetricWarning` saying why, ``"raise"``
    raises :class:`~vadkit.errors.ScoreError`.
    """
    from scipy.stats import rankdata

    _choice("undefined", undefined, ("nan", "warn", "raise"))
    lab, sc = _pair(labels, scores)
    if lab.min(initial=1) == lab.max(initial=0):
        why = (f"ROC-AUC undefined: all {len(lab)} frames have label {int(lab[0]) if len(lab) else '-'} "
               f"(an AUC needs both normal and abnormal frames)")
        if undefined == "raise":
            raise ScoreError(why)
        if undefined == "warn":
            warnings.warn(why + "; returning NaN", UndefinedMetricWarning, stacklevel=2)
        return float("nan")
    ranks = rankdata(sc)
    pos = lab == 1
    n1 = int(pos.sum())
    n0 = len(lab) - n1
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def average_precision(labels, scores, estimator: str = "step", *, undefined: str = "nan") -> float:
    """Average precision of the positive class.

    ``step``: ``sum_n (R_n - R_{n-1}) P_n`` (sklearn ``average_precision_score``; VadCLIP).
    ``trapezoid``: area under the PR curve by the trapezoid rule (``auc(recall, precision)``; XDVioDet,
    LAVAD, VERA). No positives: NaN (or raise).
    """
    return average_precisions(labels, scores, (estimator,), undefined=undefined)[estimator]


def average_precisions(labels, scores, estimators=AP_ESTIMATORS, *, undefined: str = "nan") -> dict[str, float]:
    """Several AP estimators from one sklearn ``precision_recall_curve``: ``step`` is
    ``-sum(diff(recall) * precision[:-1])`` (exactly sklearn's ``average_precision_score``), ``trapezoid``
    is ``auc(recall, precision)``."""
    from sklearn.metrics import auc, precision_recall_curve

    for e in estimators:
        _choice("estimator", e, AP_ESTIMATORS)
    lab, sc = _pair(labels, scores)
    if lab.sum() == 0:
        if undefined == "raise":
            raise ScoreError("average precision undefined: no positive frames")
        return {e: float("nan") for e in estimators}
    precision, recall, _ = precision_recall_curve(lab, sc)
    out = {}
    for e in estimators:
        if e == "step":
            out[e] = float(-np.sum(np.diff(recall) * np.asarray(precision)[:-1]))
        else:
            out[e] = float(auc(recall, precision))
    return out


def _concat(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not pairs:
        raise ScoreError("no videos to evaluate")
    gts, scs = zip(*pairs.values())
    return np.concatenate(gts), np.concatenate(scs)


def micro_auc(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], *, undefined: str = "warn") -> float:
    """AUC over all frames of all videos concatenated (AUC_O, "micro"); NaN with a warning when every frame
    has one label (``undefined`` as in :func:`roc_auc`)."""
    return roc_auc(*_concat(pairs), undefined=undefined)


def _minmax(s: np.ndarray) -> np.ndarray:
    lo, hi = s.min(), s.max()
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def per_video_auc(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], policy: str = "ubnormal", *,
                  normalize: str = "none") -> dict[str, float]:
    """Per-video AUCs under a single-class ``policy`` (module docstring); NaN where undefined."""
    _choice("policy", policy, MACRO_POLICIES)
    _choice("normalize", normalize, ("none", "minmax"))
    out = {}
    for vid, (gt, sc) in pairs.items():
        sc = _minmax(sc) if normalize == "minmax" else sc
        has0, has1 = bool((gt == 0).any()), bool((gt == 1).any())
        if policy == "ubnormal" or (policy == "sspcab" and not (has0 and has1)):
            gt = np.concatenate([[0], gt, [1]])
            sc = np.concatenate([[0.0], sc, [1.0]])
        elif policy == "ssmtl" and not has0:
            gt = np.concatenate([[0], gt])
            sc = np.concatenate([[0.0], sc])
        out[vid] = roc_auc(gt, sc)
    return out


def macro_auc(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], policy: str = "ubnormal", *,
              normalize: str = "none") -> float:
    """Mean of per-video AUCs (videos whose AUC stays undefined under ``policy`` are left out)."""
    vals = np.array(list(per_video_auc(pairs, policy, normalize=normalize).values()), dtype=float)
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if len(vals) else float("nan")


def abnormal_video_ids(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """Videos whose (built) ground truth contains a 1: the set AUC_A is computed on."""
    return [vid for vid, (gt, _) in pairs.items() if gt.any()]


def class_wise_auc_a(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
                     annotations: Mapping[str, VideoAnnotation]) -> dict[str, float]:
    """AUC_A restricted to the abnormal videos of each class (VAD-LLaMA Fig. 6); multi-label videos count
    in each of their classes. Returns ``{class: auc}`` in sorted class order."""
    by_class: dict[str, dict] = {}
    for vid in abnormal_video_ids(pairs):
        ann = annotations[vid]
        classes = ann.classes or tuple(sorted({s.label for s in ann.segments if s.label})) or ("unknown",)
        for c in classes:
            by_class.setdefault(c, {})[vid] = pairs[vid]
    return {c: micro_auc(by_class[c], undefined="nan") for c in sorted(by_class)}


def evaluate_frame_level(scores: Mapping[str, np.ndarray], annotations: DatasetAnnotations, *,
                         gt_convention: str | GTConvention = "exact", expand: str = "repeat",
                         snippet_len: int = 16, align: str = "error", windows: int = 32,
                         macro_policy: str = "ubnormal", per_class: bool = True,
                         missing: str = "warn") -> dict[str, float | int]:
    """All frame-level numbers the papers report, under named conventions. Stable API.

    Args:
        scores: ``{video_id: [S] snippet scores}`` (or ``[T]`` frame scores with ``expand="none"``).
        annotations: the test split (:class:`~vadkit.data.annotations.DatasetAnnotations`).
        gt_convention: a name of :data:`GT_CONVENTIONS` (default ``"exact"``; ``"vadclip"`` for the
            VadCLIP/RTFM/Ex-VAD lineage, ``"lavad"``, ``"vad_llama"``, ...).
        expand: snippet-to-frame expansion (``none | repeat | nearest | window_mean | linear``).
        snippet_len: frames per snippet (16 for I3D/CLIP lineages).
        align: what to do when lengths still differ (``error`` by default).
        macro_policy: single-class policy of the macro AUC (``ubnormal | sspcab | ssmtl | skip``).
        per_class: add ``"auc_a/<class>"`` entries (class-wise AUC_A).
        missing: annotated videos without scores: ``error | warn | ignore``.

    Returns:
        flat dict: ``auc_o`` (micro AUC, all videos), ``auc_a`` (abnormal videos only), ``ap_step``,
        ``ap_trapezoid`` (both AP estimators, all videos), ``macro_auc``, ``auc_a/<class>`` (floats; NaN
        where undefined) and ``n_videos``, ``n_abnormal_videos``, ``n_frames`` (ints).

    Every NaN comes with one :class:`UndefinedMetricWarning` naming the metrics and why they do not exist
    (an all-normal test split has no AUC_O, AUC_A or AP; an all-abnormal one no AUC), never silently.
    """
    _choice("macro_policy", macro_policy, MACRO_POLICIES)
    pairs = frame_arrays(scores, annotations, gt_convention=gt_convention, expand=expand, snippet_len=snippet_len,
                         align=align, windows=windows, missing=missing)
    gt, sc = _concat(pairs)
    abn = abnormal_video_ids(pairs)
    res: dict[str, float | int] = {
        "auc_o": roc_auc(gt, sc),
        "auc_a": micro_auc({v: pairs[v] for v in abn}, undefined="nan") if abn else float("nan"),
        **{f"ap_{k}": v for k, v in average_precisions(gt, sc).items()},
        "macro_auc": macro_auc(pairs, macro_policy),
    }
    if per_class:
        for c, v in class_wise_auc_a(pairs, annotations).items():
            res[f"auc_a/{c}"] = v
    res.update(n_videos=len(pairs), n_abnormal_videos=len(abn), n_frames=int(len(gt)))
    nan = [k for k, v in res.items() if isinstance(v, float) and np.isnan(v)]
    if nan:
        n_pos = int(gt.sum())
        if n_pos == 0:
            why = (f"the {len(pairs)} evaluated videos hold no abnormal frame (an all-normal test split under "
                   f"gt_convention={getattr(gt_convention, 'name', gt_convention)!r}): AUC and AP need abnormal frames")
        elif n_pos == len(gt):
            why = f"every one of the {len(gt)} frames is abnormal: an AUC needs normal frames too"
        else:
            why = "their videos hold a single class (e.g. a class whose abnormal videos have no normal frame)"
        warnings.warn(f"{', '.join(nan)} undefined (NaN): {why}", UndefinedMetricWarning, stacklevel=2)
    return res
