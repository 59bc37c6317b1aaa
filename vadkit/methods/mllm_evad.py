"""MLLM-EVAD (Mumcu, Jones, Cherian, Yilmaz; arXiv 2510.14896): activity descriptions of objects and object pairs,
compared with the descriptions of nominal videos, for explainable semi-supervised VAD.

The paper body was not available; what comes from where (the chapter's first table repeats it):

* **paper (abstract)**: nominal (normal) training videos only; the MLLM is queried with the visual input of
  objects and object *pairs* at different moments; the text describes activity and interaction; test
  descriptions are compared with the nominal ones; combinable with traditional methods; contrasted with MLLMs
  that judge frames directly;
* **secondary sources** (``../shared/reference/datasets.md``): Detectron2 + ByteTrack; tracks followed for a
  fixed duration (30 frames); the pseudo-depth pair rule (:mod:`vadkit.data.pairs`); two crops
  ``C_t``, ``C_{t+delta}`` tightly enclosing the object(s) at both moments; text-embedding similarity;
* **our choices** where both are silent (each a parameter of the chapter): ``delta`` in *seconds* (1 s = the
  30 frames at 30 fps); windows ``[t, t + D]`` every ``D = round(delta * fps)`` frames, as SynthVAD's activity
  ground truth; an object is described when its track is seen at both ends of a window; pairs are formed at
  the window's start ``t``; the anomaly score of a description is the mean cosine distance to its ``k``
  nearest nominal descriptions (:func:`vadkit.methods.knn.nominal_distance`, MiniLM embeddings); a frame's score
  is the max over the descriptions whose window holds it (``[t, t + D)``, the last window to the video's end),
  and a frame no description covers scores 0 (nothing unusual was seen); a box's score (RBDC/TBDC) is the max
  over the descriptions its object takes part in.

Shapes: frames ``[T, H, W, 3]`` uint8 RGB; boxes ``(x1, y1, x2, y2)`` pixel edges; detections of one frame
``[N, 5]`` (box + confidence); tracks ``{frame: {track_id: box}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from vadkit.data.pairs import interacting_pairs

Box = tuple[float, float, float, float]
Tracks = dict[int, dict[int, Box]]                # frame -> {track id: box}


def delta_frames(delta_s: float, fps: float) -> int:
    """``D = max(1, round(delta_s * fps))``: the window length in frames (1 s is 15 frames at SynthVAD's 15 fps,
    25 at Avenue's, 30 at the secondary sources' 30)."""
    if delta_s <= 0 or fps <= 0:
        raise ValueError(f"delta_s and fps must be > 0, got {delta_s} and {fps}")
    return max(int(round(delta_s * fps)), 1)


# ------------------------------------------------------------------------ detection ---------------------------

def mog2_detect(frames: np.ndarray, *, history: int = 200, var_threshold: float = 25.0, min_area: int = 12,
                max_area_frac: float = 0.25, passes: int = 2, kernel: int = 3) -> list[np.ndarray]:
    """Foreground blobs of OpenCV's MOG2 background model: ``[N, 5]`` boxes + confidence per frame.

    The camera is fixed, so the background model is seeded with the clip's temporal median and learnt over the
    whole clip first (``passes - 1`` learning passes); the last pass reads the foreground with learning frozen;
    an object that never moves (a sitting person, a parked car) therefore stays background, as in any motion
    detector. The mask is opened and closed with a ``kernel`` x ``kernel`` ellipse; a connected component of at
    least ``min_area`` pixels (and at most ``max_area_frac`` of the frame) is one detection, its confidence the
    share of foreground pixels in its box.
    """
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], got {frames.shape}")
    T, H, W = frames.shape[:3]
    sub = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=var_threshold, detectShadows=False)
    # the model's first frame gets full weight: seed it with the temporal median (the empty scene, where objects
    # move), so the objects of the clip's first frame do not become background
    median = np.median(frames[:: max(T // 50, 1)], axis=0).astype(np.uint8)
    for _ in range(5):
        sub.apply(median)
    for _ in range(max(passes - 1, 0)):
        for f in frames:
            sub.apply(f)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
    out = []
    for f in frames:
        m = sub.apply(f, learningRate=0.0 if passes > 1 else -1)
        m = cv2.morphologyEx((m > 0).astype(np.uint8), cv2.MORPH_OPEN, k)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
        n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        rows = []
        for x, y, w, h, area in stats[1:n]:
            if area < min_area or area > max_area_frac * H * W:
                continue
            rows.append((x, y, x + w, y + h, area / float(w * h)))
        out.append(np.asarray(rows, dtype=np.float64).reshape(-1, 5))
    return out


def hog_detect(frames: np.ndarray, *, width: int | None = 384, hit_threshold: float = 0.0,
               win_stride: int = 8, scale: float = 1.05, every: int = 1) -> list[np.ndarray]:
    """OpenCV's HOG + linear-SVM people detector (Dalal & Triggs; 64 x 128 window): ``[N, 5]`` per frame, in
    the input frame's pixels. Frames are resized to ``width`` first (speed; people must stay >= 128 px tall);
    ``every > 1`` runs it on every n-th frame and repeats the boxes between (the tracker smooths them)."""
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    frames = np.asarray(frames)
    W = frames.shape[2]
    s = 1.0 if not width or width >= W else width / W
    out: list[np.ndarray] = []
    last = np.zeros((0, 5))
    for t, f in enumerate(frames):
        if t % max(every, 1) == 0:
            g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
            if s != 1.0:
                g = cv2.resize(g, (round(g.shape[1] * s), round(g.shape[0] * s)), interpolation=cv2.INTER_AREA)
            rects, weights = hog.detectMultiScale(g, hitThreshold=hit_threshold, winStride=(win_stride, win_stride),
                                                  scale=scale)
            rows = [(x / s, y / s, (x + w) / s, (y + h) / s, float(c))
                    for (x, y, w, h), c in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).ravel())]
            last = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        out.append(last.copy())
    return out


def torchvision_detect(model, frames: np.ndarray, *, labels: Sequence[int] = (1,), min_score: float = 0.5,
                       batch_size: int = 8) -> list[np.ndarray]:
    """A torchvision detection model (Faster R-CNN family, COCO label ids; ``1`` = person) on every frame:
    ``[N, 5]`` boxes of the kept ``labels`` with score >= ``min_score``."""
    import torch

    frames = np.asarray(frames)
    dev = next(model.parameters()).device
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for i in range(0, len(frames), batch_size):
            x = torch.from_numpy(frames[i:i + batch_size]).permute(0, 3, 1, 2).float().div(255).to(dev)
            for r in model(list(x)):
                keep = (r["scores"] >= min_score) & torch.isin(r["labels"], torch.tensor(list(labels), device=dev))
                b = torch.cat([r["boxes"][keep], r["scores"][keep, None]], 1).cpu().numpy().astype(np.float64)
                out.append(b.reshape(-1, 5))
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of pixel-edge boxes ``a [N, 4]`` and ``b [M, 4]`` -> ``[N, M]``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def detector_recall(detections: Sequence[np.ndarray], gt: Mapping[int, Sequence[Box]],
                    iou: float = 0.5) -> tuple[int, int]:
    """``(matched, total)`` ground-truth boxes with a detection of IoU >= ``iou`` in the same frame (one-to-one,
    greedy by IoU). ``gt``: ``{frame: [box, ...]}``."""
    matched = total = 0
    for f, boxes in gt.items():
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        total += len(boxes)
        det = detections[f] if f < len(detections) else np.zeros((0, 5))
        if not len(boxes) or not len(det):
            continue
        m = box_iou(boxes, det[:, :4])
        while m.size and m.max() >= iou:
            i, j = np.unravel_index(int(m.argmax()), m.shape)
            matched += 1
            m[i, :] = -1
            m[:, j] = -1
    return matched, total


# ------------------------------------------------------------------------ tracking ----------------------------

def tracker_available(name: str = "bytetrack") -> bool:
    """Whether the ``trackers`` package (ByteTrack, OC-SORT, SORT) can be imported."""
    if name == "iou":
        return True
    try:
        import trackers  # noqa: F401
    except ImportError:
        return False
    return True


def track(detections: Sequence[np.ndarray], fps: float, tracker: str = "bytetrack", *,
          lost_s: float = 1.0, min_iou: float = 0.1, activation: float = 0.25) -> Tracks:
    """Boxes linked over time: ``{frame: {track_id: box}}`` (ids from 1).

    ``bytetrack`` / ``ocsort`` / ``sort``: the ``trackers`` package's clean-room implementations (Kalman filter +
    Hungarian IoU matching; ByteTrack's second stage matches low-confidence boxes). ``lost_s`` seconds of
    misses before a track ends. ``iou``: a greedy frame-to-frame IoU linker (no motion model), for machines
    without ``trackers``; the chapter prints which one ran.
    """
    classes = {"bytetrack": "ByteTrackTracker", "ocsort": "OCSORTTracker", "sort": "SORTTracker"}
    if tracker == "iou":
        return _iou_track(detections, min_iou, max(int(round(lost_s * fps)), 1))
    if tracker not in classes:
        raise ValueError(f"unknown tracker {tracker!r}; known: iou, {', '.join(classes)}")
    try:
        import supervision as sv
        import trackers as tk
    except ImportError as err:
        raise ImportError(f"tracker {tracker!r} needs the 'trackers' package ({err}); install it or use "
                          f"tracker='iou'") from err
    cls = getattr(tk, classes[tracker])
    kw = dict(lost_track_buffer=max(int(round(lost_s * fps)), 1), frame_rate=float(fps),
              track_activation_threshold=activation, minimum_consecutive_frames=1,
              minimum_iou_threshold=min_iou)
    import inspect

    params = inspect.signature(cls.__init__).parameters
    t = cls(**{k: v for k, v in kw.items() if k in params})
    out: Tracks = {}
    for f, det in enumerate(detections):
        det = np.asarray(det, dtype=np.float64).reshape(-1, 5)
        d = sv.Detections(xyxy=det[:, :4].astype(np.float32), confidence=det[:, 4].astype(np.float32),
                          class_id=np.zeros(len(det), dtype=int))
        r = t.update(d)
        ids = r.tracker_id if r.tracker_id is not None else np.full(len(r), -1)
        out[f] = {int(i): tuple(float(v) for v in b) for b, i in zip(r.xyxy, ids) if int(i) >= 0}
    return out


def _iou_track(detections: Sequence[np.ndarray], min_iou: float, lost: int) -> Tracks:
    out: Tracks = {}
    live: dict[int, tuple[np.ndarray, int]] = {}     # id -> (last box, last frame)
    nxt = 1
    for f, det in enumerate(detections):
        det = np.asarray(det, dtype=np.float64).reshape(-1, 5)
        live = {i: v for i, v in live.items() if f - v[1] <= lost}
        ids = list(live)
        m = box_iou(det[:, :4], np.array([live[i][0] for i in ids]).reshape(-1, 4)) if ids else np.zeros((len(det), 0))
        assigned: dict[int, int] = {}
        while m.size and m.max() >= min_iou:
            a, b = np.unravel_index(int(m.argmax()), m.shape)
            assigned[a] = ids[b]
            m[a, :] = -1
            m[:, b] = -1
        out[f] = {}
        for a in range(len(det)):
            tid = assigned.get(a)
            if tid is None:
                tid, nxt = nxt, nxt + 1
            live[tid] = (det[a, :4], f)
            out[f][tid] = tuple(float(v) for v in det[a, :4])
    return out


def tracks_from_rows(rows, skip_classes: Sequence[str] = ("debris",)) -> Tracks:
    """Ground-truth tracks from rows ``(track_id, frame, x1, y1, x2, y2, object_class)`` (SynthVAD's
    ``objects/<video>.csv``), the classes in ``skip_classes`` left out (SynthVAD's activity text skips debris)."""
    out: Tracks = {}
    for tid, f, x1, y1, x2, y2, cls in rows:
        if cls in skip_classes:
            continue
        out.setdefault(int(f), {})[int(tid)] = (float(x1), float(y1), float(x2), float(y2))
    return out


# ------------------------------------------------------------------------ units: singles and pairs ------------

@dataclass(frozen=True)
class Unit:
    """One describer query: a single object or an interacting pair over the window ``[t0, t1]``.

    ``ids`` one or two track ids (a pair in increasing id order), ``boxes_t0`` / ``boxes_t1`` their boxes at both
    ends, ``distance`` / ``h`` the pair rule's values (``nan`` for a single).
    """

    video: str
    t0: int
    t1: int
    kind: str
    ids: tuple[int, ...]
    boxes_t0: tuple[Box, ...]
    boxes_t1: tuple[Box, ...]
    distance: float = float("nan")
    h: float = float("nan")

    @property
    def key(self) -> str:
        return f"{self.video}|{self.t0}|{self.kind}|{'+'.join(map(str, self.ids))}"


def form_units(video: str, tracks: Tracks, num_frames: int, D: int, *, h_scale: float = 1.0, singles: bool = True,
               pairs: bool = True) -> list[Unit]:
    """Every window ``[t0, t0 + D]``, ``t0 = 0, D, 2D, ...`` with ``t0 + D < num_frames``: one single unit per
    track seen at both ends, one pair unit per pair of those that interacts at ``t0`` (:func:`interacting_pairs`,
    bottom-centre points, ``h = h_scale`` x the larger box height). Singles first, then pairs, ids increasing."""
    units: list[Unit] = []
    for t0 in range(0, num_frames - D, D):
        t1 = t0 + D
        a, b = tracks.get(t0, {}), tracks.get(t1, {})
        present = sorted(set(a) & set(b))
        if singles:
            units += [Unit(video, t0, t1, "single", (i,), (a[i],), (b[i],)) for i in present]
        if pairs:
            for i, j, d, h in interacting_pairs({i: a[i] for i in present}, h_scale):
                units.append(Unit(video, t0, t1, "pair", (i, j), (a[i], a[j]), (b[i], b[j]), float(d), float(h)))
    return units


def unit_crops(frames: np.ndarray, units: Sequence[Unit], size: int = 48,
               margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """``(crops_t [N, S, S, 3], crops_t1 [N, S, S, 3], crop boxes)``: one square box per unit enclosing its
    object(s) at both moments plus ``margin`` (:func:`vadkit.data.pairs.crop_box`), cut from frames ``t0`` and
    ``t1`` (:func:`vadkit.data.pairs.crop_pair`, zero padding outside the frame)."""
    from vadkit.data.pairs import crop_box, crop_pair

    shape = frames.shape[1:3]
    ct, ct1, boxes = [], [], []
    for u in units:
        box = crop_box(list(u.boxes_t0) + list(u.boxes_t1), shape, margin=margin)
        a, b = crop_pair(frames[u.t0], frames[u.t1], box, size=size)
        ct.append(a)
        ct1.append(b)
        boxes.append(tuple(int(v) for v in box))
    if not units:
        z = np.zeros((0, size, size, 3), dtype=np.uint8)
        return z, z.copy(), []
    return np.stack(ct), np.stack(ct1), boxes


# ------------------------------------------------------------------------ descriptions, cached ----------------

DESCRIBE_KIND = "describe"


class DescriptionCache:
    """Descriptions cached per crop pair, stored one shard per (describer, video).

    An entry's key is :func:`vadkit.identity.cache_key` of the describer's identity and settings, the unit kind,
    the decoding settings and the sha256 of both crops (:func:`vadkit.models.calls.array_digest`), so another
    describer, prompt or pixels never reuse one, and a rerun, another ``k`` or another fusion weight makes no
    new call. Entries live in ``<root>/describe/<describer digest>/<video>.json`` (atomic, with a content
    digest: a damaged shard is treated as empty), one write per video and batch instead of one per crop pair
    (thousands of tiny fsynced files would cost more than the tiny describer itself). Calls made and served are
    counted in :data:`vadkit.models.calls.STATS` under ``describe/made`` and ``describe/cached``.
    """

    def __init__(self, root=None):
        from pathlib import Path

        from vadkit import paths

        self.root = Path(root) if root is not None else paths.cache_dir() / "model_calls"

    def shard(self, ident: str, video: str):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in video)
        return self.root / DESCRIBE_KIND / ident[:16] / f"{safe}.json"

    def lookup(self, ident: str, video: str) -> dict[str, str]:
        from vadkit.identity import read_json_entry

        rec = read_json_entry(self.shard(ident, video))
        return dict(rec.get("entries", {})) if rec else {}

    def store(self, ident: str, video: str, entries: Mapping[str, str], meta: Mapping) -> None:
        from vadkit.identity import write_json_entry

        write_json_entry(self.shard(ident, video), {**meta, "entries": dict(sorted(entries.items()))})


def describer_identity(describer, settings: Mapping | None = None) -> tuple[str, dict]:
    """``(digest, record)`` naming the describer: its model identity, ``describe()`` record and the settings."""
    from vadkit.identity import cache_key, producer
    from vadkit.models.calls import _identity_of

    try:
        model_id = _identity_of(describer)
    except (ValueError, TypeError):
        model_id = getattr(describer, "name", type(describer).__name__)
    info = describer.describe() if hasattr(describer, "describe") else {}
    rec = {"model": model_id, "describer": info, "settings": dict(settings or {})}
    return cache_key(producer("model-calls"), kind=DESCRIBE_KIND, **rec), rec


def _memo_identity(describer, settings: dict) -> tuple[str, dict]:
    """:func:`describer_identity`, remembered on the describer per settings (the model's identity reads its
    files: ~0.2 s a call, once per video and variant otherwise)."""
    import json

    key = json.dumps(settings, sort_keys=True, default=str)
    memo = getattr(describer, "_vadkit_identity_memo", None)
    if memo is None:
        memo = {}
        try:
            describer._vadkit_identity_memo = memo
        except AttributeError:              # a describer without a __dict__: compute every time
            return describer_identity(describer, settings)
    if key not in memo:
        memo[key] = describer_identity(describer, settings)
    return memo[key]


def describe_units(describer, frames: np.ndarray, units: Sequence[Unit], *, size: int = 48, margin: float = 0.5,
                   cache: DescriptionCache | None = None, config=None, batch_size: int = 64,
                   video: str | None = None, delta_s: float = 1.0) -> list[str]:
    """The describer's text for every unit, each crop pair cached (:class:`DescriptionCache`);
    ``describer.describe_crops(crops_t, crops_t1, kinds, config, delta_s=...)`` runs on the missing ones in
    batches (``delta_s`` is in the VLM's prompt, so it is part of the key)."""
    import dataclasses

    from vadkit.identity import cache_key
    from vadkit.models.calls import STATS, array_digest

    if not units:
        return []
    video = video or units[0].video
    ct, ct1, _ = unit_crops(frames, units, size, margin)
    cache = cache or DescriptionCache()
    settings = (dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {}))
    ident, rec = _memo_identity(describer, {**settings, "crop_size": size, "margin": margin, "delta_s": delta_s})
    keys = [cache_key({"what": "crop-pair"}, kind=u.kind, crops=array_digest([ct[n], ct1[n]]), length=32)
            for n, u in enumerate(units)]
    entries = cache.lookup(ident, video)
    todo = sorted({n for n, k in enumerate(keys) if k not in entries}, key=lambda n: keys[n])
    todo = [n for i, n in enumerate(todo) if i == 0 or keys[n] != keys[todo[i - 1]]]
    STATS[f"{DESCRIBE_KIND}/cached"] += len(units) - len(todo)
    for i in range(0, len(todo), max(int(batch_size), 1)):
        part = np.asarray(todo[i:i + batch_size], dtype=int)
        texts = describer.describe_crops(ct[part], ct1[part], [units[n].kind for n in part], config,
                                         delta_s=delta_s)
        if len(texts) != len(part):
            raise RuntimeError(f"{getattr(describer, 'name', '?')}: {len(texts)} descriptions for {len(part)} "
                               f"crop pairs")
        for n, t in zip(part, texts):
            entries[keys[n]] = str(t).strip()
        STATS[f"{DESCRIBE_KIND}/made"] += len(part)
    if todo:
        cache.store(ident, video, entries, {**rec, "video": video})
    return [entries[k] for k in keys]


# ------------------------------------------------------------------------ scores ------------------------------

@dataclass
class TextEmbeddings:
    """Embeddings of texts, each distinct text embedded once (descriptions repeat a lot): ``encode(texts)``
    -> ``[N, D]`` float32."""

    embed: Callable[[list[str]], np.ndarray]
    memo: dict[str, np.ndarray] = field(default_factory=dict)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        new = sorted({t for t in texts if t not in self.memo})
        if new:
            vecs = np.asarray(self.embed(new), dtype=np.float32)
            self.memo.update(zip(new, vecs))
        if not texts:
            dim = next(iter(self.memo.values())).shape[0] if self.memo else 1
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self.memo[t] for t in texts])


def nominal_bank(texts: Sequence[str], embeddings: TextEmbeddings):
    """The nominal bank: one row per description of the normal training videos (a description the nominal
    videos produce often fills several rows, so its ``k`` nearest rows are itself: kNN as a density), embedded
    with MiniLM (each distinct text once), the raw text as payload; plus each text's count."""
    from collections import Counter

    from vadkit.methods.knn import KNNBank

    if not texts:
        raise ValueError("the nominal bank is empty: no description came out of the normal training videos")
    texts = list(texts)
    return KNNBank(embeddings.encode(texts), payload=texts), Counter(texts)


def score_texts(bank, embeddings: TextEmbeddings, texts: Sequence[str], k: int) -> np.ndarray:
    """Anomaly score of each text: mean cosine distance to its ``k`` nearest nominal descriptions ``[N]``
    (:func:`vadkit.methods.knn.nominal_distance`)."""
    from vadkit.methods.knn import nominal_distance

    if not len(texts):
        return np.zeros(0)
    return nominal_distance(bank, embeddings.encode(list(texts)), k).astype(np.float64)


def frame_scores(units: Sequence[Unit], scores: Sequence[float], num_frames: int, D: int,
                 fill: float = 0.0) -> np.ndarray:
    """``[num_frames]``: the max over the units whose window holds the frame (``[t0, t0 + D)``; the last
    window's units also hold the frames after it), ``fill`` where none does."""
    out = np.full(num_frames, -np.inf)
    last = max((u.t0 for u in units), default=-1)
    for u, s in zip(units, scores):
        end = num_frames if u.t0 == last else min(u.t0 + D, num_frames)
        seg = out[u.t0:end]
        np.maximum(seg, s, out=seg)
    out[~np.isfinite(out)] = fill
    return out


def _box_at(tracks: Tracks, tid: int, f: int, u: Unit, n: int) -> Box:
    b = tracks.get(f, {}).get(tid)
    if b is not None:
        return b
    a, c = np.asarray(u.boxes_t0[n]), np.asarray(u.boxes_t1[n])
    w = (f - u.t0) / max(u.t1 - u.t0, 1)
    return tuple(float(v) for v in (1 - w) * a + w * c)


def box_scores(units: Sequence[Unit], scores: Sequence[float], tracks: Tracks, num_frames: int,
               D: int) -> np.ndarray:
    """Scored boxes for RBDC/TBDC, ``[R, 6]`` rows ``(frame, x1, y1, x2, y2, score)``: each object of each unit
    in each frame of the unit's window (as in :func:`frame_scores`), its tracked box there (interpolated between
    the window's ends where the track missed the frame), scored by the max over the units it is in."""
    best: dict[tuple[int, int], tuple[float, Box]] = {}
    last = max((u.t0 for u in units), default=-1)
    for u, s in zip(units, scores):
        end = num_frames if u.t0 == last else min(u.t0 + D, num_frames)
        for n, tid in enumerate(u.ids):
            for f in range(u.t0, end):
                if f > u.t1 and tid not in tracks.get(f, {}):
                    continue
                cur = best.get((f, tid))
                if cur is None or s > cur[0]:
                    best[(f, tid)] = (float(s), _box_at(tracks, tid, f, u, n))
    rows = [(f, *box, s) for (f, _), (s, box) in sorted(best.items())]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


def explanation(unit: Unit, text: str, score: float, bank, embeddings: TextEmbeddings, n: int = 3) -> dict:
    """One explanation record: the unit (video, window, kind, ids, boxes), its description, its score and the
    ``n`` nearest *distinct* nominal descriptions with their cosine similarities and how often the nominal videos
    produced each."""
    counts: dict[str, int] = {}
    for t in bank.payload:
        counts[t] = counts.get(t, 0) + 1
    near, seen = [], set()
    for t, s in bank.neighbours(embeddings.encode([text]), len(bank))[0]:
        if t in seen:
            continue
        seen.add(t)
        near.append({"text": t, "similarity": round(float(s), 4), "count": counts[t]})
        if len(near) >= n:
            break
    return {"video": unit.video, "t0": unit.t0, "t1": unit.t1, "kind": unit.kind, "ids": list(unit.ids),
            "boxes_t0": [list(b) for b in unit.boxes_t0], "boxes_t1": [list(b) for b in unit.boxes_t1],
            "description": text, "score": float(score), "nearest_nominal": near}


# ------------------------------------------------------------------------ fusion ------------------------------

def standardise(scores: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``(s - mean) / std`` with the mean and std of all frames of ``ref`` (the validation split: no test
    statistic enters the fusion)."""
    allv = np.concatenate([np.asarray(v, dtype=np.float64) for v in ref.values()]) if ref else np.zeros(1)
    mu, sd = float(allv.mean()), float(allv.std())
    sd = sd if sd > 1e-12 else 1.0
    return {k: (np.asarray(v, dtype=np.float64) - mu) / sd for k, v in scores.items()}


def fuse(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], w: float) -> dict[str, np.ndarray]:
    """``w * a + (1 - w) * b`` per video (both standardised), over the videos both score."""
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"fusion weight must be in [0, 1], got {w}")
    out = {}
    for v in a.keys() & b.keys():
        x, y = np.asarray(a[v]), np.asarray(b[v])
        n = min(len(x), len(y))
        out[v] = w * x[:n] + (1 - w) * y[:n]
    return out


def parse_judgment(text: str) -> float:
    """A direct frame-level judgment as a score: 1 for an answer that starts with "yes", 0 for "no", 0.5 when it
    is neither (unparsable answers are counted by the caller)."""
    t = str(text).strip().lower().lstrip("\"' ")
    if t.startswith("yes"):
        return 1.0
    if t.startswith("no"):
        return 0.0
    return 0.5


__all__ = ["Unit", "TextEmbeddings", "box_iou", "box_scores", "delta_frames", "describe_units", "detector_recall",
           "DescriptionCache", "describer_identity",
           "explanation", "form_units", "frame_scores", "fuse", "hog_detect", "torchvision_detect", "mog2_detect",
           "nominal_bank",
           "parse_judgment", "score_texts", "standardise", "track", "tracker_available", "tracks_from_rows",
           "unit_crops"]

