"""AnomalyCLIP on video (chapter 32): prompts learned on auxiliary data, applied zero-shot to the target split.

Auxiliary data: the zoo's SynthVAD *pretraining corpus* (:func:`vadkit.data.synth.pretrain_dataset`, its own
seed; no video of it is a smoke video), as AnomalyCLIP trains on one dataset with masks and tests on others.
``aux_videos`` videos are drawn (three quarters abnormal, as the corpus), ``aux_frames`` frames each (inside the
anomalous segments for an abnormal video, uniform for a normal one); the frozen features of those frames are
computed once and shared by every seed. Training: AdamW, ``steps`` steps of ``batch_size`` frames, half of them
from abnormal videos, the glocal loss (:meth:`vadkit.methods.anomalyclip.AnomalyCLIP.loss`), fixed length as the
paper (no checkpoint is chosen on the target: the method is zero-shot). The target's validation split chooses
only the frame-score stream (``heatmap`` = its maximum, ``image`` = the global read-out, ``glocal`` = their mean).

Full profile: any ResNet CLIP by name (``RN50:openai``; frames are resized whole to its ``S x S``, as AnomalyCLIP
does, :func:`vadkit.methods.anomalyclip.clip_frame_features`), a SynthVAD root with masks as auxiliary data
(``aux_root``; default the pretraining corpus), the target dataset by ``dataset`` / ``data_root``. Rehearsed on
the UBnormal layout with a tiny local RN50-class CLIP (``tests/test_rehearsal_anomalyclip.py``).

Beyond the protocol's fixed region threshold, :func:`region_threshold_table` gives RBDC / TBDC with each method's
threshold chosen on validation (a stated deviation); :func:`bench_scores` applies each seed to the shared
benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vadkit.experiment.chapter import param
from vadkit.experiment.recipes.heatmaps import HeatmapChapterConfig, HeatmapMethod


@dataclass
class AnomalyCLIPChapterConfig(HeatmapChapterConfig):
    clip: str = param("zoo:tiny-clip", paper="ViT-L/14@336 (OpenAI)", note="frozen; a ResNet tower here "
                                                                          "(vadkit.methods.anomalyclip)")
    stages: list[int] = param([0, 1, 2], paper="ViT blocks 6, 12, 18, 24",
                              note="ResNet stages with a trainable linear map (deviation) + stage 4 dense")
    n_ctx: int = param(12, paper=12, note="learnable context tokens per prompt")
    aux_root: str | None = param(None, paper="MVTec AD (tested on VisA) / VisA",
                                 note="a SynthVAD root (its train split, with masks); None: the zoo's "
                                      "pretraining corpus")
    aux_videos: int = param(96, note="auxiliary videos (3/4 abnormal)")
    aux_frames: int = param(5, note="frames per auxiliary video")
    steps: int = param(1000, paper="15 epochs", note="AdamW steps")
    batch_size: int = param(16, paper=8)
    lr: float = param(3e-3, paper=1e-3, note="16 validation videos, seed 0: pixel AUROC 0.53 after 300 "
                                               "steps at 1e-3, 0.83 after 1000 at 3e-3")
    tau: float = param(0.07, paper=0.07)


class AnomalyCLIPMethod(HeatmapMethod):
    """The runner's method (module docstring)."""

    name = "AnomalyCLIP"
    candidates = ("heatmap", "image", "glocal")

    def __init__(self, data, cfg, clip):
        super().__init__(data, cfg)
        self.clip = clip
        self._aux = None
        self._primed: dict[tuple[int, str], dict] = {}

    def key_fields(self) -> dict:
        from vadkit.models import model_identity

        c = self.cfg
        return {"clip": model_identity(c.clip), "stages": list(c.stages), "n_ctx": c.n_ctx, "aux": self._aux_id(),
                "aux_videos": c.aux_videos, "aux_frames": c.aux_frames, "steps": c.steps,
                "batch_size": c.batch_size, "lr": c.lr, "tau": c.tau, "version": 1}

    def _aux_root(self):
        from pathlib import Path

        from vadkit.data.synth import pretrain_dataset

        return Path(self.cfg.aux_root) if self.cfg.aux_root else pretrain_dataset()

    def _aux_id(self) -> str:
        from vadkit.identity import bytes_digest

        root = self._aux_root()
        marker = root / "synthvad.json"
        return bytes_digest(marker.read_bytes()) if marker.is_file() else str(root)

    def build(self, seed: int):
        from vadkit.methods.anomalyclip import AnomalyCLIP
        from vadkit.methods.prompt_learning import TextEncoderHooks

        self.seed = seed
        dims = self._stage_dims()
        return AnomalyCLIP(TextEncoderHooks.from_clip(self.clip), dims, self.clip.embed_dim, n_ctx=self.cfg.n_ctx,
                           tau=self.cfg.tau)

    def _stage_dims(self) -> list[int]:
        from vadkit.methods.anomalyclip import clip_frame_features

        f = clip_frame_features(self.clip, np.zeros((1, *self.data.frame_size, 3), np.uint8), self.cfg.stages)
        return [s.shape[-1] for s in f["stages"]]

    # -- auxiliary data ---------------------------------------------------------------------------
    def auxiliary(self) -> dict:
        """Frozen features, masks and labels of the auxiliary frames (computed once per process)."""
        if self._aux is not None:
            return self._aux
        import torch

        from vadkit.data.synth import load_synthvad
        from vadkit.data.video import VideoReader, uniform_indices
        from vadkit.methods.anomalyclip import clip_frame_features

        ds = load_synthvad(self._aux_root(), "train")
        rng = np.random.default_rng(0)
        abn = [a for a in ds.values() if a.is_anomalous and a.pixel_mask_path is not None]
        nor = [a for a in ds.values() if not a.is_anomalous]
        n_abn = min(len(abn), int(round(0.75 * self.cfg.aux_videos)))
        n_nor = min(len(nor), self.cfg.aux_videos - n_abn)
        chosen = [abn[i] for i in sorted(rng.choice(len(abn), n_abn, replace=False))] + \
                 [nor[i] for i in sorted(rng.choice(len(nor), n_nor, replace=False))]
        feats, masks, labels = [], [], []
        for ann in chosen:
            T = int(ann.num_frames)
            if ann.is_anomalous:
                s = ann.segments[0]
                lo, hi = max(0, s.start), min(T - 1, s.end)
                idx = lo + uniform_indices(hi - lo + 1, self.cfg.aux_frames)
            else:
                idx = uniform_indices(T, self.cfg.aux_frames)
            frames = VideoReader(ann.video_path).get_frames(idx)
            f = clip_frame_features(self.clip, frames, self.cfg.stages)
            m = ann.pixel_mask(frames.shape[1:3])[idx] if ann.is_anomalous else np.zeros(
                (len(idx), *frames.shape[1:3]), np.uint8)
            feats.append(f)
            masks.append(torch.from_numpy(np.asarray(m, np.uint8)))
            labels.append(torch.from_numpy((m.reshape(len(m), -1).max(1) > 0).astype(np.int64)))
        cat = torch.cat
        self._aux = {"image": cat([f["image"] for f in feats]),
                     "stages": [cat([f["stages"][i] for f in feats]).half() for i in range(len(self.cfg.stages))],
                     "dense": cat([f["dense"] for f in feats]), "masks": cat(masks), "labels": cat(labels),
                     "videos": len(chosen), "abnormal_videos": n_abn}
        return self._aux

    def fit(self, model, seed: int) -> dict:
        import torch

        aux = self.auxiliary()
        labels = aux["labels"].numpy()
        pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        rng = np.random.default_rng(seed)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=0.01)
        history = []
        model.train()
        half = self.cfg.batch_size // 2
        for step in range(self.cfg.steps):
            idx = np.concatenate([rng.choice(pos, half), rng.choice(neg, self.cfg.batch_size - half)])
            t = torch.from_numpy(idx)
            out = model(aux["image"][t], [s[t].float() for s in aux["stages"]], aux["dense"][t])
            parts = model.loss(out, aux["labels"][t], aux["masks"][t])
            opt.zero_grad()
            parts["total"].backward()
            opt.step()
            if step % 25 == 0 or step == self.cfg.steps - 1:
                history.append({"step": step, **{k: float(v.detach()) for k, v in parts.items()}})
        model.eval()
        return {"best_epoch": self.cfg.steps, "history": history,
                "aux_frames": int(len(labels)), "aux_abnormal_frames": int(labels.sum())}

    def maps(self, model, frames, seed):
        return self.read_out([model], frames)[0]

    def prime(self, models: dict[int, object], splits=("val", "test"), *, progress: bool = True) -> None:
        """Predict ``splits`` for every seed's model (``{seed: model}``) with one frozen CLIP pass per video (the
        chapter's costliest step, the same for every seed); :meth:`predict` then hands each seed its own."""
        from tqdm.auto import tqdm

        seeds = list(models)
        if not seeds:
            return
        for split in splits:
            out: dict[int, dict] = {s: {} for s in seeds}
            items = self.data.split(split).items()
            for vid, ann in tqdm(items, desc=f"AnomalyCLIP {split}", leave=False, disable=not progress):
                idx, frames = self.data.frames(ann)
                for s, (streams, hm) in zip(seeds, self.read_out([models[s] for s in seeds], frames)):
                    out[s][vid] = self.prediction(ann, idx, streams, hm)
            for s in seeds:
                self._primed[(s, split)] = out[s]

    def predict(self, model, split: str):
        primed = self._primed.pop((getattr(self, "seed", 0), split), None)
        return (primed, {}) if primed is not None else super().predict(model, split)

    def read_out(self, models, frames) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
        """``frames [N, H, W, 3]`` -> per model ``({"image": [N], "glocal": [N]}, heatmaps [N, h, w])``; the
        frozen CLIP features are computed once for all ``models`` (the seeds share them)."""
        import torch

        from vadkit.methods.anomalyclip import clip_frame_features
        from vadkit.methods.heatmap import frame_scores

        f = clip_frame_features(self.clip, frames, self.cfg.stages)
        self.data.keep(("clip-global", self.clip.name), frames, {"image": f["image"], "dense": f["dense"]})
        out = []
        for model in models:
            with torch.no_grad():
                o = model(f["image"], f["stages"], f["dense"])
            prob, image = o["prob"].numpy(), o["image"].numpy()
            out.append(({"image": image, "glocal": 0.5 * (image + frame_scores(prob, self.cfg.frame_score))}, prob))
        return out


def prepare(cfg):
    """The heatmap protocol's data (:func:`~vadkit.experiment.recipes.heatmaps.prepare_data`) and the frozen CLIP."""
    from vadkit.experiment.recipes.heatmaps import prepare_data
    from vadkit.models import load_clip

    data = prepare_data(cfg)
    clip = load_clip(cfg.clip)
    clip.model.requires_grad_(False)
    data.models["clip"] = clip
    return data


def models_label(cfg) -> str:
    return f"CLIP {cfg.clip} (frozen); prompts learned on {cfg.aux_root or 'the SynthVAD pretraining corpus'}"


def describe_data(cfg, data) -> str:
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    src = "SynthVAD smoke splits (procedural)" if cfg.dataset == "synthvad" else cfg.dataset
    return (f"{src}: {n['train']} train (unused by AnomalyCLIP, fit data of the flow baseline) / {n['val']} val / "
            f"{n['test']} test videos; every {cfg.frame_stride}th frame scored at "
            f"{data.frame_size[1]}x{data.frame_size[0]} px")


def run_anomalyclip(method: AnomalyCLIPMethod, seeds, *, retrain: bool = False, threads: int = 0, store=None,
                    progress: bool = True) -> list:
    """Every seed through the runner (weights cached under ``anomalyclip`` by the declared key), the frozen CLIP
    pass shared: each seed's prompts are trained or loaded first, then one pass per video predicts validation
    and test for all of them (:meth:`AnomalyCLIPMethod.prime`), and the runner selects and evaluates each seed
    as usual. A seed that fails is left to the runner, which records its error."""
    from vadkit.experiment.runner import SEED_ERRORS, run_seeds, trained_model

    if threads:
        import torch

        torch.set_num_threads(threads)
    models, cached = {}, {}
    for s in seeds:
        try:
            models[s], _, cached[s] = trained_model(method, s, cache_name="anomalyclip", retrain=retrain)
        except SEED_ERRORS:
            continue
    method.prime(models, progress=progress)
    runs = run_seeds(method, seeds, cache_name="anomalyclip", threads=threads, store=store, progress=progress)
    for r in runs:
        r.cached = cached.get(r.seed, r.cached)
    return runs


def train_seeds(data, cfg, *, progress: bool = True) -> list:
    """AnomalyCLIP for every seed (:func:`run_anomalyclip`)."""
    from vadkit.experiment.runner import predictions_dir

    method = AnomalyCLIPMethod(data, cfg, data.models["clip"])
    return run_anomalyclip(method, cfg.seeds, retrain=cfg.retrain, threads=cfg.threads,
                           store=predictions_dir(cfg.CHAPTER, cfg.profile), progress=progress)


def bench_scores(data, cfg, runs, bench, *, stride: int | None = None, run=None, progress: bool = True) -> list[dict]:
    """Each seed's model, unchanged, on the shared benchmark (:mod:`vadkit.experiment.benchmark`): the frame-score
    stream that seed's validation chose, on every ``stride``-th frame of every bench video (default
    ``cfg.frame_stride``; each score held over the frames up to the next scored one, as on the smoke splits).

    The frozen CLIP features of a bench video are computed once and read out by every seed. The held-over frame
    scores are stored beside the chapter's predictions (``AnomalyCLIP_bench/seed<k>``), so the bench numbers
    recompute without the model; with a registry ``run`` each number is logged as ``bench/seed<k>/<metric>``.
    Returns ``[benchmark.score(...)]``, one dict per successful run in ``runs``.
    """
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader
    from vadkit.experiment import benchmark
    from vadkit.experiment.recipes.heatmaps import per_frame
    from vadkit.experiment.runner import predictions_dir, save_predictions
    from vadkit.experiment.types import VideoPrediction
    from vadkit.methods.heatmap import frame_scores

    runs = [r for r in runs if r.ok]
    if not runs:
        raise ValueError("bench_scores: no successful AnomalyCLIP run to apply")
    stride = int(cfg.frame_stride if stride is None else stride)
    method = AnomalyCLIPMethod(data, cfg, data.models["clip"])
    scores: list[dict[str, np.ndarray]] = [{} for _ in runs]
    for vid, ann in tqdm(bench.ann.items(), desc="bench", leave=False, disable=not progress):
        T = int(ann.num_frames)
        frames = VideoReader(ann.video_path).get_frames(np.arange(0, T, stride))
        for k, (r, (streams, hm)) in enumerate(zip(runs, method.read_out([r.model for r in runs], frames))):
            streams = {"heatmap": frame_scores(hm, cfg.frame_score), **streams}
            scores[k][vid] = np.asarray(streams[r.selected], np.float64)
    store = predictions_dir(cfg.CHAPTER, cfg.profile) / "AnomalyCLIP_bench"
    out = []
    for r, sc in zip(runs, scores):
        save_predictions(store / f"seed{r.seed}", {
            v: VideoPrediction(v, scores={r.selected: per_frame(s, stride, int(bench.ann[v].num_frames))})
            for v, s in sc.items()})
        out.append(benchmark.score(bench, sc, expand="none", stride=stride))
        if run is not None:
            for k, v in out[-1].items():
                run.log_metric(f"bench/seed{r.seed}/{k}", v)
    return out


# ------------------------------------------------------------------ regions at a validation-chosen threshold ----

#: thresholds of the validation sweep (:func:`region_threshold_table`); 0.5 is the protocol's fixed one
REGION_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
#: the sweep reads every VAL_EVERY-th scored validation frame (its ground truth too: RBDC/TBDC count scored frames)
VAL_EVERY = 2


def _regions_at(preds, ann, data, thresholds) -> dict[float, dict[str, np.ndarray]]:
    """``{t: {video: regions [N, 6]}}`` from stored heatmaps, each map upsampled once for every threshold
    (:func:`vadkit.methods.heatmap.regions` at each ``t``)."""
    from vadkit.methods.heatmap import upsample
    from vadkit.metrics.spatial import heatmap_to_regions

    out: dict[float, dict[str, np.ndarray]] = {t: {} for t in thresholds}
    for vid, p in preds.items():
        up = upsample(np.asarray(p.heatmaps, np.float32), data.size_of(ann[vid]))
        peak = up.reshape(len(up), -1).max(1)
        for t in thresholds:                                   # a map below t everywhere has no region
            rows = [(float(f), *r) for f, hm, m in zip(p.heatmap_frames, up, peak) if m >= t
                    for r in heatmap_to_regions(hm, threshold=t)]
            out[t][vid] = np.asarray(rows, np.float64).reshape(-1, 6)
    return out


def _region_scores(preds, regs, ann, cfg) -> dict:
    import dataclasses

    from vadkit.experiment.recipes.heatmaps import region_metrics

    q = {v: dataclasses.replace(p, regions=regs[v]) for v, p in preds.items()}
    return region_metrics(q, ann, beta=cfg.beta, alpha=cfg.alpha)


def threshold_on_val(val_preds, test_preds, data, cfg, thresholds=REGION_THRESHOLDS) -> dict:
    """The region threshold that maximises the mean of RBDC and TBDC on the validation split (ties: the lower),
    and the test RBDC / TBDC of the stored test heatmaps at it: ``{"threshold", "val_rbdc", "val_tbdc", "rbdc",
    "tbdc"}`` (fractions). Only the regions change; heatmaps, frames and the ground truth are the protocol's."""
    val_ann, test_ann = data.split("val"), data.split("test")
    regs = _regions_at(val_preds, val_ann, data, thresholds)
    sweep = {t: _region_scores(val_preds, regs[t], val_ann, cfg) for t in thresholds}
    best = max(thresholds, key=lambda t: 0.5 * (sweep[t]["rbdc"] + sweep[t]["tbdc"]))
    test = _region_scores(test_preds, _regions_at(test_preds, test_ann, data, [best])[best], test_ann, cfg)
    return {"threshold": best, "val_rbdc": sweep[best]["rbdc"], "val_tbdc": sweep[best]["tbdc"], **test}


def _every(p, k: int):
    import dataclasses

    return dataclasses.replace(p, heatmaps=p.heatmaps[::k], heatmap_frames=p.heatmap_frames[::k], regions=None)


def region_threshold_table(data, cfg, runs, baselines, *, thresholds=REGION_THRESHOLDS, run=None):
    """RBDC / TBDC (%) with each method's region threshold chosen on validation (:func:`threshold_on_val`):
    AnomalyCLIP (every seed), the flow cells and the CLIP prompts. The sweep reads the validation heatmaps each
    run was selected on (``SeedRun.val_predictions``), every :data:`VAL_EVERY`-th scored frame; the random heatmap
    is left out (no threshold makes noise localise). With a registry ``run`` each run's threshold, RBDC and TBDC
    are logged as ``val_threshold/<method>/run<k>/<key>``. Returns ``(DataFrame, {method: [per-run dict]})``."""
    import pandas as pd

    def every(r):
        return {k: _every(p, VAL_EVERY) for k, p in r.val_predictions.items()}

    ok = [r for r in runs if r.ok]
    val = {"AnomalyCLIP": [every(r) for r in ok]}
    test = {"AnomalyCLIP": [r.predictions for r in ok]}
    for name in ("flow cells (classical)", "CLIP prompts (zero-shot)"):
        done = [r for r in baselines.get(name, []) if r.ok]
        if done:
            val[name] = [every(done[0])]
            test[name] = [done[0].predictions]
    res = {n: [threshold_on_val(v, t, data, cfg, thresholds) for v, t in zip(val[n], test[n])] for n in val}
    if run is not None:
        for name, rs in res.items():
            for k, r in enumerate(rs):
                for key in ("threshold", "rbdc", "tbdc"):
                    run.log_metric(f"val_threshold/{name.split(' (')[0].replace(' ', '_')}/run{k}/{key}", r[key])
    rows = []
    for name, rs in res.items():
        def ms(key, rs=rs):
            v = 100 * np.asarray([r[key] for r in rs], float)
            return f"{v.mean():.2f}" + (f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else " (1 run)")
        rows.append({"method": name, "runs": len(rs),
                     "threshold (val)": ", ".join(f"{t:g}" for t in sorted({r["threshold"] for r in rs})),
                     "val RBDC": ms("val_rbdc"), "val TBDC": ms("val_tbdc"), "RBDC": ms("rbdc"), "TBDC": ms("tbdc")})
    return pd.DataFrame(rows).set_index("method"), res
