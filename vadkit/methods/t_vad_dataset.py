"""T-VAD's stage-2 dataset construction (Gu et al. 2025, Sec. 3.3): the references the SFT phases train on and
the dialogue evaluation scores against, written by a VLM.

One record per video, the form both SFT phases and the evaluation read (:func:`gt_record` builds the same form
from SynthVAD's activity ground truth, the smoke profile's source)::

    {"source": "vlm" | "gt", "model": str,          # the writer's identity (model_identity / "synthvad")
     "yes_no": "Yes" | "No",                        # the video label (ground truth in both sources)
     "agents": [{"target": str,                     # appearance sentence (T-VAD "Target")
                 "trajectory": str,                 # motion sentence (T-VAD "Trajectory")
                 "anomalous": bool, "frames": [t0, t1]}],
     "dialogue": [[question, answer], ...],         # phase B: anomaly? -> which target -> what it does
     "stats": {...}}                                # what was extracted, linked, verified and dropped

The three steps, with a VLM (every call through :func:`vadkit.models.calls.cached_chat`: one JSON entry per
call keyed by the model's identity, the messages (the prompt), the decoding settings and the frames' digest, so
a rerun makes no new call):

1. **Frame-level extraction -> timelines.** Each of ``frames_per_video`` uniformly sampled frames (the paper:
   every frame) goes to the VLM with one structured prompt (:data:`EXTRACT_PROMPT`): one line per target,
   ``<appearance> | x1 y1 x2 y2``. :func:`parse_targets` reads the lines (a line without four numbers is
   dropped and counted); :func:`link_timelines` concatenates the frame records in temporal order into target
   timelines by identity association (the same object word) and spatial proximity (box IoU, or a centre
   within ``proximity`` box diagonals per sampled step). A timeline's appearance is its most frequent phrase,
   its motion sentence is read off its box centres (:func:`motion_sentence`: direction, speed, where from and
   where to, when).
2. **Anomaly-focused re-extraction.** For an abnormal video, ``frames_per_video`` frames inside the anomaly
   mask are blurred outside the mask (:func:`blur_outside`, Gaussian, ``blur_sigma``) and extracted again with
   the same prompt; those timelines are the high-confidence anomaly timelines (the anomalous agents).
3. **Mutual verification.** For every timeline, on ``clip_frames`` frames of its span: appearance -> motion
   (:data:`A2M_PROMPT`, "how does the <appearance> move?"; verified when the answer names the timeline's main
   direction, :func:`direction_of`) and motion -> appearance (:data:`M2A_PROMPT`, "which target moves
   <direction>?"; verified when the answer shares a content word with the appearance). Only the timelines that
   verify both ways are kept.

The paper uses online LVLMs and does not give its prompts, its association rule or its verification criterion:
these are ours (said in chapter 13). Box coordinates are asked in the pixels of the frame as given.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

EXTRACT_PROMPT = ("List every target (person, car, bicycle, ...) in this frame, one per line, as "
                  "'<appearance> | x1 y1 x2 y2' with its box in pixels. Answer 'none' if there is none.")
A2M_PROMPT = "Look at the {appearance}. How does it move? Give its direction and speed."
M2A_PROMPT = "Which target moves {direction}? Describe its appearance."
ANOMALY_Q = "Is there an anomaly in this video?"
TARGET_Q = "Which target is anomalous?"
TRAJECTORY_Q = "What does the anomalous target do?"

#: words that name a direction in an answer, per main direction of :func:`direction_of`
DIRECTION_WORDS = {"left": ("left", "westward"), "right": ("right", "eastward"),
                   "up": ("up", "upward", "upwards", "top", "away", "north"),
                   "down": ("down", "downward", "downwards", "bottom", "toward", "towards", "south"),
                   "still": ("still", "stands", "standing", "stays", "stops", "waits", "sits", "lingers", "not")}
_STOP = {"a", "an", "the", "of", "in", "on", "with", "and", "is", "it", "its", "to", "at", "that", "this", "who",
         "which", "target", "moves", "one", "there"}
_LINE = re.compile(r"^\s*[-*\d.)\s]*(?P<app>[^|:]*?[A-Za-z][^|:]*?)\s*[|:]\s*(?P<box>.*)$")
_NUM = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class Timeline:
    """One target across sampled frames: ``frames [N]`` int, ``boxes [N, 4]`` (x1, y1, x2, y2) px."""

    phrases: list[str]
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)

    @property
    def appearance(self) -> str:
        return Counter(self.phrases).most_common(1)[0][0]

    def add(self, t: int, phrase: str, box: np.ndarray) -> None:
        self.frames.append(int(t))
        self.boxes.append(np.asarray(box, float))
        self.phrases.append(phrase)


# ---------------------------------------------------------------------------------------------- parsing ------

def parse_targets(text: str, size: tuple[int, int]) -> tuple[list[tuple[str, np.ndarray]], int]:
    """``([(appearance, box [4])], dropped lines)`` of one structured answer; boxes clipped to ``size`` (H, W),
    a line without four numbers or with an empty box is dropped."""
    H, W = size
    out, dropped = [], 0
    for line in str(text).splitlines():
        if not line.strip() or line.strip().lower().rstrip(".") == "none":
            continue
        m = _LINE.match(line)
        nums = _NUM.findall(m.group("box")) if m else []
        if not m or len(nums) < 4:
            dropped += 1
            continue
        x1, y1, x2, y2 = (float(v) for v in nums[:4])
        box = np.array([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)])
        box = np.clip(box, 0, [W, H, W, H])
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            dropped += 1
            continue
        out.append((" ".join(m.group("app").strip().lower().rstrip(".").split()), box))
    return out, dropped


def _words(s: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", s.lower()) if w not in _STOP}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _noun(phrase: str) -> str | None:
    for w in re.findall(r"[a-z]+", phrase):
        if w in ("person", "man", "woman", "people", "pedestrian", "child"):
            return "person"
        if w in ("car", "vehicle", "truck", "van", "suv", "bus"):
            return "car"
        if w in ("bicycle", "bike", "cyclist", "motorcycle", "skateboard"):
            return "bicycle"
    return None


def link_timelines(records: Sequence[tuple[int, list[tuple[str, np.ndarray]]]], *, iou: float = 0.1,
                   proximity: float = 1.0) -> list[Timeline]:
    """Frame records ``[(t, [(appearance, box)])]`` in temporal order -> target timelines.

    Identity association: a detection may join an open timeline only with the same object word (person / car /
    bicycle, :func:`_noun`; unknown words match anything). Spatial proximity: among those, the timeline whose last
    box has the highest IoU with it (at least ``iou``), else the nearest centre within ``proximity`` times the
    last box's diagonal per sampled step since that box; each timeline takes one detection per frame; a detection
    that joins none opens a new timeline."""
    open_: list[Timeline] = []
    steps = {t: k for k, t in enumerate(sorted({t for t, _ in records}))}
    for t, dets in sorted(records, key=lambda r: r[0]):
        taken: set[int] = set()
        for phrase, box in dets:
            best, best_score = None, 0.0
            for j, tl in enumerate(open_):
                if j in taken or tl.frames[-1] >= t:
                    continue
                a, b = _noun(phrase), _noun(tl.appearance)
                if a is not None and b is not None and a != b:
                    continue
                last = tl.boxes[-1]
                ov = _iou(box, last)
                if ov >= iou:
                    score = 2.0 + ov
                else:
                    gap = max(1, steps[t] - steps[tl.frames[-1]])
                    diag = float(np.hypot(last[2] - last[0], last[3] - last[1]))
                    d = float(np.hypot(*((box[:2] + box[2:]) / 2 - (last[:2] + last[2:]) / 2)))
                    score = 1.0 - d / (proximity * diag * gap) if d <= proximity * diag * gap else 0.0
                if score > best_score:
                    best, best_score = j, score
            if best is None:
                open_.append(Timeline([]))
                best = len(open_) - 1
            open_[best].add(t, phrase, box)
            taken.add(best)
    return open_


# ---------------------------------------------------------------------------------------------- motion -------

def direction_of(tl: Timeline) -> str:
    """Main direction of a timeline's box centres, first -> last: ``left | right | up | down | still`` (still:
    the centre moves less than half the mean box height)."""
    b = np.stack(tl.boxes)
    c = (b[:, :2] + b[:, 2:]) / 2
    dx, dy = c[-1] - c[0]
    h = float(np.mean(b[:, 3] - b[:, 1]))
    if len(b) < 2 or np.hypot(dx, dy) < 0.5 * h:
        return "still"
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def _where(c: np.ndarray, size: tuple[int, int]) -> str:
    H, W = size
    col = ("left", "centre", "right")[min(2, int(3 * c[0] / max(W, 1)))]
    row = ("top", "middle", "bottom")[min(2, int(3 * c[1] / max(H, 1)))]
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def motion_sentence(tl: Timeline, size: tuple[int, int]) -> str:
    """The timeline's motion narrative: direction, speed (box heights per frame; < 0.05 slowly, > 0.15
    quickly), where from and where to, which frames."""
    b = np.stack(tl.boxes)
    c = (b[:, :2] + b[:, 2:]) / 2
    d = direction_of(tl)
    t0, t1 = tl.frames[0], tl.frames[-1]
    if d == "still":
        return f"It stays at the {_where(c[0], size)} from frame {t0} to frame {t1}."
    h = max(float(np.mean(b[:, 3] - b[:, 1])), 1.0)
    speed = float(np.hypot(*(c[-1] - c[0]))) / h / max(t1 - t0, 1)
    pace = "slowly" if speed < 0.05 else "quickly" if speed > 0.15 else "steadily"
    return (f"It moves {d} {pace} from the {_where(c[0], size)} to the {_where(c[-1], size)}, "
            f"from frame {t0} to frame {t1}.")


def blur_outside(frame: np.ndarray, mask: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    """``frame [H, W, 3]`` uint8 with every pixel outside ``mask [H, W]`` (non-zero = keep) Gaussian-blurred."""
    import cv2

    if mask.shape != frame.shape[:2]:
        mask = cv2.resize(mask.astype(np.uint8), (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
    blurred = cv2.GaussianBlur(frame, (0, 0), sigma)
    return np.where(mask[..., None] > 0, frame, blurred).astype(np.uint8)


def _sentence(s: str) -> str:
    s = " ".join(str(s).split())
    return (s[:1].upper() + s[1:]).rstrip(".") + "."


# ---------------------------------------------------------------------------------------------- records ------

def gt_record(activity: dict, is_anomalous: bool) -> dict:
    """The record (module docstring) of one SynthVAD video from its activity ground truth: every agent's
    appearance and motion sentences, the video's own dialogue for phase B."""
    agents = [{"target": _sentence(a["target"]), "trajectory": _sentence(a["trajectory"]),
               "anomalous": bool(a.get("event")), "frames": None} for a in activity["agents"].values()]
    dialogue = []
    for d in activity["dialogue"]:
        q = {"yesno": ANOMALY_Q, "which_target": TARGET_Q, "what": TRAJECTORY_Q}.get(d["kind"])
        if q is not None and d["question"] in (ANOMALY_Q, TARGET_Q, TRAJECTORY_Q) and q not in [t[0] for t in dialogue]:
            dialogue.append([q, d["answer"].rstrip(".") if q == ANOMALY_Q else d["answer"]])
    return {"source": "gt", "model": "synthvad", "yes_no": "Yes" if is_anomalous else "No", "agents": agents,
            "dialogue": dialogue, "stats": {}}


@dataclass
class BuildConfig:
    """Sizes and thresholds of :func:`build_records` (module docstring)."""

    frames_per_video: int = 8
    clip_frames: int = 2
    max_new_tokens: int = 96
    verify_tokens: int = 32
    blur_sigma: float = 4.0
    iou: float = 0.1
    proximity: float = 1.0
    min_length: int = 2           # sampled frames a timeline needs to count as a target


def build_records(vlm, videos: Sequence, read_frames: Callable, masks_of: Callable, cfg: BuildConfig | None = None,
                  *, cache=None, progress: bool = True) -> dict[str, dict]:
    """The VLM-written records ``{video_id: record}`` of ``videos`` (annotations), Sec. 3.3's three steps.

    ``read_frames(ann, idx [N]) -> [N, H, W, 3]`` uint8; ``masks_of(ann) -> [T, H, W]`` 0/1 or ``None`` (a video
    without anomaly). ``cache``: a :class:`~vadkit.models.calls.ModelCallCache` or its root (``None``: the
    default one). ``record["stats"]`` counts the calls' outcomes per video."""
    from tqdm.auto import tqdm

    from vadkit.data.video import uniform_indices
    from vadkit.models import GenerationConfig
    from vadkit.models.calls import _identity_of, cached_chat
    from vadkit.models.prompts import VQA_SYSTEM_PROMPT

    cfg = cfg or BuildConfig()
    gen = GenerationConfig(max_new_tokens=cfg.max_new_tokens, do_sample=False)
    gen_v = GenerationConfig(max_new_tokens=cfg.verify_tokens, do_sample=False)
    sys_ = {"role": "system", "content": VQA_SYSTEM_PROMPT}
    ask = [sys_, {"role": "user", "content": EXTRACT_PROMPT}]
    model_id = _identity_of(vlm)
    out = {}
    for ann in tqdm(videos, desc="Sec. 3.3 dataset", disable=not progress, leave=False):
        T = int(ann.num_frames)
        stats = Counter()

        def extract(idx, frames):
            ans = cached_chat(vlm, {int(t): (f[None], ask) for t, f in zip(idx, frames)}, cache, gen,
                              progress=False)
            recs = []
            size = frames.shape[1:3]
            for t in idx:
                dets, dropped = parse_targets(ans[int(t)], size)
                stats["lines_parsed"] += len(dets)
                stats["lines_dropped"] += dropped
                recs.append((int(t), dets))
            stats["calls_extract"] += len(idx)
            tls = link_timelines(recs, iou=cfg.iou, proximity=cfg.proximity)
            return [tl for tl in tls if len(tl.frames) >= cfg.min_length]

        idx = uniform_indices(T, cfg.frames_per_video)
        frames = read_frames(ann, idx)
        size = tuple(frames.shape[1:3])
        general = extract(idx, frames)
        anomaly: list[Timeline] = []
        masks = masks_of(ann)
        if masks is not None:
            inside = np.flatnonzero(masks.reshape(len(masks), -1).max(1) > 0)
            if len(inside):
                a_idx = inside[uniform_indices(len(inside), cfg.frames_per_video)]
                a_frames = read_frames(ann, a_idx)
                blurred = np.stack([blur_outside(f, masks[t], cfg.blur_sigma) for f, t in zip(a_frames, a_idx)])
                stats["calls_blurred"] += len(a_idx)
                anomaly = extract(a_idx, blurred)
        stats["timelines"] = len(general) + len(anomaly)
        # mutual verification: appearance -> motion, motion -> appearance, on clip frames of the timeline's span
        reqs, items = {}, []
        for k, (tl, is_abn) in enumerate([(tl, False) for tl in general] + [(tl, True) for tl in anomaly]):
            clip = read_frames(ann, np.asarray(tl.frames)[uniform_indices(len(tl.frames), cfg.clip_frames)])
            d = direction_of(tl)
            reqs[(k, "a2m")] = (clip, [sys_, {"role": "user", "content": A2M_PROMPT.format(appearance=tl.appearance)}])
            move = "nowhere (it stays still)" if d == "still" else f"to the {d}" if d in ("left", "right") else d
            reqs[(k, "m2a")] = (clip, [sys_, {"role": "user", "content": M2A_PROMPT.format(direction=move)}])
            items.append((tl, is_abn, d))
        ans = cached_chat(vlm, reqs, cache, gen_v, progress=False) if reqs else {}
        stats["calls_verify"] += len(reqs)
        agents = []
        for k, (tl, is_abn, d) in enumerate(items):
            a2m = bool(_words(ans[(k, "a2m")]) & set(DIRECTION_WORDS[d]))
            m2a = bool(_words(ans[(k, "m2a")]) & _words(tl.appearance))
            stats["verified_a2m"] += a2m
            stats["verified_m2a"] += m2a
            if a2m and m2a:
                agents.append({"target": _sentence(tl.appearance), "trajectory": motion_sentence(tl, size),
                               "anomalous": is_abn, "frames": [tl.frames[0], tl.frames[-1]]})
        stats["kept"] = len(agents)
        yes = "Yes" if ann.is_anomalous else "No"
        dialogue = [[ANOMALY_Q, yes]]
        abn = [a for a in agents if a["anomalous"]]
        if yes == "Yes" and abn:
            dialogue += [[TARGET_Q, abn[0]["target"]], [TRAJECTORY_Q, abn[0]["trajectory"]]]
        out[ann.video_id] = {"source": "vlm", "model": model_id, "yes_no": yes, "agents": agents,
                             "dialogue": dialogue, "stats": dict(stats)}
    return out


def references(record: dict) -> dict:
    """Evaluation references of one record: ``{"yes_no", "target": [...], "trajectory": [...]}`` (the anomalous
    agents' sentences; empty for a normal video or where none verified)."""
    abn = [a for a in record["agents"] if a["anomalous"]]
    return {"yes_no": record["yes_no"], "target": [a["target"] for a in abn],
            "trajectory": [a["trajectory"] for a in abn]}
