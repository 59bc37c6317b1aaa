"""Recipe: VadCLIP's dual-branch network on frozen CLIP snippet features (chapters 11 and 12).

* :class:`DualBranchChapterConfig` - the fields chapters 11 and 12 share (data, features, network, training,
  conventions), each with its paper / official-code value;
* :func:`prepare` - splits, frozen CLIP, snippet features, class vocabulary -> :class:`ChapterData`;
* :class:`DualBranchMethod` - one :class:`~vadkit.methods.vadclip.Variant` as the runner's method: items from the
  feature stores, :func:`vadkit.trainer.fit` with VadCLIP's balanced batches and MultiStepLR, batched prediction of
  both coarse streams (classifier ``coarse``, alignment ``align_anomaly`` = 1 - p(normal)) and the class
  probabilities; the stream is chosen on validation;
* :func:`train_seeds` - :func:`vadkit.experiment.runner.run_seeds` for a variant;
* tables: :func:`coarse_table` (Table 3 analogue), :func:`map_table` (Tables 1-2), :func:`cost_table` (Table 7),
  :func:`feature_probe` and :func:`reading` (the references a smoke number is read against).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vadkit.errors import VadkitError
from vadkit.experiment import evaluation as ev
from vadkit.experiment.chapter import ExperimentConfig, param
from vadkit.experiment.data import FeatureSet, Splits, class_names, frame_gt, load_features, load_splits
from vadkit.experiment.reporting import fmt, summarize
from vadkit.experiment.runner import predictions_dir, run_seeds
from vadkit.experiment.types import SeedRun, VideoPrediction
from vadkit.methods.vadclip import Variant

__all__ = ["DualBranchChapterConfig", "ChapterData", "prepare", "DualBranchMethod", "train_seeds", "Variant",
           "frame_gt"]

COARSE_STREAMS = ("coarse", "align_anomaly")
MAP_KEYS = [f"map/mAP@{t}" for t in ev.IOUS] + ["map/avg"]
COARSE_KEYS = ["coarse/auc_o", "coarse/ap", "align_anomaly/auc_o", "align_anomaly/ap", "selected/auc_o",
               "selected/ap"]


@dataclass
class DualBranchChapterConfig(ExperimentConfig):
    """Fields of chapters 11 and 12 (smoke defaults; each chapter's ``FULL`` holds the full profile)."""

    clip: str = param("zoo:tiny-clip", paper="ViT-B/16 (OpenAI CLIP)", note="frozen image encoder")
    snippet_len: int = param(16, paper=16)
    feature_batch_size: int = param(64, show=False)
    max_len: int = param(32, paper=256, code=256, note="snippets per training sequence")
    width: int = param(0, paper=512, note="0 = the CLIP embedding width")
    window: int = param(8, paper="8 (UCF) / 64 (XD)", code="8 / 64", note="local attention window")
    layers: int = param(1, paper=2, code="2 (UCF) / 1 (XD)", note="local Transformer layers")
    heads: int = param(1, paper=1, code=1)
    n_prefix: int = param(4, paper=10, code=10, note="learnable prompt context tokens before the class name")
    n_postfix: int = param(4, paper=10, code=10)
    epochs: int = param(8, paper=10, code=10)
    lr: float = param(1e-3, paper="2e-5 (UCF) / 1e-5 (XD)", code="2e-5 / 1e-5", note="AdamW")
    milestones: list[int] = param([6], paper="4, 8", code="4, 8 (UCF) / 3, 6, 10 (XD)", note="MultiStepLR, gamma 0.1")
    batch_size: int = param(16, paper=64, code="128 = 64 normal + 64 abnormal (UCF) / 96 (XD)",
                            note="videos per step")
    batch_sampling: str = param("balanced_loaders", code="balanced_loaders (UCF) / single_loader (XD)",
                                note="balanced_loaders | single_loader | balanced_random (vadkit.methods.sequences)")
    steps_per_epoch: int = param(0, show=False, note="0 = what the sampler's epoch holds")
    long_videos: str = param("average", code="average (bin means)", note="training sequences longer than max_len: "
                                                                        "average | sample")
    train_crops: int = param(1, code=10, note="1 = centre crop; 10 = every crop a training sequence (official "
                                              "train list: 16,100 rows); validation/test: centre crop")
    epoch_restart: bool = param(True, code=True, note="continue each epoch from the best checkpoint so far "
                                                     "(official training reloads it every epoch)")
    tau: float = param(0.07, paper=0.07, code=0.07, note="MIL-Align temperature")
    lam: float = param(0.1, paper="1 (UCF) / 1e-4 (XD), Ex-VAD's text", code="0.1 (UCF) / 1e-4 (XD)",
                       note="contrastive weight")
    contrastive: str = param("abs", code="mean |cos|", note="abs | hinge (mean max(0, cos), earlier vadkit)")
    gcn_residual: str = param("conv1d", code="Conv1d(k=5, p=2)", note="conv1d | linear")
    prompt_weights: str = param("logits", code="raw logits, then L2-normalised",
                                note="visual prompt weights: logits | sigmoid (earlier vadkit)")
    select_metric: str = param("auc_o", note="validation metric: auc_o (UCF) or ap_step (XD); video-level AUC when "
                                             "validation videos have no frame labels")
    gt_convention: str = param("vadclip", note="ground-truth convention (chapter 01)")
    map_convention: str = param("vadclip", note="mAP@IoU convention: vadclip (faithful) or corrected")
    map_videos: str = param("all", paper="abnormal videos only (Ex-VAD's text)",
                            code="all (290 UCF with normal = 'A'; 800 XD with normal = class 0)",
                            note="all | all_ucf | abnormal (vadkit.experiment.evaluation)")

    def eval_settings(self) -> ev.EvalSettings:
        return ev.EvalSettings(gt_convention=self.gt_convention, map_convention=self.map_convention,
                               map_videos=self.map_videos, snippet_len=self.snippet_len)


# ---------------------------------------------------------------- data -----------------------------------------

@dataclass
class ChapterData:
    """Splits, features, class names and the frozen CLIP; ``texts[source][video_id]`` for text fusion."""

    splits: Splits
    features: FeatureSet
    classes: list[str]
    texts: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    bench: Any = None          # the shared benchmark once attached (:func:`attach_bench`): split "bench"

    @property
    def train(self):
        return self.splits.train

    @property
    def val(self):
        return self.splits.val

    @property
    def test(self):
        return self.splits.test

    @property
    def clip(self):
        return self.features.clip

    @property
    def feature_dim(self) -> int:
        return self.features.dim

    @property
    def stores(self) -> dict:
        return self.features.stores

    def split(self, name: str):
        from vadkit.experiment.benchmark import SPLIT

        if name == SPLIT and self.bench is not None:
            return self.bench.ann
        return self.splits.split(name)


def prepare(cfg: DualBranchChapterConfig) -> ChapterData:
    """Load the splits, the frozen CLIP and the (cached) snippet features of every split."""
    splits = load_splits(cfg.data_settings(), list_dir=predictions_dir(cfg.CHAPTER, cfg.profile).parent)
    if cfg.train_crops not in (1, 10):
        raise VadkitError(f"{cfg.CHAPTER}: train_crops must be 1 (centre crop) or 10, got {cfg.train_crops}")
    feats = load_features(splits, cfg.clip, snippet_len=cfg.snippet_len, batch_size=cfg.feature_batch_size,
                          threads=cfg.threads, train_crop="ten_crop" if cfg.train_crops == 10 else "center")
    return ChapterData(splits, feats, class_names(splits.train, splits.val, splits.test))


def describe_data(cfg, data: ChapterData) -> str:
    multi = sum(1 for s in ("train", "val", "test") for a in data.split(s).values() if len(a.classes) > 1)
    src = "SynthVAD smoke splits (procedural)" if cfg.dataset == "synthvad" else cfg.dataset
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    return (f"{src}: {n['train']} train / {n['val']} val / {n['test']} test videos, {len(data.classes) - 1} "
            f"abnormal classes, {multi} multi-label videos; {cfg.clip} features every {cfg.snippet_len} frames")


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
    from vadkit.methods.sequences import SequenceItem

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
            y, mh = int(a.is_anomalous), multi_hot(a, data.classes)
            if x.ndim == 3:                              # ten crops: one training sequence per crop
                items += [SequenceItem(f"{a.video_id}__{c}", x[:, c], y, mh, t) for c in range(x.shape[1])]
            else:
                items.append(SequenceItem(a.video_id, x, y, mh, t))
        except (VadkitError, OSError, KeyError) as err:
            failures[a.video_id] = str(err)
    return items, failures


# ---------------------------------------------------------------- the method -----------------------------------

class DualBranchMethod:
    """One :class:`Variant` of the dual-branch network as a runner method (see the module docstring)."""

    candidates = COARSE_STREAMS

    def __init__(self, variant: Variant, data: ChapterData, cfg: DualBranchChapterConfig, cache_name: str | None = None):
        self.variant, self.data, self.cfg = variant, data, cfg
        self.name = variant.name
        self.cache_name = cache_name or cfg.CHAPTER
        self.settings = cfg.eval_settings()
        self._items: tuple[list, dict] | None = None

    # what identifies the trained weights: the variant, the settings that shape training, the data and text inputs
    def key_fields(self) -> dict:
        from vadkit.identity import dataset_identity

        c = self.cfg
        items, _ = self.items()
        return {"variant": self.variant.__dict__, "clip": c.clip, "snippet_len": c.snippet_len,
                "arch": self.arch().__dict__, "n_prefix": c.n_prefix, "n_postfix": c.n_postfix, "epochs": c.epochs,
                "lr": c.lr, "milestones": list(c.milestones), "batch_size": c.batch_size,
                "batch_sampling": c.batch_sampling, "long_videos": c.long_videos, "train_crops": c.train_crops,
                "epoch_restart": c.epoch_restart, "contrastive": c.contrastive,
                "steps_per_epoch": c.steps_per_epoch, "tau": c.tau, "lam": c.lam, "select_metric": c.select_metric,
                "gt_convention": c.gt_convention, "classes": self.data.classes,
                "train": dataset_identity(self.data.train), "val": dataset_identity(self.data.val),
                "train_ids": sorted(it.video_id for it in items), "features": self.data.stores["train"].root.name,
                "text": self.data.extra.get("cache_key")}

    def items(self) -> tuple[list, dict]:
        if self._items is None:
            self._items = build_items(self.data, "train", self.variant.text_source)
        return self._items

    def arch(self):
        from vadkit.methods.vadclip import DualBranchConfig

        c = self.cfg
        width = c.width or int(getattr(self.data.clip, "embed_dim", self.data.feature_dim))
        return DualBranchConfig(width=width, max_len=c.max_len, window=c.window, layers=c.layers, heads=c.heads,
                                gcn_residual=c.gcn_residual, prompt_weights=c.prompt_weights)

    def build(self, seed: int):
        from vadkit.methods.vadclip import build_dual_branch

        return build_dual_branch(self.variant, self.data.clip, self.data.classes, self.data.feature_dim, self.arch(),
                                 n_prefix=self.cfg.n_prefix, n_postfix=self.cfg.n_postfix,
                                 laam=self.data.extra.get("laam"))

    def fit(self, model, seed: int) -> dict:
        from vadkit.methods.sequences import batches as draw, steps_per_epoch
        from vadkit.methods.vadclip import LossConfig, dual_branch_loss
        from vadkit.trainer import FitConfig, Schedule, fit

        c = self.cfg
        items, _ = self.items()
        lcfg = LossConfig(tau=c.tau, lam=c.lam, use_fine=self.variant.use_fine, contrastive=c.contrastive)
        steps = steps_per_epoch(items, c.batch_size, c.steps_per_epoch, c.batch_sampling)
        fcfg = FitConfig(epochs=c.epochs, steps_per_epoch=steps, lr=c.lr, weight_decay=0.01,
                         schedule=Schedule("multistep", milestones=tuple(c.milestones), gamma=0.1), seed=seed)
        device = next(model.parameters()).device
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)

        def batches(epoch):
            return draw(items, c.batch_size, steps, rng, c.max_len, device, c.batch_sampling, c.long_videos)

        def loss_fn(m, b):
            out = m(b["x"], b["lengths"], b["text"])
            return dual_branch_loss(out, b["lengths"], b["binary"], b["multi_hot"], lcfg)

        def validate(m) -> float:
            preds, _ = self.predict(m, "val")
            vals = [self.validation_value(preds, k) for k in self.candidates]
            vals = [v for v in vals if np.isfinite(v)]
            return max(vals) if vals else float("-inf")

        res = fit(model, batches, loss_fn, fcfg, validate=validate, restart_from_best=c.epoch_restart)
        return {"best_epoch": res.best_epoch, "best_val": res.best_val, "history": res.history}

    def predict(self, model, split: str) -> tuple[dict[str, VideoPrediction], dict[str, str]]:
        """Predictions for every video of ``split`` (batched); videos without features / text are failures."""
        from vadkit.methods.vadclip import predict_videos

        src = self.variant.text_source
        feats, texts, failures = {}, ({} if src else None), {}
        table = self.data.texts.get(src, {}) if src else None
        for vid in self.data.split(split):
            try:
                feats[vid] = self.data.stores[split].load(vid)
                if table is not None:
                    if vid not in table:
                        raise VadkitError(f"{vid}: no {src} text features")
                    texts[vid] = table[vid]
            except (VadkitError, OSError, KeyError) as err:
                feats.pop(vid, None)
                failures[vid] = f"{type(err).__name__}: {err}"
        raw = predict_videos(model, feats, texts, self.cfg.tau)
        preds = {v: VideoPrediction(v, scores={"coarse": r["coarse"], "align_anomaly": r["align_anomaly"]},
                                    snippet_len=self.cfg.snippet_len, class_probs=r["class_probs"],
                                    classes=tuple(self.data.classes))
                 for v, r in raw.items()}
        return preds, failures

    def validation_value(self, preds: dict[str, VideoPrediction], stream: str) -> float:
        if self.data.splits.val_criterion == "video":
            return ev.video_level_auc(preds, self.data.val, stream)
        return ev.frame_metrics(preds, self.data.val, stream, self.settings)[self.cfg.select_metric]

    def evaluate(self, preds: dict[str, VideoPrediction], selected: str) -> dict[str, float]:
        test: dict[str, float] = {}
        for k in COARSE_STREAMS:
            m = ev.frame_metrics(preds, self.data.test, k, self.settings)
            test[f"{k}/auc_o"], test[f"{k}/ap"] = m["auc_o"], m["ap_step"]
        test["selected/auc_o"], test["selected/ap"] = test[f"{selected}/auc_o"], test[f"{selected}/ap"]
        if self.variant.use_fine:
            fm = ev.detection_metrics(preds, self.data.test, self.data.classes, self.settings)
            test.update({f"map/{k}": v for k, v in fm.items() if not isinstance(v, dict)})
            other = "abnormal" if self.settings.map_videos != "abnormal" else "all"
            alt = ev.detection_metrics(preds, self.data.test, self.data.classes, self.settings, other)
            test[f"map_{other}/avg"] = alt["avg"]
        return test


def train_seeds(variant: Variant, data: ChapterData, cfg: DualBranchChapterConfig, seeds=None,
                cache_name: str | None = None) -> list[SeedRun]:
    """Train-or-load ``variant`` for every seed (``cfg.seeds`` by default); failed seeds are recorded in their run."""
    method = DualBranchMethod(variant, data, cfg, cache_name)
    return run_seeds(method, list(seeds if seeds is not None else cfg.seeds), cache_name=method.cache_name,
                     retrain=cfg.retrain, threads=cfg.threads, store=predictions_dir(cfg.CHAPTER, cfg.profile))


def selected_run(runs: list[SeedRun]) -> SeedRun:
    """The seed chosen on validation (best validation value of its selected stream)."""
    ok = [r for r in runs if r.ok]
    if not ok:
        raise VadkitError("no successful seed to choose from")
    return max(ok, key=lambda r: max(r.val.values()))


# ---------------------------------------------------------------- the shared benchmark -------------------------

def attach_bench(data: ChapterData, cfg):
    """The shared SynthVAD benchmark (:func:`vadkit.experiment.benchmark.load_benchmark`; ``None`` off SynthVAD or
    with ``bench=False``) attached to ``data`` as split ``"bench"``, its frozen ``cfg.clip`` features from the
    shared feature cache, so a method's own ``predict(model, "bench")`` scores it. Chapters 10, 11 and 12."""
    from vadkit.experiment import benchmark

    bench = benchmark.load_benchmark(cfg)
    if bench is None:
        return None
    if data.bench is None or data.bench.root != bench.root:
        data.stores[benchmark.SPLIT] = benchmark.features(bench, cfg.clip, snippet_len=cfg.snippet_len,
                                                          batch_size=cfg.feature_batch_size, clip=data.clip,
                                                          threads=cfg.threads)
        data.bench = bench
    return data.bench


def score_bench(variants: dict[str, tuple[Variant, list[SeedRun]]], data: ChapterData,
                cfg: DualBranchChapterConfig) -> dict[str, list[dict]] | None:
    """``{name: [bench numbers per seed]}`` (:func:`vadkit.experiment.benchmark.score`): each seed's weights of
    the epoch chosen on validation and its validation-chosen coarse stream, unchanged, on every bench video
    (``variants = {name: (variant, its runs)}``; text variants need ``data.texts`` for the bench videos:
    :func:`vadkit.experiment.recipes.ex_vad.aegm_bench`). ``None`` where there is no bench."""
    from vadkit.experiment import benchmark

    bench = attach_bench(data, cfg)
    if bench is None:
        return None
    return {name: benchmark.score_method(bench, DualBranchMethod(v, data, cfg), runs)
            for name, (v, runs) in variants.items()}


# ---------------------------------------------------------------- tables ---------------------------------------

def coarse_table(methods: dict[str, list[SeedRun]], dataset_label: str, paper: str = "ex_vad"):
    """Table 3 analogue: per method ``AUC_O`` and ``AP`` (mean ± std over seeds) for both inference variants."""
    import pandas as pd

    from vadkit import papers

    t3 = papers.load(paper)["tables"]["table3"]["rows"]
    rows = []
    for name, runs in methods.items():
        s = summarize(runs, COARSE_KEYS)
        pub = t3.get(name, [None, None])
        rows.append({"method": name, "data": dataset_label,
                     "AUC classifier": fmt(s["coarse/auc_o"]), "AUC 1-p(normal)": fmt(s["align_anomaly/auc_o"]),
                     "AUC val-selected": fmt(s["selected/auc_o"]),
                     "AP classifier": fmt(s["coarse/ap"]), "AP 1-p(normal)": fmt(s["align_anomaly/ap"]),
                     "AP val-selected": fmt(s["selected/ap"]),
                     "paper UCF AUC": pub[0], "paper XD AP": pub[1]})
    return pd.DataFrame(rows)


def map_table(methods: dict[str, list[SeedRun]], random_map: dict | None, dataset_label: str,
              paper: str = "ex_vad"):
    """Tables 1-2 analogue: mAP@IoU 0.1..0.5 and AVG (%; mean ± std over seeds), with the random baseline.

    The columns score the test videos that ``map_videos`` names (the official code: all of them); the last column
    is the AVG over the other set (Ex-VAD's text: abnormal videos only), so both conventions are on the page.
    Paper rows are as published (all videos in VadCLIP's code)."""
    import pandas as pd

    from vadkit import papers

    cols = [f"{t}" for t in ev.IOUS] + ["AVG"]
    alt = sorted({k for rs in methods.values() for r in rs if r.ok for k in r.test
                  if k.startswith("map_") and k.endswith("/avg")})
    alt_col = {k: f"AVG ({k[4:-4]} videos)" for k in alt}
    rows = []
    if random_map is not None:
        rows.append({"method": "Random Baseline", "data": dataset_label,
                     **{c: f"{100 * random_map[k[4:]]:.2f}" for c, k in zip(cols, MAP_KEYS)}})
    for name, runs in methods.items():
        s = summarize(runs, MAP_KEYS + alt)
        rows.append({"method": name, "data": dataset_label, **{c: fmt(s[k]) for c, k in zip(cols, MAP_KEYS)},
                     **{alt_col[k]: fmt(s[k]) for k in alt}})
    doc = papers.load(paper)["tables"]
    for ds, key in (("UCF-Crime (paper)", "table1_ucf"), ("XD-Violence (paper)", "table2_xd")):
        for name in ["Random Baseline"] + list(methods):
            if name in doc[key]["rows"]:
                rows.append({"method": name, "data": ds,
                             **dict(zip(cols, [f"{v:.2f}" for v in doc[key]["rows"][name]]))})
    return pd.DataFrame(rows)


def cost_table(models: dict[str, tuple], snippet_len: int = 16, paper: str = "ex_vad"):
    """Table 7 analogue. ``models = {row name: (model, seq_len, in_dim, text_dim)}``; paper rows appended."""
    import pandas as pd

    from vadkit import papers
    from vadkit.methods.vadclip import cost_of

    rows = []
    for name, (model, seq, in_dim, text_dim) in models.items():
        c = cost_of(model, seq, in_dim, text_dim, snippet_len)
        rows.append({"model": name, "trainable params (M)": round(c["trainable_params"] / 1e6, 3),
                     "GMACs / forward": round(c["macs"] / 1e9, 3), "ms / frame (CPU)": round(c["time_per_frame_ms"], 4),
                     "frames / forward": seq * snippet_len})
    for name, (params_m, ms, gmacs) in papers.load(paper)["tables"]["table7"]["rows"].items():
        rows.append({"model": f"{name} (paper, A100)", "trainable params (M)": params_m,
                     "GMACs / forward": gmacs, "ms / frame (CPU)": None, "ms / frame (paper GPU)": ms,
                     "frames / forward": None})
    return pd.DataFrame(rows)


def feature_probe(data: ChapterData, cfg) -> "pd.DataFrame | None":
    """How much anomaly information the frozen features carry: a fully supervised linear probe.

    The probe of :mod:`vadkit.experiment.probe` (chapter 02's): a logistic regression on standardised *train*
    snippet features, labelled with the exact ground truth of the frame each feature encodes, its ``C`` chosen
    on *validation*; then every split is scored under the chapter's ground-truth convention. It sees labels the
    weakly supervised methods never see, so its AUC is a rough ceiling for what a per-snippet readout of these
    features can reach, not a competitor. Returns ``None`` when the training split has no temporal ground truth
    (real UCF-Crime / XD-Violence training videos).
    """
    import pandas as pd

    from vadkit.experiment.probe import fit_probe

    if any(a.frame_labels is None and not a.segments and a.is_anomalous for a in data.train.values()):
        return None
    feats = {s: {v: data.features.load(s, v) for v in data.split(s)} for s in ("train", "val", "test")}
    try:
        probe, _ = fit_probe(data.splits, feats, snippet_len=cfg.snippet_len)
    except ValueError:  # one class only in train or validation snippets: no probe to fit or select
        return None
    rows = []
    settings = cfg.eval_settings()
    for split in ("train", "val", "test"):
        preds = {v: VideoPrediction(v, scores={"probe": probe.decision_function(np.asarray(feats[split][v]))})
                 for v in data.split(split)}
        m = ev.frame_metrics(preds, data.split(split), "probe", settings)
        rows.append({"split": split, "probe AUC_O": 100 * m["auc_o"], "probe AUC_A": 100 * m["auc_a"],
                     "probe AP": 100 * m["ap_step"]})
    return pd.DataFrame(rows)


def reading(methods: dict[str, list[SeedRun]], probe, random_map: dict, data: ChapterData | None = None,
            cfg=None) -> "pd.DataFrame":
    """Each method's test numbers next to the references they should be read against (percent).

    Rows: per method the validation-selected coarse AUC_O with a 95 % bootstrap interval over test videos (when
    ``data`` and ``cfg`` are given) and the mAP@IoU AVG (mean ± std over seeds); the supervised linear probe's test
    AUC_O (:func:`feature_probe`, a rough ceiling for a per-snippet read-out of these features; omitted when
    ``probe`` is ``None``); chapter 00's classical flow-grid model on the same test split (when chapter 00 has run on
    this profile and dataset); chance (AUC 50); the random baseline's mAP AVG.
    """
    import pandas as pd

    from vadkit.experiment.reporting import classical_floor, frame_auc_bootstrap

    rows = []
    for name, runs in methods.items():
        s = summarize(runs, ["selected/auc_o", "map/avg"])
        row = {"what": f"{name} (weakly supervised)", "AUC_O": fmt(s["selected/auc_o"]), "mAP AVG": fmt(s["map/avg"])}
        if data is not None and cfg is not None:
            lo, hi = frame_auc_bootstrap(runs, data.test, cfg.eval_settings())
            row["AUC_O 95% CI (videos)"] = f"[{100 * lo:.1f}, {100 * hi:.1f}]" if np.isfinite(lo) else "–"
        rows.append(row)
    if probe is not None:
        test = probe[probe["split"] == "test"]
        if len(test):
            rows.append({"what": "linear probe on frozen features (frame labels)",
                         "AUC_O": f"{float(test['probe AUC_O'].iloc[0]):.2f}", "mAP AVG": "–"})
    if cfg is not None and cfg.dataset == "synthvad":
        floor = classical_floor(cfg.profile)
        if floor is not None:
            rows.append({"what": "classical floor: chapter 00's flow-grid model (no learning from labels)",
                         "AUC_O": f"{100 * floor:.2f}", "mAP AVG": "–"})
    rows.append({"what": "chance / random baseline", "AUC_O": "50.00", "mAP AVG": f"{100 * random_map['avg']:.2f}"})
    return pd.DataFrame(rows)


def random_baseline_map(data: ChapterData, cfg, seed: int = 0) -> dict:
    return ev.random_baseline_map(data.test, data.classes, cfg.eval_settings(), seed)


def paper_dim_cost_models(classes: list[str], window: int = 8) -> dict[str, Any]:
    from vadkit.methods.vadclip import paper_dim_models

    return paper_dim_models(classes, window)


#: The full profile of the dual-branch chapters: VadCLIP's official code on UCF-Crime (ViT-B/16 features).
DUAL_BRANCH_FULL = {"dataset": "ucf_crime", "clip": "ViT-B-16:openai", "threads": 0, "max_len": 256, "width": 512,
                    "window": 8, "layers": 2, "heads": 1, "n_prefix": 10, "n_postfix": 10, "epochs": 10, "lr": 2e-5,
                    "milestones": [4, 8], "batch_size": 128, "batch_sampling": "balanced_loaders",
                    "train_crops": 10, "lam": 0.1, "map_videos": "all_ucf", "feature_batch_size": 256}

#: VadCLIP's official XD-Violence settings (``xd_option.py``, ``xd_train.py``), applied when ``dataset="xd_violence"``.
DUAL_BRANCH_FULL_XD = {"window": 64, "layers": 1, "lr": 1e-5, "milestones": [3, 6, 10], "batch_size": 96,
                       "batch_sampling": "single_loader", "lam": 1e-4, "select_metric": "ap_step", "map_videos": "all"}


def models_label(cfg) -> str:
    parts = [f"CLIP {cfg.clip} (frozen)"]
    for role in ("captioner", "llm"):
        if hasattr(cfg, role):
            parts.append(f"{role} {getattr(cfg, role)}")
    return "; ".join(parts)


#: how the dual-branch chapters meet the bench (the leaderboard's note)
BENCH_NOTE = ("each seed's weights (epoch chosen on val) and coarse stream chosen on val; frozen CLIP features "
              "every 16 frames, snippet scores repeated")


def log_headline(run, methods: dict[str, list[SeedRun]], data: ChapterData, cfg, paper: str = "ex_vad",
                 bench: dict[str, list[dict]] | None = None, bench_note: str | None = None) -> list[dict]:
    """Declare the chapter's headline metrics (validation-selected AUC_O with a bootstrap CI, mAP@IoU AVG) in the
    registry, with the published UCF-Crime numbers beside them (:func:`vadkit.experiment.reporting.log_headline`),
    and each method's shared-benchmark rows (:func:`score_bench`) where ``bench`` has them."""
    from vadkit import papers
    from vadkit.experiment import benchmark
    from vadkit.experiment.reporting import frame_auc_bootstrap, headline_entry
    from vadkit.experiment.reporting import log_headline as _log

    doc = papers.load(paper)
    dataset = "SynthVAD" if cfg.dataset == "synthvad" else cfg.dataset
    entries = []
    for name, runs in methods.items():
        auc = doc["tables"]["table3"]["rows"].get(name, [None])[0]
        fine = doc["tables"]["table1_ucf"]["rows"].get(name, [None] * 6)[-1]
        src = f"{doc['citation']}, Table 3" + (" (quoted)" if name not in ("VadCLIP", "Ex-VAD") else "")
        entries.append(headline_entry(name, "AUC_O", runs, "selected/auc_o", dataset=dataset, split=cfg.test_split,
                                      profile=cfg.profile, ci=frame_auc_bootstrap(runs, data.test, cfg.eval_settings()),
                                      paper=None if auc is None else {"value": auc, "dataset": "UCF-Crime",
                                                                      "source": src}))
        entries.append(headline_entry(name, "mAP@IoU AVG", runs, "map/avg", dataset=dataset, split=cfg.test_split,
                                      profile=cfg.profile,
                                      paper=None if fine is None else {"value": fine, "dataset": "UCF-Crime",
                                                                       "source": f"{doc['citation']}, Table 1"}))
        if bench and name in bench:
            entries += benchmark.headline_entries(name, bench[name], profile=cfg.profile,
                                                  note=bench_note or BENCH_NOTE)
    _log(run, entries)
    return entries
