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
    device: str = param("cpu", note="where the frozen VLM runs (full: cuda); the AHD trains on CPU on its taps")
    precision: str = param("fp32", paper="bf16", note="frozen VLM weights: fp32 | bf16 (full: bf16, ~16 GB for 7B; "
                                                       "the taps are read without gradients, so no checkpointing "
                                                       "is needed in stage 1)")
    vision_layers: list[int] = param([0, 1, 2, 3], paper="1, 8, 16, 32 (of 32)",
                                     note="vision blocks tapped (0-based); smoke: every block of the 4")
    events: list[str] = param([], paper="UBnormal's types ('person jumping', ...)",
                              note="[] = the dataset's anomaly types (SynthVAD) / UBNORMAL_EVENTS")
    train_frames: int = param(6, note="frame pairs per abnormal training video (inside the anomaly)")
    normal_frames: int = param(2, note="frame pairs per normal training video")
    epochs: int = param(8, paper="until convergence", note="fine-tuned AHD (the one-shot AHD trains 1); chosen on "
                                                          "validation: pixel AUROC 0.87 after 4, 0.93 after 8")
    lr: float = param(1e-3, paper=1e-3)
    min_lr: float = param(1e-8, paper=1e-8)
    warmup_ratio: float = param(0.1, paper=0.1)
    grad_accum: int = param(8, paper=8)
    loss: str = param("balanced", paper="ce (pixel-wise)", note="ce | balanced (class-balanced CE: a deviation)")
    init_scale: float = param(50.0, note="layer weights start at init_scale / L (the paper gives no scale); chosen "
                                         "on validation: 10 -> 50 raised pixel AUROC 0.76 -> 0.87, RBDC 3.6 -> "
                                         "10.3 (4 epochs, seed 0)")
    # stage 2
    stage2: bool = param(True, note="run the RAE + LoRA SFT phases and the dialogue evaluation (Table 3)")
    stage2_data: str = param("gt", paper="vlm (online LVLMs, Sec. 3.3)",
                             note="who writes the stage-2 references: gt (SynthVAD's activity text) | vlm (the "
                                  "chapter's VLM: timelines, blurred re-extraction, mutual verification)")
    build_frames: int = param(8, paper="every frame", note="frames per video the VLM extracts (stage2_data=vlm), "
                                                          "and again inside the anomaly with the background blurred")
    build_tokens: int = param(96, note="new tokens per structured extraction (stage2_data=vlm)")
    bench_stride: int = param(16, note="score every s-th frame of the bench videos (the AHD's frame score is held "
                                       "over the next s - 1); 16 on smoke: the frozen taps of every 8th frame "
                                       "took ~85 s on 2 cores, every 16th ~50 s")
    oneshot_frames: int = param(1, note="frames of the one-shot prompt's exemplar (the test video keeps "
                                        "clip_frames): the tiny VLM was trained on 320-token sequences")
    clip_frames: int = param(2, note="frames per clip for stage 2 (T'; the RAE needs >= 2)")
    n_base: int = param(4, note="N_base (the paper is silent)")
    rae_hidden: int = param(32, note="C_h (the paper is silent)")
    conv_depth: int = param(2, note="conv + GELU layers of the RAE backbone (the paper: 'several')")
    lora_r: int = param(16, paper=16)
    lora_alpha: int = param(32, paper=32)
    lora_dropout: float = param(0.05, paper=0.05)
    lora_last_layers: int = param(4, paper=4, note="layers_to_transform: the last four (all 2 of the tiny VLM)")
    sft_lr: float = param(1e-2, paper=2e-4, note="smoke (validation, seed 0, untrained AHD): 2e-3 with accumulation "
                                                 "8 left target BLEU-4 at 2.0, 1e-2 with 2 reached 17.1")
    sft_accum: int = param(2, paper=8, note="smoke: 2 (one epoch of 64 videos is 32 steps)")
    max_len: int = param(320, paper=2048, note="tokens per training conversation")
    sft_seeds: list[int] = param([0, 1, 2], note="stage-2 seeds (each on the AHD of the same seed)")
    sft_train_videos: int = param(64, note="training videos per SFT phase (0 = all); evenly spread; 64 on smoke "
                                           "for the book's time (the lr was chosen with 96)")
    sft_eval_stride: int = param(3, note="every k-th test video answers the dialogue")


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
            m_all = self.data.all_masks(ann)
            if m_all is not None:
                inside = np.flatnonzero(m_all[:T - 1].reshape(T - 1, -1).max(1) > 0)
                if not len(inside):
                    continue
                t = inside[uniform_indices(len(inside), self.cfg.train_frames)]
                m = np.maximum(m_all[t], m_all[t + 1])
            else:
                t = np.sort(rng.choice(T - 1, min(self.cfg.normal_frames, T - 1), replace=False))
                m = np.zeros((len(t), *self.data.size_of(ann)), np.uint8)
            frames = VideoReader(ann.video_path).get_frames(t)
            if frames.shape[1:3] != tuple(self.data.frame_size):      # UBnormal's scenes differ in size
                import cv2

                h, w = self.data.frame_size
                frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
                m = np.stack([cv2.resize(x, (w, h), interpolation=cv2.INTER_NEAREST) for x in m])
            feats.append([x.half() for x in self.taps(frames)])
            masks.append(torch.from_numpy(np.ascontiguousarray(m, np.uint8)))
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
                    heatmap_frames=idx, regions=regions(hm, idx, self.data.size_of(a),
                                                        threshold=self.cfg.threshold))
        model.train()
        r = region_metrics(preds, ann, beta=self.cfg.beta, alpha=self.cfg.alpha)
        return float((frame_auc(preds, ann, "heatmap")["micro"] + r["rbdc"] + r["tbdc"]) / 3)

    def predict(self, model, split: str):
        import torch

        from vadkit.methods.heatmap import frame_scores

        preds = {}
        with torch.no_grad():
            for vid, ann in self.data.split(split).items():
                idx, feats = self.video_taps(ann)
                hm = model([f.float() for f in feats])["prob"].numpy()
                preds[vid] = self.prediction(ann, idx, {"topk": frame_scores(hm, "topk")}, hm)
        return preds, {}


def prepare(cfg):
    """The heatmap protocol's data, the frozen VLM, and (for the AnomalyCLIP and CLIP-prompt rows) the tiny CLIP."""
    from vadkit.experiment.recipes.heatmaps import prepare_data
    from vadkit.models import load_clip, load_vlm

    data = prepare_data(cfg)
    if cfg.precision == "bf16":
        import torch

        from vadkit.models import resolve_name
        from vadkit.models.vlm import load_hf_vlm

        vlm = load_hf_vlm(resolve_name(cfg.vlm)[1], cfg.device, dtype=torch.bfloat16)
        vlm.name = cfg.vlm
    else:
        vlm = load_vlm(cfg.vlm, device=cfg.device)
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


def bench_scores(data, cfg, ahd_runs: list, *, progress: bool = True) -> dict | None:
    """The shared SynthVAD benchmark (:mod:`vadkit.experiment.benchmark`) scored by each seed's
    validation-selected AHD (its selected epoch and frame-score stream), on every ``bench_stride``-th frame of
    every bench video (a frame's score is held over the next ``bench_stride - 1``). ``None`` where the
    benchmark does not apply (another dataset, ``bench=False``). The frozen taps of a bench frame are read once
    and serve every seed. Returns ``{"bench", "per_seed": [score dicts], "seeds", "stride", "streams", "frames",
    "seconds"}``."""
    import time

    import torch
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader
    from vadkit.experiment import benchmark
    from vadkit.methods.heatmap import frame_scores

    bench = benchmark.load_benchmark(cfg)
    runs = [r for r in ahd_runs if r.ok]
    if bench is None or not runs:
        return None
    t0 = time.perf_counter()
    method = AHDMethod(data, cfg, data.models["vlm"], cfg.epochs)
    stride = int(cfg.bench_stride)
    scores: list[dict] = [{} for _ in runs]
    n = 0
    for vid, ann in tqdm(bench.ann.items(), desc="bench (AHD)", disable=not progress, leave=False):
        idx = np.arange(0, int(ann.num_frames), stride)
        frames = VideoReader(ann.video_path).get_frames(idx)
        n += len(idx)
        taps = method.taps(frames)
        with torch.no_grad():
            for k, r in enumerate(runs):
                hm = r.model(taps)["prob"].numpy()
                mode = "topk" if r.selected == "topk" else cfg.frame_score
                scores[k][vid] = frame_scores(hm, mode)
    per_seed = [benchmark.score(bench, s, expand="none", stride=stride) for s in scores]
    streams = sorted({"top 1 %" if r.selected == "topk" else f"heatmap {cfg.frame_score}" for r in runs})
    return {"bench": bench, "per_seed": per_seed, "seeds": [r.seed for r in runs], "stride": stride,
            "streams": streams,
            "frames": n, "seconds": time.perf_counter() - t0}


def anomalyclip_row(data, cfg, *, progress: bool = True) -> list:
    """AnomalyCLIP (chapter 32's method and smoke settings) on this chapter's frames; its weights are cached
    under the shared name ``anomalyclip`` by their own key, so chapter 32's training is reused."""
    from vadkit.experiment.recipes.anomalyclip import AnomalyCLIPChapterConfig, AnomalyCLIPMethod, run_anomalyclip
    from vadkit.experiment.runner import predictions_dir

    ac_cfg = AnomalyCLIPChapterConfig.resolve("smoke", frame_stride=cfg.frame_stride,
                                              threshold=cfg.threshold, beta=cfg.beta, alpha=cfg.alpha)
    m = AnomalyCLIPMethod(data, ac_cfg, data.models["clip"])
    return run_anomalyclip(m, cfg.seeds, threads=cfg.threads, store=predictions_dir(cfg.CHAPTER, cfg.profile),
                           progress=progress)


def models_label(cfg) -> str:
    return f"VLM {cfg.vlm} (frozen; AHD on vision blocks {cfg.vision_layers})"


def describe_data(cfg, data) -> str:
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    src = "SynthVAD smoke splits (UBnormal-style masks)" if cfg.dataset == "synthvad" else cfg.dataset
    return (f"{src}: {n['train']} train / {n['val']} val / {n['test']} test videos; every {cfg.frame_stride}th "
            f"frame scored at {data.frame_size[1]}x{data.frame_size[0]} px")


# ============================================================================================ stage 2 ============
#
# The RAE and the language side (Sec. 3.2.2, 3.3, 4.1). The stage-2 dataset (Sec. 3.3) is one record per video
# (:mod:`vadkit.methods.t_vad_dataset`): ``stage2_data="gt"`` (smoke) builds it from SynthVAD's activity text
# (every agent's appearance sentence "target" and motion sentence "trajectory", exact by construction, and the
# video's own dialogue); ``"vlm"`` (full) has the chapter's VLM write it: frame-level structured extraction ->
# per-target timelines, anomaly-focused re-extraction with the background blurred outside the anomaly mask,
# mutual verification (appearance -> motion, motion -> appearance), every call cached. BLEU then measures
# agreement with that generator. Both SFT phases and the evaluation read the records the same way. Phase A:
# one all-objects narrative per training video (an agent drawn at random: appearance, then motion, the
# appearance -> motion path); phase B: the anomaly-focused dialogue (anomaly? -> which target -> what it does).

from vadkit.methods.t_vad_dataset import ANOMALY_Q, TARGET_Q, TRAJECTORY_Q, references  # noqa: E402,F401

NARRATIVE_QS = ("Describe one target in the video.", "How does it move?")


def build_config(cfg):
    """:class:`~vadkit.methods.t_vad_dataset.BuildConfig` of the chapter's parameters."""
    from vadkit.methods.t_vad_dataset import BuildConfig

    return BuildConfig(frames_per_video=cfg.build_frames, clip_frames=cfg.clip_frames, max_new_tokens=cfg.build_tokens)


def stage2_records(data, cfg, split: str, *, vlm=None, progress: bool = True) -> dict[str, dict]:
    """``{video_id: record}`` of ``split`` (:mod:`vadkit.methods.t_vad_dataset`), built once per process and
    kept in ``data.models["stage2_records"]``. ``cfg.stage2_data``: ``"gt"`` (SynthVAD's activity ground truth)
    or ``"vlm"`` (written by ``vlm``, default the chapter's VLM, every call cached)."""
    from vadkit.errors import ConfigError
    from vadkit.methods import t_vad_dataset as tds

    store = data.models.setdefault("stage2_records", {})
    if (cfg.stage2_data, split) in store:
        return store[(cfg.stage2_data, split)]
    anns = data.split(split)
    if cfg.stage2_data == "gt":
        from vadkit.data.synth import load_activity

        root = data.splits.root
        recs = {v: tds.gt_record(load_activity(root, v), a.is_anomalous) for v, a in anns.items()}
    elif cfg.stage2_data == "vlm":
        from vadkit.data.video import VideoReader

        def read(ann, idx):
            return VideoReader(ann.video_path).get_frames(np.asarray(idx))

        recs = tds.build_records(vlm or data.models["vlm"], list(anns.values()), read, data.all_masks,
                                 build_config(cfg), progress=progress)
    else:
        raise ConfigError(f"vadkit/chapters/t_vad.py: stage2_data={cfg.stage2_data!r}; expected 'gt' or 'vlm'")
    store[(cfg.stage2_data, split)] = recs
    return recs


def stage2_examples(record: dict, rng, phase: str) -> list[tuple[str, str]]:
    """``[(question, answer)]`` turns of one training conversation of ``phase`` ("A" or "B") from a record."""
    if phase == "A":
        agents = record["agents"]
        if not agents:
            return []
        a = agents[int(rng.integers(len(agents)))]
        return [(NARRATIVE_QS[0], a["target"]), (NARRATIVE_QS[1], a["trajectory"])]
    return [(q, a) for q, a in record["dialogue"]]



def stage2_summary(records: dict[str, dict]) -> dict:
    """What a split's records hold: videos, agents, anomalous agents, 3-turn dialogues, and the summed build
    statistics (VLM source)."""
    from collections import Counter

    st = Counter()
    for r in records.values():
        st.update(r.get("stats") or {})
    return {"videos": len(records), "agents": sum(len(r["agents"]) for r in records.values()),
            "anomalous agents": sum(a["anomalous"] for r in records.values() for a in r["agents"]),
            "3-turn dialogues": sum(len(r["dialogue"]) >= 3 for r in records.values()), **dict(st)}


class TVADLanguage:
    """The frozen VLM with the three prompt tokens, the RAE, the injector, and the trained AHD (frozen).

    ``variant``: ``"full"`` (AHD heatmaps -> RAE -> prompts), ``"no_ahd"`` (the RAE sees all-zero heatmaps:
    T-VAD w/o AHD), ``"no_rae"`` (no prompt tokens; LoRA only: T-VAD w/o RAE), ``"backbone"`` (nothing added),
    ``"backbone_1shot"`` (nothing added; :attr:`exemplar` is put before the test video: one-shot prompting).
    """

    def __init__(self, vlm, ahd_method: "AHDMethod", ahd_model, variant: str, cfg, seed: int):
        import copy

        from vadkit.methods.t_vad import PromptInjector, RegionAnomalyEncoder, add_prompt_tokens

        torch = __import__("torch")
        torch.manual_seed(seed)
        self.cfg, self.variant = cfg, variant
        frozen = variant.startswith("backbone")         # nothing is added or trained: no copy
        self.model = vlm.model if frozen else copy.deepcopy(vlm.model)
        self.proc = vlm.processor if frozen else copy.deepcopy(vlm.processor)
        self.ahd_method, self.ahd = ahd_method, ahd_model
        self.exemplar = None        # (frames [k, H, W, 3], [(question, answer)]): the one-shot prompt's exemplar
        self.prompt_tokens: list[int] = []              # prompt length of every answer
        self.model.requires_grad_(False)
        self.rae = None
        if variant in ("full", "no_ahd"):
            self.ids = add_prompt_tokens(self.model, self.proc.tokenizer)
            d = self.model.get_input_embeddings().weight.shape[1]
            self.rae = RegionAnomalyEncoder(d, hidden=cfg.rae_hidden, n_base=cfg.n_base, depth=cfg.conv_depth)
            self.injector = PromptInjector(self.model, self.ids[1])
        self.n_prompt = self.rae.n_tokens(cfg.clip_frames) if self.rae is not None else 0

    def prompts(self, frames):
        """``P_An [1, n, D]`` of a clip's frames (``None`` without the RAE)."""
        import torch

        if self.rae is None:
            return None
        if self.variant == "no_ahd":
            feats = self.ahd_method.taps(frames)
            hc = torch.zeros(len(frames), 2, *feats[0].shape[1:3])
        else:
            with torch.no_grad():
                hc = self.ahd(self.ahd_method.taps(frames))["logits"]
        return self.rae(hc).reshape(1, self.n_prompt, -1)

    def user_text(self, question: str, first: bool) -> str:
        from vadkit.methods.t_vad import prompt_block

        if first and self.rae is not None:
            return prompt_block(self.n_prompt) + " " + question
        return question

    def messages(self, turns: list[tuple[str, str | None]], n_images: int = 0) -> list[dict]:
        """The chat: system, then the exemplar's frames and dialogue (one-shot prompting only), then ``turns``;
        ``n_images > 0`` puts that many image entries before the first question of ``turns``."""
        from vadkit.models.prompts import VQA_SYSTEM_PROMPT

        def user(text, images):
            return text if not images else [{"type": "image"}] * images + [{"type": "text", "text": text}]

        msgs = [{"role": "system", "content": VQA_SYSTEM_PROMPT}]     # the zoo VLM's question format
        if self.exemplar is not None:
            ex_frames, ex_turns = self.exemplar
            for i, (q, a) in enumerate(ex_turns):
                msgs += [{"role": "user", "content": user(q, len(ex_frames) if i == 0 else 0)},
                         {"role": "assistant", "content": a}]
        for i, (q, a) in enumerate(turns):
            msgs.append({"role": "user", "content": user(self.user_text(q, i == 0), n_images if i == 0 else 0)})
            if a is not None:
                msgs.append({"role": "assistant", "content": a})
        return msgs

    def _ctx(self, p):
        import contextlib

        return self.injector.using(p) if p is not None else contextlib.nullcontext()

    def loss(self, frames, turns) -> "torch.Tensor":
        import torch

        from vadkit.models.zoo import vlm_sample_inputs

        ids, labels, vision = vlm_sample_inputs(self.proc, frames, self.messages(turns), self.cfg.max_len)
        ids_t = torch.tensor([ids])
        mm = torch.tensor(self.proc.create_mm_token_type_ids([ids]))
        with self._ctx(self.prompts(frames)):
            return self.model(input_ids=ids_t, attention_mask=torch.ones_like(ids_t), labels=torch.tensor([labels]),
                              mm_token_type_ids=mm, **vision).loss

    def answer(self, frames, turns: list[tuple[str, str]], question: str, max_new_tokens: int = 40) -> str:
        """The reply to ``question`` after the earlier ``turns`` (the model's own answers as history)."""
        import torch

        from vadkit.models.vlm import attach_images

        if self.exemplar is None:
            msgs, images = attach_images(self.messages(turns + [(question, None)]), len(frames)), list(frames)
        else:
            msgs = self.messages(turns + [(question, None)], n_images=len(frames))
            images = list(self.exemplar[0]) + list(frames)
        text = self.proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        enc = self.proc(images=images, text=[text], return_tensors="pt")
        self.prompt_tokens.append(int(enc["input_ids"].shape[1]))
        tok = self.proc.tokenizer
        with torch.no_grad(), self._ctx(self.prompts(frames)):
            out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=tok.pad_token_id)
        return self.proc.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)[0].strip()


def trainable_summary(lang: TVADLanguage) -> "pd.DataFrame":
    """Trainable parameters per module group (the chapter prints it for every phase)."""
    import pandas as pd

    from vadkit.methods.t_vad import trainable_modules

    rows = trainable_modules(lang.model, {"rae": lang.rae} if lang.rae is not None else {})
    groups: dict[str, int] = {}
    d = lang.model.get_input_embeddings().weight.shape[1]
    for name, n in rows:
        if name.endswith("embed_tokens.weight") and lang.rae is not None:
            groups["embed_tokens (the 3 new rows)"] = 3 * d          # the gradient hook zeroes the other rows
            continue
        key = ("rae." + name.split(".")[1]) if name.startswith("rae.") else (
            "lora (" + name.split(".lora_")[0].split("layers.")[-1].split(".")[0] + ")" if "lora_" in name
            else name)
        groups[key] = groups.get(key, 0) + n
    return pd.DataFrame([{"module": k, "trainable parameters": v} for k, v in groups.items()])


def train_language(lang: TVADLanguage, data, cfg, seed: int) -> dict:
    """Stage 2: phase A then phase B (module comment), each one epoch over the training videos (the paper's
    one-shot), AdamW lr 2e-4 cosine, accumulation 8; LoRA on q_proj / v_proj of the last four decoder layers,
    trained in phase B only; ``merge_and_unload`` after each phase. Returns the history and what trained."""
    import warnings

    import torch
    from peft import get_peft_model

    from vadkit.methods.t_vad import lora_config, restrict_embedding_grad
    from vadkit.models.zoo import _clip_frames

    rng = np.random.default_rng(seed)
    records = stage2_records(data, cfg, "train")
    train = list(data.split("train").values())
    if cfg.sft_train_videos:
        train = [train[i] for i in np.linspace(0, len(train) - 1, cfg.sft_train_videos).round().astype(int)]
    log = {"phases": {}, "history": []}
    for phase in ("A", "B"):
        use_lora = lang.variant != "backbone"
        lcfg, layers = lora_config(lang.model, r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                                   last_layers=cfg.lora_last_layers)
        with warnings.catch_warnings():             # peft asks transformers a deprecated question
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            peft_model = get_peft_model(lang.model, lcfg) if use_lora else lang.model
        for n, p in peft_model.named_parameters():
            p.requires_grad_(phase == "B" and "lora_" in n)
        hook = None
        params = [p for p in peft_model.parameters() if p.requires_grad]
        if lang.rae is not None:
            emb = peft_model.get_input_embeddings()
            hook = restrict_embedding_grad(emb, lang.ids)
            params += [emb.weight] + list(lang.rae.parameters())
        base, lang.model = lang.model, peft_model
        log["phases"][phase] = trainable_summary(lang).to_dict("records")
        if params:
            opt = torch.optim.AdamW(params, lr=cfg.sft_lr, weight_decay=0.0)
            order = rng.permutation(len(train))
            total = max(1, int(np.ceil(len(order) / cfg.sft_accum)))
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))
            opt.zero_grad()
            losses = []
            for k, i in enumerate(order):
                turns = stage2_examples(records[train[i].video_id], rng, phase)
                if not turns:
                    continue
                frames = _clip_frames(train[i], cfg.clip_frames)
                loss = lang.loss(frames, turns)
                (loss / cfg.sft_accum).backward()
                losses.append(float(loss.detach()))
                if (k + 1) % cfg.sft_accum == 0 or k == len(order) - 1:
                    opt.step()
                    sched.step()
                    opt.zero_grad()
            log["history"].append({"phase": phase, "loss_first": float(np.mean(losses[:8])),
                                   "loss_last": float(np.mean(losses[-8:])), "samples": len(losses)})
        if hook is not None:
            hook.remove()
        lang.model = peft_model.merge_and_unload() if use_lora else base
        lang.model.requires_grad_(False)
    return log


def evaluate_language(lang: TVADLanguage, data, cfg, split: str = "test") -> tuple[dict, dict]:
    """Multi-turn answers on ``split`` (anomaly? -> which target -> what it does, the model's own answers as
    history) and ``{"target", "trajectory"}`` BLEU-4 (best reference, macro over abnormal videos, sacrebleu),
    ``yes_no`` accuracy over every video. Returns ``(metrics, answers per video)``."""
    from vadkit.metrics.text import yes_no_accuracy
    from vadkit.models.zoo import _clip_frames

    records = stage2_records(data, cfg, split)
    answers, hyp_t, ref_t, hyp_j, ref_j, yn, yn_ref = {}, [], [], [], [], [], []
    for vid, ann in list(data.split(split).items())[:: cfg.sft_eval_stride]:
        frames = _clip_frames(ann, cfg.clip_frames)
        ref = references(records[vid])
        a1 = lang.answer(frames, [], ANOMALY_Q, 6)
        turns = [(ANOMALY_Q, a1)]
        out = {ANOMALY_Q: a1}
        if ref["target"]:
            a2 = lang.answer(frames, turns, TARGET_Q)
            turns.append((TARGET_Q, a2))
            a3 = lang.answer(frames, turns, TRAJECTORY_Q)
            out.update({TARGET_Q: a2, TRAJECTORY_Q: a3})
            hyp_t.append(a2), ref_t.append(ref["target"]), hyp_j.append(a3), ref_j.append(ref["trajectory"])
        yn.append(a1), yn_ref.append(ref["yes_no"])
        answers[vid] = out
    m = {"target": _bleu(hyp_t, ref_t), "trajectory": _bleu(hyp_j, ref_j),
         "yes_no": yes_no_accuracy(yn, yn_ref), "videos": len(answers)}
    return m, answers


def _bleu(hyps: list[str], refs: list[list[str]]) -> float:
    """BLEU-4 (sacrebleu, best reference, macro over videos); NaN where no video has a reference (VLM-written
    records where nothing verified)."""
    from vadkit.metrics.text import bleu4

    return bleu4(hyps, refs, backend="sacrebleu") if refs else float("nan")


def frequent_sentence_floor(data, cfg, split: str = "test") -> dict:
    """The most frequent training answer of each question, scored like a model (SynthVAD's sentences come from
    templates, so BLEU needs this floor)."""
    from collections import Counter

    from vadkit.metrics.text import yes_no_accuracy

    train, test = stage2_records(data, cfg, "train"), stage2_records(data, cfg, split)
    ct, cj, cy = Counter(), Counter(), Counter()
    for rec in train.values():
        r = references(rec)
        ct.update(r["target"]), cj.update(r["trajectory"]), cy.update([r["yes_no"]])
    t, j = (c.most_common(1)[0][0] if c else "" for c in (ct, cj))
    y = cy.most_common(1)[0][0]
    refs = [references(test[v]) for v in list(data.split(split))[:: cfg.sft_eval_stride]]
    abn = [r for r in refs if r["target"]]
    return {"target": _bleu([t] * len(abn), [r["target"] for r in abn]),
            "trajectory": _bleu([j] * len(abn), [r["trajectory"] for r in abn]),
            "yes_no": yes_no_accuracy([y] * len(refs), [r["yes_no"] for r in refs]), "videos": len(refs),
            "sentences": {"target": t, "trajectory": j, "yes_no": y}}


STAGE2_ROWS = {"backbone": "backbone (zero-shot)", "backbone_1shot": "backbone (one-shot prompting)",
               "no_rae": "T-VAD w/o RAE (LoRA only)",
               "no_ahd": "T-VAD w/o AHD (RAE on empty heatmaps)", "full": "T-VAD (AHD + RAE + LoRA)"}


def oneshot_exemplar(data, cfg, seed: int) -> tuple[str, tuple]:
    """``(video id, (frames [oneshot_frames, H, W, 3], [(question, answer)]))``: the one-shot prompt's exemplar,
    an abnormal **training** video with the fullest reference dialogue there is (anomaly? -> which target -> what
    it does; where VLM-written records verified no anomalous target, the anomaly turn alone) drawn with
    ``seed``; its frames are ``oneshot_frames`` frames of its anomaly (``_clip_frames``)."""
    from vadkit.errors import ConfigError
    from vadkit.models.zoo import _clip_frames

    recs = stage2_records(data, cfg, "train")
    train = data.split("train")
    abn = {v: len(r["dialogue"]) for v, r in recs.items() if train[v].is_anomalous and r["dialogue"]}
    if not abn:
        raise ConfigError("chapter 13: no abnormal training video has a reference dialogue for the one-shot "
                          "exemplar")
    pool = sorted(v for v, n in abn.items() if n == max(abn.values()))
    vid = pool[int(np.random.default_rng(seed).integers(len(pool)))]
    frames = _clip_frames(data.split("train")[vid], cfg.oneshot_frames)
    return vid, (frames, [tuple(t) for t in recs[vid]["dialogue"]])


def run_stage2(data, cfg, ahd_runs: list, *, progress: bool = True) -> dict:
    """Every stage-2 row (:data:`STAGE2_ROWS`) for every ``sft_seeds`` seed on the fine-tuned AHD of that seed;
    the zero-shot backbone row is evaluated once (nothing trains or varies), the one-shot prompting row once per
    seed (each seed draws its exemplar, :func:`oneshot_exemplar`). Returns ``{"rows": {row: [metrics per seed]},
    "answers": {row: answers of the first seed}, "trainable": {row: {phase: table}}, "floor": ...}``."""
    from tqdm.auto import tqdm

    vlm = data.models["vlm"]
    ahd = {r.seed: r.model for r in ahd_runs if r.ok}
    method = AHDMethod(data, cfg, vlm, cfg.epochs)
    out = {"rows": {}, "answers": {}, "trainable": {}, "history": {}}
    for variant, row in STAGE2_ROWS.items():
        seeds = [cfg.sft_seeds[0]] if variant == "backbone" else list(cfg.sft_seeds)
        for seed in tqdm(seeds, desc=row, leave=False, disable=not progress):
            model = ahd.get(seed, next(iter(ahd.values())))
            lang = TVADLanguage(vlm, method, model, variant, cfg, seed)
            if variant == "backbone_1shot":
                vid, lang.exemplar = oneshot_exemplar(data, cfg, seed)
                out.setdefault("exemplars", []).append(vid)
            if not variant.startswith("backbone"):
                log = train_language(lang, data, cfg, seed)
                out["trainable"].setdefault(row, log["phases"])
                out["history"].setdefault(row, []).append(log["history"])
            m, answers = evaluate_language(lang, data, cfg)
            m["prompt_tokens_max"] = max(lang.prompt_tokens, default=0)
            out["rows"].setdefault(row, []).append({"seed": seed, **m})
            out["answers"].setdefault(row, answers)
            out.setdefault("params", {})[row] = int(sum(p.numel() for p in lang.model.parameters()) + (
                sum(p.numel() for p in lang.rae.parameters()) if lang.rae is not None else 0) + (
                sum(p.numel() for p in model.parameters()) if variant in ("full",) else 0))
    out["floor"] = frequent_sentence_floor(data, cfg)
    return out


def stage2_table(res: dict):
    """Table 3 analogue: BLEU-4 target / trajectory and Yes/No accuracy (%), mean ± std over seeds."""
    import pandas as pd

    from vadkit.experiment.reporting import fmt
    from vadkit.trainer import mean_std

    rows = []
    for row, per_seed in res["rows"].items():
        rec = {"method": row, "seeds": len(per_seed), "parameters": res["params"].get(row)}
        for k in ("target", "trajectory", "yes_no"):
            rec[k] = fmt(mean_std([m[k] for m in per_seed]))
        rows.append(rec)
    f = res["floor"]
    rows.append({"method": "most frequent training sentence", "seeds": 0, "parameters": 0,
                 **{k: fmt((f[k], float("nan"))).replace(" (1 seed)", "") for k in ("target", "trajectory",
                                                                                     "yes_no")}})
    return pd.DataFrame(rows).set_index("method")


def plot_trajectories(data, video_id: str, pred, split: str = "test"):
    """Figure 4 analogue: x and y of the box centres over time, ground truth (anomalous tracks) against the
    highest-scoring predicted region of every scored frame."""
    import matplotlib.pyplot as plt

    ann = data.split(split)[video_id]
    fig, ax = plt.subplots(1, 2, figsize=(8, 2.6))
    for tr in ann.tracks:
        if not tr.anomalous:
            continue
        c = (tr.boxes[:, :2] + tr.boxes[:, 2:]) / 2
        for k in range(2):
            ax[k].plot(tr.frames, c[:, k], "k-", lw=1.5, label=f"GT track {tr.track_id}")
    r = np.asarray(pred.regions).reshape(-1, 6)
    if len(r):
        frames = np.unique(r[:, 0])
        top = np.stack([r[r[:, 0] == f][np.argmax(r[r[:, 0] == f][:, 5])] for f in frames])
        c = (top[:, 1:3] + top[:, 3:5]) / 2
        for k in range(2):
            ax[k].scatter(top[:, 0], c[:, k], s=8, c=top[:, 5], cmap="magma", vmin=0.5, vmax=1,
                          label="top predicted region")
    for k, name in enumerate(("x centre (px)", "y centre (px)")):
        ax[k].set_xlabel("frame")
        ax[k].set_ylabel(name)
    ax[0].legend(fontsize=7)
    fig.suptitle(video_id, fontsize=9)
    fig.tight_layout()
    return fig
