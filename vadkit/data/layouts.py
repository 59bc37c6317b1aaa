"""SynthVAD written in the on-disk layouts of the real datasets (the full profile's dress rehearsal).

:func:`write_layout` turns a SynthVAD root into a tree that looks, file for file, like the release of a
real dataset: its folder and file names, its video container (or JPEG frame folders), and its official
annotation and split files in their own formats, read back by the same parsers
(:mod:`vadkit.data.parsers`) and loaders (:func:`vadkit.data.datasets.load_dataset`) a user's download
goes through. The tree holds **what the real dataset has and nothing more**:

* weakly supervised layouts (UCF-Crime, XD-Violence, TAD): training videos carry video-level labels
  only; test videos carry temporal intervals; there is no validation split (the experiment layer
  carves one from the training videos). SynthVAD's ``train`` and ``val`` videos both become training
  videos;
* semi-supervised layouts (ShanghaiTech, Avenue): training videos are normal only (SynthVAD's abnormal
  ``train``/``val`` videos are left out and listed as dropped); test videos carry frame and pixel masks;
* UBnormal: its supervised open-set split (anomaly types disjoint between training, validation and
  test; checked, see :data:`UBNORMAL_OPEN_SET`), per-frame object-id maps and tracks files.

Nothing else is written, except one hidden file, ``.vadkit_layout.json`` (hidden files are invisible
to loaders and to ``verify``): the layout and its version, the SynthVAD root it came from (request
hash), SynthVAD's frame rate and frame size, the class map, and the ``layout id -> SynthVAD id``
mapping. :func:`~vadkit.data.datasets.load_dataset` takes the frame rate from it (SynthVAD's 15 fps,
not the release's 30) and :func:`~vadkit.data.datasets.verify_dataset` skips the release's file counts.

Videos are hard links to SynthVAD's files where the container is the same (``.mp4``), symbolic links
when the two folders sit on different file systems, copies where neither works. Where the release uses
another container, the MPEG-4 stream is remuxed losslessly into ``.avi`` (frames bit-identical);
ShanghaiTech's test videos become JPEG frame folders (quality 95, as the release ships JPEGs).

Class vocabularies
------------------
UCF-Crime writes free class names (SynthVAD's CamelCase names, ``WrongWay``). XD-Violence and TAD have
closed vocabularies (label codes, class ids), so SynthVAD types are mapped onto them
(:data:`DEFAULT_CLASS_MAPS`, chosen by meaning; types without a counterpart are refused with a clear
error, or mapped by the caller's ``class_map``):

==========================  =====================================  ==================================
layout                      SynthVAD type -> label                 why
==========================  =====================================  ==================================
xd_violence                 fighting -> B1 (fighting),             XD is violence only; shooting,
                            collision -> B6 (car accident),        riot and explosion have no
                            theft -> B5 (abuse)                    SynthVAD counterpart
tad                         collision -> 1 (Accident),             TAD is traffic only; the three
                            illegal_turn -> 2 (IllegalTurn),       context types exist only in
                            car_on_walkway -> 3 (IllegalOccupation), ``long=True`` requests
                            illegal_occupation -> 3,
                            wrong_way -> 4 (Retrograde),
                            pedestrian_on_road -> 6 (PedestrianOnRoad)
==========================  =====================================  ==================================

:func:`synth_request` gives the SynthVAD generation request for each layout (which types, single-event
videos for TAD, normal-only training for the semi-supervised layouts, one scene for Avenue).

On-disk trees (``<...>`` = many files)
--------------------------------------
UCF-Crime (``ucf_crime``; release zips unpacked side by side)::

    <root>/
      Anomaly-Videos-Part-1/<Class>/<Class>NNN_x264.mp4     # classes spread over Part-1..4 in order
      ...
      Anomaly-Videos-Part-4/<Class>/<Class>NNN_x264.mp4
      Training-Normal-Videos-Part-1/Normal_VideosNNN_x264.mp4
      Testing_Normal_Videos_Anomaly/Normal_Videos_NNN_x264.mp4
      UCF_Crimes-Train-Test-Split/Anomaly_Detection_splits/
        Anomaly_Train.txt                                    # "<Class>/<name>.mp4", normal videos under
        Anomaly_Test.txt                                     #  Training/Testing_Normal_Videos_Anomaly/
      Temporal_Anomaly_Annotation_for_Testing_Videos/Txt formate/
        Temporal_Anomaly_Annotation.txt                      # "<name>.mp4  <Class>  s1  e1  s2  e2 " (test only)

XD-Violence (``xd_violence``)::

    <root>/
      annotations.txt                                        # violent test videos: "name s1 e1 [s2 e2 ...]"
      annotations_multiclasses.txt                           # VadCLIP's list: "name CODE s1 e1 CODE s2 e2 ..."
      train/SynthVAD.<Scene>.NNNN__#1_label_<codes>.mp4      # codes "B1-0-0", "B1-B6-0"; normal "A"
      test/SynthVAD.<Scene>.NNNN__#1_label_<codes>.mp4

TAD (``tad``; the paths UMIL's label lists name)::

    <root>/
      labels/TAD_train.txt                                   # "frames/<kind>/<name>.mp4 0 <#frames> <class>"
      labels/TAD_test.txt                                    # "frames/<kind>/<name>.mp4 <#frames> <class> <s> <e>"
      frames/abnormal/<CC>_<Class>_NNN.mp4                   # 01_Accident_001.mp4, 04_Retrograde_002.mp4
      frames/normal/Normal_NNN.mp4

ShanghaiTech Campus (``shanghaitech``)::

    <root>/
      training/videos/<SS>_<NNN>.avi                         # normal only; SS = scene (SynthVAD scene index)
      testing/frames/<SS>_<NNNN>/<kkk>.jpg                   # 000.jpg, 001.jpg, ...
      testing/test_frame_mask/<SS>_<NNNN>.npy                # uint8 [T] 0/1
      testing/test_pixel_mask/<SS>_<NNNN>.npy                # uint8 [T, H, W] 0/1 (zeros for normal videos)

CUHK Avenue (``avenue``)::

    <root>/
      Avenue Dataset/training_videos/<ii>.avi                # 01.avi ..; normal only
      Avenue Dataset/testing_videos/<ii>.avi
      ground_truth_demo/testing_label_mask/<i>_label.mat     # 1_label.mat ..; volLabel: 1 x T cell of H x W masks

UBnormal (``ubnormal``)::

    <root>/
      scripts/{normal,abnormal}_{training,validation,test}_video_names.txt   # no newline after the last name
      Scene<S>/{normal,abnormal}_scene_<S>_scenario_<K>.mp4
      Scene<S>/abnormal_scene_<S>_scenario_<K>_annotations/
        abnormal_scene_<S>_scenario_<K>_tracks.txt           # "object_id,start_frame,end_frame" (inclusive)
        abnormal_scene_<S>_scenario_<K>_<ffff>_gt.png        # uint8 object-id map, every frame (0 = background)

UBnormal's object maps need one id per anomalous object and pixel. SynthVAD 1.x stores the union of
the anomalous agents' silhouettes (``test_pixel_mask``) and each agent's box; the maps are **derived**:
a mask pixel takes the id of the front-most anomalous box containing it (the largest ``y2``; SynthVAD
paints agents back to front by their ground line), so the maps are modal like a renderer's id pass,
and the rear one of two touching agents (two fighters) keeps only its visible pixels. SynthVAD >= 1.2
ships modal instance maps (``VideoAnnotation.extra["instance_mask_path"]``), which then decide the id
wherever the visible agent is anomalous (:func:`instance_maps`). Object ids are renumbered 1..K per
video; one tracks row per contiguous run of an object's anomalous frames.

Writing is idempotent (the same request on a finished tree returns at once; another request on it
raises), atomic (built in ``.<name>.partial-<hash>`` beside ``out``, renamed at the end) and resumable
(every file, and every frame or map folder, appears under its final name only when complete; a rerun
skips them).

>>> from vadkit.data.layouts import generate_layout, write_layout       # doctest: +SKIP
>>> root = generate_layout("/tmp/ucf-rehearsal", "ucf_crime", videos=12, seed=0)   # doctest: +SKIP
>>> load_dataset("ucf_crime", root, split="train")                      # doctest: +SKIP

CLI: ``vadkit data synth --layout ucf_crime --out DIR --videos 12 [--source SYNTHVAD_ROOT]``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from vadkit.data.annotations import NORMAL, DatasetAnnotations, VideoAnnotation, read_pixel_mask
from vadkit.data.datasets import LAYOUT_MARKER, layout_marker
from vadkit.data.parsers import TAD_CLASSES, XD_LABELS
from vadkit.errors import DatasetError
from vadkit.io_utils import atomic_save_npy, atomic_write, atomic_write_json, atomic_write_text, content_hash

PathLike = str | os.PathLike

LAYOUT_VERSION = "1.0.0"
WEAK_LAYOUTS = ("ucf_crime", "xd_violence", "tad")
SEMI_LAYOUTS = ("shanghaitech", "avenue")
LAYOUTS: tuple[str, ...] = WEAK_LAYOUTS + SEMI_LAYOUTS + ("ubnormal",)
LINK_MODES = ("auto", "hard", "symlink", "copy")

#: SynthVAD type -> label of the layout's vocabulary (see the module docstring for the reasons).
DEFAULT_CLASS_MAPS: dict[str, dict[str, str | int]] = {
    "ucf_crime": {"running": "Running", "wrong_way": "WrongWay", "car_on_walkway": "CarOnWalkway",
                  "falling": "Falling", "loitering": "Loitering", "fighting": "Fighting",
                  "collision": "Collision", "theft": "Theft"},
    "xd_violence": {"fighting": "B1", "collision": "B6", "theft": "B5"},
    "tad": {"collision": 1, "illegal_turn": 2, "car_on_walkway": 3, "illegal_occupation": 3, "wrong_way": 4,
            "pedestrian_on_road": 6},
}

#: UBnormal-style open-set split of SynthVAD's types: disjoint between training, validation and test,
#: each mixing single-object and interaction anomalies.
UBNORMAL_OPEN_SET: dict[str, tuple[str, ...]] = {
    "train": ("running", "falling", "fighting"),
    "val": ("loitering", "collision"),
    "test": ("wrong_way", "car_on_walkway", "theft"),
}

#: Split fractions of the generated SynthVAD set, close to each release's proportions
#: (UCF 1610/290, XD 3954/800, TAD 400/100; ShanghaiTech 330/107, Avenue 16/21; UBnormal 268/64/211).
LAYOUT_SPLITS: dict[str, dict[str, float]] = {
    "ucf_crime": {"train": 0.8, "test": 0.2},
    "xd_violence": {"train": 0.8, "test": 0.2},
    "tad": {"train": 0.8, "test": 0.2},
    "shanghaitech": {"train": 0.6, "test": 0.4},
    "avenue": {"train": 0.5, "test": 0.5},
    "ubnormal": {"train": 0.5, "val": 0.12, "test": 0.38},
}

UCF_PARTS = tuple(f"Anomaly-Videos-Part-{i}" for i in range(1, 5))


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------


def _check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    return layout


def split_sizes(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """``n`` videos split by ``fractions`` (largest remainders; sums to ``n``)."""
    if n < 1:
        raise ValueError(f"the number of videos must be >= 1, got {n}")
    raw = {k: n * f / sum(fractions.values()) for k, f in fractions.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def synth_request(layout: str, videos: int, *, config=None, long: bool = False) -> dict:
    """``{"splits", "anomaly_types", "config"}`` for :func:`vadkit.data.synth.generate` that suits ``layout``.

    Every split gets at least two videos when ``videos`` allows (one otherwise). Weak layouts:
    train/test; XD-Violence and TAD only the types their vocabulary has; TAD single-event videos (its
    test list holds one interval per video). Semi-supervised layouts: an all-normal training split;
    Avenue one scene (the release is one camera). UBnormal: :data:`UBNORMAL_OPEN_SET`.

    ``long=True``: long videos (:data:`vadkit.data.synth.LONG_CONFIG`, 600-900 frames, with the context
    types' normal hard negatives); for TAD also the context-defined types (illegal occupation, pedestrian
    on the road, illegal turn), as in the real TAD.
    """
    from vadkit.data.synth import ALL_ANOMALY_TYPES, ANOMALY_TYPES, LONG_CONFIG, SynthConfig

    _check_layout(layout)
    fr = LAYOUT_SPLITS[layout]
    if videos < len(fr):
        raise DatasetError(f"layout {layout!r} needs at least {len(fr)} videos (one per split {list(fr)}), got {videos}")
    sizes = split_sizes(videos, fr)
    # every split gets at least two videos when there are enough (so an evaluated split can hold a normal
    # and an abnormal one), else one; taken from the largest split
    floor = 2 if videos >= 2 * len(fr) else 1
    for k in sizes:
        while sizes[k] < floor:
            big = max(sizes, key=sizes.get)
            sizes[big] -= 1
            sizes[k] += 1
    config = config or (LONG_CONFIG if long else SynthConfig())
    if layout in ("xd_violence", "tad"):
        pool = ALL_ANOMALY_TYPES if long and layout == "tad" else ANOMALY_TYPES
        types = [t for t in pool if t in DEFAULT_CLASS_MAPS[layout]]
        anomaly_types = {s: types for s in sizes}
    elif layout in SEMI_LAYOUTS:
        anomaly_types = {"train": []}
    elif layout == "ubnormal":
        anomaly_types = {s: list(UBNORMAL_OPEN_SET[s]) for s in sizes}
    else:
        anomaly_types = None
    if layout == "tad":
        config = dataclasses.replace(config, second_event_prob=0.0)
    if layout == "avenue":
        config = dataclasses.replace(config, scenes=("campus",))
    return {"splits": sizes, "anomaly_types": anomaly_types, "config": config}


def _link(src: Path, dst: Path, mode: str) -> str:
    """Put ``src`` at ``dst`` as a hard link, symbolic link or copy (``mode``; ``auto`` tries them in that
    order). The link appears under ``dst`` atomically. Returns what was made."""
    tmp = dst.with_name(f".{dst.name}.partial")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    order = ("hard", "symlink", "copy") if mode == "auto" else (mode,)
    for how in order:
        try:
            if how == "hard":
                os.link(src, tmp)
            elif how == "symlink":
                os.symlink(src.resolve(), tmp)
            else:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            return how
        except OSError:
            tmp.unlink(missing_ok=True)
            if how == order[-1]:
                raise
    raise AssertionError("unreachable")


def _how_stored(path: Path, src: Path) -> str:
    """``hard link`` / ``symlink`` / ``copy`` / ``remuxed`` / ``frames`` for the marker's summary."""
    if path.is_symlink():
        return "symlink"
    if path.is_dir():
        return "frames"
    if path.suffix != src.suffix:
        return "remuxed"
    return "hard link" if os.path.samefile(path, src) else "copy"


def _remux_avi(src: Path, dst: Path) -> None:
    """MPEG-4 Part 2 stream of ``src`` (``.mp4``) into an ``.avi`` container without re-encoding (frames
    stay bit-identical); falls back to decoding and writing MJPEG with OpenCV."""
    import av

    tmp = dst.with_name(f".{dst.name}.partial")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        from fractions import Fraction

        with av.open(str(src)) as inp:
            s = inp.streams.video[0]
            with av.open(str(tmp), "w", format="avi") as out:
                o = out.add_stream_from_template(s)
                o.time_base = 1 / Fraction(s.average_rate)  # AVI: one tick per frame
                for pkt in inp.demux(s):
                    if pkt.dts is None:
                        continue
                    pkt.stream = o
                    out.mux(pkt)
    except Exception:  # noqa: BLE001 - any remux failure: re-encode instead
        tmp.unlink(missing_ok=True)
        import cv2

        from vadkit.data.video import VideoReader

        r = VideoReader(src)
        w = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), float(r.fps), (r.width, r.height))
        try:
            for i in range(0, r.num_frames, 64):
                for f in r.get_frames(np.arange(i, min(i + 64, r.num_frames))):
                    w.write(np.ascontiguousarray(f[..., ::-1]))
        finally:
            w.release()
    os.replace(tmp, dst)


def _atomic_dir(dst: Path, fill: Callable[[Path], None]) -> None:
    """Fill a fresh hidden folder beside ``dst`` and rename it to ``dst`` (a crash leaves no half folder)."""
    tmp = dst.with_name(f".{dst.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    os.replace(tmp, dst)


def _write_frames(src: Path, dst: Path, quality: int = 95) -> None:
    """Every frame of video ``src`` as ``dst/000.jpg, 001.jpg, ...`` (ShanghaiTech's test layout)."""
    import cv2

    from vadkit.data.video import VideoReader

    def fill(d: Path):
        r = VideoReader(src)
        width = max(3, len(str(r.num_frames - 1)))
        for i in range(0, r.num_frames, 64):
            idx = np.arange(i, min(i + 64, r.num_frames))
            for k, f in zip(idx, r.get_frames(idx)):
                if not cv2.imwrite(str(d / f"{k:0{width}d}.jpg"), np.ascontiguousarray(f[..., ::-1]),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality]):
                    raise DatasetError(f"{d}: OpenCV could not write frame {k}")

    _atomic_dir(dst, fill)


def _save_mat(path: Path, masks: np.ndarray) -> None:
    """Avenue's ``volLabel``: a ``1 x T`` MATLAB cell array of ``H x W`` uint8 masks."""
    import scipy.io

    cells = np.empty((1, len(masks)), dtype=object)
    for t, m in enumerate(masks):
        cells[0, t] = np.ascontiguousarray(m, dtype=np.uint8)
    with atomic_write(path, "wb") as fh:
        scipy.io.savemat(fh, {"volLabel": cells}, do_compression=True)


def instance_maps(ann: VideoAnnotation, shape: tuple[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """UBnormal object-id maps ``[T, H, W]`` uint8 of the anomalous agents and ``{new id: SynthVAD id}``.

    The maps cover exactly SynthVAD's anomaly mask (their union is ``test_pixel_mask``, so pixel-level
    ground truth is the same in both layouts). Each mask pixel takes the id of the anomalous agent a
    camera sees there: from ``extra["instance_mask_path"]`` (``[T, H, W]`` modal ids of every agent,
    ``.npy``/``.npz``; SynthVAD >= 1.2 writes one) where that agent is anomalous in that frame; elsewhere
    (a pixel hidden behind a normal agent, or a root without instance maps) the id of the front-most
    anomalous box holding it (the largest bottom edge ``y2``: SynthVAD draws agents back to front by their
    ground line).
    """
    tracks = sorted((t for t in ann.tracks if t.anomalous), key=lambda t: t.track_id)
    ids = {t.track_id: k + 1 for k, t in enumerate(tracks)}
    if len(ids) > 255:
        raise DatasetError(f"{ann.video_id}: {len(ids)} anomalous objects do not fit a uint8 object map")
    mask = read_pixel_mask(ann, shape)
    out = np.zeros(mask.shape, np.uint8)
    per_frame: dict[int, list[tuple[float, int, tuple]]] = {}
    for t in tracks:
        for f, (x1, y1, x2, y2) in zip(t.frames, t.boxes):
            per_frame.setdefault(int(f), []).append((y2, ids[t.track_id], (x1, y1, x2, y2)))
    H, W = mask.shape[1:]
    for f, boxes in per_frame.items():
        if not 0 <= f < len(mask):
            continue
        for _y2, new, (x1, y1, x2, y2) in sorted(boxes):  # back to front: the front agent overwrites
            xa, ya = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
            xb, yb = min(int(np.ceil(x2)), W), min(int(np.ceil(y2)), H)
            region = mask[f, ya:yb, xa:xb] > 0
            out[f, ya:yb, xa:xb][region] = new
    inst = ann.extra.get("instance_mask_path")
    if inst is not None:
        p = Path(inst)
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                src = z[z.files[0]]
        else:
            src = np.load(p, allow_pickle=False)
        if src.shape != mask.shape:
            raise DatasetError(f"{p}: instance map has shape {src.shape}, expected {mask.shape}")
        for tr in tracks:  # the id map holds every agent in every frame: its anomalous frames only
            fr = np.asarray(tr.frames, int)
            fr = fr[(fr >= 0) & (fr < len(src))]
            seen = (src[fr] == tr.track_id) & (mask[fr] > 0)
            out[fr] = np.where(seen, np.uint8(ids[tr.track_id]), out[fr])
    return out, {v: k for k, v in ids.items()}


def _runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted frames -> contiguous ``(first, last)`` runs."""
    fr = sorted(set(int(f) for f in frames))
    runs, start = [], None
    for i, f in enumerate(fr):
        if start is None:
            start = f
        if i + 1 == len(fr) or fr[i + 1] != f + 1:
            runs.append((start, f))
            start = None
    return runs


# ----------------------------------------------------------------------------------------------
# plans: what each layout writes
# ----------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    layout: str
    link: str
    videos: dict[str, dict] = field(default_factory=dict)  # layout id -> {synthvad_id, split, labels, path}
    files: list[tuple[str, Callable[[Path], None]]] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    def video(self, layout_id: str, ann: VideoAnnotation, split: str, labels, rel: str) -> None:
        if layout_id in self.videos:
            raise AssertionError(f"duplicate layout id {layout_id}")
        self.videos[layout_id] = {"synthvad_id": ann.video_id, "split": split, "labels": list(labels), "path": rel}

    def link_video(self, rel: str, ann: VideoAnnotation) -> None:
        self.files.append((rel, lambda target, src=Path(ann.video_path): _link(src, target, self.link)))

    def text(self, rel: str, text: str) -> None:
        self.files.append((rel, lambda target, text=text: atomic_write_text(target, text)))

    def add(self, rel: str, writer: Callable[[Path], None]) -> None:
        self.files.append((rel, writer))


class _Ctx:
    """What a planner needs: the SynthVAD annotations, its manifest, the class map and link mode."""

    def __init__(self, ds: DatasetAnnotations, meta: dict, layout: str, class_map: Mapping, link: str):
        self.ds, self.meta, self.layout, self.class_map, self.link = ds, meta, layout, class_map, link
        self.shape = (int(meta["height"]), int(meta["width"]))

    def labels(self, ann: VideoAnnotation) -> tuple:
        """The video's types mapped into the layout's vocabulary (order kept, duplicates merged)."""
        out = []
        for c in ann.classes:
            if c not in self.class_map:
                raise DatasetError(
                    f"{ann.video_id}: SynthVAD type {c!r} has no label in the {self.layout} layout (its map: "
                    f"{dict(self.class_map)}); pass class_map={{{c!r}: ...}} or generate SynthVAD with "
                    f"vadkit.data.layouts.synth_request({self.layout!r}, ...)")
            if self.class_map[c] not in out:
                out.append(self.class_map[c])
        return tuple(out)

    def segment_label(self, label: str):
        return self.class_map[label]

    def weak_splits(self) -> Iterable[tuple[VideoAnnotation, str]]:
        for v in self.ds.values():
            if v.split in ("train", "val"):
                yield v, "train"  # no validation split in the release: SynthVAD's val videos train
            elif v.split == "test":
                yield v, "test"
            else:
                raise DatasetError(f"{v.video_id}: SynthVAD split {v.split!r} has no place in the {self.layout} "
                                   f"layout (expected train, val, test)")

    def semi_splits(self, plan: _Plan) -> Iterable[tuple[VideoAnnotation, str]]:
        for v, split in self.weak_splits():
            if split == "train" and v.classes:
                plan.dropped[v.video_id] = (f"abnormal {v.split} video: the {self.layout} release trains on "
                                            f"normal videos only")
                continue
            yield v, split

    @staticmethod
    def scene_no(ann: VideoAnnotation) -> int:
        from vadkit.data.synth.world import SCENE_NAMES

        return SCENE_NAMES.index(ann.scene) + 1 if ann.scene in SCENE_NAMES else 1


def _segments(ann: VideoAnnotation) -> list[tuple[int, int, str]]:
    return sorted((int(s.start), int(s.end), s.label) for s in ann.segments)


def _plan_ucf(ctx: _Ctx, plan: _Plan) -> None:
    classes = list(dict.fromkeys(ctx.class_map.values()))
    part = {c: UCF_PARTS[min(i * len(UCF_PARTS) // max(len(classes), 1), len(UCF_PARTS) - 1)]
            for i, c in enumerate(classes)}
    counters: Counter = Counter()
    train_list, test_list, temporal = [], [], []
    for v, split in ctx.weak_splits():
        labels = ctx.labels(v)
        if labels:
            cls = labels[0]
            counters[cls] += 1
            vid = f"{cls}{counters[cls]:03d}_x264"
            rel, line = f"{part[cls]}/{cls}/{vid}.mp4", f"{cls}/{vid}.mp4"
        else:
            counters[NORMAL] += 1  # one counter for all normal videos: train and test numbers never collide
            if split == "train":
                vid = f"Normal_Videos{counters[NORMAL]:03d}_x264"
                rel, line = f"Training-Normal-Videos-Part-1/{vid}.mp4", f"Training_Normal_Videos_Anomaly/{vid}.mp4"
            else:
                vid = f"Normal_Videos_{counters[NORMAL]:03d}_x264"
                rel, line = f"Testing_Normal_Videos_Anomaly/{vid}.mp4", f"Testing_Normal_Videos_Anomaly/{vid}.mp4"
        plan.video(vid, v, split, labels, rel)
        plan.link_video(rel, v)
        (train_list if split == "train" else test_list).append(line)
        if split == "test":
            segs = _segments(v)
            if len(segs) > 2:
                raise DatasetError(f"{v.video_id}: {len(segs)} events; UCF-Crime's temporal file holds at most 2")
            nums = [x for s, e, _ in segs for x in (s, e)] + [-1, -1] * (2 - len(segs))
            temporal.append(f"{vid}.mp4  {labels[0] if labels else 'Normal'}  " + "  ".join(map(str, nums)) + " ")
    split_dir = "UCF_Crimes-Train-Test-Split/Anomaly_Detection_splits"
    plan.text(f"{split_dir}/Anomaly_Train.txt", "\n".join(train_list) + "\n")
    plan.text(f"{split_dir}/Anomaly_Test.txt", "\n".join(test_list) + "\n")
    plan.text("Temporal_Anomaly_Annotation_for_Testing_Videos/Txt formate/Temporal_Anomaly_Annotation.txt",
              "\n".join(temporal) + "\n")


def _plan_xd(ctx: _Ctx, plan: _Plan) -> None:
    plain, multi = [], []
    for k, (v, split) in enumerate(ctx.weak_splits(), start=1):
        codes = ctx.labels(v)
        if len(codes) > 3:
            raise DatasetError(f"{v.video_id}: {len(codes)} labels; an XD-Violence name holds at most 3")
        label = "-".join(list(codes) + ["0"] * (3 - len(codes))) if codes else "A"
        vid = f"SynthVAD.{(v.scene or 'scene').title()}.{k:04d}__#1_label_{label}"
        rel = f"{split}/{vid}.mp4"
        plan.video(vid, v, split, codes, rel)
        plan.link_video(rel, v)
        if split == "test" and codes:
            segs = _segments(v)
            plain.append(vid + " " + " ".join(f"{s} {e}" for s, e, _ in segs))
            multi.append(vid + " " + " ".join(f"{ctx.segment_label(lab)} {s} {e}" for s, e, lab in segs))
    plan.text("annotations.txt", "\n".join(plain) + ("\n" if plain else ""))
    plan.text("annotations_multiclasses.txt", "\n".join(multi) + ("\n" if multi else ""))


def _plan_tad(ctx: _Ctx, plan: _Plan) -> None:
    counters: Counter = Counter()
    train, test = [], []
    for v, split in ctx.weak_splits():
        ids = [int(c) for c in ctx.labels(v)]
        bad = [c for c in ids if c not in TAD_CLASSES or c == 0]
        if bad:
            raise DatasetError(f"class map gives TAD class id(s) {bad}; TAD's anomaly ids are 1..7 ({TAD_CLASSES})")
        T = int(v.num_frames)
        if ids:
            cid = ids[0]  # one class per TAD video (the primary type)
            counters[cid] += 1
            name = f"{cid:02d}_{TAD_CLASSES[cid]}_{counters[cid]:03d}"
            rel = f"frames/abnormal/{name}.mp4"
        else:
            cid = 0
            counters[0] += 1
            name = f"Normal_{counters[0]:03d}"
            rel = f"frames/normal/{name}.mp4"
        plan.video(name, v, split, [TAD_CLASSES[cid]] if cid else [], rel)
        plan.link_video(rel, v)
        if split == "train":
            train.append(f"{rel} 0 {T} {cid}")
        else:
            segs = _segments(v)
            if len(segs) > 1:
                raise DatasetError(f"{v.video_id}: {len(segs)} events; a TAD_test.txt line holds one interval "
                                   f"(generate with second_event_prob=0, see synth_request('tad', ...))")
            s, e = (segs[0][0], segs[0][1]) if segs else (0, T)
            test.append(f"{rel} {T} {cid} {s} {e}")
    plan.text("labels/TAD_train.txt", "\n".join(train) + "\n")
    plan.text("labels/TAD_test.txt", "\n".join(test) + "\n")


def _plan_shanghaitech(ctx: _Ctx, plan: _Plan) -> None:
    counters: Counter = Counter()
    for v, split in ctx.semi_splits(plan):
        sc = ctx.scene_no(v)
        counters[(split, sc)] += 1
        n = counters[(split, sc)]
        if split == "train":
            vid = f"{sc:02d}_{n:03d}"
            rel = f"training/videos/{vid}.avi"
            plan.video(vid, v, split, (), rel)
            plan.add(rel, lambda target, src=Path(v.video_path): _remux_avi(src, target))
            continue
        vid = f"{sc:02d}_{n:04d}"
        rel = f"testing/frames/{vid}"
        plan.video(vid, v, split, ("abnormal",) if v.classes else (), rel)
        plan.add(rel, lambda target, src=Path(v.video_path): _write_frames(src, target))
        labels = np.asarray(v.frame_labels, np.uint8)
        plan.add(f"testing/test_frame_mask/{vid}.npy", lambda target, a=labels: atomic_save_npy(target, a))
        plan.add(f"testing/test_pixel_mask/{vid}.npy",
                 lambda target, v=v: atomic_save_npy(target, read_pixel_mask(v, ctx.shape)))


def _plan_avenue(ctx: _Ctx, plan: _Plan) -> None:
    counters: Counter = Counter()
    for v, split in ctx.semi_splits(plan):
        counters[split] += 1
        i = counters[split]
        folder = "training_videos" if split == "train" else "testing_videos"
        rel = f"Avenue Dataset/{folder}/{i:02d}.avi"
        vid = f"{i:02d}" if split == "test" else f"train_{i:02d}"  # the ids vadkit's Avenue loader gives
        plan.video(vid, v, split, ("abnormal",) if v.classes else (), rel)
        plan.add(rel, lambda target, src=Path(v.video_path): _remux_avi(src, target))
        if split == "test":
            plan.add(f"ground_truth_demo/testing_label_mask/{i}_label.mat",
                     lambda target, v=v: _save_mat(target, read_pixel_mask(v, ctx.shape)))


def _plan_ubnormal(ctx: _Ctx, plan: _Plan) -> None:
    import cv2

    seen: dict[str, set] = {}
    for v in ctx.ds.values():
        if v.split not in ("train", "val", "test"):
            raise DatasetError(f"{v.video_id}: SynthVAD split {v.split!r} has no place in the UBnormal layout")
        seen.setdefault(v.split, set()).update(v.classes)
    for a in seen:
        for b in seen:
            if a < b and seen[a] & seen[b]:
                raise DatasetError(
                    f"UBnormal's split is open-set (anomaly types disjoint between splits), but SynthVAD's "
                    f"{a} and {b} share {sorted(seen[a] & seen[b])}; generate the source with "
                    f"anomaly_types=vadkit.data.layouts.UBNORMAL_OPEN_SET (synth_request('ubnormal', ...))")
    counters: Counter = Counter()
    names: dict[tuple[str, str], list[str]] = {}
    for v in ctx.ds.values():
        kind = "abnormal" if v.classes else "normal"
        sc = ctx.scene_no(v)
        counters[(kind, sc)] += 1
        vid = f"{kind}_scene_{sc}_scenario_{counters[(kind, sc)]}"
        rel = f"Scene{sc}/{vid}.mp4"
        plan.video(vid, v, v.split, ("abnormal",) if v.classes else (), rel)
        plan.link_video(rel, v)
        names.setdefault((kind, v.split), []).append(vid)
        if not v.classes:
            continue

        anomalous = sorted(t.track_id for t in v.tracks if t.anomalous)
        plan.videos[vid]["object_ids"] = {str(k + 1): int(tid) for k, tid in enumerate(anomalous)}

        def fill(d: Path, v=v, vid=vid):
            maps, back = instance_maps(v, ctx.shape)
            rows = []
            for new in sorted(back):
                frames = np.nonzero((maps == new).reshape(len(maps), -1).any(1))[0]
                rows += [f"{new},{s},{e}" for s, e in _runs(frames)]
            (d / f"{vid}_tracks.txt").write_text("\n".join(rows) + "\n")
            for f in range(len(maps)):
                if not cv2.imwrite(str(d / f"{vid}_{f:04d}_gt.png"), maps[f]):
                    raise DatasetError(f"{d}: OpenCV could not write the object map of frame {f}")

        plan.add(f"Scene{sc}/{vid}_annotations", lambda target, fill=fill: _atomic_dir(target, fill))
    for kind in ("normal", "abnormal"):
        for split, word in (("train", "training"), ("val", "validation"), ("test", "test")):
            # the official files end without a newline
            plan.text(f"scripts/{kind}_{word}_video_names.txt", "\n".join(names.get((kind, split), [])))


PLANNERS: dict[str, Callable[[_Ctx, _Plan], None]] = {
    "ucf_crime": _plan_ucf, "xd_violence": _plan_xd, "tad": _plan_tad,
    "shanghaitech": _plan_shanghaitech, "avenue": _plan_avenue, "ubnormal": _plan_ubnormal,
}


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------


def _class_map(layout: str, class_map: Mapping | None) -> dict:
    if layout not in DEFAULT_CLASS_MAPS:
        if class_map:
            raise DatasetError(f"layout {layout!r} has no class vocabulary ('abnormal' only); class_map does not apply")
        from vadkit.data.synth import ANOMALY_TYPES

        return {t: "abnormal" for t in ANOMALY_TYPES}
    cmap = dict(DEFAULT_CLASS_MAPS[layout])
    cmap.update(class_map or {})
    if layout == "xd_violence":
        bad = {k: v for k, v in cmap.items() if v not in XD_LABELS or v == "A"}
        if bad:
            raise DatasetError(f"class_map {bad}: XD-Violence codes are {[c for c in XD_LABELS if c != 'A']}")
    if layout == "tad":
        bad = {k: v for k, v in cmap.items() if not isinstance(v, int) or not 1 <= v <= 7}
        if bad:
            raise DatasetError(f"class_map {bad}: TAD class ids are integers 1..7 ({TAD_CLASSES})")
    if layout == "ucf_crime":
        bad = {k: v for k, v in cmap.items() if not isinstance(v, str) or not v.isalnum() or v.lower() == NORMAL}
        if bad:
            raise DatasetError(f"class_map {bad}: UCF-Crime class names are single alphanumeric words, not 'Normal'")
    return cmap


def write_layout(synth_root: PathLike, layout: str, out: PathLike, *, class_map: Mapping | None = None,
                 link: str = "auto", progress: bool = True) -> Path:
    """Write the SynthVAD root ``synth_root`` as a ``layout`` tree at ``out`` (see the module docstring).

    ``class_map`` overrides :data:`DEFAULT_CLASS_MAPS` entries (SynthVAD type -> the layout's label);
    ``link`` is ``auto`` (hard link, else symbolic link, else copy), ``hard``, ``symlink`` or ``copy``
    for videos whose container is the same. Returns ``out``. Raises
    :class:`~vadkit.errors.DatasetError` when ``out`` holds something else, when a type has no label
    in the layout, when UBnormal's open set does not hold, or when a format cannot hold a video's events.
    """
    from vadkit.data.synth import load_synthvad, read_manifest
    from vadkit.data.synth.builder import _file_lock

    _check_layout(layout)
    if link not in LINK_MODES:
        raise DatasetError(f"link must be one of {LINK_MODES}, got {link!r}")
    src = Path(synth_root).expanduser().resolve()
    meta = read_manifest(src)
    cmap = _class_map(layout, class_map)
    request = {"layout": layout, "layout_version": LAYOUT_VERSION, "source_request_hash": meta.get("request_hash"),
               "class_map": cmap}
    rhash = content_hash(request)
    out = Path(out).expanduser().resolve()

    def done() -> bool:
        marker = layout_marker(out) if out.is_dir() else None
        if marker is None:
            return False
        if marker.get("request_hash") != rhash:
            raise DatasetError(f"{out}: holds a {marker['layout']} tree written from other settings "
                               f"(source {marker.get('source')}); choose another directory or delete it")
        return True

    if done():
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: exists, is not empty and is not a vadkit layout tree")
    with _file_lock(out.parent / f".{out.name}.lock"):
        if done():
            return out
        ds = load_synthvad(src)
        plan = _Plan(layout, link)
        PLANNERS[layout](_Ctx(ds, meta, layout, cmap, link), plan)
        part = out.parent / f".{out.name}.partial-{rhash}"
        part.mkdir(parents=True, exist_ok=True)
        it = plan.files
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(plan.files, desc=f"SynthVAD -> {layout}", unit="file")
        for rel, writer in it:
            target = part / rel
            if target.exists() or target.is_symlink():
                continue  # written by an interrupted run: every writer is atomic
            target.parent.mkdir(parents=True, exist_ok=True)
            writer(target)
        counts = Counter(v["split"] for v in plan.videos.values())
        how = Counter(_how_stored(part / v["path"], Path(ds[v["synthvad_id"]].video_path))
                      for v in plan.videos.values())
        marker = {
            "layout": layout, "layout_version": LAYOUT_VERSION, "request_hash": rhash,
            "source": str(src), "source_request_hash": meta.get("request_hash"),
            "source_generator_version": meta.get("generator_version"),
            "fps": float(meta["fps"]), "width": int(meta["width"]), "height": int(meta["height"]),
            "class_map": cmap, "splits": dict(sorted(counts.items())), "videos_stored_as": dict(sorted(how.items())),
            "videos": plan.videos, "dropped": plan.dropped,
        }
        atomic_write_json(part / LAYOUT_MARKER, marker)
        try:
            os.rename(part, out)
        except OSError:
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
                os.rename(part, out)
            else:
                raise
    return out


def generate_layout(out: PathLike, layout: str, *, videos: int, seed: int = 0, config=None,
                    source: PathLike | None = None, class_map: Mapping | None = None, link: str = "auto",
                    progress: bool = True, workers: int | None = None, long: bool = False) -> Path:
    """Generate a SynthVAD set suited to ``layout`` (:func:`synth_request`, ``long`` passed on) and write it
    at ``out``.

    The SynthVAD root is cached under ``vadkit.paths.data_dir() / "synthvad-<layout>-<hash>"`` (or is
    ``source`` when given, already generated). Same arguments -> same tree; a rerun is a no-op.
    """
    from vadkit.data.synth import GENERATOR_VERSION, generate

    _check_layout(layout)
    if source is None:
        from vadkit.paths import data_dir

        req = synth_request(layout, videos, config=config, long=long)
        key = content_hash({"layout": layout, "generator_version": GENERATOR_VERSION, "seed": int(seed),
                            "splits": req["splits"],
                            "anomaly_types": req["anomaly_types"], "config": req["config"].to_dict()}, 10)
        source = generate(data_dir() / f"synthvad-{layout}-{key}", req["splits"], seed=seed, config=req["config"],
                          anomaly_types=req["anomaly_types"], progress=progress, workers=workers)
    return write_layout(source, layout, out, class_map=class_map, link=link, progress=progress)


def layout_info(root: PathLike) -> dict:
    """The marker of a layout tree (layout, source, fps, class map, ``videos``: layout id -> SynthVAD id, ...)."""
    marker = layout_marker(root)
    if marker is None:
        raise DatasetError(f"{Path(root) / LAYOUT_MARKER}: not found; {root} is not a vadkit layout tree")
    return marker


def synthvad_ids(root: PathLike) -> dict[str, str]:
    """``{layout video id: SynthVAD video id}`` of a layout tree (to compare with SynthVAD's full truth)."""
    return {k: v["synthvad_id"] for k, v in layout_info(root)["videos"].items()}


__all__ = ["LAYOUTS", "LAYOUT_VERSION", "DEFAULT_CLASS_MAPS", "UBNORMAL_OPEN_SET", "LAYOUT_SPLITS",
           "write_layout", "generate_layout", "synth_request", "split_sizes", "layout_info", "synthvad_ids",
           "read_pixel_mask", "instance_maps"]
