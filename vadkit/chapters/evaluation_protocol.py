"""Chapter 01, the evaluation protocol: what each metric means, and how far each convention moves it.

Scores are *simulated*: a noisy detector of known quality (``separation`` in logit units between anomalous
and normal frames, a per-video offset ``video_bias`` and AR(1) temporal noise ``noise_ar``), seeded, so the
only thing that changes between rows of a table is the convention. Data: the SynthVAD test split (smoke) and
the real annotation files in ``../shared/annotations`` (UCF-Crime temporal annotations, XD-Violence
multi-class annotations). UCF and XD annotation files carry no frame counts: video lengths are simulated
(log-normal, seeded, never shorter than the last annotated frame) unless ``ucf_root`` points at the videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadkit import metrics
from vadkit.config import ChapterConfig
from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation
from vadkit.errors import VadkitError


@dataclass
class EvaluationProtocolConfig(ChapterConfig):
    """Parameters of chapter 01 (smoke defaults; ``FULL`` overrides)."""

    CHAPTER = "01_evaluation_protocol"
    FULL = {"n_seeds": 20}

    data_root: str | None = None          # SynthVAD root; None = the cached smoke split
    split: str = "test"
    annotations_root: str | None = None   # None = ../shared/annotations beside the repository
    ucf_root: str | None = None           # UCF-Crime videos: real frame counts instead of simulated ones
    seed: int = 0
    n_seeds: int = 2                      # simulated detectors per table (mean and std over them)
    separation: float = 1.5               # logit gap between anomalous and normal frames
    video_bias: float = 0.6               # std of a per-video logit offset (what separates micro from macro)
    noise_ar: float = 0.9                 # AR(1) coefficient of the per-frame noise
    snippet_len: int = 16
    ucf_median_frames: int = 2800         # simulated UCF lengths: log-normal median and log-std
    xd_median_frames: int = 2200
    length_log_sigma: float = 0.6
    class_separation: float = 2.0         # logit boost of the true class in simulated class probabilities
    hit_rate: float = 0.6                 # simulated box detector: fraction of anomalous regions found
    false_alarms_per_frame: float = 0.3
    bleu_noise: float = 0.25              # fraction of words dropped/replaced in simulated descriptions
    yes_no_error: float = 0.15            # simulated answer error rate


# ------------------------------------------------------------------------------------------------- data

def annotations_root(cfg: EvaluationProtocolConfig) -> Path | None:
    """Where the real annotation files are (``None`` when absent: the real-data tables are skipped)."""
    from vadkit.paths import repo_root

    if cfg.annotations_root:
        p = Path(cfg.annotations_root).expanduser()
    else:
        root = repo_root()
        p = (root.parent / "shared" / "annotations") if root else Path("__missing__")
    return p if p.is_dir() else None


def load_synth(cfg: EvaluationProtocolConfig) -> DatasetAnnotations:
    from vadkit.data.synth import load_synthvad, smoke_dataset

    root = Path(cfg.data_root).expanduser() if cfg.data_root else Path(smoke_dataset(seed=0))
    return load_synthvad(root, split=cfg.split)


def simulate_lengths(ann: DatasetAnnotations, rng: np.random.Generator, median: int, log_sigma: float) -> DatasetAnnotations:
    """Give every video without ``num_frames`` a log-normal length (at least 16 frames past its last segment)."""
    out = DatasetAnnotations(ann.name, {}, ann.class_names, ann.root, dict(ann.meta, simulated_lengths=True))
    for vid, a in ann.items():
        n = a.num_frames
        if n is None:
            last = max((s.end for s in a.segments), default=0)
            n = max(int(rng.lognormal(np.log(median), log_sigma)), last + 16 + int(rng.integers(0, 64)))
        out.add(a.replace(num_frames=int(n)))
    return out


def load_real(cfg: EvaluationProtocolConfig) -> dict[str, DatasetAnnotations]:
    """UCF-Crime (290 test videos) and XD-Violence (500 violent test videos) from the real annotation files."""
    from vadkit.data import parsers

    root = annotations_root(cfg)
    if root is None:
        return {}
    rng = np.random.default_rng(cfg.seed + 1000)
    out = {}
    ucf = parsers.parse_ucf_temporal(root / "ucf_crime" / "Temporal_Anomaly_Annotation.txt")
    if cfg.ucf_root:
        ucf = _real_ucf_lengths(ucf, cfg.ucf_root)
    out["UCF-Crime"] = simulate_lengths(ucf, rng, cfg.ucf_median_frames, cfg.length_log_sigma)
    xd = parsers.parse_xd_multiclass(root / "xd_violence" / "annotations_multiclasses.txt")
    out["XD-Violence"] = simulate_lengths(xd, rng, cfg.xd_median_frames, cfg.length_log_sigma)
    return out


def _real_ucf_lengths(ucf: DatasetAnnotations, ucf_root: str) -> DatasetAnnotations:
    from vadkit.data.datasets import load_dataset
    from vadkit.data.video import probe

    real = load_dataset("ucf_crime", ucf_root, split="test")
    for vid, a in ucf.items():
        r = real.get(vid)
        if r is not None and r.video_path is not None:
            try:
                ucf.videos[vid] = a.replace(num_frames=r.num_frames or probe(r.video_path).num_frames)
            except VadkitError as err:
                print(f"{vid}: frame count unavailable ({err}); a simulated length is used")
    return ucf


# ------------------------------------------------------------------------------------------- simulation

def true_frame_labels(a: VideoAnnotation) -> np.ndarray:
    """What the simulated detector reacts to: shipped labels, else segments read as inclusive."""
    if a.frame_labels is not None:
        return metrics.build_frame_gt(a, "frame_labels")
    return metrics.build_frame_gt(a, "lavad")


def _ar1(rng, n: int, a: float) -> np.ndarray:
    from scipy.signal import lfilter

    return lfilter([np.sqrt(1 - a * a)], [1, -a], rng.standard_normal(n))


def simulate_frame_scores(ann: DatasetAnnotations, cfg: EvaluationProtocolConfig, seed: int) -> dict[str, np.ndarray]:
    """Per-frame detector probabilities ``{video: [N]}``: ``sigmoid(sep * y_t + b_v + AR(1) noise)``."""
    rng = np.random.default_rng(seed)
    out = {}
    for vid, a in ann.items():
        y = true_frame_labels(a).astype(float)
        z = cfg.separation * y + rng.normal(0, cfg.video_bias) + _ar1(rng, len(y), cfg.noise_ar) - 1.0
        out[vid] = 1.0 / (1.0 + np.exp(-z))
    return out


def extractor_snippets(frame_scores: np.ndarray, snippet_len: int = 16) -> np.ndarray:
    """Snippet scores ``[(N - 1) // L]`` as a VadCLIP/RTFM-lineage extractor yields them (mean of each
    full L-frame snippet; the extractor's count loses a whole snippet when N divides by L)."""
    n = len(frame_scores)
    s = max((n - 1) // snippet_len, 1)
    return frame_scores[: s * snippet_len].reshape(s, snippet_len).mean(axis=1)


# rows of the convention table: (label, evaluate_frame_level keywords, input, who uses it)
CONVENTION_ROWS = [
    ("vadclip: L = 16 x #snippets, end excl., repeat", dict(gt_convention="vadclip", expand="repeat"),
     "snippets", "VadCLIP, RTFM, DeepMIL, Ex-VAD"),
    ("lavad: true length, end incl., repeat + pad", dict(gt_convention="lavad", expand="repeat", align="pad_edge"),
     "snippets", "LAVAD"),
    ("vera: true length, end excl., repeat + pad", dict(gt_convention="vera", expand="repeat", align="pad_edge"),
     "snippets", "VERA (without its score smoothing)"),
    ("vad_llama: true length, start>0, 32-window mean", dict(gt_convention="vad_llama", expand="window_mean"),
     "snippets", "VAD-LLaMA"),
    ("true length, end incl., linear interpolation", dict(gt_convention="lavad", expand="linear"),
     "snippets", "vadkit variant"),
    ("exact: per-frame truth, per-frame scores", dict(gt_convention="exact", expand="none"),
     "frames", "vadkit default where truth is shipped"),
]
FRAME_METRICS = ("auc_o", "auc_a", "ap_step", "ap_trapezoid", "macro_auc")


def _inputs(frame_scores, kind: str, snippet_len: int):
    if kind == "frames":
        return frame_scores
    return {k: extractor_snippets(v, snippet_len) for k, v in frame_scores.items()}


def convention_table(ann: DatasetAnnotations, cfg: EvaluationProtocolConfig, *, reference: int = 0):
    """Mean and std over ``n_seeds`` simulated detectors of every frame metric under every convention row,
    plus the paired difference to the ``reference`` row (``d_<metric>``, same detector, other convention, and
    its spread over seeds ``d_<metric>_std``)."""
    import pandas as pd
    from tqdm.auto import tqdm

    per_seed = []
    for k in tqdm(range(cfg.n_seeds), desc=f"{ann.name}: conventions", leave=False):
        fs = simulate_frame_scores(ann, cfg, cfg.seed + k)
        rows = {}
        for label, kw, kind, _ in CONVENTION_ROWS:
            try:
                r = metrics.evaluate_frame_level(_inputs(fs, kind, cfg.snippet_len), ann,
                                                 snippet_len=cfg.snippet_len, per_class=False, **kw)
                rows[label] = [r[m] for m in FRAME_METRICS]
            except VadkitError:
                rows[label] = [np.nan] * len(FRAME_METRICS)  # e.g. 'exact' where ends are undocumented
        per_seed.append(pd.DataFrame(rows, index=FRAME_METRICS).T)
    stack = np.stack([d.to_numpy(float) for d in per_seed])  # [seeds, rows, metrics]
    labels = list(per_seed[0].index)
    diff = stack - stack[:, reference:reference + 1, :]
    table = pd.DataFrame(stack.mean(0), index=labels, columns=FRAME_METRICS)
    for j, m in enumerate(FRAME_METRICS):
        table[f"{m}_std"] = stack[:, :, j].std(0)
        table[f"d_{m}"] = diff[:, :, j].mean(0)
        table[f"d_{m}_std"] = diff[:, :, j].std(0)
    table["used by"] = [u for *_, u in CONVENTION_ROWS]
    table.index.name = "convention"
    return table


def macro_table(ann: DatasetAnnotations, cfg: EvaluationProtocolConfig, gt_convention: str = "exact"):
    """Micro AUC vs macro AUC under each single-class policy (mean, std over seeds), per-frame scores."""
    import pandas as pd

    vals = {name: [] for name in ("micro",) + metrics.MACRO_POLICIES}
    for k in range(cfg.n_seeds):
        fs = simulate_frame_scores(ann, cfg, cfg.seed + k)
        pairs = metrics.frame_arrays(fs, ann, gt_convention=gt_convention, expand="none", align="pad_edge")
        vals["micro"].append(metrics.micro_auc(pairs))
        for pol in metrics.MACRO_POLICIES:
            vals[pol].append(metrics.macro_auc(pairs, pol))
    return pd.DataFrame({"AUC": {k: float(np.mean(v)) for k, v in vals.items()},
                         "std": {k: float(np.std(v)) for k, v in vals.items()}}).rename_axis("aggregation")


def simulate_class_probs(ann: DatasetAnnotations, classes: list[str], cfg: EvaluationProtocolConfig, seed: int,
                         normal: str | None = None) -> list[np.ndarray]:
    """Snippet class probabilities ``[S, C]`` repeated to frames ``[16 S, C]``: softmax of Gaussian logits
    with the true class boosted by ``class_separation`` inside its segments, ``normal`` (if in ``classes``)
    boosted elsewhere."""
    rng = np.random.default_rng(seed)
    cidx = {c: i for i, c in enumerate(classes)}
    out = []
    for vid, a in ann.items():
        S = max((a.num_frames - 1) // cfg.snippet_len, 1)
        logits = rng.normal(0, 1, (S, len(classes))) + 0.7 * _ar1(rng, S, 0.7)[:, None]
        frame_cls = np.full(S * cfg.snippet_len, -1)
        for s in a.segments:
            if s.start >= 0 and s.label in cidx:
                frame_cls[s.start:min(s.end + 1, len(frame_cls))] = cidx[s.label]
        snip = frame_cls.reshape(S, cfg.snippet_len)
        for c in np.unique(snip[snip >= 0]):
            frac = (snip == c).mean(1)
            logits[:, c] += cfg.class_separation * frac
        if normal in cidx:
            logits[:, cidx[normal]] += cfg.class_separation * (snip < 0).mean(1)
        p = np.exp(logits - logits.max(1, keepdims=True))
        out.append(np.repeat(p / p.sum(1, keepdims=True), cfg.snippet_len, axis=0))
    return out


def map_table(ann: DatasetAnnotations, classes: list[str], cfg: EvaluationProtocolConfig, normal: str | None = None):
    """mAP@IoU (mean over seeds) on the abnormal videos, VadCLIP convention vs the corrected variant.

    Segments become half-open ``[start, end + 1)``: ends are read as inclusive, as SynthVAD documents them and as
    the simulation assumes for UCF/XD, whose files do not say."""
    import pandas as pd

    abn = ann.filter(lambda a: a.is_anomalous and any(s.start >= 0 for s in a.segments))
    segs = [[[s.start, s.end + 1] for s in a.segments if s.start >= 0] for a in abn.values()]  # inclusive -> [s, e)
    labs = [[s.label for s in a.segments if s.start >= 0] for a in abn.values()]
    res = {"vadclip": [], "corrected": []}
    for k in range(cfg.n_seeds):
        probs = simulate_class_probs(abn, classes, cfg, cfg.seed + k, normal)
        for conv in res:
            res[conv].append(metrics.detection_map(probs, segs, labs, classes, convention=conv))
    keys = list(res["vadclip"][0])
    return pd.DataFrame({conv: {key: float(np.mean([r[key] for r in rs])) for key in keys}
                         for conv, rs in res.items()}).T.rename_axis("mAP convention")


# -------------------------------------------------------------------------------------- spatial, text

def simulate_detections(gt, cfg: EvaluationProtocolConfig, num_frames: dict[str, int], seed: int):
    """Box detections: a jittered box on a fraction of each track's regions (per-track rate ~ Beta with mean
    ``hit_rate``; scores Beta(5, 2) times a per-track scale in [0.3, 1]) and Poisson(``false_alarms_per_frame``)
    random boxes per frame (scores Beta(2, 4))."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = gt.to_numpy()
    # per-track difficulty: hit probability ~ Beta with mean hit_rate, and a per-track score scale
    _, track = np.unique(g[:, 0].astype(str) + "/" + g[:, 1].astype(str), return_inverse=True)
    n_tracks = int(track.max()) + 1 if len(track) else 0
    h = min(max(cfg.hit_rate, 1e-3), 1 - 1e-3)
    p_track = rng.beta(0.5, 0.5 * (1 - h) / h, n_tracks)
    s_track = rng.uniform(0.3, 1.0, n_tracks)
    hit = rng.random(len(g)) < p_track[track]
    boxes = g[hit, 3:7].astype(float)
    wh = np.maximum(boxes[:, 2:] - boxes[:, :2], 2)
    boxes = boxes + rng.normal(0, 0.15, boxes.shape) * np.concatenate([wh, wh], 1)
    near = pd.DataFrame({"video": g[hit, 0], "frame": g[hit, 2].astype(int), "x1": boxes[:, 0], "y1": boxes[:, 1],
                         "x2": np.maximum(boxes[:, 2], boxes[:, 0] + 1), "y2": np.maximum(boxes[:, 3], boxes[:, 1] + 1),
                         "score": rng.beta(5, 2, hit.sum()) * s_track[track[hit]]})
    rows = []
    for vid, n in num_frames.items():
        k = rng.poisson(cfg.false_alarms_per_frame * n)
        xy = rng.uniform(0, 200, (k, 2))
        size = rng.uniform(8, 40, (k, 2))
        rows.append(pd.DataFrame({"video": vid, "frame": rng.integers(0, n, k), "x1": xy[:, 0], "y1": xy[:, 1],
                                  "x2": xy[:, 0] + size[:, 0], "y2": xy[:, 1] + size[:, 1],
                                  "score": rng.beta(2, 4, k)}))
    return pd.concat([near, *rows], ignore_index=True)


def rbdc_table(gt, det, num_frames: int, betas=(0.1, 0.3, 0.5), alphas=(0.1, 0.5)):
    """RBDC/TBDC over a grid of ``beta`` (region IoU) and ``alpha`` (track hit ratio)."""
    import pandas as pd

    rows = []
    for b in betas:
        for a in alphas:
            r, t = metrics.rbdc_tbdc(gt, det, num_frames, beta=b, alpha=a)
            rows.append({"beta": b, "alpha": a, "RBDC": r, "TBDC": t})
    return pd.DataFrame(rows)


def perturb_sentence(sentence: str, rng: np.random.Generator, rate: float, vocab: list[str]) -> str:
    """Drop or replace a ``rate`` fraction of the words (a simulated description model)."""
    words = sentence.split()
    out = []
    for w in words:
        u = rng.random()
        if u < rate / 2:
            continue
        out.append(vocab[int(rng.integers(len(vocab)))] if u < rate else w)
    return " ".join(out) if out else words[0]


def text_tables(ann: DatasetAnnotations, cfg: EvaluationProtocolConfig):
    """BLEU-4 of simulated descriptions under each backend and aggregation, and Yes/No (balanced) accuracy
    of simulated free-text answers. Returns ``(bleu_table, yes_no_table)``."""
    import pandas as pd

    rng = np.random.default_rng(cfg.seed + 7)
    vids = [a for a in ann.values() if a.target_sentences and a.trajectory_sentences]
    vocab = sorted({w for a in vids for s in a.trajectory_sentences + a.target_sentences for w in s.split()})
    bleu_rows = []
    for field in ("target_sentences", "trajectory_sentences"):
        refs = [list(getattr(a, field)) for a in vids]
        hyps = [perturb_sentence(r[int(rng.integers(len(r)))], rng, cfg.bleu_noise, vocab) for r in refs]
        for backend in metrics.BLEU_BACKENDS:
            if not metrics.backend_available(backend):
                continue
            for mode, agg in (("best", "macro"), ("multi", "macro"), ("best", "corpus")):
                bleu_rows.append({"field": field.split("_")[0], "backend": backend, "references": mode,
                                  "aggregate": agg,
                                  "BLEU-4": metrics.bleu4(hyps, refs, backend=backend, reference_mode=mode,
                                                          aggregate=agg)})
    templates = {"Yes": ["Yes.", "yes, there is an anomaly", "Yes, the person is running", "I think yes"],
                 "No": ["No.", "no", "There is no anomaly in this clip.", "Nothing unusual happens."]}
    qa = [q for a in ann.values() for q in a.qa if q.kind == "yesno"]
    refs = [q.answer for q in qa]
    preds = []
    for r in refs:
        u = rng.random()
        if u < 0.05:
            preds.append("It is hard to tell from this video.")
        else:
            ans = r if u > cfg.yes_no_error else ("No" if r == "Yes" else "Yes")
            preds.append(templates[ans][int(rng.integers(4))])
    yn = pd.DataFrame([
        {"unparsed answers": pol, "accuracy": metrics.yes_no_accuracy(preds, refs, unparsed=pol),
         "balanced accuracy": metrics.balanced_accuracy(preds, refs, unparsed=pol),
         "questions": len(refs), "share Yes": float(np.mean([r == "Yes" for r in refs]))}
        for pol in ("wrong", "skip")])
    return pd.DataFrame(bleu_rows), yn


# -------------------------------------------------------------------------------------- paper table

PAPER_CONVENTIONS = [
    # paper, dataset / metric, vadkit call, chapter that reports it
    ("VadCLIP (AAAI 2024)", "UCF AUC; XD AP",
     "evaluate_frame_level(gt_convention='vadclip', expand='repeat') -> auc_o, ap_step", "11_vadclip"),
    ("VadCLIP", "UCF / XD mAP@IoU", "detection_map(convention='vadclip'), abnormal videos", "11_vadclip"),
    ("Ex-VAD (ICML 2025)", "UCF AUC; XD AP; mAP@IoU",
     "as VadCLIP: gt 'vadclip', ap_step, detection_map(convention='vadclip') on abnormal videos", "12_ex_vad"),
    ("LAVAD (CVPR 2024)", "UCF AUC; XD AP", "gt_convention='lavad', expand='repeat', align='cut'; ap_trapezoid",
     "30_lavad"),
    ("VAD-LLaMA (NeurIPS 2024)", "UCF / TAD AUC_O, AUC_A, class-wise AUC_A",
     "gt_convention='vad_llama', expand='window_mean' (32 windows) -> auc_o, auc_a, auc_a/<class>", "VAD-LLaMA chapter"),
    ("VERA (CVPR 2025)", "UCF AUC; XD AP", "gt_convention='vera', repeat; its smoothing belongs to the method; its "
     "video-centred Gaussian prior to the evaluation: video_centred_gaussian (reported with and without); "
     "ap_trapezoid", "31_vera"),
    ("T-VAD (2025)", "UBnormal micro / macro AUC, RBDC, TBDC",
     "auc_o; macro_auc(policy='ubnormal'); rbdc_tbdc(beta=0.1, alpha=0.1); heatmap_to_regions(threshold=0.5)",
     "T-VAD chapter"),
    ("T-VAD (2025)", "BLEU-4 target / trajectory; Yes/No accuracy",
     "bleu4(reference_mode='best', aggregate='macro', backend named: 'coco' and 'nltk' reported); "
     "yes_no_accuracy, balanced_accuracy", "T-VAD chapter"),
    ("MLLM-EVAD (2025)", "Avenue / ComplexVAD frame AUC", "gt_convention='exact' (shipped masks), expand='none' "
     "-> auc_o (micro)", "MLLM-EVAD chapter"),
    ("vadkit quickstart", "SynthVAD AUC / AP", "gt_convention='frame_labels', expand='none'", "00_quickstart"),
]


def paper_table():
    import pandas as pd

    return pd.DataFrame(PAPER_CONVENTIONS, columns=["paper", "numbers", "vadkit convention", "reported in"])
