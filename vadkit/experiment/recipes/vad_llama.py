"""Recipe: VAD-LLaMA's three training phases on frozen clip features (chapter 10).

* :class:`VADLLaMAChapterConfig` - every field with its paper value, the choices where the paper is silent;
* :func:`prepare` - splits (SynthVAD's long videos in smoke), the frozen encoder, clip features;
* :class:`VADorMethod` - phase 1 (``lists=()``) or phase 2 (LTC / LSTC co-trained from that seed's phase-1
  predictor) as a runner method; :class:`SultaniMethod` - the classical MIL ranking baseline;
* :func:`train_phase3` / :func:`dialogue` - the adaptor trained on pseudo-instructions (Eq. 4) and the frozen LM's
  answers from the soft prompt, with the VADor pseudo-intervals and a shuffled-input control beside them;
* tables: :func:`wsvad_table` (Tables 1-2), :func:`ablation_table` (Table 3), :func:`k_table` (Table 4),
  :func:`classwise_auc_a` (Figure 6), :func:`context_differences` (paired per-seed differences with a bootstrap
  interval over videos), :func:`dialogue_summary`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from vadkit.errors import VadkitError
from vadkit.experiment import evaluation as ev
from vadkit.experiment.chapter import ExperimentConfig, param
from vadkit.experiment.recipes.dual_branch import ChapterData, build_items
from vadkit.experiment.reporting import fmt, summarize
from vadkit.experiment.runner import predictions_dir, run_seeds, trained_model
from vadkit.experiment.types import SeedRun, VideoPrediction

STREAM = "vador"
KEYS = ["auc_o", "auc_a", "ap"]


@dataclass
class VADLLaMAChapterConfig(ExperimentConfig):
    """Fields of chapter 10 (smoke defaults; the chapter's ``FULL`` holds the full profile)."""

    synth_set: str = param("long", note="SynthVAD root in smoke: 'long' = 600-900-frame videos of seven TAD-like "
                                        "types (vadkit.data.synth.long_dataset)")
    clip: str = param("zoo:tiny-clip", paper="Video-LLaMA VE: EVA-CLIP ViT-G/14 + image and video Q-Formers",
                      note="frozen encoder; full: open_clip ViT-B/16 frame features (a deviation: Video-LLaMA's VE "
                           "is not on the hub as a standalone encoder)")
    snippet_len: int = param(16, paper="not given", note="frames per clip; one frame per clip is encoded")
    clip_feature: str = param("frame", paper="video Q-Former over the clip's frames",
                              note="frame | frame+diff ([x_t, x_t - x_t-1]: a motion cue one frame lacks; on smoke it "
                                   "did not move the supervised probe, 54.8 vs 54.9)")
    feature_batch_size: int = param(64, show=False)
    m_train: int = param(32, paper="m segments, not given", note="segments per training video, one clip sampled "
                                                                 "at random in each; at test every clip, in order")
    hidden: int = param(128, paper="two fc layers, width not given", note="AP g hidden width")
    dropout: float = param(0.1, paper="not given")
    mil_scores: str = param("value+margin", paper="max value and max margin scores 'as [13, 14]'",
                            note="value | value+margin (equations in vadkit.methods.vad_llama)")
    k: int = param(4, paper=4, note="LTC list length K")
    attention: str = param("dot", paper="(x_i X^T) X, no softmax", note="dot | softmax")
    ltc_weights: str = param("linear", paper="two fc layers, shapes not given",
                             note="linear (D x D map per list, no bias) | scalar")
    score_source: str = param("cotrained", paper="unclear", note="cotrained | phase1: which predictor's scores "
                                                                 "fill the lists (both measured)")
    epochs1: int = param(30, paper=30, note="phase 1 epochs")
    epochs2: int = param(30, paper=30, note="phase 2 epochs")
    lr: float = param(1e-3, paper=1e-5, note="AdamW; smoke has ~6 steps an epoch, not ~200")
    weight_decay: float = param(1e-3, paper=1e-3)
    warmup_epochs: int = param(5, paper=5, note="then cosine, per phase")
    batch_size: int = param(8, paper=8)
    sultani_epochs: int = param(30, note="Sultani et al.: Adagrad lr 1e-3, 32 segments, 30 + 30 videos a batch")
    sultani_lr: float = param(1e-3, paper=1e-3)
    llm: str = param("zoo:tiny-llm", paper="Vicuna-7B (Video-LLaMA's LLaMA)", note="frozen causal LM")
    lm_tokens: int = param(32, paper="one token per clip, m not given", note="video tokens in the prompt")
    phase3_vador: str = param("VADor w LTC", note="whose features and scores make the prompt and the answers")
    phase3_steps: int = param(200, paper=30000, note="adaptor iterations")
    phase3_threads: int = param(2, show=False, note="torch CPU threads in phase 3 (the LM dominates the cost)")
    describe_videos: int = param(5, show=False, note="test videos (per seed and LM) asked the second turn")
    phase3_batch: int = param(8, paper=2)
    phase3_lr: float = param(3e-3, paper="1e-5 (the paper's one learning rate)")
    phase3_warmup: int = param(40, paper="5 epochs", note="warm-up steps, then cosine")
    phase3_lm: list[str] = param(["frozen", "tuned"], paper="frozen",
                                 note="frozen (the paper) | tuned (a deviation: the LM's weights train with the "
                                      "adaptor, for a tiny LM that was never instruction-tuned); each listed one runs")
    max_new_tokens: int = param(40, show=False)
    k_sweep: list[int] = param([0, 2, 4, 6, 8], paper="0, 2, 4, 6, 8 (Table 4)")
    context_types: list[str] = param(["loitering", "illegal_occupation", "pedestrian_on_road", "illegal_turn"],
                                     note="named before the run: the types that need seconds of context")
    run_ablations: bool = param(True, show=False, note="Tables 3-4 and the score-source row")
    gt_convention: str = param("vad_llama", code="VAD-LLaMA evaluate_result", note="chapter 01")
    expand: str = param("nearest", code="scores stretched to the frames (nearest)", note="chapter 01")

    def data_settings(self):
        s = super().data_settings()
        return dataclasses.replace(s, synth_set=self.synth_set)

    def eval_settings(self) -> ev.EvalSettings:
        return ev.EvalSettings(gt_convention=self.gt_convention, snippet_len=self.snippet_len, expand=self.expand)


#: The full profile: UCF-Crime (``dataset="tad"`` for TAD) with open_clip ViT-B/16 clip features and Vicuna-7B.
VAD_LLAMA_FULL = {"dataset": "ucf_crime", "clip": "ViT-B-16:openai", "llm": "lmsys/vicuna-7b-v1.5", "threads": 0,
                  "lr": 1e-5, "hidden": 512, "phase3_steps": 30000, "phase3_batch": 2, "phase3_lr": 1e-5,
                  "phase3_warmup": 1000, "phase3_lm": ["frozen"], "feature_batch_size": 256}


# ---------------------------------------------------------------- data -----------------------------------------

def prepare(cfg: VADLLaMAChapterConfig) -> ChapterData:
    """Splits, the frozen encoder and the (cached) clip features of every split."""
    from vadkit.experiment.data import class_names, load_features, load_splits

    splits = load_splits(cfg.data_settings(), list_dir=predictions_dir(cfg.CHAPTER, cfg.profile).parent)
    feats = load_features(splits, cfg.clip, snippet_len=cfg.snippet_len, batch_size=cfg.feature_batch_size,
                          threads=cfg.threads)
    present = {c for s in (splits.train, splits.val, splits.test) for a in s.values() for c in a.classes}
    classes = [c for c in class_names(splits.train, splits.val, splits.test) if c == "normal" or c in present]
    return ChapterData(splits, feats, classes)


def describe_data(cfg, data: ChapterData) -> str:
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    frames = [a.num_frames for s in ("train", "val", "test") for a in data.split(s).values() if a.num_frames]
    src = ("SynthVAD long videos (procedural, TAD-like types)" if cfg.dataset == "synthvad" else cfg.dataset)
    length = f", {min(frames)}-{max(frames)} frames" if frames else ""
    return (f"{src}: {n['train']} train / {n['val']} val / {n['test']} test videos{length}, "
            f"{len(data.classes) - 1} abnormal classes; {cfg.clip} features every {cfg.snippet_len} frames")


def models_label(cfg) -> str:
    return f"encoder {cfg.clip} (frozen); LM {cfg.llm} (frozen, read through a trained adaptor)"


def fps_of(ann) -> float:
    return float(ann.fps or 30.0)


# ---------------------------------------------------------------- phases 1 and 2 -------------------------------

@dataclass(frozen=True)
class Variant:
    """A VADor: ``lists=()`` is the phase-1 baseline; otherwise LTC lists co-trained in phase 2."""

    name: str
    lists: tuple[str, ...] = ()
    k: int = 4
    score_source: str = "cotrained"


def table3_variants(cfg) -> dict[str, Variant]:
    """Table 3's rows that we train (``+UMIL*`` is a paper-only row)."""
    k, src = cfg.k, cfg.score_source
    return {"VADor w/o LTC": Variant("VADor w/o LTC"),
            "+Nor": Variant("+Nor", ("normal",), k, src),
            "+Abn": Variant("+Abn", ("abnormal",), k, src),
            "VADor w LTC": Variant("VADor w LTC", ("normal", "abnormal"), k, src),
            "VADor w LSTC": Variant("VADor w LSTC", ("normal", "abnormal", "history"), k, src)}


def _padded(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), n, seqs[0].shape[-1])
    mask = torch.zeros(len(seqs), n, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
        mask[i, :len(s)] = True
    return x, mask


class _FeatureMethod:
    """What the VADor and Sultani methods share: items, the validation criterion, the evaluation."""

    candidates = (STREAM,)

    def __init__(self, data: ChapterData, cfg: VADLLaMAChapterConfig):
        self.data, self.cfg = data, cfg
        self.settings = cfg.eval_settings()
        self._items = None

    @property
    def dim(self) -> int:
        from vadkit.methods.vad_llama import clip_features

        return int(clip_features(np.zeros((1, self.data.feature_dim), np.float32), self.cfg.clip_feature).shape[-1])

    def load(self, split: str, vid: str) -> np.ndarray:
        """The clip features ``[T, D']`` of a video (:func:`vadkit.methods.vad_llama.clip_features`)."""
        from vadkit.methods.vad_llama import clip_features

        return clip_features(self.data.stores[split].load(vid), self.cfg.clip_feature)

    def items(self) -> list:
        if self._items is None:
            from vadkit.methods.vad_llama import clip_features

            items, _ = build_items(self.data, "train")
            for it in items:
                it.features = clip_features(it.features, self.cfg.clip_feature)
            self._items = items
        return self._items

    def data_fields(self) -> dict:
        from vadkit.identity import dataset_identity

        return {"clip": self.cfg.clip, "snippet_len": self.cfg.snippet_len, "clip_feature": self.cfg.clip_feature,
                "train": dataset_identity(self.data.train), "val": dataset_identity(self.data.val),
                "features": self.data.stores["train"].root.name, "gt_convention": self.cfg.gt_convention,
                "expand": self.cfg.expand}

    def validation_value(self, preds, stream: str) -> float:
        if self.data.splits.val_criterion == "video":
            return ev.video_level_auc(preds, self.data.val, stream)
        return ev.frame_metrics(preds, self.data.val, stream, self.settings)["auc_o"]

    def evaluate(self, preds, selected: str) -> dict[str, float]:
        from vadkit.metrics import evaluate_frame_level

        s = self.settings
        scores = {v: p[STREAM] for v, p in preds.items()}
        sub = self.data.test.filter(lambda a: a.video_id in scores)
        m = evaluate_frame_level(scores, sub, gt_convention=s.gt_convention, expand=s.expand,
                                 snippet_len=s.snippet_len, align="error", per_class=True, missing="ignore")
        out = {"auc_o": m["auc_o"], "auc_a": m["auc_a"], "ap": m["ap_step"]}
        out.update({k: v for k, v in m.items() if k.startswith("auc_a/")})
        return out

    def _scores(self, model, split: str, fn) -> tuple[dict, dict]:
        preds, failures = {}, {}
        feats = {}
        for vid in self.data.split(split):
            try:
                feats[vid] = self.load(split, vid)
            except (VadkitError, OSError, KeyError) as err:
                failures[vid] = f"{type(err).__name__}: {err}"
        ids = list(feats)
        was = model.training
        model.eval()
        with torch.no_grad():
            for i in range(0, len(ids), 16):
                chunk = ids[i:i + 16]
                x, mask = _padded([feats[v] for v in chunk])
                p = fn(model, x, mask)
                for j, v in enumerate(chunk):
                    n = len(feats[v])
                    preds[v] = VideoPrediction(v, scores={STREAM: p[j, :n].numpy().astype(np.float32)},
                                               snippet_len=self.cfg.snippet_len)
        model.train(was)
        return preds, failures


class VADorMethod(_FeatureMethod):
    """Phase 1 (``variant.lists == ()``) or phase 2 of VADor as a runner method (module docstring)."""

    def __init__(self, variant: Variant, data: ChapterData, cfg: VADLLaMAChapterConfig):
        super().__init__(data, cfg)
        self.variant, self.name = variant, variant.name
        self.phase = 1 if not variant.lists else 2
        self.phase1 = None if self.phase == 1 else VADorMethod(Variant("VADor w/o LTC"), data, cfg)

    def key_fields(self) -> dict:
        c = self.cfg
        out = {"variant": dataclasses.asdict(self.variant), "phase": self.phase, "m_train": c.m_train,
               "hidden": c.hidden, "dropout": c.dropout, "mil_scores": c.mil_scores, "attention": c.attention,
               "ltc_weights": c.ltc_weights, "epochs": c.epochs1 if self.phase == 1 else c.epochs2, "lr": c.lr,
               "weight_decay": c.weight_decay, "warmup_epochs": c.warmup_epochs, "batch_size": c.batch_size,
               **self.data_fields()}
        if self.phase1 is not None:
            out["phase1"] = self.phase1.key_fields()
        return out

    def build(self, seed: int):
        from vadkit.methods.vad_llama import LTC, VADor

        c, v = self.cfg, self.variant
        ltc = LTC(self.dim, v.k, v.lists, c.attention, c.ltc_weights) if v.lists and v.k > 0 else None
        model = VADor(self.dim, c.hidden, c.dropout, ltc, v.score_source)
        if self.phase1 is not None:
            p1, _, _ = trained_model(self.phase1, seed, cache_name=c.CHAPTER, retrain=c.retrain)
            model.init_from_phase1(p1)
            torch.manual_seed(seed + 1000)               # phase 2's own draws, independent of phase 1's count
        return model

    def fit(self, model, seed: int) -> dict:
        from vadkit.methods.vad_llama import mil_bce, segment_sample
        from vadkit.trainer import FitConfig, Schedule, fit

        c = self.cfg
        items = self.items()
        rng = np.random.default_rng(seed + 17 * self.phase)
        steps = max(1, int(np.ceil(len(items) / c.batch_size)))
        epochs = c.epochs1 if self.phase == 1 else c.epochs2
        fcfg = FitConfig(epochs=epochs, steps_per_epoch=steps, lr=c.lr, weight_decay=c.weight_decay,
                         schedule=Schedule("warmup_cosine", warmup_epochs=min(c.warmup_epochs, epochs - 1)),
                         seed=seed)

        def batches(epoch):
            perm = rng.permutation(len(items))
            for s in range(steps):
                pick = [items[i] for i in perm[s * c.batch_size:(s + 1) * c.batch_size]]
                x, mask = _padded([segment_sample(it.features, c.m_train, rng) for it in pick])
                yield x, mask, torch.tensor([it.binary for it in pick], dtype=torch.float32)

        def loss_fn(m, b):
            x, mask, y = b
            loss = mil_bce(m(x, mask)["p"], mask, y, c.mil_scores)
            return loss, {"total": float(loss)}

        def validate(m) -> float:
            preds, _ = self.predict(m, "val")
            return self.validation_value(preds, STREAM)

        res = fit(model, batches, loss_fn, fcfg, validate=validate, progress=False, seeded=False)
        return {"best_epoch": res.best_epoch, "best_val": res.best_val, "history": res.history}

    def predict(self, model, split: str):
        return self._scores(model, split, lambda m, x, mask: m(x, mask)["p"])


class SultaniMethod(_FeatureMethod):
    """Sultani et al. (CVPR 2018): 32 averaged segments per video, the MIL ranking loss with smoothness and
    sparsity terms, Adagrad; at test every clip is scored (the instance model applies to any clip)."""

    name = "Sultani et al."

    def key_fields(self) -> dict:
        c = self.cfg
        return {"method": "sultani", "epochs": c.sultani_epochs, "lr": c.sultani_lr, "batch_size": c.batch_size,
                **self.data_fields()}

    def build(self, seed: int):
        from vadkit.methods.vad_llama import SultaniMLP

        return SultaniMLP(self.dim)

    def fit(self, model, seed: int) -> dict:
        from vadkit.methods.sequences import bin_average, split_by_label
        from vadkit.methods.vad_llama import sultani_loss
        from vadkit.trainer import FitConfig, Schedule, fit

        c = self.cfg
        normal, abnormal = split_by_label(self.items())
        seg = {id(it): torch.from_numpy(bin_average(np.asarray(it.features, np.float32), 32))
               for it in normal + abnormal}
        half = max(1, c.batch_size // 2)
        steps = max(1, int(np.ceil(len(abnormal) / half)))
        rng = np.random.default_rng(seed)
        fcfg = FitConfig(epochs=c.sultani_epochs, steps_per_epoch=steps, lr=c.sultani_lr,
                         schedule=Schedule("constant"), seed=seed)
        opt = torch.optim.Adagrad(model.parameters(), lr=c.sultani_lr, weight_decay=1e-3)

        def batches(epoch):
            pa, pn = rng.permutation(len(abnormal)), rng.permutation(len(normal))
            for s in range(steps):
                ia, inn = pa[s * half:(s + 1) * half], pn[(s * half) % len(normal):][:half]
                if len(inn) < len(ia):
                    inn = rng.choice(len(normal), len(ia))
                yield (torch.stack([seg[id(abnormal[i])] for i in ia]),
                       torch.stack([seg[id(normal[i])] for i in inn[:len(ia)]]))

        def loss_fn(m, b):
            loss = sultani_loss(m(b[0]), m(b[1]))
            return loss, {"total": float(loss)}

        def validate(m) -> float:
            preds, _ = self.predict(m, "val")
            return self.validation_value(preds, STREAM)

        res = fit(model, batches, loss_fn, fcfg, validate=validate, optimizer=opt, progress=False, seeded=False)
        return {"best_epoch": res.best_epoch, "best_val": res.best_val, "history": res.history}

    def predict(self, model, split: str):
        return self._scores(model, split, lambda m, x, mask: m(x))


def train_seeds(method, cfg, seeds=None) -> list[SeedRun]:
    return run_seeds(method, list(seeds if seeds is not None else cfg.seeds), cache_name=cfg.CHAPTER,
                     retrain=cfg.retrain, threads=cfg.threads, store=predictions_dir(cfg.CHAPTER, cfg.profile))


def train_variants(variants: dict[str, Variant], data: ChapterData, cfg) -> dict[str, list[SeedRun]]:
    from tqdm.auto import tqdm

    out = {}
    for name, v in tqdm(variants.items(), desc="VADor variants", leave=False):
        out[name] = train_seeds(VADorMethod(v, data, cfg), cfg)
    return out


# ---------------------------------------------------------------- tables (phases 1-2) ---------------------------

def _paper(table: str) -> dict:
    from vadkit import papers

    return papers.load("vad_llama")["tables"][table]


def wsvad_table(methods: dict[str, list[SeedRun]], data: ChapterData, cfg, label: str):
    """Tables 1-2 analogue: AUC_O (with a 95 % bootstrap interval over test videos) and AUC_A, mean ± std over
    seeds, beside the paper's UCF-Crime and TAD rows."""
    import pandas as pd

    from vadkit.experiment.reporting import frame_auc_bootstrap

    t1, t2 = _paper("table1_ucf")["rows"], _paper("table2_tad")["rows"]
    rows = []
    for name, runs in methods.items():
        s = summarize(runs, ["auc_o", "auc_a"])
        lo, hi = frame_auc_bootstrap(runs, data.test, cfg.eval_settings(), stream=STREAM)
        rows.append({"method": name, "data": label, "AUC_O": fmt(s["auc_o"]),
                     "AUC_O 95% CI (videos)": f"[{100 * lo:.1f}, {100 * hi:.1f}]" if np.isfinite(lo) else "–",
                     "AUC_A": fmt(s["auc_a"]),
                     "paper UCF AUC_O / AUC_A": _pair(t1.get(name)), "paper TAD AUC_O / AUC_A": _pair(t2.get(name))})
    return pd.DataFrame(rows)


def _pair(v) -> str:
    if v is None:
        return "–"
    return " / ".join("–" if x is None else f"{x:.2f}" for x in v)


def ablation_table(methods: dict[str, list[SeedRun]], label: str):
    """Table 3 analogue (AUC_O): Baseline, +UMIL* (paper only), +Nor, +Abn, +Nor+Abn, +His."""
    import pandas as pd

    paper = _paper("table3")["rows"]
    order = [("Baseline", "VADor w/o LTC"), ("+UMIL*", None), ("+Nor", "+Nor"), ("+Abn", "+Abn"),
             ("+Nor+Abn", "VADor w LTC"), ("+Nor+Abn+His", "VADor w LSTC")]
    rows = []
    for row, ours in order:
        pub = paper.get(row, [None, None])
        if ours is None or ours not in methods:
            cell, cell_a = "not run (paper-only row: UMIL's unbiased term is not implemented here)", "–"
        else:
            s = summarize(methods[ours], ["auc_o", "auc_a"])
            cell, cell_a = fmt(s["auc_o"]), fmt(s["auc_a"])
        rows.append({"row": row, f"ours AUC_O ({label})": cell, "ours AUC_A": cell_a,
                     "paper UCF AUC_O": pub[0], "paper TAD AUC_O": pub[1]})
    return pd.DataFrame(rows)


def k_variants(cfg) -> dict[int, Variant]:
    return {k: (Variant("VADor w/o LTC") if k == 0 else
                Variant("VADor w LTC" if k == cfg.k else f"LTC K={k}", ("normal", "abnormal"), k, cfg.score_source))
            for k in cfg.k_sweep}


def k_table(runs_by_k: dict[int, list[SeedRun]], label: str):
    """Table 4 analogue: AUC_O against the list length K (the paper's header says "Threshold(%)"; its values are
    K, and its rows are LTC without the history list, so K = 0 is the baseline and K = 4 equals "w LTC")."""
    import pandas as pd

    paper = _paper("table4")
    cols = [int(k) for k in paper["columns"]]
    rows = []
    for k, runs in runs_by_k.items():
        s = summarize(runs, ["auc_o"])
        i = cols.index(k) if k in cols else None
        rows.append({"K": k, f"ours AUC_O ({label})": fmt(s["auc_o"]),
                     "paper UCF": paper["rows"]["UCF"][i] if i is not None else None,
                     "paper TAD": paper["rows"]["TAD"][i] if i is not None else None})
    return pd.DataFrame(rows)


def classwise_auc_a(methods: dict[str, list[SeedRun]], classes: Sequence[str]):
    """Figure 6 analogue: ``DataFrame`` class x method of AUC_A (%, mean over seeds), plus "Average"."""
    import pandas as pd

    out = {}
    for name, runs in methods.items():
        ok = [r for r in runs if r.ok]
        col = {}
        for c in classes:
            vals = [r.test.get(f"auc_a/{c}", np.nan) for r in ok]
            col[c] = 100 * float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan
        col["Average"] = 100 * float(np.nanmean([r.test["auc_a"] for r in ok])) if ok else np.nan
        out[name] = col
    return pd.DataFrame(out)


def context_differences(a: list[SeedRun], b: list[SeedRun], data: ChapterData, cfg, groups: dict[str, Sequence[str]],
                        name_a: str, name_b: str):
    """Paired per-seed differences ``A - B`` of frame AUC over the normal test videos plus each group's abnormal
    ones, with a 95 % bootstrap interval over those videos (the same resamples for both methods)."""
    import pandas as pd

    from vadkit.experiment.reporting import paired_difference

    rows, numbers = [], []
    for group, types in groups.items():
        types = set(types)
        filt = (lambda ann, types=types: (not ann.is_anomalous) or bool(types & set(ann.classes)))
        d = paired_difference(a, b, data.test, cfg.eval_settings(), stream=STREAM, video_filter=filt)
        n_abn = sum(1 for ann in data.test.values() if ann.is_anomalous and types & set(ann.classes))
        rows.append({"videos": group, "abnormal test videos": n_abn, "total videos": d.get("videos", 0),
                     f"{name_a} - {name_b} (AUC points)": f"{100 * d['diff']:+.2f}",
                     "95% CI": f"[{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]" if np.isfinite(d["lo"]) else "–",
                     "per seed": ", ".join(f"{100 * x:+.1f}" for x in d["per_seed"])})
        numbers.append({"group": group, "abnormal": n_abn, **{k: d[k] for k in ("diff", "lo", "hi", "per_seed")}})
    df = pd.DataFrame(rows)
    df.attrs["numbers"] = numbers              # the unformatted values (fractions), for the observations
    return df


# ---------------------------------------------------------------- phase 3 --------------------------------------

def anomaly_prompt(model, x: np.ndarray) -> np.ndarray:
    """``[T, D] -> [T, 2D]``: ``x^_i = [x_i, x~_i]`` from a trained VADor (eval mode)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(np.asarray(x, np.float32))[None]
        out = model(xt)["x_tilde"][0]
    model.train(was)
    return np.concatenate([np.asarray(x, np.float32), out.numpy()], 1)


def _truth_intervals(ann) -> list[tuple[float, float]]:
    fps = fps_of(ann)
    return [(s / fps, e / fps) for s, e in ev.half_open_segments(ann)[0]]


def choose_threshold(preds: dict[str, VideoPrediction], ann, cfg, grid=None) -> tuple[float, dict]:
    """The pseudo-instruction threshold, chosen on validation (the paper gives none): the grid value with the best
    mean interval IoU of the thresholded VADor intervals (frame-labelled validation videos), or with the best
    yes/no accuracy where validation videos carry video labels only."""
    from vadkit.methods.vad_llama import interval_iou, intervals_from_scores

    grid = list(grid if grid is not None else np.round(np.arange(0.1, 0.95, 0.05), 2))
    frame = all(a.segments for a in ann.values() if a.is_anomalous)
    curve = {}
    for tau in grid:
        vals = []
        for vid, p in preds.items():
            a = ann[vid]
            step = cfg.snippet_len / fps_of(a)
            ivs = intervals_from_scores(p[STREAM], tau, step)
            if frame:
                vals.append(interval_iou(ivs, _truth_intervals(a), a.num_frames / fps_of(a)))
            else:
                vals.append(float(bool(ivs) == a.is_anomalous))
        curve[float(tau)] = float(np.mean(vals)) if vals else float("nan")
    best = max(curve, key=lambda t: -np.inf if not np.isfinite(curve[t]) else curve[t])
    return best, {"criterion": "interval IoU" if frame else "yes/no accuracy", "curve": curve}


def pseudo_intervals(p: np.ndarray, ann, tau: float, cfg) -> list[tuple[float, float]]:
    """The pseudo-instruction of one training video: a normal video (its weak label) has none; an abnormal one the
    runs above ``tau``, or its highest-scoring clip when no clip passes ``tau``."""
    from vadkit.methods.vad_llama import intervals_from_scores

    if not ann.is_anomalous:
        return []
    step = cfg.snippet_len / fps_of(ann)
    ivs = intervals_from_scores(p, tau, step)
    if not ivs:
        i = int(np.argmax(p))
        ivs = [(i * step, (i + 1) * step)]
    return ivs


def caption_summary(ann, max_sentences: int = 2) -> str | None:
    """The generic video-caption pair (WebVid's part in the paper): the video's distinct caption sentences in
    order, at most ``max_sentences``."""
    spans = ann.extra.get("caption_spans") or []
    seen: list[str] = []
    for _, _, sent in spans:
        if sent not in seen:
            seen.append(sent)
    return " ".join(seen[:max_sentences]) if seen else None


@dataclass
class Phase3:
    """One seed's phase 3: the adaptor, the threshold, the prompts and the LM (for the dialogue)."""

    seed: int
    mode: str
    adaptor: Any
    tau: float
    tau_info: dict
    history: list
    lm: Any
    identity: str
    prompts: dict                  # split -> {video_id: [T, 2D]}
    cached: bool = False


def _lm_tokens(xh: np.ndarray, m: int) -> np.ndarray:
    from vadkit.methods.vad_llama import segment_sample

    return segment_sample(xh, m)


def load_soft_lm(cfg):
    """The frozen LM behind the soft prompt (``load_llm``: zoo entry, local directory or hub id)."""
    from vadkit.methods.vad_llama import SoftPromptLM
    from vadkit.models import load_llm

    llm = load_llm(cfg.llm)
    lm = SoftPromptLM(llm.model, llm.tokenizer, cfg.max_new_tokens)
    lm.name = cfg.llm
    return lm


def train_phase3(run: SeedRun, data: ChapterData, cfg, lm, mode: str = "frozen", *,
                 progress: bool = True) -> Phase3:
    """Phase 3 for one seed of the phase-3 VADor: threshold on validation, pseudo-instructions for the training
    videos (plus two-turn caption dialogues of the normal ones), the adaptor trained with Eq. 4 (cached).

    ``mode="frozen"``: only the adaptor trains (the paper); ``"tuned"``: a copy of the LM trains with it."""
    import copy

    from torch import nn

    from vadkit.methods.vad_llama import SoftPromptLM

    if mode not in ("frozen", "tuned"):
        raise VadkitError(f"phase3_lm: 'frozen' or 'tuned', got {mode!r}")
    from vadkit.identity import bytes_digest
    from vadkit.methods.vad_llama import (DESCRIBE, Adaptor, answer_text, first_turn, next_turn,
                                          video_description)
    from vadkit.models import model_identity
    from vadkit.experiment.runner import load_weights, save_weights, weights_cache_dir, weights_key
    from vadkit.trainer import FitConfig, Schedule, fit
    from safetensors.torch import save as st_save

    if cfg.phase3_threads:
        torch.set_num_threads(cfg.phase3_threads)
    model = run.model
    vador_digest = bytes_digest(st_save({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}))
    reader = VADorMethod(Variant("x"), data, cfg)
    val_preds, _ = reader.predict(model, "val")
    tau, tau_info = choose_threshold(val_preds, data.val, cfg)
    train_preds, _ = reader.predict(model, "train")
    prompts = {s: {v: anomaly_prompt(model, reader.load(s, v)) for v in data.split(s)} for s in ("train", "test")}
    examples = []
    for vid, a in data.train.items():
        if vid not in train_preds:
            continue
        xh = _lm_tokens(prompts["train"][vid], cfg.lm_tokens)
        desc = video_description(a.num_frames / fps_of(a), len(xh), fps_of(a))
        turns = [first_turn(desc, answer=answer_text(pseudo_intervals(train_preds[vid][STREAM], a, tau, cfg)))]
        cap = caption_summary(a) if not a.is_anomalous else None
        if cap:
            turns.append(next_turn(DESCRIBE, cap))
        examples.append((xh, turns))
    torch.manual_seed(run.seed + 3)
    adaptor = Adaptor(2 * reader.dim, lm.dim)
    if mode == "tuned":
        lm = SoftPromptLM(copy.deepcopy(lm.model), lm.tok, lm.max_new_tokens, train_lm=True)
        trainable = nn.ModuleDict({"adaptor": adaptor, "lm": lm.model})
    else:
        trainable = adaptor
    fields = {"mode": mode, "vador": vador_digest, "lm": model_identity(cfg.llm), "tau": tau, "lm_tokens": cfg.lm_tokens,
              "steps": cfg.phase3_steps, "batch": cfg.phase3_batch, "lr": cfg.phase3_lr,
              "warmup": cfg.phase3_warmup, "train": sorted(data.train),
              "captions": "normal training videos, 2 sentences"}
    stem = weights_cache_dir(cfg.CHAPTER) / weights_key("adaptor", run.seed, fields)
    info = None if cfg.retrain else load_weights(stem, trainable)
    cached = info is not None
    if info is None:
        rng = np.random.default_rng(run.seed + 3)
        per = max(1, cfg.phase3_steps // 10)            # ten points on the loss curve
        fcfg = FitConfig(epochs=max(1, cfg.phase3_steps // per), steps_per_epoch=per, lr=cfg.phase3_lr,
                         weight_decay=0.0,
                         schedule=Schedule("warmup_cosine", warmup_steps=cfg.phase3_warmup), seed=run.seed)

        def batches(epoch):
            for _ in range(per):
                pick = [examples[i] for i in rng.choice(len(examples), min(cfg.phase3_batch, len(examples)),
                                                        replace=False)]
                x, mask = _padded([p[0] for p in pick])
                yield x, mask, [p[1] for p in pick]

        def loss_fn(m, b):
            loss = lm.loss(adaptor, b[0], b[1], b[2])
            return loss, {"total": float(loss)}

        res = fit(trainable, batches, loss_fn, fcfg, progress=progress,
                  desc=f"phase 3, {mode} LM (seed {run.seed})", seeded=False)
        info = {"history": res.history}
        save_weights(stem, trainable, {"method": "adaptor", "seed": run.seed, "fields": fields, **info})
    trainable.eval()
    digest = bytes_digest(st_save({k: v.detach().contiguous().clone() for k, v in trainable.state_dict().items()}))
    identity = f"{model_identity(cfg.llm)}|{mode}|trained:{digest}"
    return Phase3(run.seed, mode, adaptor, tau, tau_info, list(info.get("history", [])), lm, identity, prompts,
                  cached)


class _Identity:
    def __init__(self, name: str, identity: str):
        self.name, self.identity = name, identity


def dialogue(p3: Phase3, data: ChapterData, cfg, *, progress: bool = True):
    """Every test video's first answer (anomaly? when?) from the LM, the second turn (describe) for the
    ``describe_videos`` the chapter shows, the shuffled-input control's
    first answer, and the VADor pseudo-intervals; cached per call with the prompt, the LM and adaptor identity and
    the digest of the soft-prompt inputs. Returns a per-video ``DataFrame``."""
    import pandas as pd

    from vadkit.methods.vad_llama import DESCRIBE, first_turn, interval_iou, next_turn, video_description
    from vadkit.models.calls import ModelCallCache, array_digest
    from vadkit.models.parsing import ParseError, parse_intervals

    cache = ModelCallCache()
    who = _Identity(cfg.llm, p3.identity)
    test = {v: a for v, a in data.test.items() if v in p3.prompts["test"]}
    ids = list(test)
    shuffled = {v: ids[(i + 1) % len(ids)] for i, v in enumerate(ids)}       # another video's tokens
    toks = {v: _lm_tokens(p3.prompts["test"][v], cfg.lm_tokens) for v in ids}
    desc = {v: video_description(a.num_frames / fps_of(a), len(toks[v]), fps_of(a)) for v, a in test.items()}

    abn = [v for v in ids if test[v].is_anomalous]
    shown = abn[:3] + [v for v in ids if not test[v].is_anomalous][:max(0, cfg.describe_videos - 3)]
    shown = shown[:cfg.describe_videos]

    def ask(kind: str, video_of: dict, turns_of, which=None) -> dict:
        reqs = {v: ([dataclasses.asdict(t) for t in turns_of(v)], array_digest(toks[video_of[v]]))
                for v in (ids if which is None else which)}

        def compute(keys):
            return [p3.lm.generate(p3.adaptor, torch.from_numpy(toks[video_of[v]]), turns_of(v)) for v in keys]

        return cache.run("soft_prompt", who, reqs, {"max_new_tokens": cfg.max_new_tokens, "greedy": True},
                         compute, progress=progress, desc=f"{kind} ({p3.mode} LM, seed {p3.seed})")

    same = {v: v for v in ids}
    a1 = ask("dialogue turn 1", same, lambda v: [first_turn(desc[v])])
    # the second turn (the explanation) is shown, not scored: asked for the videos the chapter prints
    a2 = ask("dialogue turn 2", same, lambda v: [first_turn(desc[v], answer=a1[v]), next_turn(DESCRIBE)], shown)
    ctl = ask("shuffled control", shuffled, lambda v: [first_turn(desc[v])])
    rows = []
    for v, a in test.items():
        dur = a.num_frames / fps_of(a)
        truth = _truth_intervals(a)
        row = {"video": v, "truth": ", ".join(a.classes) if a.is_anomalous else "normal",
               "true intervals (s)": "; ".join(f"{s:.1f}-{e:.1f}" for s, e in truth) or "–",
               "LM answer": a1[v], "LM description": a2.get(v, ""), "shuffled answer": ctl[v]}
        for name, text in (("LM", a1[v]), ("shuffled", ctl[v])):
            try:
                ivs = parse_intervals(text)
                row[f"{name} parsed"] = True
            except ParseError:
                ivs, row[f"{name} parsed"] = [], False
            row[f"{name} yes"] = bool(ivs)
            row[f"{name} IoU"] = interval_iou(ivs, truth, dur)
        row["abnormal"] = a.is_anomalous
        rows.append(row)
    return pd.DataFrame(rows)


def vador_intervals(run: SeedRun, p3: Phase3, data: ChapterData, cfg):
    """The VADor pseudo-intervals on the test videos (the answers the adaptor was trained to imitate), per video."""
    import pandas as pd

    from vadkit.methods.vad_llama import interval_iou, intervals_from_scores

    rows = []
    for v, a in data.test.items():
        if v not in run.predictions:
            continue
        step = cfg.snippet_len / fps_of(a)
        ivs = intervals_from_scores(run.predictions[v][STREAM], p3.tau, step)
        rows.append({"video": v, "abnormal": a.is_anomalous, "VADor yes": bool(ivs),
                     "VADor IoU": interval_iou(ivs, _truth_intervals(a), a.num_frames / fps_of(a))})
    return pd.DataFrame(rows)


LM_MODES = {"frozen": "frozen LM (the paper)", "tuned": "tuned LM (deviation)"}


def _dialogue_stats(d, vi) -> dict[str, dict[str, float]]:
    out = {}
    for col in ("LM", "shuffled"):
        out[col] = {"acc": float((d[f"{col} yes"] == d["abnormal"]).mean()),
                    "iou": float(d.loc[d["abnormal"], f"{col} IoU"].mean()), "parsed": float(d[f"{col} parsed"].mean())}
    out["VADor"] = {"acc": float((vi["VADor yes"] == vi["abnormal"]).mean()),
                    "iou": float(vi.loc[vi["abnormal"], "VADor IoU"].mean()), "parsed": float("nan")}
    return out


def dialogue_numbers(talks: dict[str, dict[int, tuple]]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{row: {"acc" | "iou" | "parsed": (mean, std over seeds)}}`` for every LM mode's answers, its shuffled
    control and the VADor pseudo-intervals (fractions)."""
    from vadkit.trainer import mean_std

    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for mode, per_seed in talks.items():
        stats = [_dialogue_stats(d, vi) for d, vi in per_seed.values()]
        for col, row in (("LM", f"{LM_MODES.get(mode, mode)}: answer"),
                         ("shuffled", f"{LM_MODES.get(mode, mode)}: shuffled adaptor inputs (control)")):
            rows[row] = {k: mean_std([st[col][k] for st in stats]) for k in ("acc", "iou", "parsed")}
        rows.setdefault("VADor pseudo-intervals (threshold chosen on validation)",
                        {k: mean_std([st["VADor"][k] for st in stats]) for k in ("acc", "iou", "parsed")})
    return rows


def dialogue_summary(talks: dict[str, dict[int, tuple]]):
    """Yes/no accuracy (all test videos), interval IoU (abnormal test videos) and the parse rate, % mean ± std over
    seeds, for each LM mode's answers, its shuffled-input control and the VADor pseudo-intervals."""
    import pandas as pd

    def cell(ms):
        m, s = ms
        if not np.isfinite(m):
            return "–"
        return f"{100 * m:.1f} ± {100 * s:.1f}" if np.isfinite(s) else f"{100 * m:.1f}"

    return pd.DataFrame([{"answers from": row, "yes/no accuracy": cell(v["acc"]),
                          "interval IoU (abnormal videos)": cell(v["iou"]), "parsed": cell(v["parsed"])}
                         for row, v in dialogue_numbers(talks).items()])


#: how chapter 10 meets the bench (the leaderboard's note): it trains on its own long videos
BENCH_NOTE = ("trained on SynthVAD's long videos (7 types, the 3 held-out ones among them; 4 of the 8 'seen' "
              "types never seen); each seed's weights (epoch chosen on val), clip scores repeated")


def score_bench(methods: dict[str, list[SeedRun]], data: ChapterData, cfg) -> dict[str, list[dict]] | None:
    """``{name: [bench numbers per seed]}`` for Sultani's model and the VADor variants of
    :func:`table3_variants` in ``methods``: each seed's weights of the epoch chosen on validation, unchanged,
    through the method's own ``predict`` on the bench's frozen clip features
    (:func:`~vadkit.experiment.recipes.dual_branch.attach_bench`; chapter 10 trains on its long videos, so the
    bench is its shared-data row). ``None`` where there is no bench."""
    from vadkit.experiment import benchmark
    from vadkit.experiment.recipes.dual_branch import attach_bench

    bench = attach_bench(data, cfg)
    if bench is None:
        return None
    variants = table3_variants(cfg)
    out = {}
    for name, runs in methods.items():
        if name == SultaniMethod.name:
            method = SultaniMethod(data, cfg)
        elif name in variants:
            method = VADorMethod(variants[name], data, cfg)
        else:
            raise VadkitError(f"bench: {name!r} is neither Sultani's model nor a Table 3 variant "
                              f"({', '.join(variants)})")
        out[name] = benchmark.score_method(bench, method, runs)
    return out


def log_headline(run, methods: dict[str, list[SeedRun]], data: ChapterData, cfg,
                 bench: dict[str, list[dict]] | None = None) -> list[dict]:
    """Headline metrics in the registry (AUC_O with a bootstrap CI, AUC_A), the paper's UCF-Crime numbers beside,
    and each method's shared-benchmark rows (:func:`score_bench`) where ``bench`` has them."""
    from vadkit import papers
    from vadkit.experiment import benchmark
    from vadkit.experiment.reporting import frame_auc_bootstrap, headline_entry
    from vadkit.experiment.reporting import log_headline as _log

    doc = papers.load("vad_llama")
    t1 = doc["tables"]["table1_ucf"]["rows"]
    dataset = "SynthVAD long" if cfg.dataset == "synthvad" else cfg.dataset
    entries = []
    for name, runs in methods.items():
        pub = t1.get(name)
        src = f"{doc['citation']}, Table 1"
        entries.append(headline_entry(name, "AUC_O", runs, "auc_o", dataset=dataset, split=cfg.test_split,
                                      profile=cfg.profile,
                                      ci=frame_auc_bootstrap(runs, data.test, cfg.eval_settings(), stream=STREAM),
                                      paper=None if pub is None else {"value": pub[0], "dataset": "UCF-Crime",
                                                                      "source": src}))
        entries.append(headline_entry(name, "AUC_A", runs, "auc_a", dataset=dataset, split=cfg.test_split,
                                      profile=cfg.profile,
                                      paper=None if pub is None or pub[1] is None else
                                      {"value": pub[1], "dataset": "UCF-Crime", "source": src}))
        if bench and name in bench:
            entries += benchmark.headline_entries(name, bench[name], profile=cfg.profile, note=BENCH_NOTE)
    _log(run, entries)
    return entries


def observations(methods: dict[str, list[SeedRun]], diffs: dict, talks: dict, cfg, probe=None) -> str:
    """What this run's numbers say, as Markdown bullets computed from them (so the page never contradicts its
    tables): LTC/LSTC against the baseline overall, on the context-defined and the short-term types (paired
    intervals), and whether the LM reads the video (against the shuffled control)."""
    s = {k: summarize(v, ["auc_o", "auc_a"]) for k, v in methods.items()}
    out = []
    if probe is not None and len(probe[probe["split"] == "test"]):
        p = float(probe[probe["split"] == "test"]["probe AUC_O"].iloc[0])
        out.append(f"* The supervised linear probe of the frozen features reaches AUC_O {p:.1f} on the test videos"
                   + (": these features carry little of these anomalies, so the rows below cannot be told apart by "
                      "what the methods do; the smoke run checks the mechanics, not the claims." if p < 65 else
                      ": the features carry the anomalies, so the rows below compare the methods."))
    b = s["VADor w/o LTC"]
    for name in ("VADor w LTC", "VADor w LSTC"):
        if name in s:
            out.append(f"* {name}: AUC_O {fmt(s[name]['auc_o'])} and AUC_A {fmt(s[name]['auc_a'])} against the "
                       f"baseline's {fmt(b['auc_o'])} and {fmt(b['auc_a'])} (mean ± std over {len(cfg.seeds)} seeds).")
    for name, d in diffs.items():
        for row in d.attrs["numbers"]:
            if not row["abnormal"]:
                out.append(f"* {name} vs baseline, {row['group']}: no abnormal test video of this group, so "
                           "nothing is measured.")
                continue
            lo, hi = row["lo"], row["hi"]
            verdict = ("helps" if lo > 0 else "hurts" if hi < 0 else
                       "makes no difference that these videos can detect")
            ci = f"[{100 * lo:+.1f}, {100 * hi:+.1f}]" if np.isfinite(lo) else "–"
            seeds = ", ".join(f"{100 * x:+.1f}" for x in row["per_seed"])
            out.append(f"* {name} vs baseline, {row['group']} ({row['abnormal']} abnormal test videos and the normal "
                       f"ones): {100 * row['diff']:+.2f} AUC points, 95 % CI {ci}, per seed {seeds}: it {verdict} "
                       "here.")
    nums = dialogue_numbers(talks)
    vad = nums["VADor pseudo-intervals (threshold chosen on validation)"]
    for mode in talks:
        lm = nums[f"{LM_MODES.get(mode, mode)}: answer"]
        ctl = nums[f"{LM_MODES.get(mode, mode)}: shuffled adaptor inputs (control)"]
        reads = lm["iou"][0] > ctl["iou"][0] + 0.02 or lm["acc"][0] > ctl["acc"][0] + 0.02
        out.append(f"* {LM_MODES.get(mode, mode)}: {100 * lm['parsed'][0]:.0f} % of answers parse; yes/no accuracy "
                   f"{100 * lm['acc'][0]:.1f} % and interval IoU {100 * lm['iou'][0]:.1f} % (abnormal videos), "
                   f"against {100 * ctl['acc'][0]:.1f} % and {100 * ctl['iou'][0]:.1f} % with another video's "
                   f"tokens and {100 * vad['acc'][0]:.1f} % and {100 * vad['iou'][0]:.1f} % for the VADor "
                   "pseudo-intervals it was trained to imitate. "
                   + ("It does better on its own video than on another's: the LM reads the soft prompt."
                      if reads else "It does no better on its own video than on another's: the LM does not read "
                                    "the video through the adaptor here, and its answers are not evidence."))
    return "\n".join(out)


def dialogue_examples(df, n_abnormal: int = 3, n_normal: int = 2):
    """The first ``n_abnormal`` abnormal and ``n_normal`` normal test videos of a :func:`dialogue` table, with the
    columns a reader compares (truth, the LM's two answers, the shuffled control's answer)."""
    import pandas as pd

    cols = ["video", "truth", "true intervals (s)", "LM answer", "LM description", "shuffled answer"]
    return pd.concat([df[df["abnormal"]].head(n_abnormal), df[~df["abnormal"]].head(n_normal)])[cols]


def reading(methods: dict[str, list[SeedRun]], probe, cfg):
    """The test AUC_O of the main rows beside what they should be read against: the supervised linear probe of the
    frozen features (frame labels; a rough ceiling for any per-clip read-out) and chance."""
    import pandas as pd

    rows = [{"what": f"{name} (weakly supervised)", "AUC_O": fmt(summarize(runs, ["auc_o"])["auc_o"])}
            for name, runs in methods.items()]
    if probe is not None:
        test = probe[probe["split"] == "test"]
        if len(test):
            rows.append({"what": f"linear probe on the frozen {cfg.clip} features (frame labels)",
                         "AUC_O": f"{float(test['probe AUC_O'].iloc[0]):.2f}"})
    rows.append({"what": "chance", "AUC_O": "50.00"})
    return pd.DataFrame(rows)
