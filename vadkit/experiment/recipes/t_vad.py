"""T-VAD's stage 1 (the AHD) on the experiment layer (chapter 13), with the heatmap protocol of
:mod:`vadkit.experiment.recipes.heatmaps`.

Training data, UBnormal-style (training videos with pixel masks; ShanghaiTech has none): for every abnormal
training video ``train_frames`` frame pairs ``(t, t + 1)`` inside its anomaly, for every normal one
``normal_frames``; a pair's mask is the union of its two masks (T-VAD merges masks pairwise, Qwen's temporal
patch of 2), its features are the vision taps of frame ``t`` (the processor repeats a still image to fill the
temporal patch, so the pair's first frame stands for it). The frozen taps of every training pair are read once
per process and shared by every seed.

Optimisation as Sec. 4.1: AdamW, batch 1, gradient accumulation 8, warm-up cosine (ratio 0.1, peak 1e-3, floor
1e-8), pixel cross-entropy against the mask on the patch grid (each cell's anomalous share is its soft label).
``loss="balanced"`` weighs the two classes' pixels equally: a **deviation** (anomalies cover 1-2 % of the pixels),
used only where the chapter shows that plain CE does not learn.

Two rows, two meanings of T-VAD's "one-shot" (the paper's Sec. 4.1 defines it as training for a single epoch):

* **AHD (one-shot)**: one epoch over the training pairs, the last weights;
* **AHD (fine-tuned)**: ``epochs`` epochs, the epoch with the best validation criterion (frame micro AUC plus
  RBDC and TBDC, on the scored validation frames), as the paper selects checkpoints on
  validation AUC / RBDC / TBDC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vadkit.experiment.chapter import param
from vadkit.experiment.recipes.heatmaps import HeatmapChapterConfig, HeatmapMethod

#: UBnormal's anomaly types named in the paper (Sec. 4.1), for the full profile's prompt sets
UBNORMAL_EVENTS = ("people fighting", "a person running", "a person falling", "a car accident", "fire",
                   "smoke", "a person jaywalking")


@dataclass
class TVADChapterConfig(HeatmapChapterConfig):
    frame_stride: int = param(8, paper="2 (masks merged pairwise)",
                              note="score every s-th frame (smoke: 8, so the frozen taps of every scored frame "
                                   "fit in memory once and serve every seed)")
    vlm: str = param("zoo:tiny-vlm", paper="Qwen2.5-VL-7B", note="frozen LVLM backbone")
    vision_layers: list[int] = param([0, 1, 2, 3], paper="1, 8, 16, 32 (of 32)",
                                     note="vision blocks tapped (0-based); smoke: every block of the 4")
    events: list[str] = param([], paper="UBnormal's types ('person jumping', ...)",
                              note="[] = the dataset's anomaly types (SynthVAD) / UBNORMAL_EVENTS")
    train_frames: int = param(6, note="frame pairs per abnormal training video (inside the anomaly)")
    normal_frames: int = param(2, note="frame pairs per normal training video")
    epochs: int = param(4, paper="until convergence", note="fine-tuned AHD; the one-shot AHD trains 1")
    lr: float = param(1e-3, paper=1e-3)
    min_lr: float = param(1e-8, paper=1e-8)
    warmup_ratio: float = param(0.1, paper=0.1)
    grad_accum: int = param(8, paper=8)
    loss: str = param("balanced", paper="ce (pixel-wise)", note="ce | balanced (class-balanced CE: a deviation)")
    init_scale: float = param(10.0, note="layer weights start at init_scale / L (the paper gives no scale)")


class AHDMethod(HeatmapMethod):
    """The AHD through the runner (module docstring). ``epochs=1``: the one-shot row."""

    candidates = ("heatmap", "topk")

    def __init__(self, data, cfg, vlm, epochs: int, loss: str | None = None):
        super().__init__(data, cfg)
        self.vlm, self.epochs = vlm, int(epochs)
        self.loss = loss or cfg.loss
        self.name = "AHD (one-shot)" if self.epochs == 1 else "AHD (fine-tuned)"
        if self.loss != cfg.loss:
            self.name += f", {'plain CE' if self.loss == 'ce' else self.loss}"
        self._train = None
        self._text = None
        self._taps: dict = {}           # video id -> taps of its scored frames (fp16), shared by seeds and rows

    def share(self, other: "AHDMethod") -> "AHDMethod":
        """Use ``other``'s frozen taps and text (the same VLM and frames)."""
        self._train, self._text, self._taps = other._train, other._text, other._taps
        return self

    def key_fields(self) -> dict:
        from vadkit.models import model_identity

        c = self.cfg
        return {"vlm": model_identity(c.vlm), "layers": list(c.vision_layers), "events": self.events(),
                "train_frames": c.train_frames, "normal_frames": c.normal_frames, "epochs": self.epochs,
                "lr": c.lr, "min_lr": c.min_lr, "warmup": c.warmup_ratio, "accum": c.grad_accum, "loss": self.loss,
                "init_scale": c.init_scale, "stride": c.frame_stride,
                "train": sorted(self.data.split("train")), "val": sorted(self.data.split("val")), "version": 1}

    def events(self) -> list[str]:
        if self.cfg.events:
            return list(self.cfg.events)
        if self.cfg.dataset == "synthvad":
            from vadkit.data.synth import ANOMALY_TYPES
            from vadkit.models.zoo import class_phrase

            return [class_phrase(t) for t in ANOMALY_TYPES]
        return list(UBNORMAL_EVENTS)

    def text(self):
        if self._text is None:
            from vadkit.methods.t_vad import class_text_embeddings, prompt_sets

            self._text = class_text_embeddings(self.vlm.processor.tokenizer, self.vlm.model.get_input_embeddings(),
                                               prompt_sets(self.events()))
        return self._text

    def taps(self, frames) -> list:
        """The frozen vision taps ``[[N, h, w, C]]`` of ``frames``."""
        import torch

        out = []
        for i in range(0, len(frames), 32):
            f = self.vlm.vision_layer_features(frames[i:i + 32], self.cfg.vision_layers)
            out.append([f[k].float().cpu() for k in self.cfg.vision_layers])
        return [torch.cat([o[j] for o in out]) for j in range(len(self.cfg.vision_layers))]

    def build(self, seed: int):
        from vadkit.methods.t_vad import AnomalyHeatmapDecoder

        self.seed = seed
        probe = self.taps(np.zeros((1, *self.data.frame_size, 3), np.uint8))
        return AnomalyHeatmapDecoder([t.shape[-1] for t in probe], self.text(), init_scale=self.cfg.init_scale)

    # -- data ---------------------------------------------------------------------------------------
    def training_pairs(self) -> dict:
        """Taps and merged masks of the training pairs (module docstring), computed once."""
        if self._train is not None:
            return self._train
        import torch

        from vadkit.data.video import VideoReader, uniform_indices

        rng = np.random.default_rng(0)
        feats, masks = [], []
        for ann in self.data.split("train").values():
            T = int(ann.num_frames)
            if ann.is_anomalous and ann.pixel_mask_path is not None:
                m_all = np.asarray(ann.pixel_mask(self.data.frame_size))
                inside = np.flatnonzero(m_all[:T - 1].reshape(T - 1, -1).max(1) > 0)
                if not len(inside):
                    continue
                t = inside[uniform_indices(len(inside), self.cfg.train_frames)]
                m = np.maximum(m_all[t], m_all[t + 1])
            else:
                t = np.sort(rng.choice(T - 1, min(self.cfg.normal_frames, T - 1), replace=False))
                m = np.zeros((len(t), *self.data.frame_size), np.uint8)
            frames = VideoReader(ann.video_path).get_frames(t)
            feats.append([x.half() for x in self.taps(frames)])
            masks.append(torch.from_numpy(m))
        self._train = {"feats": [torch.cat([f[j] for f in feats]) for j in range(len(self.cfg.vision_layers))],
                       "masks": torch.cat(masks)}
        return self._train

    def video_taps(self, ann) -> tuple[np.ndarray, list]:
        """``(frame indices, taps)`` of a video's scored frames, read once (fp16) and kept."""
        if ann.video_id not in self._taps:
            idx, frames = self.data.frames(ann)
            self._taps[ann.video_id] = (idx, [x.half() for x in self.taps(frames)])
        return self._taps[ann.video_id]

    # -- training -----------------------------------------------------------------------------------
    def fit(self, model, seed: int) -> dict:
        import torch

        from vadkit.methods.heatmap import masks_to_grid, pixel_ce
        from vadkit.trainer import FitConfig, Schedule, fit

        tr = self.training_pairs()
        n = len(tr["masks"])
        grid = tuple(tr["feats"][0].shape[1:3])
        target = masks_to_grid(tr["masks"], grid)
        rng = np.random.default_rng(seed)
        balanced = self.loss == "balanced"

        def batches(_epoch):
            for i in rng.permutation(n):                                   # batch size 1
                yield int(i)

        def loss_fn(m, i):
            out = m([f[i:i + 1].float() for f in tr["feats"]])
            loss = pixel_ce(out["logits"], target[i:i + 1], balanced=balanced)
            return loss, {"total": float(loss.detach())}

        steps = int(np.ceil(n / self.cfg.grad_accum))
        fc = FitConfig(epochs=self.epochs, steps_per_epoch=steps, lr=self.cfg.lr, grad_accum=self.cfg.grad_accum,
                       schedule=Schedule("warmup_cosine", warmup_ratio=self.cfg.warmup_ratio,
                                         min_lr=self.cfg.min_lr), seed=seed)
        validate = None if self.epochs == 1 else self._select
        res = fit(model, batches, loss_fn, fc, validate=validate, progress=False, desc=self.name)
        model.eval()
        return {"best_epoch": res.best_epoch, "best_val": res.best_val, "history": res.history,
                "train_pairs": n, "anomalous_cell_share": float((target > 0).float().mean())}

    def _select(self, model) -> float:
        """Validation criterion: mean of frame micro AUC, RBDC and TBDC on the selection frames."""
        import torch

        from vadkit.experiment.recipes.heatmaps import frame_auc, per_frame, region_metrics
        from vadkit.experiment.types import VideoPrediction
        from vadkit.methods.heatmap import frame_scores, regions

        preds = {}
        ann = self.data.split("val")
        with torch.no_grad():
            for vid, a in ann.items():
                idx, feats = self.video_taps(a)
                hm = model([f.float() for f in feats])["prob"].numpy()
                preds[vid] = VideoPrediction(
                    vid, scores={"heatmap": per_frame(frame_scores(hm), self.data.stride, int(a.num_frames))},
                    heatmap_frames=idx, regions=regions(hm, idx, self.data.frame_size,
                                                        threshold=self.cfg.threshold))
        model.train()
        r = region_metrics(preds, ann, beta=self.cfg.beta, alpha=self.cfg.alpha)
        return float((frame_auc(preds, ann, "heatmap")["micro"] + r["rbdc"] + r["tbdc"]) / 3)

    def predict(self, model, split: str):
        import torch

        from vadkit.experiment.recipes.heatmaps import per_frame
        from vadkit.experiment.types import VideoPrediction
        from vadkit.methods.heatmap import frame_scores, regions

        preds = {}
        with torch.no_grad():
            for vid, ann in self.data.split(split).items():
                idx, feats = self.video_taps(ann)
                hm = model([f.float() for f in feats])["prob"].numpy()
                T = int(ann.num_frames)
                streams = {"heatmap": frame_scores(hm, self.cfg.frame_score), "topk": frame_scores(hm, "topk")}
                preds[vid] = VideoPrediction(
                    vid, scores={k: per_frame(v, self.data.stride, T) for k, v in streams.items()},
                    heatmaps=hm.astype(np.float16), heatmap_frames=idx,
                    regions=regions(hm, idx, self.data.frame_size, threshold=self.cfg.threshold))
        return preds, {}


def prepare(cfg):
    """The heatmap protocol's data, the frozen VLM, and (for the AnomalyCLIP and CLIP-prompt rows) the tiny CLIP."""
    from vadkit.experiment.recipes.heatmaps import prepare_data
    from vadkit.models import load_clip, load_vlm

    data = prepare_data(cfg)
    vlm = load_vlm(cfg.vlm)
    vlm.model.requires_grad_(False)
    data.models["vlm"] = vlm
    if cfg.profile == "smoke":
        clip = load_clip("zoo:tiny-clip")
        clip.model.requires_grad_(False)
        data.models["clip"] = clip
    return data


def train_ahd(data, cfg, *, progress: bool = True) -> dict[str, list]:
    """Both AHD rows for every seed through the runner."""
    from vadkit.experiment.runner import predictions_dir, run_seeds

    kw = dict(cache_name=cfg.CHAPTER, retrain=cfg.retrain, threads=cfg.threads,
              store=predictions_dir(cfg.CHAPTER, cfg.profile), progress=progress)
    first = AHDMethod(data, cfg, data.models["vlm"], 1)
    rows = [first, AHDMethod(data, cfg, data.models["vlm"], cfg.epochs).share(first)]
    if cfg.loss != "ce":                          # the paper's plain CE beside the deviation (one-shot)
        rows.append(AHDMethod(data, cfg, data.models["vlm"], 1, loss="ce").share(first))
    return {m.name: run_seeds(m, cfg.seeds, **kw) for m in rows}


def anomalyclip_row(data, cfg, *, progress: bool = True) -> list:
    """AnomalyCLIP (chapter 32's method and smoke settings) on this chapter's frames; its weights are cached
    under the shared name ``anomalyclip`` by their own key, so chapter 32's training is reused."""
    from vadkit.experiment.recipes.anomalyclip import AnomalyCLIPChapterConfig, AnomalyCLIPMethod
    from vadkit.experiment.runner import predictions_dir, run_seeds

    ac_cfg = AnomalyCLIPChapterConfig.resolve("smoke", frame_stride=cfg.frame_stride,
                                              threshold=cfg.threshold, beta=cfg.beta, alpha=cfg.alpha)
    m = AnomalyCLIPMethod(data, ac_cfg, data.models["clip"])
    return run_seeds(m, cfg.seeds, cache_name="anomalyclip", threads=cfg.threads,
                     store=predictions_dir(cfg.CHAPTER, cfg.profile), progress=progress)


def models_label(cfg) -> str:
    return f"VLM {cfg.vlm} (frozen; AHD on vision blocks {cfg.vision_layers})"


def describe_data(cfg, data) -> str:
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    src = "SynthVAD smoke splits (UBnormal-style masks)" if cfg.dataset == "synthvad" else cfg.dataset
    return (f"{src}: {n['train']} train / {n['val']} val / {n['test']} test videos; every {cfg.frame_stride}th "
            f"frame scored at {data.frame_size[1]}x{data.frame_size[0]} px")
