"""Reporting: per-seed tables, mean ± std over seeds, bootstrap confidence intervals over videos, published numbers
beside ours, the reference rows a reader needs to judge a number, and the registry logging that goes with them.

* :func:`seed_table` / :func:`summarize` / :func:`fmt` - one row per seed; ``{metric: (mean, std)}``; ``"m ± s"``.
* :func:`frame_auc_bootstrap` - a percentile CI of the seed-mean frame AUC, resampling test videos with replacement
  (the same resamples for every method, so :func:`paired_difference` gives a CI of a difference between methods).
* :func:`paper_rows` - rows of a published table from ``vadkit/papers/<paper>.yaml``.
* :func:`reference_rows` - chance, the random baseline, the untrained twin, the classical floor of chapter 00 (read
  from the registry when chapter 00 has run on the same profile).
* :func:`log_runs` / :func:`log_headline` - registry metrics (``<prefix>/<metric>/mean|std``, per seed) and the
  chapter's headline metrics, which the leaderboard page reads.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vadkit.experiment.types import SeedRun
from vadkit.trainer import mean_std


def summarize(runs: Sequence[SeedRun], metrics: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``{metric: (mean, std)}`` over the successful seeds (std NaN for one seed)."""
    return {m: mean_std([r.test.get(m, np.nan) for r in runs if r.ok]) for m in metrics}


def fmt(ms: tuple[float, float], scale: float = 100.0) -> str:
    """``"mean ± std"`` in percent; ``"mean (1 seed)"`` when there is no spread to report."""
    m, s = ms
    if not np.isfinite(m):
        return "n/a"
    return f"{scale * m:.2f} ± {scale * s:.2f}" if np.isfinite(s) else f"{scale * m:.2f} (1 seed)"


def seed_table(runs: Sequence[SeedRun], selected_label: str = "coarse variant (val)"):
    """One row per seed: selected epoch, the stream chosen on validation, test metrics (%); failed seeds show the error."""
    import pandas as pd

    rows = []
    for r in runs:
        if not r.ok:
            rows.append({"seed": r.seed, "error": str(r.error)})
            continue
        row = {"seed": r.seed, "best epoch (val)": r.best_epoch, selected_label: r.selected}
        row.update({f"test {k}": round(100 * v, 2) for k, v in r.test.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def log_runs(run, prefix: str, runs: Sequence[SeedRun], keys: Sequence[str] | None = None) -> None:
    """Log ``<prefix>/<metric>/mean|std`` (fractions) and ``<prefix>/seed<k>/<metric>`` into a registry run."""
    if keys is None:
        keys = sorted({k for r in runs if r.ok for k in r.test})
    for k, (m, s) in summarize(runs, keys).items():
        run.log_metric(f"{prefix}/{k}/mean", m)
        run.log_metric(f"{prefix}/{k}/std", s)
    for r in runs:
        for k, v in r.test.items():
            run.log_metric(f"{prefix}/seed{r.seed}/{k}", v)
        if not r.ok:
            run.note(f"{prefix}/seed{r.seed}/error", str(r.error))


# ---------------------------------------------------------------- bootstrap over videos ------------------------

def _video_arrays(run: SeedRun, ann, stream: str, settings) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from vadkit.metrics.frame import frame_arrays

    scores = {v: p[stream] for v, p in run.predictions.items() if v in ann}
    sub = ann.filter(lambda a: a.video_id in scores)
    return frame_arrays(scores, sub, gt_convention=settings.gt_convention, expand=settings.expand,
                        snippet_len=settings.snippet_len, align="error", missing="ignore")


def _boot_stats(per_seed: list[dict], draws: np.ndarray, ids: list[str]) -> np.ndarray:
    from vadkit.metrics import roc_auc

    out = np.empty(len(draws))
    for b, idx in enumerate(draws):
        vals = []
        for arrays in per_seed:
            g = np.concatenate([arrays[ids[i]][0] for i in idx])
            s = np.concatenate([arrays[ids[i]][1] for i in idx])
            vals.append(roc_auc(g, s))
        out[b] = np.nanmean(vals) if np.isfinite(vals).any() else np.nan
    return out


def _draws(n_videos: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_videos, size=(n_boot, n_videos))


def frame_auc_bootstrap(runs: Sequence[SeedRun], ann, settings, *, stream: str | Callable[[SeedRun], str] = "selected",
                        n_boot: int = 200, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile ``(lo, hi)`` of the seed-mean frame AUC_O over ``n_boot`` resamples of the test videos.

    ``stream="selected"`` uses each seed's validation-selected stream.
    """
    ok = [r for r in runs if r.ok]
    if not ok:
        return float("nan"), float("nan")
    pick = (lambda r: r.selected) if stream == "selected" else (stream if callable(stream) else (lambda r: stream))
    per_seed = [_video_arrays(r, ann, pick(r), settings) for r in ok]
    ids = sorted(set.intersection(*(set(a) for a in per_seed)))
    stats = _boot_stats(per_seed, _draws(len(ids), n_boot, seed), ids)
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return float("nan"), float("nan")
    return float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2))


def paired_difference(runs_a: Sequence[SeedRun], runs_b: Sequence[SeedRun], ann, settings, *,
                      stream: str = "selected", n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                      video_filter: Callable[[Any], bool] | None = None) -> dict[str, float]:
    """Seed-mean AUC_O of A minus B, its per-seed paired differences, and a bootstrap CI over the test videos.

    Seeds are paired by seed number; the same video resamples serve both methods. ``video_filter(annotation)``
    restricts the videos (e.g. the normal videos plus one anomaly type).
    """
    from vadkit.metrics import roc_auc

    a = {r.seed: r for r in runs_a if r.ok}
    b = {r.seed: r for r in runs_b if r.ok}
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan"), "per_seed": []}
    sub = ann.filter(video_filter) if video_filter else ann
    pick = (lambda r: r.selected) if stream == "selected" else (lambda r: stream)
    arr_a = [_video_arrays(a[s], sub, pick(a[s]), settings) for s in seeds]
    arr_b = [_video_arrays(b[s], sub, pick(b[s]), settings) for s in seeds]
    ids = sorted(set.intersection(*(set(x) for x in arr_a + arr_b)))

    def auc(arrays, idx):
        return roc_auc(np.concatenate([arrays[ids[i]][0] for i in idx]), np.concatenate([arrays[ids[i]][1] for i in idx]))

    full = np.arange(len(ids))
    per_seed = [auc(x, full) - auc(y, full) for x, y in zip(arr_a, arr_b)]
    draws = _draws(len(ids), n_boot, seed)
    diffs = np.array([np.nanmean([auc(x, d) - auc(y, d) for x, y in zip(arr_a, arr_b)]) for d in draws])
    diffs = diffs[np.isfinite(diffs)]
    lo, hi = (np.quantile(diffs, alpha / 2), np.quantile(diffs, 1 - alpha / 2)) if len(diffs) else (np.nan, np.nan)
    return {"diff": float(np.nanmean(per_seed)), "lo": float(lo), "hi": float(hi), "per_seed": per_seed,
            "seeds": seeds, "videos": len(ids)}


# ---------------------------------------------------------------- published numbers and references ------------

def paper_rows(paper: str, table: str, rows: Mapping[str, str] | Sequence[str] | None = None,
               dataset: str | None = None) -> list[dict]:
    """Rows of a published table: ``[{"method", "data", <column>: value, ...}]`` (values as printed)."""
    from vadkit import papers

    doc = papers.load(paper)
    t = doc["tables"][table]
    cols = [str(c) for c in t["columns"]]
    names = rows if isinstance(rows, Mapping) else {r: r for r in (rows or t["rows"])}
    out = []
    for label, key in names.items():
        if key not in t["rows"]:
            continue
        row = {"method": label, "data": dataset or f"{doc['paper']} (paper)"}
        row.update(dict(zip(cols, t["rows"][key])))
        out.append(row)
    return out


CLASSICAL_FLOOR = "flow grid (normal model per scene)/auc_o"


def classical_floor(profile: str, metric: str = CLASSICAL_FLOOR) -> float | None:
    """Chapter 00's classical baseline number from the registry (``None`` if chapter 00 has not run)."""
    from vadkit import registry

    rec = registry.load("00_quickstart", profile)
    if not rec or rec.get("status") != "ok":
        return None
    return rec.get("metrics", {}).get(metric)


# ---------------------------------------------------------------- headline metrics -----------------------------

def headline_entry(method: str, metric: str, runs: Sequence[SeedRun], key: str, *, dataset: str, split: str,
                   profile: str, ci: tuple[float, float] | None = None, paper: dict | None = None) -> dict:
    """One headline entry (the leaderboard's row): mean ± std over seeds of ``key``, with an optional CI and paper."""
    m, s = summarize(runs, [key])[key]
    return {"method": method, "metric": metric, "value": m, "std": None if not np.isfinite(s) else s,
            "ci": None if ci is None else [float(ci[0]), float(ci[1])], "seeds": sum(r.ok for r in runs),
            "dataset": dataset, "split": split, "profile": profile, "paper": paper}


def log_headline(run, entries: Sequence[dict]) -> None:
    """Store the chapter's headline metrics in its registry record (``record["headline"]``)."""
    run.set("headline", list(entries))


# ---------------------------------------------------------------- re-scoring stored predictions -----------------

# Snippet features cover 16 * floor(N / 16) frames, so the conventions that take the ground truth from the video
# length (exact, lavad, vad_llama) have up to 15 frames more than the scores: the last score is held over them.
RESCORE_CONVENTIONS = (("vadclip", "repeat", "pad_edge"), ("exact", "repeat", "pad_edge"),
                       ("lavad", "repeat", "pad_edge"), ("vad_llama", "window_mean", "pad_edge"),
                       ("off_by_16", "repeat", "pad_edge"))


def rescore(predictions_root, ann, stream: str = "selected", conventions=RESCORE_CONVENTIONS,
            snippet_len: int = 16, selected: dict[int, str] | None = None):
    """Re-score a method's stored test predictions under other ground-truth conventions, without rerunning it.

    ``predictions_root`` is a method's folder under :func:`vadkit.experiment.runner.predictions_dir` (one
    ``seed<k>.npz/.json`` pair per seed); ``conventions`` are ``(gt_convention, expand, align)`` triples of chapter 01
    (``align="pad_edge"`` cuts scores longer than the ground truth and holds the last score over the frames a
    snippet-floored score stream does not reach, so every ground-truth frame of each convention is scored and the
    conventions that build the ground truth from the video length can be compared with the feature-length ones).
    ``selected`` maps seed -> stream (the stream chosen on validation); otherwise ``stream`` names one. Returns a DataFrame: convention | AUC_O | AUC_A | AP (mean over
    seeds, %) | seeds | note (why a convention does not apply to this dataset's annotations, if it does not).
    """
    from pathlib import Path

    import pandas as pd

    from vadkit.errors import AnnotationError
    from vadkit.experiment.runner import load_predictions
    from vadkit.metrics import evaluate_frame_level

    root = Path(predictions_root)
    seeds = sorted(int(p.stem[4:]) for p in root.glob("seed*.json"))
    if not seeds:
        raise FileNotFoundError(f"{root}: no stored predictions (seed<k>.json)")
    rows = []
    runs = {s: load_predictions(root / f"seed{s}") for s in seeds}
    for conv, expand, align in conventions:
        vals, note = [], ""
        for s, preds in runs.items():
            name = (selected or {}).get(s, stream)
            scores = {v: p.scores[name] for v, p in preds.items() if v in ann}
            sub = ann.filter(lambda a: a.video_id in scores)
            try:
                m = evaluate_frame_level(scores, sub, gt_convention=conv, expand=expand, snippet_len=snippet_len,
                                         align=align, per_class=False, missing="ignore")
            except AnnotationError as err:
                # a convention that needs what this dataset's files do not say (e.g. whether a segment's end
                # frame is inclusive): not applicable here, named rather than guessed
                note = f"not applicable: {err}"
                break
            vals.append((m["auc_o"], m["auc_a"], m["ap_step"]))
        v = np.nanmean(np.asarray(vals, dtype=float), axis=0) if vals else np.full(3, np.nan)
        rows.append({"convention": f"{conv} ({expand}, {align})", "AUC_O": round(100 * v[0], 2),
                     "AUC_A": round(100 * v[1], 2), "AP": round(100 * v[2], 2), "seeds": len(vals),
                     "note": note})
    return pd.DataFrame(rows)
