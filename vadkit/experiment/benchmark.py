"""The shared SynthVAD benchmark: one split that every method chapter also scores, read by the leaderboard.

SynthVAD v2's ``bench`` split (:func:`vadkit.data.synth.benchmark_dataset`; 66 videos of 300-420 frames at 15 fps,
one event per abnormal video) holds every anomaly type. Eight of them are **seen**: the smoke training splits hold
them. Three are **held out** (:data:`vadkit.data.synth.CONTEXT_TYPES`: illegal occupation, a pedestrian on the
road, an illegal turn): no chapter trains on them, as in UBnormal's open-set protocol, and the bench's normal
videos hold their hard negatives (cars that stop briefly, people crossing), which the smoke training videos never
show. A chapter trains and selects on its own splits, then applies its validation-selected model, unchanged, here.

Metric convention (chapter 01): exact frame ground truth (``gt_convention="exact"``: a frame is abnormal when the
generator says so); snippet scores are repeated over their frames (``expand="repeat"``) and the last score is held
over frames past the last full snippet (``align="pad_edge"``); frame scores (``expand="none"``) must cover every
frame, or be given at a frame stride (``stride``: the score of frame ``i * stride`` is held over the next
``stride - 1`` frames; the page says so). Numbers (fractions):

* ``auc_o`` - micro frame AUC over all bench videos (the leaderboard's headline);
* ``auc_seen`` / ``auc_heldout`` - the same over all normal videos plus the abnormal videos of the seen / the
  held-out types only (a detector that misses the held-out types scores near 0.5 on ``auc_heldout`` however good
  it is on the seen ones);
* ``ap`` - frame AP (step estimator) over all videos;
* ``auc_type/<type>`` - one type's abnormal videos with every normal video.

:func:`load_benchmark` gives ``None`` where a chapter runs on other data (full profile: a real dataset is the
benchmark; rehearsals: SynthVAD in a real layout) or with ``bench=False``, so a chapter's code path is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vadkit.errors import ConfigError

SPLIT = "bench"
DATASET = "synthvad"
#: the metrics of :func:`score` that become leaderboard rows, with their display names
HEADLINE_METRICS = (("auc_o", "AUC_O (all types)"), ("auc_seen", "AUC_O (seen types)"),
                    ("auc_heldout", "AUC_O (held-out types)"))


@dataclass
class Benchmark:
    """The bench split: ``ann`` (its :class:`~vadkit.data.annotations.DatasetAnnotations`, video paths attached),
    ``root``, and which anomaly types the smoke training splits hold (``seen``) and which they do not
    (``heldout``)."""

    ann: object
    root: Path
    seen: tuple[str, ...]
    heldout: tuple[str, ...]

    @property
    def video_ids(self) -> list[str]:
        return list(self.ann)

    def describe(self) -> str:
        n_abn = sum(a.is_anomalous for a in self.ann.values())
        frames = sum(int(a.num_frames or 0) for a in self.ann.values())
        return (f"shared SynthVAD benchmark: {len(self.ann)} videos ({n_abn} abnormal, {frames} frames); "
                f"seen types: {', '.join(self.seen)}; held-out types: {', '.join(self.heldout)}")


def load_benchmark(cfg=None, *, root=None) -> Benchmark | None:
    """The bench split, or ``None`` when ``cfg`` runs on another dataset or has ``bench=False`` (module
    docstring). ``root``: a bench tree already generated (default: the cached one, generated on first use)."""
    if cfg is not None and (getattr(cfg, "dataset", DATASET) != DATASET or not getattr(cfg, "bench", True)):
        return None
    from vadkit.data import synth
    from vadkit.data.datasets import load_dataset

    root = Path(synth.benchmark_dataset() if root is None else root)
    ann = load_dataset(DATASET, root).split(SPLIT)
    if not len(ann):
        raise ConfigError(f"{root}: no videos in split {SPLIT!r} (not a SynthVAD benchmark tree)")
    present = {c for a in ann.values() for c in a.classes if c != "normal"}
    heldout = tuple(t for t in synth.CONTEXT_TYPES if t in present)
    seen = tuple(t for t in synth.ANOMALY_TYPES if t in present)
    return Benchmark(ann, root, seen, heldout)


def features(bench: Benchmark, clip_name: str, *, snippet_len: int = 16, batch_size: int = 64, clip=None,
             threads: int = 0):
    """Frozen snippet features of the bench videos through the shared feature cache (:func:`vadkit.features.
    extract_dataset`; two chapters with the same encoder share one store): ``store.load(video_id) -> [T, D]``.
    ``threads``: torch CPU threads to restore afterwards (extraction raises them; 0 = leave them)."""
    from vadkit.features import extract_dataset

    store = extract_dataset(bench.ann, clip_name, snippet_len=snippet_len, batch_size=batch_size, clip=clip,
                            crop="center")
    if threads:
        import torch

        torch.set_num_threads(threads)
    return store


def hold_stride(scores: np.ndarray, stride: int, num_frames: int) -> np.ndarray:
    """``[ceil(N / stride)]`` scores of frames ``0, stride, 2 * stride, ...`` -> ``[N]`` frame scores, each held
    over the frames up to the next scored one."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    need = -(-num_frames // stride)
    if len(s) < need:
        raise ValueError(f"{len(s)} strided scores cannot cover {num_frames} frames at stride {stride} "
                         f"(need {need})")
    return np.repeat(s[:need], stride)[:num_frames]


def _subset_auc(gt: Mapping[str, np.ndarray], sc: Mapping[str, np.ndarray], ids: Sequence[str]) -> float:
    from vadkit.metrics import roc_auc

    if not ids:
        return float("nan")
    y = np.concatenate([gt[v] for v in ids])
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc(y, np.concatenate([sc[v] for v in ids])))


def score(bench: Benchmark, scores: Mapping[str, np.ndarray], *, expand: str = "repeat", snippet_len: int = 16,
          stride: int = 1) -> dict[str, float]:
    """The bench numbers (module docstring) of ``{video_id: scores}``: ``[S]`` snippet scores
    (``expand="repeat"``) or ``[T]`` frame scores (``expand="none"``; ``[ceil(T / stride)]`` with ``stride``).
    Every bench video must be scored."""
    from vadkit.metrics import average_precision
    from vadkit.metrics.frame import frame_arrays

    missing = [v for v in bench.ann if v not in scores]
    if missing:
        raise ValueError(f"bench: {len(missing)} of {len(bench.ann)} videos have no scores, e.g. {missing[:3]}")
    if stride > 1:
        if expand != "none":
            raise ConfigError("stride applies to frame scores (expand='none')")
        scores = {v: hold_stride(scores[v], stride, int(bench.ann[v].num_frames)) for v in bench.ann}
    scores = {v: np.asarray(scores[v], dtype=np.float64) for v in bench.ann}
    pairs = frame_arrays(scores, bench.ann, gt_convention="exact", expand=expand, snippet_len=snippet_len,
                         align="pad_edge", missing="error")
    gt = {v: np.asarray(g).astype(int) for v, (g, _) in pairs.items()}
    sc = {v: np.asarray(s, dtype=np.float64) for v, (_, s) in pairs.items()}
    normal = [v for v in gt if not bench.ann[v].is_anomalous]

    def of(types) -> list[str]:
        return normal + [v for v in gt if bench.ann[v].is_anomalous and set(bench.ann[v].classes) & set(types)]

    out = {"auc_o": _subset_auc(gt, sc, list(gt)), "auc_seen": _subset_auc(gt, sc, of(bench.seen)),
           "auc_heldout": _subset_auc(gt, sc, of(bench.heldout))}
    y = np.concatenate([gt[v] for v in gt])
    out["ap"] = float(average_precision(y, np.concatenate([sc[v] for v in gt])))
    for t in (*bench.seen, *bench.heldout):
        out[f"auc_type/{t}"] = _subset_auc(gt, sc, of([t]))
    return out


def score_runs(bench: Benchmark, runs, predict, *, expand: str = "repeat", snippet_len: int = 16,
               stride: int = 1) -> list[dict[str, float]]:
    """:func:`score` of every successful seed (failed seeds are skipped, as everywhere in the book):
    ``predict(run) -> {video_id: scores}`` applies that seed's validation-selected model and score stream,
    unchanged, to every bench video (``[S]`` snippet scores, or ``[T]`` / ``[ceil(T / stride)]`` frame scores
    with ``expand="none"``). Raises when no seed succeeded."""
    return [score(bench, predict(r), expand=expand, snippet_len=snippet_len, stride=stride)
            for r in _successful(runs, "bench")]


def require_all(failures: Mapping[str, str], n_videos: int, what: str) -> None:
    """Raise :class:`~vadkit.errors.VadkitError` ("bench: <what> <n> videos (of <N>), e.g. <first>: <message>")
    for any ``failures`` (``{video_id: message}``): every
    bench video must be scored, or the bench numbers are not comparable across methods."""
    if failures:
        from vadkit.errors import VadkitError

        v, msg = next(iter(failures.items()))
        raise VadkitError(f"bench: {what} {len(failures)} videos (of {n_videos}), e.g. {v}: {msg}")


def _successful(runs, what: str) -> list:
    ok = [r for r in runs if getattr(r, "ok", True)]
    if not ok:
        raise ValueError(f"{what}: no successful seed to score")
    return ok


def score_method(bench: Benchmark, method, runs, *, split: str = SPLIT) -> list[dict[str, float]]:
    """:func:`score_runs` for a runner method (:class:`vadkit.experiment.runner.Method`) whose data holds the
    bench as split ``split``: each seed's ``method.predict(run.model, split)`` (the same code that scored its
    validation and test videos), the stream ``run.selected`` chose on validation, repeated over the predictions'
    ``snippet_len`` frames. A bench video the method cannot score raises."""
    def one(r) -> dict[str, float]:
        preds, failures = method.predict(r.model, split)
        require_all(failures, len(bench.ann), f"{method.name} seed {r.seed} could not score")
        lens = {int(p.snippet_len) for p in preds.values()}
        if len(lens) > 1:
            raise ValueError(f"bench: {method.name} predictions mix snippet lengths {sorted(lens)}")
        sl = lens.pop() if lens else 1
        return score(bench, {v: p.scores[r.selected] for v, p in preds.items()},
                     expand="repeat" if sl > 1 else "none", snippet_len=sl)

    return [one(r) for r in _successful(runs, f"bench: {method.name}")]


def summary(per_seed: Sequence[Mapping[str, float]], key: str) -> tuple[float, float]:
    """Mean and sample std (NaN for one seed) of ``key`` over seeds, NaNs dropped."""
    v = np.asarray([float(m[key]) for m in per_seed if m and np.isfinite(m.get(key, np.nan))], dtype=float)
    if not len(v):
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def headline_entries(method: str, per_seed: Sequence[Mapping[str, float]], *, profile: str,
                     paper: dict | None = None, note: str | None = None) -> list[dict]:
    """Leaderboard entries (the shape of :func:`vadkit.experiment.reporting.headline_entry`) of one method on the
    bench: one per :data:`HEADLINE_METRICS`, dataset ``synthvad``, split ``bench``. ``per_seed``: :func:`score`
    of each seed's validation-selected model (one dict for an untrained method). ``note``: how the method met
    the bench (e.g. a frame stride), shown on the leaderboard."""
    if not per_seed:
        raise ValueError(f"{method}: no bench scores to report")
    out = []
    for key, name in HEADLINE_METRICS:
        m, s = summary(per_seed, key)
        out.append({"method": method, "metric": name, "value": None if not np.isfinite(m) else m,
                    "std": None if not np.isfinite(s) else s, "ci": None, "seeds": len(per_seed),
                    "dataset": DATASET, "split": SPLIT, "profile": profile,
                    "paper": paper if key == "auc_o" else None, "note": note})
    return out


def bench_table(results: Mapping[str, Sequence[Mapping[str, float]]], *, types: bool = True):
    """A page table: one row per method, mean ± std over seeds (%) of the headline metrics, AP and (``types``)
    each type's AUC."""
    import pandas as pd

    rows = []
    for method, per_seed in results.items():
        keys = [k for k, _ in HEADLINE_METRICS] + ["ap"]
        if types and per_seed:
            keys += sorted(k for k in per_seed[0] if k.startswith("auc_type/"))
        row = {"method": method, "seeds": len(per_seed)}
        for k in keys:
            m, s = summary(per_seed, k)
            label = dict(HEADLINE_METRICS).get(k, k.replace("auc_type/", "AUC ") if k != "ap" else "AP")
            row[label] = "–" if not np.isfinite(m) else (f"{100 * m:.1f}" if not np.isfinite(s)
                                                        else f"{100 * m:.1f} ± {100 * s:.1f}")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")
