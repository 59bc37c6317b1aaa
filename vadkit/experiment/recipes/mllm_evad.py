"""Recipe: MLLM-EVAD's pipeline on a dataset with normal training videos (chapter 14).

1. :func:`prepare`: the splits (semi-supervised: only the *normal* training videos are used, at most
   ``max_train_videos`` of them, for the nominal bank and the flow model);
2. :func:`collect`: per video, one decode: boxes (the detector, or SynthVAD's ground-truth boxes, labelled
   as such), tracks, single and pair units per window, and their text: the describer's (crop pairs, cached) or
   the **oracle**'s (SynthVAD's ground-truth activity text of the same units: the describer's upper bound);
3. :func:`score_variant`: the nominal bank (MiniLM), kNN distances, frame and box scores, ``k`` chosen on
   validation (:func:`select_k`);
4. :func:`flow_scores` (chapter 00's flow grid, the traditional method), :func:`fusion` (weight on validation),
   :func:`contrast_scores` (a VLM's direct yes/no judgment of each window: the paper's contrast);
5. tables: :func:`results_table`, :func:`k_table`, :func:`cost_table`, :func:`recall_table`,
   :func:`top_explanations`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadkit.errors import ConfigError, DatasetError
from vadkit.experiment.chapter import ExperimentConfig, param
from vadkit.methods import mllm_evad as me

#: SynthVAD's interaction anomaly types (two agents) and single-object ones, the split the paper's claim needs
INTERACTION = ("fighting", "collision", "theft")


@dataclass
class MLLMEVADChapterConfig(ExperimentConfig):
    """Chapter 14's fields (smoke defaults; ``FULL`` in :mod:`vadkit.chapters.mllm_evad`)."""

    seeds: list[int] = param([0], show=False, note="training-free: the kNN bank is deterministic")
    detector: str = param("mog2", paper="Detectron2 (secondary sources)",
                          note="mog2 (SynthVAD's ~18-px people are below HOG's 64x128 window) | hog | gt "
                               "(SynthVAD's ground-truth boxes and ids, labelled as such) | torchvision:<dir> (a "
                               "checkpoint saved as detector.json + model.safetensors)")
    tracker: str = param("bytetrack", paper="ByteTrack (secondary sources)",
                         note="the trackers package; 'iou' (greedy IoU linker) where it is not installed")
    describer: str = param("zoo:tiny-describer", paper="an MLLM (Gemma 3, GPT-4o per a summary)",
                           note="full: an HF VLM asked with both crops as two images")
    embedder: str = param("minilm", paper="text-embedding similarity (secondary); the model is not given")
    delta_s: float = param(1.0, paper="30 frames (secondary)", note="seconds, so it means the same at any fps")
    h_scale: float = param(1.0, paper="h (value not given)", note="h = h_scale x the larger box height")
    pairs: bool = param(True, paper="object pairs and single objects")
    k: int = param(5, paper="not given", note="the first value tried; k_grid is searched on validation")
    k_grid: list[int] = param([1, 3, 5, 10], paper="not given")
    crop_size: int = param(48, paper="not given", note="square crops, resized")
    crop_margin: float = param(0.5, paper="crops 'tightly' enclosing the objects",
                               note="share of the box side (and >= 32 px), as the tiny describer was trained")
    max_train_videos: int = param(40, note="normal training videos in the bank (0 = all)")
    max_val_videos: int = param(0, show=False, note="0 = all")
    max_test_videos: int = param(0, show=False, note="0 = all")
    describe_batch: int = param(64, show=False)
    flow_width: int = param(80, note="the traditional method: chapter 00's flow grid")
    grid_rows: int = param(6, show=False)
    grid_cols: int = param(8, show=False)
    smooth_window: int = param(9, show=False, note="frames, flow grid only")
    fusion_weights: list[float] = param([0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0], note="weight of MLLM-EVAD; chosen "
                                                                                   "on validation")
    contrast_vlm: str | None = param("zoo:tiny-vlm", paper="frame-level MLLM judgments (cited approaches)",
                                     note="asked yes/no on two frames of each window; None skips it")
    contrast_max_videos: int = param(0, show=False, note="0 = all test videos")
    ablation_deltas: list[float] = param([0.5, 2.0], note="delta ablation (seconds; 0.5 s makes twice the "
                                                          "describer calls of 1 s)")
    ablation_h: list[float] = param([0.5, 2.0], note="h ablation (h_scale)")
    ablation_embedders: list[str] = param(["words"], note="embedder ablation: 'words' = hashed word counts")
    run_ablations: bool = param(True, show=False)
    n_explanations: int = param(6, show=False)
    real_footage: str | None = param("vtest", note="real-footage demo: the injected-anomaly set cut from this "
                                                   "footage (HOG people, nominal bank from its normal clips); "
                                                   "None skips it")
    real_width: int = param(640, show=False, note="the set's clips are vtest.avi (768 px) downscaled to this "
                                                  "width, HOG runs on them (people stay near 128 px tall); "
                                                  "HOG's width on any dataset")
    real_clip_frames: int = param(100, show=False, note="frames per clip of the set (10 fps; the injected "
                                                        "segment is a quarter of them)")
    real_normals: int = param(3, show=False, note="normal clips in the set: all but one make the nominal bank, "
                                                  "the last is a test clip")
    real_seed: int = param(0, show=False, note="the set's seed (clip offsets and segments)")
    hog_scale: float = param(1.1, show=False, note="HOG's pyramid step (OpenCV's default 1.05 costs twice the "
                                                   "time for a quarter more boxes on vtest)")
    hog_every: int = param(4, show=False, note="HOG on every n-th frame, its boxes held between (the tracker "
                                               "smooths them)")
    hog_threshold: float = param(-0.5, show=False, note="HOG's SVM margin; below 0 keeps the downscaled people "
                                                        "whose margin OpenCV's default (0) drops")
    bench_stride: int = param(2, show=False, note="frame stride on the shared benchmark's videos (every n-th "
                                                  "frame decoded, detected, tracked and described at fps / n; "
                                                  "each score held over the n frames; the page says so)")


# ------------------------------------------------------------------------ data --------------------------------

@dataclass
class ChapterData:
    splits: object
    root: Path
    bank_ids: list[str]
    val_ids: list[str]
    test_ids: list[str]
    fps: dict[str, float] = field(default_factory=dict)

    def ann(self, vid: str):
        for s in (self.splits.train, self.splits.val, self.splits.test):
            if vid in s:
                return s[vid]
        raise KeyError(vid)


def _take(ids: list[str], n: int, seed: int) -> list[str]:
    if not n or len(ids) <= n:
        return ids
    rng = np.random.default_rng(seed)
    return sorted(ids[i] for i in rng.choice(len(ids), n, replace=False))


def _normal_only_splits(s):
    """Semi-supervised datasets without a validation split (Avenue, ShanghaiTech) have normal-only training
    videos, so no validation split with anomalies can be carved: hold out ``val_fraction`` of the normal
    training videos instead. They select nothing (no AUC exists on them; ``k`` and the fusion weight stay at
    their defaults) but give the label-free statistics that standardise the fused streams."""
    from vadkit.data.datasets import load_dataset
    from vadkit.experiment.data import Splits, resolve_data_root

    root = resolve_data_root(s.dataset, s.data_root, s.synth_set)
    full = load_dataset(s.dataset, root)
    train, test = full.split(s.train_split), full.split(s.test_split)
    if any(a.is_anomalous for a in train.values()):
        return None
    ids = sorted(train)
    rng = np.random.default_rng(s.val_seed)
    n = min(max(int(round(s.val_fraction * len(ids))), 1), len(ids) - 1)
    held = set(rng.choice(ids, size=n, replace=False).tolist()) if n > 0 else set()
    val = train.filter(lambda a: a.video_id in held)
    rest = train.filter(lambda a: a.video_id not in held)
    source = (f"held out from the normal-only training videos ({len(val)} of {len(ids)}, seed {s.val_seed}): no "
              f"anomaly, so nothing is selected on it (k and the fusion weight keep their defaults)")
    return Splits(rest, val, test, Path(root), s.dataset, source, "none")


def prepare(cfg: MLLMEVADChapterConfig) -> ChapterData:
    from vadkit.experiment.data import load_splits

    try:
        splits = load_splits(cfg.data_settings())
    except DatasetError as err:
        splits = _normal_only_splits(cfg.data_settings())
        if splits is None:
            raise err
    normal = sorted(v for v, a in splits.train.items() if not a.is_anomalous and a.video_path is not None)
    if not normal:
        raise DatasetError(f"{splits.root}: no normal training video with a readable file: the nominal bank "
                           f"needs some (semi-supervised)")
    bank = _take(normal, cfg.max_train_videos, cfg.val_seed)
    val = _take(sorted(splits.val), cfg.max_val_videos, cfg.val_seed)
    test = _take(sorted(splits.test), cfg.max_test_videos, cfg.val_seed)
    data = ChapterData(splits, Path(splits.root), bank, val, test)
    for v in bank + val + test:
        a = data.ann(v)
        if not a.fps:
            raise DatasetError(f"{a.video_path}: no frame rate known; delta is in seconds")
        data.fps[v] = float(a.fps)
    return data


def describe_data(cfg, data: ChapterData) -> str:
    return (f"{cfg.dataset} ({data.root.name}); nominal bank from {len(data.bank_ids)} normal training videos; "
            f"{len(data.val_ids)} validation / {len(data.test_ids)} test videos")


def models_label(cfg) -> str:
    return (f"detector {cfg.detector}, tracker {tracker_name(cfg)}, describer {cfg.describer}, "
            f"embedder {cfg.embedder}; "
            f"contrast VLM {cfg.contrast_vlm}")


# ------------------------------------------------------------------------ units and their text ----------------

@dataclass(frozen=True)
class Variant:
    """One way to make the units' text: box source (``detector`` | ``gt``), text source (``describer`` |
    ``oracle``), window length and pair threshold."""

    name: str
    boxes: str
    text: str
    delta_s: float
    h_scale: float


@dataclass
class VideoUnits:
    units: list
    texts: list[str]
    num_frames: int
    D: int
    tracks: dict
    all_pairs: int = 0           # pairs of co-visible tracks before the pair rule (cost of querying every pair)


def variants(cfg: MLLMEVADChapterConfig, synth: bool) -> list[Variant]:
    """The chapter's rows: the method (its detector), the same with SynthVAD's boxes, the oracle text, and the
    delta / h ablations (describer on the detector's boxes)."""
    det = "gt" if cfg.detector == "gt" else "detector"
    out = [Variant("MLLM-EVAD", det, "describer", cfg.delta_s, cfg.h_scale)]
    if synth:
        if det != "gt":
            out.append(Variant("MLLM-EVAD (GT boxes)", "gt", "describer", cfg.delta_s, cfg.h_scale))
        out.append(Variant("oracle text (GT boxes)", "gt", "oracle", cfg.delta_s, cfg.h_scale))
    if cfg.run_ablations:
        out += [Variant(f"delta = {d:g} s", det, "describer", d, cfg.h_scale) for d in cfg.ablation_deltas
                if d != cfg.delta_s]
        out += [Variant(f"h = {h:g} x height", det, "describer", cfg.delta_s, h) for h in cfg.ablation_h
                if h != cfg.h_scale]
    return out


def _gt_tracks(root: Path, vid: str) -> dict:
    path = root / "objects" / f"{vid}.csv"
    if not path.is_file():
        raise DatasetError(f"{path}: ground-truth boxes of every agent are a SynthVAD file; use a detector "
                           f"(detector='mog2' or 'hog') on this dataset")
    from vadkit.data.synth import load_objects

    obj = load_objects(root, vid)
    return me.tracks_from_rows(obj[["track_id", "frame", "x1", "y1", "x2", "y2", "object_class"]]
                               .itertuples(index=False))


def detect(cfg: MLLMEVADChapterConfig, frames: np.ndarray) -> list[np.ndarray]:
    if cfg.detector == "mog2":
        return me.mog2_detect(frames)
    if cfg.detector == "hog":
        return me.hog_detect(frames, width=cfg.real_width, hit_threshold=cfg.hog_threshold, scale=cfg.hog_scale)
    if cfg.detector.startswith("torchvision:"):
        return me.torchvision_detect(_torchvision_model(cfg.detector.split(":", 1)[1]), frames)
    raise ConfigError(f"detector {cfg.detector!r}: choose mog2, hog, gt or torchvision:<checkpoint dir>")


_DETECTORS: dict = {}


def _torchvision_model(directory: str):
    """A torchvision detector saved as ``detector.json`` (builder + kwargs) + ``model.safetensors``."""
    if directory not in _DETECTORS:
        from vadkit.models.rehearsal import load_detector

        _DETECTORS[directory] = load_detector(directory)
    return _DETECTORS[directory]


def tracker_name(cfg) -> str:
    """The tracker that runs: ``cfg.tracker``, or ``iou`` when the ``trackers`` package is missing."""
    return cfg.tracker if me.tracker_available(cfg.tracker) else "iou"


def reference_text(kind: str, singles: list[str], relation: str | None, boxes_t) -> str:
    """The ground-truth text of a unit in the describer's canonical form (:func:`vadkit.models.describer.
    reference_text`: a pair's agent whose box is further left first)."""
    from vadkit.models.describer import reference_text as ref

    return ref(kind, list(singles), relation, list(boxes_t))


def oracle_texts(root: Path, vid: str, units: list, delta_s: float, h_scale: float, fps: float) -> list[str]:
    """SynthVAD's activity ground truth for ``units`` (formed from its own boxes, so every unit is in it)."""
    from vadkit.data.synth import activity_text, load_activity

    doc = load_activity(root, vid)
    if abs(doc["delta_s"] - delta_s) > 1e-9 or abs(doc["pair_rule"]["h_scale"] - h_scale) > 1e-9:
        doc = activity_text(root, vid, delta_s=delta_s, h_scale=h_scale)
    singles, pairs = {}, {}
    for w in doc["windows"]:
        for s in w["singles"]:
            singles[(w["start"], s["id"])] = s["text"]
        for p in w["pairs"]:
            pairs[(w["start"], tuple(p["ids"]))] = p["relation"]
    out = []
    for u in units:
        try:
            if u.kind == "single":
                out.append(reference_text("single", [singles[(u.t0, u.ids[0])]], None, list(u.boxes_t0)))
            else:
                txt = [singles[(u.t0, i)] for i in u.ids]
                out.append(reference_text("pair", txt, pairs[(u.t0, u.ids)], list(u.boxes_t0)))
        except KeyError as err:
            raise DatasetError(f"{root / 'activity' / (vid + '.json')}: no activity text for {u.kind} {u.ids} at "
                               f"frame {u.t0}") from err
    return out


def _count_all_pairs(tracks: dict, num_frames: int, D: int) -> int:
    n = 0
    for t0 in range(0, num_frames - D, D):
        k = len(set(tracks.get(t0, {})) & set(tracks.get(t0 + D, {})))
        n += k * (k - 1) // 2
    return n


def collect(cfg: MLLMEVADChapterConfig, data: ChapterData, vs: list[Variant], describer=None, *,
            progress: bool = True) -> tuple[dict, dict]:
    """``({variant name: {video: VideoUnits}}, info)``: one decode per video; info holds the detector's
    recall against the ground-truth boxes (SynthVAD), the wall times and the tracker that ran."""
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader

    out: dict = {v.name: {} for v in vs}
    hits = {0.3: [0, 0], 0.5: [0, 0]}
    times = {"decode": 0.0, "detect+track": 0.0, "describe": 0.0, "oracle": 0.0}
    trk = tracker_name(cfg)
    need_det = any(v.boxes == "detector" for v in vs)
    need_gt = any(v.boxes == "gt" for v in vs)
    synth = (data.root / "objects").is_dir()
    cache = me.DescriptionCache()
    vids = data.bank_ids + data.val_ids + data.test_ids
    for vid in tqdm(vids, desc="units and descriptions", disable=not progress, leave=False):
        ann, fps = data.ann(vid), data.fps[vid]
        t = time.perf_counter()
        try:
            frames = VideoReader(ann.video_path).read_all()
        except Exception as err:  # noqa: BLE001 - name the file
            raise DatasetError(f"{ann.video_path}: cannot decode ({type(err).__name__}: {err})") from err
        T = len(frames)
        times["decode"] += time.perf_counter() - t
        tracks = {}
        if need_gt or synth:
            tracks["gt"] = _gt_tracks(data.root, vid) if synth else None
        if need_det:
            t = time.perf_counter()
            dets = detect(cfg, frames)
            tracks["detector"] = me.track(dets, fps, trk)
            times["detect+track"] += time.perf_counter() - t
            if tracks.get("gt") is not None:
                gtb = {f: list(b.values()) for f, b in tracks["gt"].items()}
                for thr in hits:
                    m, n = me.detector_recall(dets, gtb, thr)
                    hits[thr][0] += m
                    hits[thr][1] += n
        for v in vs:
            tr = tracks.get(v.boxes)
            if tr is None:
                raise DatasetError(f"{data.root}: variant {v.name!r} needs ground-truth boxes (SynthVAD only)")
            D = me.delta_frames(v.delta_s, fps)
            units = me.form_units(vid, tr, T, D, h_scale=v.h_scale, pairs=cfg.pairs)
            t = time.perf_counter()
            if v.text == "oracle":
                texts = oracle_texts(data.root, vid, units, v.delta_s, v.h_scale, fps)
                times["oracle"] += time.perf_counter() - t
            else:
                texts = me.describe_units(describer, frames, units, size=cfg.crop_size, margin=cfg.crop_margin,
                                          cache=cache, batch_size=cfg.describe_batch, video=vid,
                                          delta_s=v.delta_s)
                times["describe"] += time.perf_counter() - t
            out[v.name][vid] = VideoUnits(units, texts, T, D, tr, _count_all_pairs(tr, T, D))
    info = {"tracker": trk, "times": times,
            "recall": {thr: (m / n if n else float("nan"), m, n) for thr, (m, n) in hits.items()}}
    return out, info


# ------------------------------------------------------------------------ scores ------------------------------

def load_embeddings(cfg, name: str | None = None) -> me.TextEmbeddings:
    """The text embedder: ``minilm`` (or any sentence-transformers name, :func:`vadkit.models.load_text_embedder`)
    or ``words`` (hashed word and word-pair counts, no model: the embedder ablation's floor)."""
    name = name or cfg.embedder
    if name == "words":
        from sklearn.feature_extraction.text import HashingVectorizer

        hv = HashingVectorizer(n_features=2 ** 12, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        return me.TextEmbeddings(lambda texts: hv.transform(list(texts)).toarray().astype(np.float32))
    from vadkit.models import load_text_embedder

    emb = load_text_embedder(name)
    return me.TextEmbeddings(lambda texts: emb.encode(list(texts)))


@dataclass
class Scored:
    """Scores of one variant at one ``k``: frame scores, box rows and unit scores per video."""

    frames: dict
    boxes: dict
    units: dict
    bank: object
    counts: object
    k: int


def score_variant(per_video: dict, data: ChapterData, emb: me.TextEmbeddings, k: int | list[int], ids: list[str],
                  *, kinds=("single", "pair"), boxes: bool = True):
    """The bank of ``per_video``'s nominal descriptions and the scores of ``ids`` at ``k`` (a :class:`Scored`),
    or at every ``k`` of a list (``{k: Scored}``, one kNN query at the largest); ``boxes=False`` skips the
    box scores (only the selected ``k``'s test boxes are evaluated)."""
    ks = [k] if isinstance(k, int) else list(k)
    bank_texts = [t for v in data.bank_ids for u, t in zip(per_video[v].units, per_video[v].texts)
                  if u.kind in kinds]
    bank, counts = me.nominal_bank(bank_texts, emb)
    out = {kk: Scored({}, {}, {}, bank, counts, kk) for kk in ks}
    for vid in ids:
        vu = per_video[vid]
        keep = [n for n, u in enumerate(vu.units) if u.kind in kinds]
        units, texts = [vu.units[n] for n in keep], [vu.texts[n] for n in keep]
        if texts:
            sims, _ = bank.query(emb.encode(texts), max(ks))
        for kk in ks:
            s = (1.0 - sims[:, :kk]).mean(axis=1).astype(np.float64) if texts else np.zeros(0)
            sc = out[kk]
            sc.frames[vid] = me.frame_scores(units, s, vu.num_frames, vu.D)
            if boxes:
                sc.boxes[vid] = me.box_scores(units, s, vu.tracks, vu.num_frames, vu.D)
            sc.units[vid] = (units, texts, s)
    return out[k] if isinstance(k, int) else out


def frame_auc(scores: dict, ann) -> dict:
    """Micro (``auc_o``) and macro (``macro_auc``, UBnormal's per-video policy) frame AUC, exact frame labels."""
    import warnings

    from vadkit import metrics

    sub = ann.filter(lambda a: a.video_id in scores)
    if not any(a.is_anomalous for a in sub.values()):      # no AUC exists (a validation split of normal videos)
        return {"auc_o": float("nan"), "macro_auc": float("nan"), "n_videos": len(sub)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return metrics.evaluate_frame_level(scores, sub, gt_convention="frame_labels", expand="none")


def select_k(per_video: dict, data: ChapterData, emb, cfg, kinds=("single", "pair")) -> tuple[int, dict]:
    """The ``k`` of ``k_grid`` with the best validation micro AUC (the first, ``cfg.k``, when validation has no
    anomaly); ``(k, {k: val auc})``."""
    from vadkit.experiment.runner import best_stream

    grid = [cfg.k] + [k for k in cfg.k_grid if k != cfg.k]
    scored = score_variant(per_video, data, emb, grid, data.val_ids, kinds=kinds)
    val = {k: frame_auc(scored[k].frames, data.splits.val)["auc_o"] for k in grid}
    return int(best_stream({str(k): v for k, v in val.items()})), val


def region_scores(boxes: dict, ann) -> tuple[float, float]:
    """RBDC / TBDC (:func:`vadkit.metrics.spatial.rbdc_tbdc`, beta = alpha = 0.1) of the scored boxes."""
    from vadkit.metrics.spatial import rbdc_tbdc, tracks_table

    rows = [(v, *r) for v, b in boxes.items() for r in np.asarray(b).tolist()]
    det = np.array(rows, dtype=object).reshape(-1, 7)
    gt = tracks_table(ann.filter(lambda a: a.video_id in boxes))
    if not len(gt):
        return float("nan"), float("nan")
    n = int(sum(ann[v].num_frames for v in boxes))
    return rbdc_tbdc(gt, det, n)


def groups(ann, interaction=INTERACTION) -> dict[str, list[str]]:
    """Test videos per group: the normal ones plus the abnormal ones whose every type is an interaction type,
    or none is (a video holding both kinds is in neither group; it counts in "all")."""
    normal = [v for v, a in ann.items() if not a.is_anomalous]
    inter = [v for v, a in ann.items() if a.is_anomalous and set(a.classes) <= set(interaction)]
    single = [v for v, a in ann.items() if a.is_anomalous and not set(a.classes) & set(interaction)]
    return {"all": list(ann), "interaction": normal + inter, "single-object": normal + single}


def evaluate(scores: dict, ann, boxes: dict | None = None) -> dict:
    """Micro / macro frame AUC over all test videos and per group, plus RBDC / TBDC when boxes are given."""
    out = {}
    for g, ids in groups(ann.filter(lambda a: a.video_id in scores)).items():
        if not any(ann[v].is_anomalous for v in ids):
            continue
        r = frame_auc({v: scores[v] for v in ids}, ann)
        out[f"{g}/micro"], out[f"{g}/macro"] = r["auc_o"], r["macro_auc"]
        if g == "all":
            out["n_videos"] = r["n_videos"]
    if boxes is not None:
        out["rbdc"], out["tbdc"] = region_scores(boxes, ann)
    return out


# ------------------------------------------------------------------------ traditional method, fusion ----------

def flow_scores(cfg, data: ChapterData, ids: list[str], *, progress: bool = True) -> dict:
    """Chapter 00's flow grid: one per-cell Gaussian of Farnebäck flow per scene, fitted on the bank's normal
    videos; frame scores of ``ids`` (centred moving average of ``smooth_window``)."""
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader
    from vadkit.methods.classical import fit_flow_grid, moving_average, optical_flow

    by_scene: dict = {}
    for v in data.bank_ids:
        by_scene.setdefault(data.ann(v).scene, []).append(v)
    models = {scene: fit_flow_grid([data.ann(v).video_path for v in vids], (cfg.grid_rows, cfg.grid_cols),
                                   cfg.flow_width)
              for scene, vids in by_scene.items()}
    out = {}
    for v in tqdm(ids, desc="flow grid", disable=not progress, leave=False):
        a = data.ann(v)
        model = models.get(a.scene) or next(iter(models.values()))
        s = model.score(optical_flow(VideoReader(a.video_path).read_all(), cfg.flow_width))
        out[v] = moving_average(s, cfg.smooth_window)
    return out


def fusion(a_val: dict, b_val: dict, a_test: dict, b_test: dict, weights, val_ann) -> tuple[float, dict, dict]:
    """``(w, {w: val micro AUC}, fused test scores)``: both streams standardised with their validation frames'
    mean and std; ``w`` (MLLM-EVAD's weight) chosen on validation (0.5 when validation holds no anomaly)."""
    from vadkit.experiment.runner import best_stream

    za_v, zb_v = me.standardise(a_val, a_val), me.standardise(b_val, b_val)
    val = {str(w): frame_auc(me.fuse(za_v, zb_v, w), val_ann)["auc_o"] for w in weights}
    # a validation split without anomalies (carved from normal-only training videos) cannot choose: equal weights
    w = float(best_stream(val)) if any(np.isfinite(v) for v in val.values()) else 0.5
    fused = me.fuse(me.standardise(a_test, a_val), me.standardise(b_test, b_val), w)
    return w, {float(k): v for k, v in val.items()}, fused


# ------------------------------------------------------------------------ the contrast: direct judgments ------

CONTRAST_QUESTION = "Is there an anomaly in this video?"


def contrast_scores(cfg, data: ChapterData, ids: list[str], *, progress: bool = True) -> tuple[dict, dict]:
    """The paper's contrast: a VLM asked directly whether there is an anomaly, on frames ``t`` and ``t + D`` of
    every window (the same windows as the descriptions), answer "yes" = 1, "no" = 0, anything else 0.5; a
    frame takes its window's answer. ``({video: frame scores}, info)``; every answer cached."""
    from vadkit.data.video import VideoReader
    from vadkit.models import GenerationConfig, load_vlm
    from vadkit.models.calls import cached_chat
    from vadkit.models.prompts import VQA_SYSTEM_PROMPT

    vlm = load_vlm(cfg.contrast_vlm)
    gen = GenerationConfig(max_new_tokens=4, do_sample=False)
    msgs = [{"role": "system", "content": VQA_SYSTEM_PROMPT}, {"role": "user", "content": CONTRAST_QUESTION}]
    out, n_calls, unparsed = {}, 0, 0
    from tqdm.auto import tqdm

    for v in tqdm(ids, desc=f"contrast ({cfg.contrast_vlm})", disable=not progress, leave=False):
        frames = VideoReader(data.ann(v).video_path).read_all()
        T, D = len(frames), me.delta_frames(cfg.delta_s, data.fps[v])
        starts = list(range(0, max(T - D, 1), D))
        reqs = {t0: (frames[[t0, min(t0 + D, T - 1)]], msgs) for t0 in starts}
        ans = cached_chat(vlm, reqs, config=gen, progress=False)
        s = np.zeros(T)
        for i, t0 in enumerate(starts):
            val = me.parse_judgment(ans[t0])
            unparsed += val == 0.5
            end = T if i == len(starts) - 1 else t0 + D
            s[t0:end] = val
        out[v] = s
        n_calls += len(starts)
    return out, {"calls": n_calls, "unparsed": unparsed}


# ------------------------------------------------------------------------ tables ------------------------------

COLUMNS = [("all/micro", "micro AUC"), ("all/macro", "macro AUC"), ("interaction/micro", "interaction micro"),
           ("single-object/micro", "single-object micro"), ("rbdc", "RBDC"), ("tbdc", "TBDC")]


def results_table(rows: dict[str, dict], notes: dict[str, str] | None = None):
    """One row per method: the metrics of :data:`COLUMNS` in %, with what selected it."""
    import pandas as pd

    out = []
    for name, res in rows.items():
        r = {"method": name}
        for key, col in COLUMNS:
            v = res.get(key)
            r[col] = None if v is None or not np.isfinite(v) else round(100 * float(v), 2)
        r["selected on validation"] = (notes or {}).get(name, "")
        out.append(r)
    return pd.DataFrame(out)


def k_table(val: dict, test: dict):
    import pandas as pd

    return pd.DataFrame([{"k": k, "validation micro AUC": round(100 * val[k], 2),
                          "test micro AUC (not used to choose)": round(100 * test[k], 2)} for k in val])


def cost_table(collected: dict, data: ChapterData, stats: dict):
    """Per variant: describer queries (units), minutes of video, queries per minute, pairs kept by the rule
    against every co-visible pair, and the calls made / served from the cache this run."""
    import pandas as pd

    rows = []
    for name, per in collected.items():
        n_frames = sum(vu.num_frames for vu in per.values())
        minutes = sum(vu.num_frames / data.fps[v] for v, vu in per.items()) / 60
        units = sum(len(vu.units) for vu in per.values())
        pairs = sum(u.kind == "pair" for vu in per.values() for u in vu.units)
        allp = sum(vu.all_pairs for vu in per.values())
        rows.append({"variant": name, "videos": len(per), "frames": n_frames, "minutes": round(minutes, 2),
                     "queries": units, "queries / min": round(units / max(minutes, 1e-9), 1),
                     "pairs (rule)": pairs, "pairs (every co-visible pair)": allp})
    df = pd.DataFrame(rows)
    df.attrs["calls"] = stats
    return df


def recall_table(info: dict):
    import pandas as pd

    return pd.DataFrame([{"IoU >= ": thr, "recall": None if not np.isfinite(r) else round(100 * r, 1),
                          "matched": m, "ground-truth boxes": n}
                         for thr, (r, m, n) in sorted(info["recall"].items())])


def top_explanations(scored: Scored, emb, n: int = 6, per_video: int = 1) -> list[dict]:
    """The ``n`` highest-scoring test units (at most ``per_video`` per video), each with its description, the
    nearest nominal descriptions and its score (:func:`vadkit.methods.mllm_evad.explanation`)."""
    cand = []
    for vid, (units, texts, s) in scored.units.items():
        for u, t, v in zip(units, texts, s):
            cand.append((float(v), vid, u, t))
    cand.sort(key=lambda c: -c[0])
    out, seen = [], {}
    for v, vid, u, t in cand:
        if seen.get(vid, 0) >= per_video:
            continue
        seen[vid] = seen.get(vid, 0) + 1
        out.append(me.explanation(u, t, v, scored.bank, emb))
        if len(out) >= n:
            break
    return out


# ------------------------------------------------------------------------ the chapter's runs ------------------

def load_describer(cfg):
    """The crop-pair describer named by ``cfg.describer`` (:func:`vadkit.models.load_describer`)."""
    from vadkit.models import load_describer as _load

    return _load(cfg.describer)


@dataclass
class VariantResult:
    name: str
    k: int
    val_by_k: dict
    test_by_k: dict
    scored: Scored               # test split at the selected k
    scored_val: Scored
    test: dict


def run_variant(name: str, per_video: dict, data: ChapterData, emb, cfg, kinds=("single", "pair")) -> VariantResult:
    """Select ``k`` on validation, score the test split at it; every ``k``'s test AUC is kept for the k table
    (printed beside, never used to choose)."""
    from vadkit.experiment.runner import best_stream

    grid = [cfg.k] + [k for k in cfg.k_grid if k != cfg.k]
    sv = score_variant(per_video, data, emb, grid, data.val_ids, kinds=kinds, boxes=False)
    val = {k: frame_auc(sv[k].frames, data.splits.val)["auc_o"] for k in grid}
    k = int(best_stream({str(kk): v for kk, v in val.items()}))
    st = score_variant(per_video, data, emb, grid, data.test_ids, kinds=kinds, boxes=False)
    test_by_k = {kk: frame_auc(st[kk].frames, data.splits.test)["auc_o"] for kk in grid}
    best = score_variant(per_video, data, emb, k, data.test_ids, kinds=kinds)
    return VariantResult(name, k, val, test_by_k, best, sv[k], evaluate(best.frames, data.splits.test, best.boxes))


def run_all(cfg, data: ChapterData, collected: dict, emb, *, progress: bool = True) -> dict:
    """Every row of the chapter: the variants of :func:`variants`, singles only, the flow grid, the fusion and
    the contrast. ``{"rows": {name: metrics}, "notes": {name: selection}, "results": {name: VariantResult},
    "extra": {...}}``."""
    t0 = time.perf_counter()
    results = {name: run_variant(name, per, data, emb, cfg) for name, per in collected.items()}
    main = results["MLLM-EVAD"]
    if cfg.run_ablations and cfg.pairs:
        results["singles only"] = run_variant("singles only", collected["MLLM-EVAD"], data, emb, cfg,
                                              kinds=("single",))
        if "MLLM-EVAD (GT boxes)" in collected:
            results["singles only (GT boxes)"] = run_variant("singles only (GT boxes)",
                                                             collected["MLLM-EVAD (GT boxes)"], data, emb, cfg,
                                                             kinds=("single",))
    if cfg.run_ablations:
        for name in cfg.ablation_embedders:
            if name == cfg.embedder:
                continue
            other = load_embeddings(cfg, name)
            for base in ("MLLM-EVAD", "oracle text (GT boxes)"):
                if base in collected:
                    label = f"{base}, embedder {name}"
                    results[label] = run_variant(label, collected[base], data, other, cfg)
    rows = {n: r.test for n, r in results.items()}
    notes = {n: f"k = {r.k}" for n, r in results.items()}
    extra: dict = {"times": {"score (all variants, every k)": time.perf_counter() - t0}}
    t0 = time.perf_counter()
    flow_val = flow_scores(cfg, data, data.val_ids, progress=progress)
    flow_test = flow_scores(cfg, data, data.test_ids, progress=progress)
    rows["flow grid (chapter 00)"] = evaluate(flow_test, data.splits.test)
    notes["flow grid (chapter 00)"] = "none (fitted on the same normal videos)"
    w, wval, fused = fusion(main.scored_val.frames, flow_val, main.scored.frames, flow_test, cfg.fusion_weights,
                            data.splits.val)
    rows["MLLM-EVAD + flow grid"] = evaluate(fused, data.splits.test)
    notes["MLLM-EVAD + flow grid"] = f"k = {main.k}, w = {w:g}"
    extra["fusion"] = {"w": w, "val": wval}
    extra["times"]["flow grid + fusion"] = time.perf_counter() - t0
    if cfg.contrast_vlm:
        ids = data.test_ids[: cfg.contrast_max_videos or None]
        t = time.perf_counter()
        cs, cinfo = contrast_scores(cfg, data, ids, progress=progress)
        cinfo["wall_s"] = time.perf_counter() - t
        extra["times"]["contrast"] = cinfo["wall_s"]
        name = f"contrast: {cfg.contrast_vlm} yes/no per window"
        rows[name] = evaluate(cs, data.splits.test)
        notes[name] = "none (zero-shot)"
        extra["contrast"] = cinfo
    return {"rows": rows, "notes": notes, "results": results, "extra": extra}


def ablation_table(out: dict, cfg):
    """Pairs vs singles, delta, h, GT boxes vs detector: test micro AUC (all / interaction / single-object)."""
    import pandas as pd

    res = out["results"]
    order = ["MLLM-EVAD", "singles only", "MLLM-EVAD (GT boxes)", "singles only (GT boxes)",
             "oracle text (GT boxes)"]
    order += [n for n in res if n.startswith(("delta", "h =")) or ", embedder" in n]
    rows = []
    for n in order:
        if n not in res:
            continue
        t = res[n].test
        rows.append({"setting": n, "k (val)": res[n].k,
                     **{c: None if t.get(key) is None or not np.isfinite(t[key]) else round(100 * t[key], 2)
                        for key, c in COLUMNS}})
    return pd.DataFrame(rows)


def headline(run, out: dict, cfg, bench_entries: list[dict] | None = None) -> list[dict]:
    """The chapter's headline entries (registry ``headline``): validation-selected test micro / macro AUC, and
    the shared benchmark's entries (:func:`vadkit.experiment.benchmark.headline_entries`) when given."""
    from vadkit import papers
    from vadkit.experiment.reporting import log_headline

    pub = papers.table("mllm_evad", "headline")
    entries = []
    for name in ("MLLM-EVAD", "MLLM-EVAD + flow grid"):
        r = out["rows"].get(name)
        if not r:
            continue
        for key, metric in (("all/micro", "AUC micro"), ("all/macro", "AUC macro")):
            entries.append({"method": name, "metric": metric, "value": r.get(key), "std": None, "ci": None,
                            "seeds": 1, "dataset": cfg.dataset, "split": cfg.test_split, "profile": cfg.profile,
                            "paper": {"Avenue (secondary)": float(pub.loc["Avenue", "AUC"]),
                                      "ComplexVAD (secondary)": float(pub.loc["ComplexVAD", "AUC"])}})
    entries += list(bench_entries or [])
    log_headline(run, entries)
    return entries


def explanation_figure(expl: list[dict], data: ChapterData, cfg):
    """Crop pairs (``t``, ``t + delta``) of each explanation with its description, score and nearest nominal
    description."""
    import matplotlib.pyplot as plt

    from vadkit.data.video import VideoReader

    n = len(expl)
    fig, axes = plt.subplots(n, 2, figsize=(7.5, 2.1 * n), squeeze=False)
    for row, e in zip(axes, expl):
        frames = VideoReader(data.ann(e["video"]).video_path).read_all()
        u = me.Unit(e["video"], e["t0"], e["t1"], e["kind"], tuple(e["ids"]),
                    tuple(map(tuple, e["boxes_t0"])), tuple(map(tuple, e["boxes_t1"])))
        a, b, _ = me.unit_crops(frames, [u], cfg.crop_size, cfg.crop_margin)
        for ax, img, t in zip(row, (a[0], b[0]), (e["t0"], e["t1"])):
            ax.imshow(img)
            ax.set_axis_off()
            ax.set_title(f"{e['video']} frame {t}", fontsize=7)
        near = e["nearest_nominal"][0]
        row[1].text(1.05, 0.5, f"{e['kind']}, score {e['score']:.3f}\n\u201c{e['description']}\u201d\n"
                    f"nearest nominal ({near['similarity']:.2f}):\n\u201c{near['text']}\u201d",
                    transform=row[1].transAxes, fontsize=7, va="center", wrap=True)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------ real footage: the injected set ------

def injected_root(cfg) -> Path:
    """Where the chapter's injected-anomaly set lives: one folder per set of parameters (the set's writer keeps
    clips already written, so sets of other parameters must not share a folder)."""
    from vadkit import paths

    return (paths.data_dir() / "real_injected" /
            f"{cfg.real_footage}_w{cfg.real_width}_f{cfg.real_clip_frames}_n{cfg.real_normals}_seed{cfg.real_seed}")


@dataclass
class InjectedSplits:
    """The injected set read as a semi-supervised split: ``bank`` = all normal clips but the last (the nominal
    bank), ``test`` = the last normal clip and every clip with an injected segment."""

    ann: object
    root: Path
    bank: list[str]
    test: list[str]

    def overlap(self) -> float:
        """Share of the test clips' frames whose *source* frame (of the footage) is also shown by a bank clip: the
        clips are windows of one file, so the test clips' normal parts re-show the bank's pixels."""
        seen = {int(i) for v in self.bank for i in self.ann[v].extra["src_index"]}
        idx = np.concatenate([np.asarray(self.ann[v].extra["src_index"]) for v in self.test])
        return float(np.mean([int(i) in seen for i in idx])) if len(idx) else float("nan")


def injected_splits(cfg) -> InjectedSplits:
    """Build (or reuse) the injected-anomaly set of ``cfg.real_footage`` (:func:`vadkit.data.real_footage.
    injected_anomaly_set`, offline: the footage must be cached, ``make footage``), load it with
    ``load_dataset("real_injected", root)`` and split it.

    Every clip of the set is a test clip in its own annotation (split ``test``): it has no training part. Its
    normal clips play the footage at its own pace and are the only clips without an edit, so they are the
    semi-supervised training data here: all of them but the last make the nominal bank, the last stays in the
    test split as a wholly normal clip; the frames of the edited clips outside their segment are normal too."""
    from vadkit.data.datasets import load_dataset
    from vadkit.data.real_footage import injected_anomaly_set

    if cfg.real_normals < 2:
        raise ConfigError(f"real_normals = {cfg.real_normals}: the demo needs >= 2 normal clips (the bank and "
                          f"one normal test clip)")
    root = injected_anomaly_set(injected_root(cfg), seed=cfg.real_seed, width=cfg.real_width,
                                clip_len={cfg.real_footage: cfg.real_clip_frames},
                                normals_per_source=cfg.real_normals, sources=(cfg.real_footage,))
    ann = load_dataset("real_injected", root)
    normal = sorted(v for v, a in ann.items() if not a.is_anomalous)
    if len(normal) < 2:
        raise DatasetError(f"{root}: {len(normal)} normal clip(s); the demo needs >= 2 (bank and test)")
    missing = [v for v, a in ann.items() if a.video_path is None]
    if missing:
        raise DatasetError(f"{root}/videos: no file for {missing[:3]}; rebuild the set (delete {root})")
    bank = normal[:-1]
    return InjectedSplits(ann, Path(root), bank, sorted(set(ann) - set(bank)))


def injected_demo(cfg, describer, emb, k: int, *, progress: bool = False) -> dict:
    """MLLM-EVAD end to end on the injected-anomaly set of real footage (:func:`injected_splits`): HOG people on
    the downscaled clips (every ``hog_every``-th frame), the tracker, singles and pairs, the describer (cached),
    the nominal bank of the bank clips' descriptions (``cfg.embedder``), kNN scores at ``k`` (the ``k`` chosen on
    SynthVAD's validation: the set has no validation part), frame scores; chapter 00's flow grid on the same
    clips for reference. Returns the splits, the per-clip units (:class:`VideoUnits`), the :class:`Scored` test
    clips, the frame AUCs, the flow grid's, detection statistics and wall times."""
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader
    from vadkit.methods.classical import FlowGridModel, moving_average, optical_flow

    t_all = time.perf_counter()
    sp = injected_splits(cfg)
    times = {"build / load the set": time.perf_counter() - t_all, "decode": 0.0, "HOG + tracking": 0.0,
             "describe": 0.0, "flow grid": 0.0}
    trk, per, flows, det_stats = tracker_name(cfg), {}, {}, {"frames": 0, "boxes": 0, "frames with a box": 0}
    cache = me.DescriptionCache()
    for vid in tqdm(sp.bank + sp.test, desc="injected set", disable=not progress, leave=False):
        a = sp.ann[vid]
        t = time.perf_counter()
        frames = VideoReader(a.video_path).read_all()
        times["decode"] += time.perf_counter() - t
        t = time.perf_counter()
        dets = me.hog_detect(frames, width=None, every=cfg.hog_every, hit_threshold=cfg.hog_threshold,
                             scale=cfg.hog_scale)
        tracks = me.track(dets, float(a.fps), trk)
        times["HOG + tracking"] += time.perf_counter() - t
        det_stats["frames"] += len(dets)
        det_stats["boxes"] += sum(len(d) for d in dets)
        det_stats["frames with a box"] += sum(len(d) > 0 for d in dets)
        D = me.delta_frames(cfg.delta_s, float(a.fps))
        units = me.form_units(vid, tracks, len(frames), D, h_scale=cfg.h_scale, pairs=cfg.pairs)
        t = time.perf_counter()
        texts = me.describe_units(describer, frames, units, size=cfg.crop_size, margin=cfg.crop_margin,
                                  cache=cache, batch_size=cfg.describe_batch, video=f"{sp.root.name}_{vid}",
                                  delta_s=cfg.delta_s)
        times["describe"] += time.perf_counter() - t
        per[vid] = VideoUnits(units, texts, len(frames), D, tracks, _count_all_pairs(tracks, len(frames), D))
        t = time.perf_counter()
        flows[vid] = optical_flow(frames, cfg.flow_width)
        times["flow grid"] += time.perf_counter() - t
    if not any(per[v].texts for v in sp.bank):
        raise DatasetError(f"{sp.root}: HOG found no person seen at both ends of a window in the bank clips "
                           f"{sp.bank}: no nominal description")
    data = ChapterData(None, sp.root, sp.bank, [], sp.test, {v: float(sp.ann[v].fps) for v in sp.ann})
    sc = score_variant(per, data, emb, int(k), sp.test)
    t = time.perf_counter()
    flow = FlowGridModel(grid=(cfg.grid_rows, cfg.grid_cols)).fit(flows[v] for v in sp.bank)
    flow_s = {v: moving_average(flow.score(flows[v]), cfg.smooth_window) for v in sp.test}
    times["flow grid"] += time.perf_counter() - t
    test_ann = sp.ann.filter(lambda a: a.video_id in sp.test)
    times["total"] = time.perf_counter() - t_all
    return {"splits": sp, "units": per, "scored": sc, "k": int(k), "tracker": trk,
            "auc": injected_auc(sc.frames, test_ann), "flow_auc": injected_auc(flow_s, test_ann),
            "detections": det_stats, "overlap": sp.overlap(), "times": times}


def injected_auc(scores: dict, ann) -> dict:
    """Frame AUC on the injected set's test clips: micro and macro over all, and per injected class the micro AUC
    of the normal test clip(s) plus that class's clips (exact frame masks)."""
    out = {}
    r = frame_auc(scores, ann)
    out["all/micro"], out["all/macro"] = r["auc_o"], r["macro_auc"]
    normal = [v for v, a in ann.items() if not a.is_anomalous]
    for c in sorted({c for a in ann.values() for c in a.classes}):
        ids = normal + [v for v, a in ann.items() if c in a.classes]
        out[f"{c}/micro"] = frame_auc({v: scores[v] for v in ids}, ann)["auc_o"]
    return out


def injected_table(demo: dict):
    """MLLM-EVAD and the flow grid on the injected set's test clips, frame AUC in %."""
    import pandas as pd

    rows = []
    for name, r in ((f"MLLM-EVAD (HOG, {demo['tracker']}, k = {demo['k']})", demo["auc"]),
                    ("flow grid (chapter 00), same bank clips", demo["flow_auc"])):
        rows.append({"method": name, **{key.replace("/micro", " micro").replace("/macro", " macro"):
                                        None if not np.isfinite(v) else round(100 * v, 2) for key, v in r.items()}})
    return pd.DataFrame(rows)


def injected_top(demo: dict, emb) -> dict:
    """The top-scoring test unit of the injected set as an explanation (:func:`vadkit.methods.mllm_evad.
    explanation`) plus where its window lies against the injected segment."""
    e = top_explanations(demo["scored"], emb, n=1)[0]
    a = demo["splits"].ann[e["video"]]
    lab = np.asarray(a.frame_labels)[e["t0"]:e["t1"] + 1]
    e["true_classes"] = list(a.classes)
    e["inside_segment"] = float(lab.mean()) if len(lab) else 0.0
    return e


def injected_figure(demo: dict, e: dict, cfg):
    """The frame of the top unit's window start with every tracked box (the unit's in red), and its two crops
    with the description, the score and the nearest nominal descriptions."""
    import matplotlib.pyplot as plt

    from vadkit.data.video import VideoReader

    frames = VideoReader(demo["splits"].ann[e["video"]].video_path).read_all()
    u = me.Unit(e["video"], e["t0"], e["t1"], e["kind"], tuple(e["ids"]), tuple(map(tuple, e["boxes_t0"])),
                tuple(map(tuple, e["boxes_t1"])))
    a, b, _ = me.unit_crops(frames, [u], cfg.crop_size, cfg.crop_margin)
    fig = plt.figure(figsize=(9, 3.6))
    ax = fig.add_axes([0.0, 0.05, 0.45, 0.9])
    ax.imshow(frames[u.t0])
    tracks = demo["units"][e["video"]].tracks.get(u.t0, {})
    for tid, bx in tracks.items():
        mine = tid in u.ids
        ax.add_patch(plt.Rectangle((bx[0], bx[1]), bx[2] - bx[0], bx[3] - bx[1], fill=False,
                                   color="#d62728" if mine else "#1f77b4", lw=1.6 if mine else 0.8))
    ax.set_axis_off()
    ax.set_title(f"{e['video']} frame {u.t0} (HOG + {demo['tracker']})", fontsize=8)
    for n, (img, t) in enumerate(((a[0], u.t0), (b[0], u.t1))):
        cax = fig.add_axes([0.47 + 0.13 * n, 0.45, 0.12, 0.4])
        cax.imshow(img)
        cax.set_axis_off()
        cax.set_title(f"frame {t}", fontsize=7)
    near = "\n".join(f"  {x['similarity']:.2f}  \u201c{x['text']}\u201d (x{x['count']})"
                      for x in e["nearest_nominal"])
    fig.text(0.47, 0.05, f"{e['kind']} {tuple(e['ids'])}, score {e['score']:.3f}; "
             f"{100 * e['inside_segment']:.0f} % of its window inside the injected "
             f"{', '.join(e['true_classes']) or 'no'} segment\n"
             f"description: \u201c{e['description']}\u201d\nnearest nominal descriptions:\n{near}",
             fontsize=7, va="bottom", wrap=True)
    return fig


# ------------------------------------------------------------------------ the shared benchmark ----------------

def bench_scores(cfg, bench, describer, scored: Scored, emb, *, progress: bool = True) -> tuple[dict, dict]:
    """The selected configuration (``cfg``'s detector and tracker, the describer, ``scored``'s nominal bank and
    its validation-selected ``k``) applied unchanged to the shared benchmark's videos
    (:mod:`vadkit.experiment.benchmark`), at a frame stride ``n = cfg.bench_stride``: frames ``0, n, 2n, ...``
    at ``fps / n`` (the window stays ``delta_s`` seconds). ``({video: [ceil(T / n)] frame scores}, info)``; the
    scores go to :func:`vadkit.experiment.benchmark.score` with ``expand="none", stride=n``."""
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader

    n = max(int(cfg.bench_stride), 1)
    if cfg.detector == "gt":
        raise ConfigError("detector='gt': the benchmark scores the detector path (set detector='mog2')")
    trk, cache, out = tracker_name(cfg), me.DescriptionCache(), {}
    info = {"stride": n, "units": 0, "frames": 0, "times": {"decode": 0.0, "detect+track": 0.0,
                                                            "describe": 0.0, "score": 0.0}}
    for vid, a in tqdm(list(bench.ann.items()), desc="bench", disable=not progress, leave=False):
        t = time.perf_counter()
        reader = VideoReader(a.video_path)
        T = int(a.num_frames or reader.num_frames)
        frames = reader.read_all()[:T:n]
        num = -(-T // n)                           # the scores cover every strided frame of the annotation
        info["times"]["decode"] += time.perf_counter() - t
        fps = float(a.fps) / n
        t = time.perf_counter()
        tracks = me.track(detect(cfg, frames), fps, trk)
        info["times"]["detect+track"] += time.perf_counter() - t
        D = me.delta_frames(cfg.delta_s, fps)
        units = me.form_units(vid, tracks, len(frames), D, h_scale=cfg.h_scale, pairs=cfg.pairs)
        t = time.perf_counter()
        texts = me.describe_units(describer, frames, units, size=cfg.crop_size, margin=cfg.crop_margin,
                                  cache=cache, batch_size=cfg.describe_batch, video=f"bench_s{n}_{vid}",
                                  delta_s=cfg.delta_s)
        info["times"]["describe"] += time.perf_counter() - t
        t = time.perf_counter()
        out[vid] = me.frame_scores(units, me.score_texts(scored.bank, emb, texts, scored.k), num, D)
        info["times"]["score"] += time.perf_counter() - t
        info["units"] += len(units)
        info["frames"] += T
    return out, info


def bench_note(cfg) -> str:
    """How the method met the benchmark (the leaderboard's note)."""
    n = max(int(cfg.bench_stride), 1)
    how = "every frame" if n == 1 else f"frame stride {n} (every {n}-th frame), each score held over {n} frames"
    return f"{cfg.detector} + {tracker_name(cfg)} + {cfg.describer}, k from validation; {how}"


def observations(out: dict, info: dict, cfg, demo: dict | None = None, bench: dict | None = None) -> str:
    """The chapter's closing observations, written from this run's numbers (``demo``: :func:`injected_demo`'s;
    ``bench``: :func:`vadkit.experiment.benchmark.score` of the selected configuration)."""
    rows = out["rows"]

    def pct(name: str, key: str = "all/micro") -> str:
        v = rows.get(name, {}).get(key)
        return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"

    main, gtb, orc = "MLLM-EVAD", "MLLM-EVAD (GT boxes)", "oracle text (GT boxes)"
    lines = [f"* **The method** ({cfg.describer} on {cfg.detector} boxes, {info['tracker']} tracks): micro AUC "
             f"{pct(main)} (interaction {pct(main, 'interaction/micro')}, single-object "
             f"{pct(main, 'single-object/micro')}); with SynthVAD's boxes {pct(gtb)}; with the ground-truth "
             f"activity text of the same units (oracle) {pct(orc)} (interaction {pct(orc, 'interaction/micro')}, "
             f"single-object {pct(orc, 'single-object/micro')})."]
    r = info["recall"].get(0.5)
    if r and np.isfinite(r[0]):
        lines.append(f"* **The detector** finds {100 * r[0]:.0f} % of the ground-truth boxes at IoU 0.5: MOG2 "
                     "misses what does not move (sitting people, parked cars) and merges agents that touch, which "
                     "is exactly when they interact, so the pair rule finds far fewer pairs on its boxes than on "
                     "SynthVAD's (cost table).")
    if orc in rows and gtb in rows:
        det_gap = rows[gtb].get("all/micro", np.nan) - rows[main].get("all/micro", np.nan)
        txt_gap = rows[orc].get("all/micro", np.nan) - rows[gtb].get("all/micro", np.nan)
        lines.append(f"* **Where the points go**: SynthVAD's boxes in place of the detector's add "
                     f"{100 * det_gap:+.1f} points; the ground-truth text in place of the describer's adds "
                     f"{100 * txt_gap:+.1f} more. The idea (text of singles and pairs against a nominal bank) works "
                     "when boxes and text are right; the two gaps say which stage loses how much here.")
    for name in (gtb, orc):
        inter, single = rows.get(name, {}).get("interaction/micro"), rows.get(name, {}).get("single-object/micro")
        if inter is not None and single is not None and np.isfinite(inter) and np.isfinite(single):
            better = "holds" if inter >= single else "does not hold"
            lines.append(f"* **The paper's claim** (strongest on interaction anomalies) {better} for {name}: "
                         f"interaction {100 * inter:.1f} vs single-object {100 * single:.1f}.")
    for base, so in ((main, "singles only"), (gtb, "singles only (GT boxes)")):
        if so in rows:
            lines.append(f"* **Pairs** ({base}): singles only {pct(so)} against {pct(base)} with pairs; on the "
                         f"interaction anomalies {pct(so, 'interaction/micro')} against "
                         f"{pct(base, 'interaction/micro')}.")
    fused = "MLLM-EVAD + flow grid"
    if fused in rows:
        lines.append(f"* **Fusion** with chapter 00's flow grid ({pct('flow grid (chapter 00)')} alone): "
                     f"{pct(fused)} at w = {out['extra']['fusion']['w']:g} (chosen on validation).")
    cname = next((n for n in rows if n.startswith("contrast")), None)
    if cname:
        lines.append(f"* **The contrast** (direct yes/no judgments of {cfg.contrast_vlm}): {pct(cname)}. A tiny "
                     "VLM that gives one answer to every window scores 50 by construction: the contrast only "
                     "means something with a VLM that can judge a clip.")
    if demo is not None:
        a, f = demo["auc"], demo["flow_auc"]
        per = ", ".join(f"{k.split('/')[0]} {100 * v:.1f}" for k, v in a.items()
                        if not k.startswith("all") and np.isfinite(v))
        lines.append(f"* **Real footage** (vtest.avi with injected anomalies, HOG, a bank of "
                     f"{len(demo['splits'].bank)} normal clips): frame micro AUC {100 * a['all/micro']:.1f} "
                     f"({per}); the flow grid on the same clips {100 * f['all/micro']:.1f}. The describer was "
                     "trained on SynthVAD's rendered crops only, and the edits change motion only: this number "
                     "measures the describer's domain shift to real pixels as much as the method.")
    if bench is not None:
        gap = bench["auc_seen"] - bench["auc_heldout"]
        lines.append(f"* **The shared benchmark** ({bench_note(cfg)}): AUC_O {100 * bench['auc_o']:.1f}, seen "
                     f"types {100 * bench['auc_seen']:.1f}, held-out types {100 * bench['auc_heldout']:.1f} "
                     f"({100 * gap:+.1f} points from held-out to seen; the held-out types are context anomalies, "
                     "ordinary activity in the wrong place or at the wrong moment).")
    lines.append("* The secondary figures (Avenue 88.4, ComplexVAD 71.0) come from third-party summaries, not "
                 "the paper, and are on other data: they are printed for scale only.")
    return "\n".join(lines)
