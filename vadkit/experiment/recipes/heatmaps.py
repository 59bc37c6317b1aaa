"""Pixel-level anomaly heatmaps on video: the protocol and baselines chapters 13 (T-VAD) and 32 (AnomalyCLIP) share.

Protocol (every choice stated; chapter 13's Table 2 analogue and chapter 32 use it unchanged):

* **Frames.** Every ``frame_stride``-th frame of every video is scored (``0, s, 2s, ...``); a frame's score
  stands for the ``s`` frames from it (repeated to every frame for the frame AUC). T-VAD merges masks pairwise in
  time (Qwen's temporal patch of 2), so ``s = 2`` is its own grain; smoke uses 4 to stay within minutes.
* **Frame score from a heatmap** (the papers are silent): the maximum of the heatmap
  (:func:`vadkit.methods.heatmap.frame_scores`). Methods with an image-level read-out offer it as another
  candidate stream; the validation split picks the stream, never the test split.
* **Frame AUC.** Micro (all frames pooled) and macro (per video, UBnormal's single-class policy), under the
  exact ground truth.
* **Pixel AUROC.** Heatmaps upsampled bilinearly to the frame, pooled over every pixel of every scored frame,
  normal videos included, on a regular subsample of every 4th pixel in each direction
  (:func:`vadkit.metrics.spatial.pixel_auroc`).
* **RBDC / TBDC.** Regions: each upsampled heatmap thresholded at 0.5, one box per connected component scored by
  its peak; region IoU ``beta = 0.1``, track hit ratio ``alpha = 0.1`` (T-VAD's values). The ground-truth
  regions are those of the scored frames only and the false-positive rate counts scored frames, so subsampling
  in time changes neither side's share. T-VAD's "link IoU 0.1 for track association" has no counterpart in the
  standard TBDC, whose tracks are the ground truth's (detections are never linked): we use the standard one.

Heatmaps (float16, at the method's own grid) and regions are stored with the predictions
(:func:`vadkit.experiment.runner.save_predictions`), so every number here can be recomputed without the model;
no method reads a test mask when it predicts (a test removes them and compares the heatmaps).

Baselines (training-free or closed-form):

* :class:`RandomHeatmaps` - uniform noise; RBDC/TBDC about 0, so beating it shows nothing;
* :class:`FlowCellHeatmaps` - the classical per-cell optical-flow model (:class:`vadkit.methods.classical.
  FlowGridModel`, fit on normal training videos); a cell's Mahalanobis distance ``d`` becomes
  ``chi2_3.cdf(d^2)``, the probability that a Gaussian cell is this far from its mean, so 0.5 is a fair threshold;
* :class:`ClipPromptHeatmaps` - the frozen tiny CLIP with fixed prompts (the event prompts it was trained with),
  its last-stage tokens read densely (:func:`vadkit.methods.anomalyclip.dense_clip_tokens`); no training.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vadkit.experiment.chapter import ExperimentConfig, param
from vadkit.experiment.types import VideoPrediction


@dataclass
class HeatmapChapterConfig(ExperimentConfig):
    """Fields of the heatmap protocol (module docstring)."""

    frame_stride: int = param(4, paper="2 (masks merged pairwise)", note="score every s-th frame")
    frame_score: str = param("max", note="heatmap -> frame score: max | topk (the papers are silent)")
    threshold: float = param(0.5, paper=0.5, note="heatmap binarisation for regions")
    beta: float = param(0.1, paper=0.1, note="region IoU of RBDC/TBDC")
    alpha: float = param(0.1, paper=0.1, note="share of a track's regions to detect it (TBDC)")
    pixel_stride: int = param(4, show=False, note="pixel AUROC on every k-th pixel in each direction")
    flow_train_videos: int = param(40, note="normal training videos the flow-cell baseline is fit on")
    flow_grid: list[int] = param([6, 8], note="flow-cell grid (rows, cols)")
    baseline_seeds: list[int] = param([0, 1, 2], show=False, note="seeds of the random heatmap")


# ------------------------------------------------------------------------------------------ data ----------------

@dataclass
class HeatmapData:
    """The splits and the frame grid of a heatmap chapter; decoded frames are kept per video (small at smoke)."""

    splits: Any
    stride: int
    frame_size: tuple[int, int]                 # (H, W)
    cache_frames: bool = True
    models: dict = field(default_factory=dict)  # frozen models the chapter loads once (name -> model)
    _frames: dict = field(default_factory=dict, repr=False)
    _sizes: dict = field(default_factory=dict, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)

    def split(self, name: str):
        return self.splits.split(name)

    def frame_index(self, ann) -> np.ndarray:
        return np.arange(0, int(ann.num_frames), self.stride)

    def frames(self, ann) -> tuple[np.ndarray, np.ndarray]:
        """``(indices [N], frames [N, H, W, 3] uint8)`` of the scored frames of one video."""
        from vadkit.data.video import VideoReader

        key = ann.video_id
        if key not in self._frames:
            idx = self.frame_index(ann)
            fr = VideoReader(ann.video_path).get_frames(idx)
            if not self.cache_frames:
                return idx, fr
            self._frames[key] = (idx, fr)
        return self._frames[key]

    def frozen(self, tag: tuple, frames: np.ndarray, make=None):
        """A frozen model's output for these frames, computed once per process: ``make()`` the first time
        (``None`` when there is no ``make`` and nothing was kept), keyed by ``tag`` (the model and what is read
        out) and the frames' content digest, so two methods that read the same frozen model on the same frames
        (chapter 32's prompts and its CLIP-prompt baseline) pay for one pass. :meth:`keep` stores one."""
        key = (tag, hashlib.blake2b(np.ascontiguousarray(frames).data, digest_size=16).hexdigest())
        if key not in self._memo and make is not None:
            self._memo[key] = make()
        return self._memo.get(key)

    def keep(self, tag: tuple, frames: np.ndarray, value) -> None:
        """Store ``value`` as :meth:`frozen`'s output for ``tag`` on these frames."""
        self.frozen(tag, frames, lambda: value)

    def size_of(self, ann) -> tuple[int, int]:
        """``(H, W)`` of one video's frames (UBnormal's scenes differ in size)."""
        if ann.video_id in self._frames:
            return tuple(self._frames[ann.video_id][1].shape[1:3])
        if ann.video_id not in self._sizes:
            from vadkit.data.video import VideoReader

            self._sizes[ann.video_id] = tuple(VideoReader(ann.video_path).get_frames([0])[0].shape[:2])
        return self._sizes[ann.video_id]

    def all_masks(self, ann) -> np.ndarray | None:
        """``[T, H, W]`` 0/1 pixel masks of one video (``None`` for a video without anomaly): SynthVAD's mask
        file, or UBnormal's per-frame object maps and tracks file (:func:`vadkit.data.parsers.
        ubnormal_anomaly_mask`)."""
        if not ann.is_anomalous:
            return None
        if ann.pixel_mask_path is not None:
            return np.asarray(ann.pixel_mask(self.size_of(ann)))
        d = ann.extra.get("annotation_dir")
        if d is not None:
            from vadkit.data.parsers import ubnormal_anomaly_mask

            return ubnormal_anomaly_mask(d, ann.video_id, int(ann.num_frames))
        return None

    def masks(self, ann, idx: np.ndarray) -> np.ndarray | None:
        """The pixel masks of frames ``idx`` (``None`` for a video without anomaly)."""
        m = self.all_masks(ann)
        return None if m is None else m[np.asarray(idx)]


def complete_annotations(splits) -> None:
    """Fill what the heatmap protocol needs and a dataset's loader leaves out: frame counts (from the video) and,
    for UBnormal, the anomalous objects' box tracks from its object maps (:func:`vadkit.data.parsers.
    ubnormal_box_tracks`)."""
    from vadkit.data.video import VideoReader

    for split in ("train", "val", "test"):
        for ann in splits.split(split).values():
            if ann.num_frames is None:
                ann.num_frames = len(VideoReader(ann.video_path))
            d = ann.extra.get("annotation_dir")
            if d is not None and ann.is_anomalous and not ann.tracks:
                from vadkit.data.parsers import ubnormal_box_tracks

                ann.tracks = ubnormal_box_tracks(d, ann.video_id)


def prepare_data(cfg) -> HeatmapData:
    """The chapter's splits (:func:`vadkit.experiment.data.load_splits`) and the frame size of its videos."""
    from vadkit.data.video import VideoReader
    from vadkit.experiment.data import load_splits
    from vadkit.experiment.runner import predictions_dir

    splits = load_splits(cfg.data_settings(), list_dir=predictions_dir(cfg.CHAPTER, cfg.profile).parent)
    complete_annotations(splits)
    first = next(iter(splits.test.values()))
    h, w = VideoReader(first.video_path).get_frames([0])[0].shape[:2]
    return HeatmapData(splits, int(cfg.frame_stride), (int(h), int(w)))


# ------------------------------------------------------------------------------------------ evaluation ----------

def per_frame(scores: np.ndarray, stride: int, num_frames: int) -> np.ndarray:
    """Scores of the scored frames ``[N]`` -> every frame ``[T]`` (each held for ``stride`` frames)."""
    return np.repeat(np.asarray(scores, np.float64), stride)[:num_frames]


def frame_auc(preds: dict[str, VideoPrediction], ann, stream: str) -> dict:
    """``{"micro", "macro"}`` frame AUC of one stream (exact ground truth, UBnormal's macro policy)."""
    from vadkit.metrics import evaluate_frame_level

    sc = {v: p.scores[stream] for v, p in preds.items()}
    sub = ann.filter(lambda a: a.video_id in sc)
    m = evaluate_frame_level(sc, sub, gt_convention="exact", expand="none", snippet_len=1, align="error",
                             per_class=False, missing="ignore")
    return {"micro": float(m["auc_o"]), "macro": float(m["macro_auc"])}


def pixel_metrics(preds: dict[str, VideoPrediction], ann, data: HeatmapData, pixel_stride: int = 4) -> float:
    """Pixel AUROC of the stored heatmaps (module docstring)."""
    from vadkit.methods.heatmap import upsample
    from vadkit.metrics.spatial import pixel_auroc

    hms, masks = {}, {}
    for vid, p in preds.items():
        up = upsample(np.asarray(p.heatmaps, np.float32), data.size_of(ann[vid]))
        hms[vid] = up[:, ::pixel_stride, ::pixel_stride]
        m = data.masks(ann[vid], p.heatmap_frames)
        masks[vid] = None if m is None else m[:, ::pixel_stride, ::pixel_stride]
    return pixel_auroc(hms, masks, stride=1)


def region_metrics(preds: dict[str, VideoPrediction], ann, *, beta: float = 0.1, alpha: float = 0.1) -> dict:
    """RBDC / TBDC of the stored regions against the ground-truth regions of the scored frames only."""
    from vadkit.metrics.spatial import rbdc_tbdc, tracks_table

    gt = tracks_table(ann.filter(lambda a: a.video_id in preds))
    keep = np.zeros(len(gt), bool)
    frames = 0
    for vid, p in preds.items():
        fr = np.asarray(p.heatmap_frames)
        frames += len(fr)
        sel = (gt["video"] == vid).to_numpy()
        keep[sel] = np.isin(gt.loc[sel, "frame"].to_numpy(), fr)
    gt = gt[keep]
    rows = [(vid, *r) for vid, p in preds.items() if p.regions is not None
            for r in np.asarray(p.regions, np.float64).reshape(-1, 6).tolist()]
    det = np.array(rows, dtype=object).reshape(-1, 7)
    rbdc, tbdc = rbdc_tbdc(gt, det, frames, beta=beta, alpha=alpha)
    return {"rbdc": float(rbdc), "tbdc": float(tbdc)}


def evaluate_heatmaps(preds, ann, data: HeatmapData, selected: str, cfg) -> dict:
    """Every heatmap metric: ``<stream>/micro|macro`` frame AUC, ``selected/...``, ``pixel_auroc``, ``rbdc``,
    ``tbdc`` (fractions)."""
    out: dict[str, float] = {}
    first = next(iter(preds.values()))
    for s in first.scores:
        for k, v in frame_auc(preds, ann, s).items():
            out[f"{s}/{k}"] = v
    out["selected/micro"], out["selected/macro"] = out[f"{selected}/micro"], out[f"{selected}/macro"]
    out["pixel_auroc"] = pixel_metrics(preds, ann, data, cfg.pixel_stride)
    out.update(region_metrics(preds, ann, beta=cfg.beta, alpha=cfg.alpha))
    return out


# ------------------------------------------------------------------------------------------ methods -------------

class HeatmapMethod:
    """A :class:`vadkit.experiment.runner.Method` whose output is heatmaps of sampled frames.

    Subclasses give :meth:`maps` ``(model, frames [N, H, W, 3]) -> ({stream: [N]}, heatmaps [N, h, w])`` and, if
    they train, :meth:`build` / :meth:`fit`. The heatmap's frame score (``cfg.frame_score``) is the stream
    ``"heatmap"``; other streams are the method's own (an image-level read-out).
    """

    name = "heatmaps"
    candidates: tuple[str, ...] = ("heatmap",)

    def __init__(self, data: HeatmapData, cfg):
        self.data, self.cfg = data, cfg

    def key_fields(self) -> dict:
        return {}

    def build(self, seed: int):
        return None

    def fit(self, model, seed: int) -> dict:
        return {}

    def maps(self, model, frames: np.ndarray, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        raise NotImplementedError

    def predict(self, model, split: str):
        preds = {}
        seed = getattr(self, "seed", 0)
        for vid, ann in self.data.split(split).items():
            idx, frames = self.data.frames(ann)
            preds[vid] = self.prediction(ann, idx, *self.maps(model, frames, seed))
        return preds, {}

    def prediction(self, ann, idx: np.ndarray, streams: dict[str, np.ndarray], hm: np.ndarray) -> VideoPrediction:
        """One video's :class:`VideoPrediction` from the maps of its scored frames ``idx``: the heatmap's frame
        score as the stream ``"heatmap"`` beside the method's own, every stream held over the frames to the next
        scored one, the heatmaps (float16) and their regions at ``cfg.threshold``."""
        from vadkit.methods.heatmap import frame_scores, regions

        streams = {"heatmap": frame_scores(hm, self.cfg.frame_score), **streams}
        T = int(ann.num_frames)
        return VideoPrediction(
            ann.video_id, scores={k: per_frame(v, self.data.stride, T) for k, v in streams.items()},
            heatmaps=np.asarray(hm, np.float16), heatmap_frames=idx,
            regions=regions(hm, idx, self.data.size_of(ann), threshold=self.cfg.threshold))

    def validation_value(self, preds, stream: str) -> float:
        return frame_auc(preds, self.data.split("val"), stream)["micro"]

    def evaluate(self, preds, selected: str) -> dict:
        return evaluate_heatmaps(preds, self.data.split("test"), self.data, selected, self.cfg)


def _video_seed(video_id: str, seed: int) -> int:
    return int(hashlib.sha256(f"{video_id}|{seed}".encode()).hexdigest()[:8], 16)


class RandomHeatmaps(HeatmapMethod):
    """Uniform noise on a 12 x 16 grid (seeded by the seed and the order of the videos, so reruns agree)."""

    name = "random heatmap"

    def __init__(self, data, cfg, seed: int = 0):
        super().__init__(data, cfg)
        self.seed = seed
        self._n = 0

    def maps(self, model, frames, seed):
        self._n += 1
        rng = np.random.default_rng(_video_seed(str(self._n), seed))
        return {}, rng.random((len(frames), 12, 16)).astype(np.float32)


class FlowCellHeatmaps(HeatmapMethod):
    """The per-cell optical-flow model as a heatmap (module docstring)."""

    name = "flow cells (classical)"

    def __init__(self, data, cfg):
        super().__init__(data, cfg)
        self.model = None

    def key_fields(self) -> dict:
        return {"grid": list(self.cfg.flow_grid), "videos": self.cfg.flow_train_videos}

    def _fit(self):
        """Fit on the first ``flow_train_videos`` normal training videos (:func:`~vadkit.methods.classical.
        fit_flow_grid`, memoised: another instance on the same videos, e.g. for the validation split, reuses it)."""
        from vadkit.methods.classical import fit_flow_grid

        normal = [a for a in self.data.split("train").values() if not a.is_anomalous][: self.cfg.flow_train_videos]
        self.model = fit_flow_grid([a.video_path for a in normal], tuple(self.cfg.flow_grid))

    def predict(self, model, split):
        from vadkit.methods.heatmap import frame_scores, regions

        if self.model is None:
            self._fit()
        preds = {}
        for vid, ann in self.data.split(split).items():
            idx = self.data.frame_index(ann)
            hm = self._video_maps(ann, idx)
            score = per_frame(frame_scores(hm, self.cfg.frame_score), self.data.stride, int(ann.num_frames))
            preds[vid] = VideoPrediction(
                vid, scores={"heatmap": score}, heatmaps=hm.astype(np.float16), heatmap_frames=idx,
                regions=regions(hm, idx, self.data.size_of(ann), threshold=self.cfg.threshold))
        return preds, {}

    def _video_maps(self, ann, idx):
        """``[N, rows, cols]``: ``chi2_3.cdf(d^2)`` of each cell's Mahalanobis distance in the frames ``idx``."""
        from scipy.stats import chi2

        from vadkit.data.video import VideoReader
        from vadkit.methods.classical import optical_flow

        flow = optical_flow(VideoReader(ann.video_path).read_all())
        d = self.model.cell_scores(flow)[np.asarray(idx)]                         # [N, rows * cols]
        rows, cols = self.cfg.flow_grid
        return chi2.cdf(d ** 2, df=3).reshape(len(idx), rows, cols).astype(np.float32)


class ClipPromptHeatmaps(HeatmapMethod):
    """Training-free: fixed event prompts of the frozen tiny CLIP against its dense last-stage tokens."""

    name = "CLIP prompts (zero-shot)"
    candidates = ("heatmap", "image")

    def __init__(self, data, cfg, clip):
        super().__init__(data, cfg)
        from vadkit.data.synth import ANOMALY_TYPES
        from vadkit.models.zoo import class_prompt

        self.clip = clip
        normal = clip.encode_texts([class_prompt("normal")])[0]
        abnormal = clip.encode_texts([class_prompt(t) for t in ANOMALY_TYPES]).mean(0)
        import torch

        self.text = torch.stack([normal, abnormal])

    def maps(self, model, frames, seed):
        from vadkit.methods.anomalyclip import clip_frame_features, zero_shot_maps

        f = self.data.frozen(("clip-global", self.clip.name), frames,
                             lambda: clip_frame_features(self.clip, frames, stages=()))
        z = zero_shot_maps(f["image"], f["dense"], self.text)
        return {"image": z["image"].numpy()}, z["prob"].numpy()


# ------------------------------------------------------------------------------------------ tables --------------

TABLE_KEYS = ("selected/micro", "selected/macro", "pixel_auroc", "rbdc", "tbdc")


def heatmap_table(methods: dict[str, list], label: str):
    """One row per method: mean ± std over seeds of frame micro / macro AUC (stream chosen on validation),
    pixel AUROC, RBDC, TBDC (%)."""
    import pandas as pd

    from vadkit.experiment.reporting import fmt, summarize

    rows = []
    for name, runs in methods.items():
        ok = [r for r in runs if r.ok]
        s = summarize(ok, TABLE_KEYS)
        rows.append({"method": name, "data": label, "seeds": len(ok),
                     "stream (val)": ", ".join(sorted({r.selected for r in ok})) or "-",
                     "micro AUC": fmt(s["selected/micro"]), "macro AUC": fmt(s["selected/macro"]),
                     "pixel AUROC": fmt(s["pixel_auroc"]), "RBDC": fmt(s["rbdc"]), "TBDC": fmt(s["tbdc"])})
    return pd.DataFrame(rows).set_index("method")


def run_baselines(data: HeatmapData, cfg, clip=None, *, progress: bool = True) -> dict[str, list]:
    """The three baselines of the module docstring, each through the runner (random: ``baseline_seeds``; the
    deterministic ones: one run)."""
    from vadkit.experiment.runner import predictions_dir, run_seeds

    store = predictions_dir(cfg.CHAPTER, cfg.profile)
    kw = dict(cache_name=cfg.CHAPTER, threads=cfg.threads, store=store, progress=progress)
    out = {"random heatmap": run_seeds(lambda s: RandomHeatmaps(data, cfg, s), cfg.baseline_seeds, **kw),
           "flow cells (classical)": run_seeds(FlowCellHeatmaps(data, cfg), [0], **kw)}
    if clip is not None and getattr(clip, "is_resnet", False):
        out["CLIP prompts (zero-shot)"] = run_seeds(ClipPromptHeatmaps(data, cfg, clip), [0], **kw)
    return out


def plot_heatmaps(data: HeatmapData, video_id: str, preds: dict[str, VideoPrediction], n: int = 5,
                  split: str = "test"):
    """Figure 1 analogue: ``n`` scored frames of one video (inside its anomaly), the ground-truth mask, and each
    method's heatmap (upsampled, 0 = dark, 1 = bright; the same scale for every method)."""
    import matplotlib.pyplot as plt

    from vadkit.methods.heatmap import upsample

    ann = data.split(split)[video_id]
    idx, frames = data.frames(ann)
    masks = data.masks(ann, idx)
    inside = np.flatnonzero(masks.reshape(len(masks), -1).max(1) > 0) if masks is not None else np.arange(len(idx))
    pick = inside[np.linspace(0, len(inside) - 1, n).round().astype(int)] if len(inside) else np.arange(n)
    rows = 2 + len(preds)
    fig, axes = plt.subplots(rows, n, figsize=(2.0 * n, 1.6 * rows), squeeze=False)
    for j, k in enumerate(pick):
        axes[0, j].imshow(frames[k])
        axes[0, j].set_title(f"frame {idx[k]}", fontsize=8)
        axes[1, j].imshow(masks[k] if masks is not None else np.zeros(frames.shape[1:3]), cmap="gray", vmin=0,
                          vmax=1)
        for r, (name, p) in enumerate(preds.items(), start=2):
            hm = upsample(np.asarray(p.heatmaps[k:k + 1], np.float32), frames.shape[1:3])[0]
            axes[r, j].imshow(hm, cmap="magma", vmin=0, vmax=1)
    for r, name in enumerate(["input", "mask (GT)", *preds]):
        axes[r, 0].set_ylabel(name, fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{video_id} ({', '.join(ann.classes) or 'normal'})", fontsize=9)
    fig.tight_layout()
    return fig
