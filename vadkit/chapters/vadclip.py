"""Chapter 11, VadCLIP: the dual-branch CLIP adapter for weakly supervised VAD (Wu et al., AAAI 2024).

This module holds the chapter's typed config and the orchestration shared with chapter 12 (Ex-VAD):
data and feature loading, building the training items, one train/validate/test run per (method variant,
seed) through :func:`run_variant`, and the evaluation (coarse AUC/AP under the VadCLIP ground-truth
convention, fine-grained mAP@IoU on the abnormal test videos).

Smoke: SynthVAD smoke splits, tiny-zoo CLIP features, scaled-down widths/epochs. Full: UCF-Crime (default) or
XD-Violence (``dataset="xd_violence", window=64, lr=1e-5``) with CLIP ViT-B/16 features, the paper's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vadkit.config import ChapterConfig
from vadkit.errors import ConfigError, VadkitError


@dataclass
class VadCLIPConfig(ChapterConfig):
    """Parameters of chapter 11. Smoke defaults; ``FULL`` gives VadCLIP's published values (UCF-Crime).

    =================  ==========  ==================================================
    field              smoke       paper (VadCLIP, UCF-Crime / XD-Violence)
    =================  ==========  ==================================================
    max_len            32          256
    width              0 (=CLIP)   512 (ViT-B/16)
    window             8           8 / 64
    layers, heads      1, 1        2, 1
    n_prefix/postfix   4 / 4       10 / 10
    epochs             8           10
    lr                 1e-3        2e-5 / 1e-5 (AdamW)
    milestones         6           4, 8 (MultiStepLR, gamma 0.1)
    batch_size         16          64
    tau, lam           0.07, 1     0.07, 1
    seeds              0, 1, 2     (one unreported seed)
    =================  ==========  ==================================================
    """

    CHAPTER = "11_vadclip"
    FULL = {"dataset": "ucf_crime", "clip": "ViT-B-16:openai", "threads": 0, "max_len": 256, "width": 512,
            "window": 8,
            "layers": 2, "heads": 1, "n_prefix": 10, "n_postfix": 10, "epochs": 10, "lr": 2e-5,
            "milestones": [4, 8], "batch_size": 64, "feature_batch_size": 256}

    dataset: str = "synthvad"          # synthvad | ucf_crime | xd_violence (vadkit.data.datasets names)
    data_root: str | None = None       # None in smoke: the cached SynthVAD smoke splits
    train_split: str = "train"
    val_split: str = "val"             # model selection and coarse-variant choice, never the test split
    test_split: str = "test"
    clip: str = "zoo:tiny-clip"
    snippet_len: int = 16
    feature_batch_size: int = 64
    max_len: int = 32
    width: int = 0                     # 0 = the CLIP embedding width
    window: int = 8
    layers: int = 1
    heads: int = 1
    n_prefix: int = 4
    n_postfix: int = 4
    epochs: int = 8
    lr: float = 1e-3
    milestones: list[int] = field(default_factory=lambda: [6])
    batch_size: int = 16
    steps_per_epoch: int = 0           # 0 = one pass over the larger of normal / abnormal training videos
    tau: float = 0.07
    lam: float = 1.0
    select_metric: str = "auc_o"       # validation metric for model selection: auc_o (UCF) or ap_step (XD)
    gt_convention: str = "vadclip"     # ground-truth convention of vadkit.metrics.evaluate_frame_level
    map_convention: str = "vadclip"    # mAP@IoU convention ("vadclip" faithful, "corrected")
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    retrain: bool = False              # ignore cached trained weights
    threads: int = 1                   # torch CPU threads for training (0 = torch default); on a shared 2-core
                                       # machine one thread is ~10x faster than two for these small models


# ---------------------------------------------------------------- data -----------------------------------------

@dataclass
class ChapterData:
    """Everything a run needs: the three splits, their feature stores, class names and the CLIP backend."""

    train: Any
    val: Any
    test: Any
    stores: dict
    classes: list[str]
    clip: Any
    feature_dim: int
    texts: dict = field(default_factory=dict)      # {source: {video_id: [D] or [T, D]}}
    extra: dict = field(default_factory=dict)

    def split(self, name: str):
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def load_splits(cfg) -> tuple[Any, Any, Any, Path]:
    """``(train, val, test, root)`` annotations."""
    from vadkit.data.datasets import load_dataset

    if cfg.data_root is None:
        if cfg.dataset != "synthvad":
            raise ConfigError(f"{cfg.CHAPTER}: dataset {cfg.dataset!r} needs data_root "
                              f"(see `vadkit data info {cfg.dataset}`)")
        from vadkit.data.synth import smoke_dataset

        root = Path(smoke_dataset())
    else:
        root = Path(cfg.data_root).expanduser()
    return (load_dataset(cfg.dataset, root, split=cfg.train_split), load_dataset(cfg.dataset, root, split=cfg.val_split),
            load_dataset(cfg.dataset, root, split=cfg.test_split), root)


def class_names(*splits) -> list[str]:
    """Class vocabulary, normal first: the dataset's ``class_names`` or the union of video classes."""
    names = list(splits[0].class_names) if splits[0].class_names else []
    if not names:
        seen = {c for s in splits for a in s.values() for c in a.classes}
        names = sorted(seen - {"normal"})
    names = [c for c in names if c.lower() not in ("normal", "a")]
    return ["normal"] + names


def prepare_data(cfg) -> ChapterData:
    """Load splits, the CLIP backend and (cached) snippet features of every split."""
    from vadkit.features import extract_dataset
    from vadkit.models import load_clip

    train, val, test, _ = load_splits(cfg)
    clip = load_clip(cfg.clip)
    for p in clip.model.parameters():                  # frozen CLIP (VadCLIP never fine-tunes it)
        p.requires_grad_(False)
    stores = {name: extract_dataset(ann, cfg.clip, snippet_len=cfg.snippet_len, batch_size=cfg.feature_batch_size,
                                   clip=clip)
              for name, ann in (("train", train), ("val", val), ("test", test))}
    classes = class_names(train, val, test)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)     # feature extraction may have raised it
    vid = next(iter(train))
    dim = int(np.asarray(stores["train"].load(vid)).shape[-1])
    return ChapterData(train, val, test, stores, classes, clip, dim)


def multi_hot(ann, classes: list[str]) -> np.ndarray:
    """Video-level target ``[C]``: its abnormal classes (several for XD-style videos), or ``normal``."""
    y = np.zeros(len(classes), dtype=np.float32)
    labels = [c for c in ann.classes if c in classes and c != "normal"] if ann.is_anomalous else []
    if ann.is_anomalous and not labels:
        raise VadkitError(f"{ann.video_id}: anomalous video with classes {ann.classes} outside {classes}")
    for c in labels or ["normal"]:
        y[classes.index(c)] = 1.0
    return y


def build_items(data: ChapterData, split: str, text_source: str | None = None) -> tuple[list, dict]:
    """Training items of ``split``; videos without features or text are recorded in the returned failures."""
    from vadkit.methods.training import SequenceItem

    ann, store = data.split(split), data.stores[split]
    items, failures = [], {}
    texts = data.texts.get(text_source, {}) if text_source else None
    for a in ann.values():
        try:
            x = np.asarray(store.load(a.video_id), dtype=np.float32)
            t = None
            if texts is not None:
                if a.video_id not in texts:
                    raise VadkitError(f"{a.video_id}: no {text_source} text features")
                t = texts[a.video_id]
            items.append(SequenceItem(a.video_id, x, int(a.is_anomalous), multi_hot(a, data.classes), t))
        except (VadkitError, OSError, KeyError) as err:
            failures[a.video_id] = str(err)
    return items, failures


# ---------------------------------------------------------------- model ----------------------------------------

@dataclass
class Variant:
    """One trained method variant: the rows of the chapters' tables."""

    name: str
    class_mode: str = "learnable"      # learnable | cls | a_video_of | laam
    text_source: str | None = None     # None (visual only) | explanation | captions
    visual_prompt: bool = True         # VadCLIP's visual prompt on class embeddings
    fusion: str = "add"                # used when text_source is set
    topk_phrases: int = 4              # LAAM k
    use_fine: bool = True


def make_class_source(variant: Variant, data: ChapterData, cfg):
    from vadkit.methods.prompt_learning import FixedClassEmbeddings, LearnablePrompt, TextEncoderHooks

    names = [c.replace("_", " ") for c in data.classes]
    if variant.class_mode == "learnable":
        return LearnablePrompt(TextEncoderHooks.from_clip(data.clip), names, cfg.n_prefix, cfg.n_postfix)
    if variant.class_mode in ("cls", "a_video_of"):
        template = "{}" if variant.class_mode == "cls" else "a video of {}"
        with torch.no_grad():
            emb = data.clip.encode_texts([template.format(n) for n in names])
        return FixedClassEmbeddings(emb)
    if variant.class_mode == "laam":
        emb = data.extra["laam"][variant.topk_phrases]
        return FixedClassEmbeddings(emb)
    raise ConfigError(f"unknown class_mode {variant.class_mode!r}")


def build_model(variant: Variant, data: ChapterData, cfg):
    from vadkit.methods.vadclip import DualBranchConfig, DualBranchVAD

    clip_dim = int(getattr(data.clip, "embed_dim", data.feature_dim))
    width = cfg.width or clip_dim
    if width != clip_dim:
        raise ConfigError(f"{cfg.CHAPTER}: width {width} must equal the CLIP embedding width {clip_dim} "
                          f"(the alignment map compares visual features with CLIP text embeddings)")
    arch = DualBranchConfig(width=width, max_len=cfg.max_len, window=cfg.window, layers=cfg.layers, heads=cfg.heads,
                            visual_prompt=variant.visual_prompt,
                            text_fusion=variant.fusion if variant.text_source else "none")
    model = DualBranchVAD(data.feature_dim, make_class_source(variant, data, cfg), arch, text_dim=clip_dim)
    # same device as the frozen CLIP (the learnable prompt runs through its text tower): CPU smoke, GPU full
    return model.to(getattr(data.clip, "device", None) or "cpu")


# ---------------------------------------------------------------- evaluation -----------------------------------

def predict_split(model, data: ChapterData, split: str, text_source: str | None, tau: float) -> tuple[dict, dict]:
    """Predictions for every video of ``split`` (batched); videos without features / text are recorded as failures."""
    from vadkit.methods.vadclip import predict_videos

    feats, texts, failures = {}, ({} if text_source else None), {}
    src = data.texts.get(text_source, {}) if text_source else None
    for vid in data.split(split):
        try:
            feats[vid] = data.stores[split].load(vid)
            if src is not None:
                if vid not in src:
                    raise VadkitError(f"{vid}: no {text_source} text features")
                texts[vid] = src[vid]
        except (VadkitError, OSError, KeyError) as err:
            feats.pop(vid, None)
            failures[vid] = f"{type(err).__name__}: {err}"
    return predict_videos(model, feats, texts, tau), failures


def coarse_metrics(preds: dict, ann, cfg, key: str) -> dict:
    """Frame-level AUC/AP of ``preds[vid][key]`` (``coarse`` or ``align_anomaly``) under ``cfg.gt_convention``."""
    from vadkit.metrics import evaluate_frame_level

    scores = {v: p[key] for v, p in preds.items()}
    sub = ann.filter(lambda a: a.video_id in scores) if hasattr(ann, "filter") else ann
    return evaluate_frame_level(scores, sub, gt_convention=cfg.gt_convention, expand="repeat",
                                snippet_len=cfg.snippet_len, align="error",
                                per_class=False, missing="ignore")


def half_open_segments(ann) -> tuple[list, list]:
    segs, labs = [], []
    for s in ann.segments:
        end = s.end + 1 if s.end_inclusive else s.end
        segs.append([int(s.start), int(end)])
        labs.append(s.label)
    return segs, labs


def fine_metrics(preds: dict, ann, classes: list[str], cfg) -> dict:
    """mAP@IoU 0.1..0.5 and AVG on the abnormal test videos (Ex-VAD protocol), class probabilities repeated 16x."""
    from vadkit.metrics.temporal import detection_map

    P, S, L = [], [], []
    for vid, p in preds.items():
        a = ann[vid]
        if not a.is_anomalous:
            continue
        segs, labs = half_open_segments(a)
        if not segs or any(lab not in classes for lab in labs):
            continue
        P.append(np.repeat(p["class_probs"], cfg.snippet_len, axis=0))
        S.append(segs)
        L.append(labs)
    if not P:
        raise VadkitError(f"{ann.name}: no abnormal video with labelled segments to compute mAP@IoU")
    return detection_map(P, S, L, classes, convention=cfg.map_convention, snippet_len=cfg.snippet_len)


def random_baseline_map(ann, classes: list[str], cfg, seed: int = 0) -> dict:
    """mAP@IoU of uniform random class probabilities (the 'Random Baseline' row of Tables 1-2)."""
    rng = np.random.default_rng(seed)
    preds = {}
    for vid, a in ann.items():
        n = max(1, int(np.ceil((a.num_frames or cfg.snippet_len) / cfg.snippet_len)))
        p = rng.random((n, len(classes)))
        preds[vid] = {"class_probs": p / p.sum(1, keepdims=True)}
    return fine_metrics(preds, ann, classes, cfg)


# ---------------------------------------------------------------- one run --------------------------------------

def run_variant(variant: Variant, data: ChapterData, cfg, seed: int, cache_name: str | None = None) -> dict:
    """Train-or-load one variant with one seed, select on validation, evaluate on test.

    Returns ``{"seed", "variant", "best_epoch", "val": {...}, "coarse_variant", "test": {metrics},
    "preds": {video_id: arrays}, "history", "cached"}``. The coarse inference variant (classifier score vs
    1 - normal alignment) is chosen on the validation split; the test metrics of both are returned.
    """
    from vadkit import paths
    from vadkit.io_utils import content_hash
    from vadkit.methods.training import TrainConfig, train_model, train_or_load
    from vadkit.methods.vadclip import LossConfig, dual_branch_loss

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    items, fails = build_items(data, "train", variant.text_source)
    lcfg = LossConfig(tau=cfg.tau, lam=cfg.lam, use_fine=variant.use_fine)
    tcfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, milestones=tuple(cfg.milestones),
                       max_len=cfg.max_len, steps_per_epoch=cfg.steps_per_epoch, seed=seed)

    def validate(model) -> float:
        preds, _ = predict_split(model, data, "val", variant.text_source, cfg.tau)
        vals = [coarse_metrics(preds, data.val, cfg, k)[cfg.select_metric] for k in ("coarse", "align_anomaly")]
        vals = [v for v in vals if np.isfinite(v)]
        return max(vals) if vals else float("-inf")

    def train(model):
        torch.manual_seed(seed)
        return train_model(model, items, lambda o, b: dual_branch_loss(o, b["lengths"], b["binary"], b["multi_hot"],
                                                                        lcfg), tcfg, validate)

    key = {"chapter": cache_name or cfg.CHAPTER, "variant": variant.__dict__, "seed": seed,
           "cfg": {k: v for k, v in cfg.to_dict().items() if k not in ("seeds", "retrain", "profile", "ablation_seeds",
                                                                   "run_ablations", "topk_sweep")},
           "train_ids": sorted(it.video_id for it in items), "extra": data.extra.get("cache_key")}
    cache_dir = paths.cache_dir() / "methods" / (cache_name or cfg.CHAPTER)
    if cfg.retrain:
        (cache_dir / f"{content_hash(key)}.pt").unlink(missing_ok=True)
    torch.manual_seed(seed)
    model, info = train_or_load(cache_dir, key, lambda: build_model(variant, data, cfg), train)
    val_preds, _ = predict_split(model, data, "val", variant.text_source, cfg.tau)
    val = {k: coarse_metrics(val_preds, data.val, cfg, k)[cfg.select_metric] for k in ("coarse", "align_anomaly")}
    chosen = max(val, key=lambda k: -np.inf if not np.isfinite(val[k]) else val[k])
    preds, test_fail = predict_split(model, data, "test", variant.text_source, cfg.tau)
    test: dict[str, float] = {}
    for k in ("coarse", "align_anomaly"):
        m = coarse_metrics(preds, data.test, cfg, k)
        test[f"{k}/auc_o"], test[f"{k}/ap"] = m["auc_o"], m["ap_step"]
    test["selected/auc_o"], test["selected/ap"] = test[f"{chosen}/auc_o"], test[f"{chosen}/ap"]
    if variant.use_fine:
        fm = fine_metrics(preds, data.test, data.classes, cfg)
        test.update({f"map/{k}": v for k, v in fm.items() if not isinstance(v, dict)})
    return {"seed": seed, "variant": variant.name, "best_epoch": info["best_epoch"], "val": val,
            "coarse_variant": chosen, "test": test, "preds": preds, "history": info["history"],
            "cached": info["cached"], "failures": {**fails, **test_fail}, "model": model}


def summarize(runs: list[dict], metrics: list[str]) -> dict[str, tuple[float, float]]:
    """``{metric: (mean, std)}`` over seeds."""
    from vadkit.methods.training import mean_std

    return {m: mean_std([r["test"].get(m, np.nan) for r in runs if "test" in r]) for m in metrics}


def fmt(ms: tuple[float, float], scale: float = 100.0) -> str:
    """``"mean ± std"`` in percent; ``"mean (1 seed)"`` when there is no spread to report."""
    m, s = ms
    if not np.isfinite(m):
        return "n/a"
    return f"{scale * m:.2f} ± {scale * s:.2f}" if np.isfinite(s) else f"{scale * m:.2f} (1 seed)"


# published numbers (percent) for the side-by-side tables; sources in the chapter text
PAPER = {
    "table3": {"VadCLIP": {"XD AP": 84.51, "UCF AUC": 88.02}, "Ex-VAD": {"XD AP": 86.52, "UCF AUC": 88.29},
               "LAVAD": {"XD AP": 62.01, "UCF AUC": 80.28}, "VADor": {"XD AP": None, "UCF AUC": 88.1}},
    "table1_ucf": {"Random Baseline": [0.21, 0.14, 0.04, 0.02, 0.01, 0.08],
                   "VadCLIP": [11.72, 7.83, 6.4, 4.53, 2.93, 6.68],
                   "Ex-VAD": [16.51, 12.35, 9.41, 7.82, 4.65, 10.15]},
    "table2_xd": {"Random Baseline": [1.82, 0.92, 0.48, 0.23, 0.09, 0.71],
                  "VadCLIP": [37.03, 30.84, 23.38, 17.09, 14.31, 24.70],
                  "Ex-VAD": [40.14, 32.75, 28.78, 20.15, 18.35, 28.23]},
    "table7": {"VadCLIP": {"params_M": 35.17, "ms_per_frame": 22.30, "GMACs": 29.17},
               "Ex-VAD": {"params_M": 9.97, "ms_per_frame": 15.37, "GMACs": 12.04}},
}


# ---------------------------------------------------------------- Table 7 --------------------------------------

class _OpenClipText:
    """A randomly initialised open_clip text tower with the real architecture (for cost measurements only)."""

    def __init__(self, arch: str = "ViT-B-16"):
        import open_clip

        self.model = open_clip.create_model(arch, pretrained=None)
        self.model.visual = None                       # only the text tower is needed
        self.model.eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.embed_dim = int(self.model.text_projection.shape[1])

    def tokenize(self, texts):
        return self.tokenizer(list(texts))

    @torch.no_grad()
    def encode_texts(self, texts, normalize: bool = True):
        e = self.model.encode_text(self.tokenize(texts))
        return torch.nn.functional.normalize(e, dim=-1) if normalize else e


def cost_of(model, seq_len: int, in_dim: int, text_dim: int | None, snippet_len: int = 16, repeats: int = 3) -> dict:
    """Trainable params, MACs and time per frame of one forward pass on ``[1, seq_len, in_dim]`` random inputs."""
    from vadkit.methods.flops import cost_report

    x = torch.randn(1, seq_len, in_dim)
    lengths = torch.tensor([seq_len])
    text = torch.randn(1, text_dim) if text_dim else None
    return cost_report(model, (x, lengths, text), frames=seq_len * snippet_len, repeats=repeats)


def paper_dim_models(classes: list[str], window: int = 8, laam_k: int = 4) -> dict[str, Any]:
    """VadCLIP and Ex-VAD at the paper's dims (ViT-B/16 width 512, sequence 256, 2 local layers), random weights.

    VadCLIP's learnable prompt runs through a ViT-B/16-architecture text tower (frozen, so not counted as trainable,
    but its MACs are part of every forward pass, as in the reference model); Ex-VAD's label embeddings are
    precomputed once (LAAM), so its forward pass has no text tower.
    """
    from vadkit.methods.prompt_learning import FixedClassEmbeddings, LearnablePrompt, TextEncoderHooks
    from vadkit.methods.vadclip import DualBranchConfig, DualBranchVAD
    from vadkit.models.clip import encode_text_embeddings

    text = _OpenClipText()
    hooks = TextEncoderHooks(text.tokenize, text.model.token_embedding,
                             lambda e, i: encode_text_embeddings(text.model, e, i))
    names = [c.replace("_", " ") for c in classes]
    vad = DualBranchVAD(512, LearnablePrompt(hooks, names, 10, 10),
                        DualBranchConfig(width=512, max_len=256, window=window, layers=2, visual_prompt=True))
    ex = DualBranchVAD(512, FixedClassEmbeddings(text.encode_texts(names)),
                       DualBranchConfig(width=512, max_len=256, window=window, layers=2, visual_prompt=False,
                                        text_fusion="concat"), text_dim=512)
    return {"VadCLIP": vad, "Ex-VAD": ex}


# ---------------------------------------------------------------- tables ---------------------------------------

IOUS = (0.1, 0.2, 0.3, 0.4, 0.5)
MAP_KEYS = [f"map/mAP@{t}" for t in IOUS] + ["map/avg"]
COARSE_KEYS = ["coarse/auc_o", "coarse/ap", "align_anomaly/auc_o", "align_anomaly/ap", "selected/auc_o", "selected/ap"]


def train_seeds(variant: Variant, data: ChapterData, cfg, seeds=None, cache_name: str | None = None) -> list[dict]:
    """:func:`run_variant` for every seed; a failing seed is recorded (``{"seed", "error"}``) and the rest go on."""
    from tqdm.auto import tqdm

    out = []
    for s in tqdm(list(seeds if seeds is not None else cfg.seeds), desc=variant.name, leave=False):
        try:
            out.append(run_variant(variant, data, cfg, s, cache_name))
        except (VadkitError, ValueError, RuntimeError) as err:
            out.append({"seed": s, "variant": variant.name, "error": f"{type(err).__name__}: {err}"})
    return out


def seed_table(runs: list[dict]):
    """One row per seed: selected epoch, validation metrics, chosen coarse variant, test metrics (%)."""
    import pandas as pd

    rows = []
    for r in runs:
        if "error" in r:
            rows.append({"seed": r["seed"], "error": r["error"]})
            continue
        row = {"seed": r["seed"], "best epoch (val)": r["best_epoch"], "coarse variant (val)": r["coarse_variant"]}
        row.update({f"test {k}": round(100 * v, 2) for k, v in r["test"].items()})
        rows.append(row)
    return pd.DataFrame(rows)


def coarse_table(methods: dict[str, list[dict]], dataset_label: str):
    """Table 3 analogue: per method ``AUC_O`` and ``AP`` (mean ± std over seeds) for both inference variants."""
    import pandas as pd

    rows = []
    for name, runs in methods.items():
        s = summarize(runs, COARSE_KEYS)
        rows.append({"method": name, "data": dataset_label,
                     "AUC classifier": fmt(s["coarse/auc_o"]), "AUC 1-p(normal)": fmt(s["align_anomaly/auc_o"]),
                     "AUC val-selected": fmt(s["selected/auc_o"]),
                     "AP classifier": fmt(s["coarse/ap"]), "AP 1-p(normal)": fmt(s["align_anomaly/ap"]),
                     "AP val-selected": fmt(s["selected/ap"]),
                     "paper UCF AUC": PAPER["table3"].get(name, {}).get("UCF AUC"),
                     "paper XD AP": PAPER["table3"].get(name, {}).get("XD AP")})
    return pd.DataFrame(rows)


def map_table(methods: dict[str, list[dict]], random_map: dict | None, dataset_label: str):
    """Tables 1-2 analogue: mAP@IoU 0.1..0.5 and AVG (%; mean ± std over seeds), with the random baseline."""
    import pandas as pd

    cols = [f"{t}" for t in IOUS] + ["AVG"]
    rows = []
    if random_map is not None:
        rows.append({"method": "Random Baseline", "data": dataset_label,
                     **{c: f"{100 * random_map[k[4:]]:.2f}" for c, k in zip(cols, MAP_KEYS)}})
    for name, runs in methods.items():
        s = summarize(runs, MAP_KEYS)
        rows.append({"method": name, "data": dataset_label, **{c: fmt(s[k]) for c, k in zip(cols, MAP_KEYS)}})
    for ds, key in (("UCF-Crime (paper)", "table1_ucf"), ("XD-Violence (paper)", "table2_xd")):
        for name in ["Random Baseline"] + list(methods):
            if name in PAPER[key]:
                rows.append({"method": name, "data": ds, **dict(zip(cols, [f"{v:.2f}" for v in PAPER[key][name]]))})
    return pd.DataFrame(rows)


def registry_metrics(run, prefix: str, runs: list[dict], keys=COARSE_KEYS + MAP_KEYS) -> None:
    """Log ``<prefix>/<metric>/mean|std`` (fractions) and the per-seed values."""
    for k, (m, s) in summarize(runs, keys).items():
        run.log_metric(f"{prefix}/{k}/mean", m)
        run.log_metric(f"{prefix}/{k}/std", s)
    for r in runs:
        for k, v in r.get("test", {}).items():
            run.log_metric(f"{prefix}/seed{r['seed']}/{k}", v)


def cost_table(models: dict[str, tuple], snippet_len: int = 16):
    """Table 7 analogue. ``models = {row name: (model, seq_len, in_dim, text_dim)}``; paper rows appended."""
    import pandas as pd

    rows = []
    for name, (model, seq, in_dim, text_dim) in models.items():
        c = cost_of(model, seq, in_dim, text_dim, snippet_len)
        rows.append({"model": name, "trainable params (M)": round(c["trainable_params"] / 1e6, 3),
                     "GMACs / forward": round(c["macs"] / 1e9, 3), "ms / frame (CPU)": round(c["time_per_frame_ms"], 4),
                     "frames / forward": seq * snippet_len})
    for name, v in PAPER["table7"].items():
        rows.append({"model": f"{name} (paper, A100)", "trainable params (M)": v["params_M"],
                     "GMACs / forward": v["GMACs"], "ms / frame (CPU)": None, "ms / frame (paper GPU)": v["ms_per_frame"],
                     "frames / forward": None})
    return pd.DataFrame(rows)


def frame_gt(ann) -> np.ndarray:
    """Exact frame labels of a video (``frame_labels`` if shipped, else from segments)."""
    if ann.frame_labels is not None:
        return np.asarray(ann.frame_labels)
    return ann.frame_labels_from_segments(int(ann.num_frames), end_inclusive=True)


def describe_data(cfg, data: ChapterData) -> str:
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    multi = sum(1 for s in ("train", "val", "test") for a in data.split(s).values() if len(a.classes) > 1)
    src = "SynthVAD smoke splits (procedural)" if cfg.dataset == "synthvad" else cfg.dataset
    return (f"{src}: {n['train']} train / {n['val']} val / {n['test']} test videos, {len(data.classes) - 1} "
            f"abnormal classes, {multi} multi-label videos; {cfg.clip} features every {cfg.snippet_len} frames")


# ---------------------------------------------------------------- diagnostics ----------------------------------

def feature_probe(data: ChapterData, cfg) -> "pd.DataFrame | None":
    """How much anomaly information the frozen features carry: a fully supervised linear probe.

    A logistic regression is fitted on *train* snippet features with snippet labels taken from the frame-level
    ground truth (a snippet is anomalous when most of its 16 frames are), then scored on every split under the
    chapter's ground-truth convention. It sees labels the weakly supervised methods never see, so its AUC is a
    rough ceiling for what a per-snippet readout of these features can reach, not a competitor. Returns ``None``
    when the training split has no temporal ground truth (real UCF-Crime / XD-Violence training videos).
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X, Y = [], []
    for vid, ann in data.train.items():
        if ann.frame_labels is None:
            return None
        f = np.asarray(data.stores["train"].load(vid))
        fl = np.asarray(ann.frame_labels)
        X.append(f)
        Y.append([fl[t * cfg.snippet_len:(t + 1) * cfg.snippet_len].mean() > 0.5 for t in range(len(f))])
    X, Y = np.concatenate(X), np.concatenate(Y).astype(int)
    if Y.min() == Y.max():
        return None
    probe = LogisticRegression(max_iter=3000).fit(X, Y)
    rows = []
    for split in ("train", "val", "test"):
        scores = {v: probe.predict_proba(np.asarray(data.stores[split].load(v)))[:, 1] for v in data.split(split)}
        m = coarse_metrics({v: {"probe": s} for v, s in scores.items()}, data.split(split), cfg, "probe")
        rows.append({"split": split, "probe AUC_O": 100 * m["auc_o"], "probe AUC_A": 100 * m["auc_a"],
                     "probe AP": 100 * m["ap_step"]})
    return pd.DataFrame(rows)


def reading(methods: dict[str, list[dict]], probe, random_map: dict) -> "pd.DataFrame":
    """Each method's test numbers next to the references they should be read against (percent).

    Rows: per method the validation-selected coarse AUC_O and the mAP@IoU AVG (mean ± std over seeds); the
    supervised linear probe's test AUC_O (:func:`feature_probe`, a rough ceiling for a per-snippet read-out of
    these features; omitted when ``probe`` is ``None``); chance (AUC 50); the random baseline's mAP AVG.
    """
    import pandas as pd

    rows = []
    for name, runs in methods.items():
        s = summarize(runs, ["selected/auc_o", "map/avg"])
        rows.append({"what": f"{name} (weakly supervised)", "AUC_O": fmt(s["selected/auc_o"]),
                     "mAP AVG": fmt(s["map/avg"])})
    if probe is not None:
        test = probe[probe["split"] == "test"]
        if len(test):
            rows.append({"what": "linear probe on frozen features (frame labels)",
                         "AUC_O": f"{float(test['probe AUC_O'].iloc[0]):.2f}", "mAP AVG": "–"})
    rows.append({"what": "chance / random baseline", "AUC_O": "50.00", "mAP AVG": f"{100 * random_map['avg']:.2f}"})
    return pd.DataFrame(rows)
