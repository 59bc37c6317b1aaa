"""Parsers for the published annotation formats; each returns the common type of
:mod:`vadkit.data.annotations` (or a plain array/list where the format is a raw table).

=========================  =====================================================  ==========================
parser                     file (as users get it)                                 dataset
=========================  =====================================================  ==========================
parse_ucf_temporal         ``Temporal_Anomaly_Annotation.txt``                    UCF-Crime test (also SynthVAD)
parse_ucf_split_list       ``Anomaly_Train.txt`` / ``Anomaly_Test.txt``           UCF-Crime splits
parse_xd_annotations       ``annotations.txt`` (``name s1 e1 [s2 e2 ...]``)        XD-Violence test
parse_xd_multiclass        ``annotations_multiclasses.txt``                       XD-Violence test (also SynthVAD)
parse_xd_video_name        ``..._label_B2-G-0`` file names                       XD-Violence labels
parse_frame_masks          ``test_frame_mask/<vid>.npy``                          ShanghaiTech (also SynthVAD)
parse_pixel_mask           ``test_pixel_mask/<vid>.npy``                          ShanghaiTech
parse_ubnormal_tracks      ``{video}_tracks.txt`` / ``_new_tracks.txt``           UBnormal
parse_ubnormal_splits      ``{normal,abnormal}_{training,...}_video_names.txt``   UBnormal
parse_ubnormal_object_map  ``{video}_{frame:04d}_gt.png``                         UBnormal
ubnormal_anomaly_mask      object maps + tracks -> ``[T, H, W]`` anomaly masks    UBnormal
parse_box_tracks           ``track_id,frame,x1,y1,x2,y2`` rows                    RBDC/TBDC ground truth
parse_detections           ``frame,x1,y1,x2,y2,score`` rows                       RBDC/TBDC predictions
parse_tad                  UMIL ``labels/TAD_test.txt``                          TAD test
parse_tad_train            UMIL ``labels/TAD_train.txt``                         TAD train
parse_ucsd_m               ``UCSDped2.m`` / ``UCSDped1.m``                        UCSD Ped1/Ped2
parse_avenue_mat           ``testing_label_mask/{i}_label.mat``                   CUHK Avenue
=========================  =====================================================  ==========================

Conventions: frame indices are stored as the file gives them (0-based) except UCSD's MATLAB ranges,
which are 1-based and converted to 0-based (documented at :func:`parse_ucsd_m`). ``Segment.end_inclusive``
records what the source documents (``None`` where it is silent). Every malformed line raises
:class:`~vadkit.errors.AnnotationError` naming the file, the line number and the problem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from vadkit.data.annotations import NORMAL, DatasetAnnotations, Segment, Track, VideoAnnotation
from vadkit.errors import AnnotationError
from vadkit.io_utils import atomic_write_text

PathLike = str | os.PathLike

#: XD-Violence label codes (official README): A is normal; one video may carry up to three codes.
XD_LABELS: dict[str, str] = {
    "A": "normal",
    "B1": "fighting",
    "B2": "shooting",
    "B4": "riot",
    "B5": "abuse",
    "B6": "car accident",
    "G": "explosion",
}

#: UCF-Crime's 13 anomaly classes, in the order of the release's class folders.
UCF_CLASSES: tuple[str, ...] = (
    "Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting",
    "RoadAccidents", "Robbery", "Shooting", "Shoplifting", "Stealing", "Vandalism",
)

#: TAD class ids as in UMIL's ``labels/TAD_test.txt`` (0 = normal).
TAD_CLASSES: dict[int, str] = {
    0: NORMAL,
    1: "Accident",
    2: "IllegalTurn",
    3: "IllegalOccupation",
    4: "Retrograde",
    5: "else",
    6: "PedestrianOnRoad",
    7: "RoadSpills",
}

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _require_file(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"{path}: {what} not found")
    if not path.is_file():
        raise AnnotationError(f"{path}: {what} is not a regular file")
    return path


def _require_dir(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise AnnotationError(f"{path}: {what} (a directory) not found")
    return path


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, stripped_line)`` for non-empty lines (1-based numbers, as editors show)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not UTF-8 text ({err})") from None
    for no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield no, line


def _int(token: str, path: Path, no: int, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        try:
            value = float(token)
        except ValueError:
            raise AnnotationError(f"{path}:{no}: {what} {token!r} is not an integer") from None
        if not value.is_integer():
            raise AnnotationError(f"{path}:{no}: {what} {token!r} is not an integer") from None
        return int(value)


def _segment(start: int, end: int, label, inclusive, path: Path, no: int) -> Segment:
    if start < 0 or end < 0:
        raise AnnotationError(f"{path}:{no}: negative frame index in segment ({start}, {end})")
    if end < start:
        raise AnnotationError(f"{path}:{no}: segment end {end} < start {start}")
    return Segment(start, end, label, inclusive)


def strip_video_suffix(name: str) -> str:
    """``"a.mp4"`` -> ``"a"`` for the known video suffixes (case-insensitive); other names unchanged."""
    low = name.lower()
    for suf in VIDEO_SUFFIXES:
        if low.endswith(suf):
            return name[: -len(suf)]
    return name


# ----------------------------------------------------------------------------------------------
# UCF-Crime
# ----------------------------------------------------------------------------------------------


def parse_ucf_temporal(
    path: PathLike, end_inclusive: bool | None = None, *, name: str = "ucf_crime", split: str | None = "test"
) -> DatasetAnnotations:
    """UCF-Crime ``Temporal_Anomaly_Annotation.txt``: ``name  Class  s1  e1  s2  e2``.

    Fields are separated by whitespace (the release uses two spaces and a trailing space); ``-1``
    marks an absent event (at most two per video). Names may lack ``.mp4`` (VadCLIP's copy) or carry
    it (original release); the suffix is stripped. The release does not say whether ``e`` is the
    last anomalous frame, so ``end_inclusive`` defaults to ``None``; SynthVAD writes this format with
    inclusive ends and passes ``True``. Class ``Normal`` (any case) gives an empty ``classes`` tuple.
    """
    path = _require_file(path, "UCF-Crime temporal annotation file (Temporal_Anomaly_Annotation.txt)")
    out = DatasetAnnotations(name, root=path.parent, meta={"source": str(path), "end_inclusive": end_inclusive})
    classes: list[str] = []
    for no, line in _lines(path):
        parts = line.split()
        if len(parts) < 4 or (len(parts) - 2) % 2:
            raise AnnotationError(
                f"{path}:{no}: expected 'name class s1 e1 [s2 e2 ...]' (even number of frame fields), got {line!r}"
            )
        vid, cls = strip_video_suffix(parts[0]), parts[1]
        nums = [_int(t, path, no, "frame index") for t in parts[2:]]
        segments = []
        for s, e in zip(nums[0::2], nums[1::2]):
            if s == -1 and e == -1:
                continue
            if (s == -1) != (e == -1):
                raise AnnotationError(f"{path}:{no}: half-empty event ({s}, {e}); -1 must come in pairs")
            segments.append(_segment(s, e, cls, end_inclusive, path, no))
        is_normal = cls.lower() == NORMAL
        if is_normal and segments:
            raise AnnotationError(f"{path}:{no}: class 'Normal' but anomalous frames {segments[0].start}..")
        if not is_normal and cls not in classes:
            classes.append(cls)
        try:
            out.add(VideoAnnotation(vid, split=split, classes=() if is_normal else (cls,), segments=segments))
        except AnnotationError as err:
            raise AnnotationError(f"{path}:{no}: {err}") from None
    out.class_names = tuple(classes)
    return out


def parse_ucf_split_list(path: PathLike) -> list[tuple[str, str]]:
    """UCF-Crime ``Anomaly_Train.txt`` / ``Anomaly_Test.txt`` lines ``Folder/Name.mp4`` -> ``[(class, video_id)]``.

    The folder is the class; the normal folders (``Training_Normal_Videos_Anomaly``,
    ``Testing_Normal_Videos_Anomaly``, ``Normal_Videos_event``) map to ``"normal"``. ``video_id`` has
    no suffix, so it matches the temporal annotation names.
    """
    path = _require_file(path, "UCF-Crime split list (Anomaly_Train.txt / Anomaly_Test.txt)")
    out: list[tuple[str, str]] = []
    for no, line in _lines(path):
        parts = line.replace("\\", "/").split("/")
        if len(parts) != 2 or not parts[0] or not parts[1] or " " in line:
            raise AnnotationError(f"{path}:{no}: expected 'Class/Name.mp4', got {line!r}")
        folder, fname = parts
        cls = NORMAL if "normal" in folder.lower() else folder
        out.append((cls, strip_video_suffix(fname)))
    return out


def ucf_split_paths(path: PathLike) -> dict[str, str]:
    """``video_id -> relative path`` (``Folder/Name.mp4``) from a UCF split list, for locating videos."""
    path = _require_file(path, "UCF-Crime split list")
    rel = {}
    for no, line in _lines(path):
        rel[strip_video_suffix(line.replace("\\", "/").split("/")[-1])] = line.replace("\\", "/")
    return rel


# ----------------------------------------------------------------------------------------------
# XD-Violence
# ----------------------------------------------------------------------------------------------

_XD_LABEL_RE = re.compile(r"_label_(?P<codes>[A-Z0-9]+(?:-[A-Z0-9]+)*)$")


def parse_xd_video_name(name: str) -> tuple[str, tuple[str, ...]]:
    """``"..._label_B2-G-0"`` -> ``(video_id, ("shooting", "explosion"))``.

    The label part lists up to three codes separated by ``-``; ``0`` fills unused slots. ``A``
    (normal) gives ``()``. A trailing ``.mp4`` (14 names in the official files) is stripped from
    ``video_id``. Unknown codes raise :class:`AnnotationError`.
    """
    vid = strip_video_suffix(name.strip())
    m = _XD_LABEL_RE.search(vid)
    if not m:
        raise AnnotationError(f"XD-Violence video name {name!r} has no '_label_<codes>' part")
    classes: list[str] = []
    for code in m.group("codes").split("-"):
        if code == "0":
            continue
        if code not in XD_LABELS:
            raise AnnotationError(f"XD-Violence video name {name!r}: unknown label code {code!r}")
        if code != "A" and XD_LABELS[code] not in classes:
            classes.append(XD_LABELS[code])
    return vid, tuple(classes)


def _xd_classes(vid: str, path: Path, no: int) -> tuple[str, ...]:
    try:
        return parse_xd_video_name(vid)[1]
    except AnnotationError as err:
        raise AnnotationError(f"{path}:{no}: {err}") from None


def parse_xd_annotations(path: PathLike, *, name: str = "xd_violence", split: str | None = "test") -> DatasetAnnotations:
    """XD-Violence ``annotations.txt``: ``name s1 e1 [s2 e2 ...]`` (violent test videos only).

    Video-level classes come from the ``_label_`` part of the name. The official README does not
    say whether ends are inclusive: ``end_inclusive=None``.
    """
    path = _require_file(path, "XD-Violence annotation file (annotations.txt)")
    out = DatasetAnnotations(name, root=path.parent, class_names=tuple(v for k, v in XD_LABELS.items() if k != "A"),
                             meta={"source": str(path)})
    for no, line in _lines(path):
        parts = line.split()
        if len(parts) < 3 or (len(parts) - 1) % 2:
            raise AnnotationError(f"{path}:{no}: expected 'name s1 e1 [s2 e2 ...]' (pairs of frames), got {line!r}")
        vid = strip_video_suffix(parts[0])
        classes = _xd_classes(vid, path, no)
        nums = [_int(t, path, no, "frame index") for t in parts[1:]]
        segs = [_segment(s, e, None, None, path, no) for s, e in zip(nums[0::2], nums[1::2])]
        if len(classes) == 1:
            segs = [Segment(s.start, s.end, classes[0], None) for s in segs]
        try:
            out.add(VideoAnnotation(vid, split=split, classes=classes, segments=segs))
        except AnnotationError as err:
            raise AnnotationError(f"{path}:{no}: {err}") from None
    return out


def parse_xd_multiclass(
    path: PathLike,
    label_map: Mapping[str, str] | None = XD_LABELS,
    *,
    end_inclusive: bool | None = None,
    name: str = "xd_violence",
    split: str | None = "test",
) -> DatasetAnnotations:
    """``annotations_multiclasses.txt``: ``name CLS s1 e1 CLS s2 e2 ...`` -> per-segment labels.

    ``label_map`` maps codes to class names (XD codes by default); ``None`` keeps ``CLS`` strings as
    class names (SynthVAD writes its class names directly and passes ``end_inclusive=True``).
    Video-level ``classes`` are the distinct segment labels in order of appearance.
    """
    path = _require_file(path, "XD-Violence multi-class annotation file (annotations_multiclasses.txt)")
    out = DatasetAnnotations(name, root=path.parent, meta={"source": str(path), "end_inclusive": end_inclusive})
    vocab: list[str] = []
    for no, line in _lines(path):
        parts = line.split()
        if len(parts) < 4 or (len(parts) - 1) % 3:
            raise AnnotationError(f"{path}:{no}: expected 'name CLS s1 e1 [CLS s2 e2 ...]' (triples), got {line!r}")
        vid = strip_video_suffix(parts[0])
        segs: list[Segment] = []
        for k in range(1, len(parts), 3):
            code, s, e = parts[k], _int(parts[k + 1], path, no, "frame index"), _int(parts[k + 2], path, no, "frame index")
            if label_map is not None:
                if code not in label_map:
                    raise AnnotationError(f"{path}:{no}: unknown class code {code!r} (known: {', '.join(label_map)})")
                label = label_map[code]
            else:
                label = code
            segs.append(_segment(s, e, label, end_inclusive, path, no))
        classes = tuple(dict.fromkeys(s.label for s in segs if s.label != NORMAL))
        vocab.extend(c for c in classes if c not in vocab)
        try:
            out.add(VideoAnnotation(vid, split=split, classes=classes, segments=segs))
        except AnnotationError as err:
            raise AnnotationError(f"{path}:{no}: {err}") from None
    out.class_names = tuple(vocab) if label_map is None else tuple(v for v in label_map.values() if v != NORMAL)
    return out


# ----------------------------------------------------------------------------------------------
# ShanghaiTech (frame and pixel masks)
# ----------------------------------------------------------------------------------------------


def parse_frame_masks(directory: PathLike, *, name: str = "shanghaitech", split: str | None = "test") -> DatasetAnnotations:
    """``test_frame_mask/<vid>.npy`` (uint8 ``[T]`` 0/1) -> ``frame_labels`` and ``num_frames`` per video.

    Video ids are the file stems, sorted. A mask that is not 1-D or holds values other than 0/1
    raises :class:`AnnotationError` naming the file.
    """
    directory = _require_dir(directory, "frame-mask folder (test_frame_mask)")
    files = sorted(directory.glob("*.npy"))
    if not files:
        raise AnnotationError(f"{directory}: no <video>.npy frame masks found")
    out = DatasetAnnotations(name, root=directory, meta={"source": str(directory)})
    for f in files:
        try:
            mask = np.load(f, allow_pickle=False)
        except Exception as err:
            raise AnnotationError(f"{f}: unreadable frame mask ({type(err).__name__}: {err})") from None
        if mask.ndim != 1:
            raise AnnotationError(f"{f}: frame mask must be 1-D [T], got shape {mask.shape}")
        if mask.size and not np.isin(mask, (0, 1)).all():
            raise AnnotationError(f"{f}: frame mask holds values other than 0/1: {np.unique(mask)[:10]}")
        labels = mask.astype(np.uint8)
        out.add(VideoAnnotation(f.stem, split=split, num_frames=len(labels), frame_labels=labels))
    return out


def parse_pixel_mask(path: PathLike) -> np.ndarray:
    """``test_pixel_mask/<vid>.npy`` ``[T, H, W]`` per-frame masks, memory-mapped read-only."""
    path = _require_file(path, "pixel mask (test_pixel_mask/<video>.npy)")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as err:
        raise AnnotationError(f"{path}: unreadable pixel mask ({type(err).__name__}: {err})") from None
    if arr.ndim != 3:
        raise AnnotationError(f"{path}: pixel mask must be [T, H, W], got shape {arr.shape}")
    return arr


# ----------------------------------------------------------------------------------------------
# UBnormal
# ----------------------------------------------------------------------------------------------


def parse_ubnormal_tracks(path: PathLike) -> list[tuple[int, int, int]]:
    """``{video}_tracks.txt`` lines ``object_id,start_frame,end_frame`` -> list of int triples.

    The README does not say whether ``end_frame`` is inclusive; the repository's own scripts treat
    it as inclusive (frame labels ``[start : end + 1]``, boxes for ``range(start, end + 1)``), and so
    do :func:`ubnormal_segments`, :func:`ubnormal_anomaly_mask` and :func:`ubnormal_box_tracks`.
    """
    path = _require_file(path, "UBnormal tracks file ({video}_tracks.txt)")
    rows = []
    for no, line in _lines(path):
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if len(parts) != 3:
            raise AnnotationError(f"{path}:{no}: expected 'object_id,start_frame,end_frame', got {line!r}")
        oid, s, e = (_int(p, path, no, f) for p, f in zip(parts, ("object_id", "start_frame", "end_frame")))
        if e < s:
            raise AnnotationError(f"{path}:{no}: end_frame {e} < start_frame {s}")
        rows.append((oid, s, e))
    return rows


def ubnormal_tracks_file(annotation_dir: PathLike, video: str) -> Path | None:
    """The tracks file to use for ``video``: ``{video}_new_tracks.txt`` overrides ``{video}_tracks.txt``.

    ``annotation_dir`` is the ``{video}_annotations`` folder (or any folder holding the files).
    Returns ``None`` for normal videos, which have no tracks file.
    """
    d = Path(annotation_dir)
    for cand in (d / f"{video}_new_tracks.txt", d / f"{video}_tracks.txt"):
        if cand.is_file():
            return cand
    return None


_UB_SPLIT_FILES = {"train": "training", "val": "validation", "test": "test"}


def parse_ubnormal_splits(directory: PathLike) -> dict[str, list[str]]:
    """Official open-set split files -> ``{"train": [...], "val": [...], "test": [...]}``.

    Reads ``{normal,abnormal}_{training,validation,test}_video_names.txt``; each list holds the
    normal names first, then the abnormal ones (file order). Whether a video is abnormal is in its
    name (``normal_...`` / ``abnormal_...``); :func:`ubnormal_label` reads it.
    """
    directory = _require_dir(directory, "UBnormal split folder (scripts/)")
    out: dict[str, list[str]] = {}
    for split, word in _UB_SPLIT_FILES.items():
        names: list[str] = []
        for kind in ("normal", "abnormal"):
            f = _require_file(directory / f"{kind}_{word}_video_names.txt", f"UBnormal {kind} {word} split list")
            for no, line in _lines(f):
                if " " in line or not line.startswith(f"{kind}_"):
                    raise AnnotationError(f"{f}:{no}: expected a {kind} video name ('{kind}_scene_...'), got {line!r}")
                names.append(line)
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise AnnotationError(f"{directory}: {split} split lists {sorted(dup)[:3]} more than once")
        out[split] = names
    return out


def ubnormal_label(video: str) -> str:
    """``"abnormal"`` or ``"normal"`` from a UBnormal video name."""
    if video.startswith("abnormal_"):
        return "abnormal"
    if video.startswith("normal_"):
        return NORMAL
    raise AnnotationError(f"UBnormal video name {video!r} starts with neither 'normal_' nor 'abnormal_'")


def parse_ubnormal_object_map(png_path: PathLike) -> np.ndarray:
    """``{video}_{frame:04d}_gt.png`` -> ``[H, W]`` int array of object ids (0 = background).

    The maps are single-channel images whose pixel value is the object id; a 3-channel file (some
    image tools save one) is accepted when its channels agree.
    """
    import cv2

    path = _require_file(png_path, "UBnormal object map ({video}_{frame:04d}_gt.png)")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnnotationError(f"{path}: not a readable image")
    if img.ndim == 3:
        if not all(np.array_equal(img[..., 0], img[..., c]) for c in range(1, img.shape[2])):
            raise AnnotationError(f"{path}: object map has {img.shape[2]} differing channels; expected one id channel")
        img = img[..., 0]
    return img.astype(np.int64)


def boxes_from_object_map(obj_map: np.ndarray, object_ids: Iterable[int] | None = None) -> dict[int, tuple[float, float, float, float]]:
    """Tight boxes ``{object_id: (x1, y1, x2, y2)}`` of the pixels with each id in an ``[H, W]`` map.

    ``x2, y2`` are the last pixel column/row + 1 (box covers pixel centres ``x1..x2-1``).
    """
    ids = np.unique(obj_map) if object_ids is None else np.asarray(list(object_ids))
    boxes = {}
    for oid in ids:
        oid = int(oid)
        if oid == 0:
            continue
        ys, xs = np.nonzero(obj_map == oid)
        if len(xs):
            boxes[oid] = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return boxes


def ubnormal_box_tracks(annotation_dir: PathLike, video: str, *, progress: bool = False) -> list[Track]:
    """Convert UBnormal per-frame object maps + the tracks file into RBDC/TBDC box tracks.

    For each ``(object_id, start, end)`` row of the tracks file (``_new_tracks`` preferred), the
    object's box is read from every ``{video}_{frame:04d}_gt.png`` in ``start..end`` (both ends
    tried; frames without the object are skipped). Normal videos (no tracks file) give ``[]``.
    Write the result with :func:`write_box_tracks`.
    """
    d = _require_dir(annotation_dir, f"UBnormal annotation folder ({video}_annotations)")
    tracks_file = ubnormal_tracks_file(d, video)
    if tracks_file is None:
        return []
    rows = parse_ubnormal_tracks(tracks_file)
    if not rows:
        return []
    first, last = min(r[1] for r in rows), max(r[2] for r in rows)
    per_frame: dict[int, dict[int, tuple]] = {}
    frames = range(first, last + 1)
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, desc=f"{video} object maps", unit="frame")
    wanted = {r[0] for r in rows}
    for f in frames:
        png = d / f"{video}_{f:04d}_gt.png"
        if png.is_file():
            per_frame[f] = boxes_from_object_map(parse_ubnormal_object_map(png), wanted)
    tracks = []
    for oid, s, e in rows:
        fr, bx = [], []
        for f in range(s, e + 1):
            box = per_frame.get(f, {}).get(oid)
            if box is not None:
                fr.append(f)
                bx.append(box)
        if fr:
            tracks.append(Track(oid, np.array(fr), np.array(bx), label="abnormal", anomalous=True))
    return tracks


def ubnormal_segments(rows: Iterable[tuple[int, int, int]]) -> list[Segment]:
    """Tracks-file rows ``(object_id, start, end)`` -> one :class:`Segment` per row, label ``"abnormal"``.

    Ends are **inclusive**: the official frame-level ground truth
    (``scripts/write_frame_level_ground_truth.py`` in lilygeorgescu/UBnormal) marks
    ``ground_truth[start : end + 1] = 1`` for every row. Rows of different objects may overlap; the
    frame labels are their union.
    """
    return [Segment(int(s), int(e), "abnormal", True) for _oid, s, e in rows]


def ubnormal_anomaly_mask(annotation_dir: PathLike, video: str, num_frames: int | None = None) -> np.ndarray:
    """Per-pixel anomaly masks ``[T, H, W]`` uint8 0/1 of one UBnormal video.

    A pixel is anomalous when the object map of its frame holds the id of an object of the tracks
    file (``_new_tracks`` preferred) and the frame lies in that row's ``start..end`` (inclusive, as
    :func:`ubnormal_segments`). Frames without a map are all-zero. ``T`` is ``num_frames`` when given,
    else one past the last map found. A video without tracks file is all-normal (zeros; it then needs
    ``num_frames`` and a map for the frame size).
    """
    d = _require_dir(annotation_dir, f"UBnormal annotation folder ({video}_annotations)")
    maps = sorted(d.glob(f"{video}_*_gt.png"))
    frame_of = {}
    for m in maps:
        tail = m.name[len(video) + 1: -len("_gt.png")]
        if tail.isdigit():
            frame_of[int(tail)] = m
    if not frame_of:
        raise AnnotationError(f"{d}: no {video}_{{frame:04d}}_gt.png object maps found")
    T = int(num_frames) if num_frames is not None else max(frame_of) + 1
    first = parse_ubnormal_object_map(frame_of[min(frame_of)])
    out = np.zeros((T, *first.shape), np.uint8)
    tracks_file = ubnormal_tracks_file(d, video)
    rows = parse_ubnormal_tracks(tracks_file) if tracks_file is not None else []
    wanted: dict[int, list[int]] = {}
    for oid, s, e in rows:
        for f in range(s, min(e, T - 1) + 1):
            wanted.setdefault(f, []).append(oid)
    for f, ids in wanted.items():
        if f in frame_of:
            obj = parse_ubnormal_object_map(frame_of[f])
            if obj.shape != first.shape:
                raise AnnotationError(f"{frame_of[f]}: object map is {obj.shape}, the first map is {first.shape}")
            out[f] = np.isin(obj, ids)
    return out


# ----------------------------------------------------------------------------------------------
# RBDC/TBDC box tracks and detections
# ----------------------------------------------------------------------------------------------


def _rows(path: Path, ncols: int, header_words: Sequence[str], what: str) -> list[tuple[int, list[float]]]:
    out = []
    for no, line in _lines(path):
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if no == 1 and parts and parts[0].lower() in header_words:
            continue  # a header line
        if len(parts) != ncols:
            raise AnnotationError(f"{path}:{no}: expected {ncols} fields ({what}), got {len(parts)}: {line!r}")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise AnnotationError(f"{path}:{no}: non-numeric field in {line!r} ({what})") from None
        if not np.isfinite(vals).all():
            raise AnnotationError(f"{path}:{no}: NaN/inf in {line!r}")
        out.append((no, vals))
    return out


def parse_box_tracks(path: PathLike, *, label: str | None = None) -> list[Track]:
    """RBDC/TBDC ground truth rows ``track_id,frame,x1,y1,x2,y2`` (comma or whitespace) -> tracks.

    Rows may come in any order; each track's frames are sorted. A repeated ``(track_id, frame)`` or a
    box with ``x2 <= x1`` / ``y2 <= y1`` raises :class:`AnnotationError` with the line number.
    """
    path = _require_file(path, "box-track file (track_id,frame,x1,y1,x2,y2)")
    by_id: dict[int, dict[int, tuple]] = {}
    for no, (tid, fr, x1, y1, x2, y2) in _rows(path, 6, ("track_id", "track", "id"), "track_id,frame,x1,y1,x2,y2"):
        if tid != int(tid) or fr != int(fr):
            raise AnnotationError(f"{path}:{no}: track_id and frame must be integers")
        if x2 <= x1 or y2 <= y1:
            raise AnnotationError(f"{path}:{no}: empty box ({x1}, {y1}, {x2}, {y2}); need x2 > x1 and y2 > y1")
        frames = by_id.setdefault(int(tid), {})
        if int(fr) in frames:
            raise AnnotationError(f"{path}:{no}: track {int(tid)} has two boxes at frame {int(fr)}")
        frames[int(fr)] = (x1, y1, x2, y2)
    tracks = []
    for tid, frames in by_id.items():
        order = sorted(frames)
        tracks.append(Track(tid, np.array(order), np.array([frames[f] for f in order]), label=label, anomalous=True))
    return tracks


def write_box_tracks(path: PathLike, tracks: Iterable[Track]) -> Path:
    """Write tracks as ``track_id,frame,x1,y1,x2,y2`` rows (atomic; :func:`parse_box_tracks` reads it back)."""
    lines = []
    for t in tracks:
        for f, (x1, y1, x2, y2) in zip(t.frames, t.boxes):
            lines.append(f"{int(t.track_id)},{int(f)},{x1:.6g},{y1:.6g},{x2:.6g},{y2:.6g}")
    path = Path(path)
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
    return path


def parse_detections(path: PathLike) -> np.ndarray:
    """Predicted regions ``frame,x1,y1,x2,y2,score`` -> float64 ``[N, 6]`` (same column order)."""
    path = _require_file(path, "detection file (frame,x1,y1,x2,y2,score)")
    rows = _rows(path, 6, ("frame",), "frame,x1,y1,x2,y2,score")
    arr = np.array([v for _, v in rows], dtype=np.float64).reshape(-1, 6)
    for (no, v) in rows:
        if v[0] != int(v[0]) or v[0] < 0:
            raise AnnotationError(f"{path}:{no}: frame must be a non-negative integer, got {v[0]}")
        if v[3] <= v[1] or v[4] <= v[2]:
            raise AnnotationError(f"{path}:{no}: empty box {v[1:5]}; need x2 > x1 and y2 > y1")
    return arr


def write_detections(path: PathLike, rows: np.ndarray | Sequence[Sequence[float]]) -> Path:
    """Write ``[N, 6]`` rows ``frame,x1,y1,x2,y2,score`` (atomic)."""
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 6) if len(rows) else np.zeros((0, 6))
    lines = [f"{int(r[0])},{r[1]:.6g},{r[2]:.6g},{r[3]:.6g},{r[4]:.6g},{r[5]:.8g}" for r in arr]
    path = Path(path)
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
    return path


# ----------------------------------------------------------------------------------------------
# TAD, UCSD, Avenue
# ----------------------------------------------------------------------------------------------


def parse_tad(path: PathLike, *, name: str = "tad", split: str | None = "test") -> DatasetAnnotations:
    """UMIL ``labels/TAD_test.txt``: ``path #frames class start end`` per line.

    ``class`` is an id of :data:`TAD_CLASSES` (0 normal, 1 Accident ... 7 RoadSpills); normal videos
    carry ``start``/``end`` placeholders (``-1`` or ``0 0``) that are not turned into segments.
    ``video_id`` is the file stem of ``path``; the path is kept in ``extra["rel_path"]``. UMIL does
    not document end inclusiveness: ``end_inclusive=None``.
    """
    path = _require_file(path, "TAD annotation file (UMIL labels/TAD_test.txt)")
    out = DatasetAnnotations(name, root=path.parent, class_names=tuple(v for k, v in TAD_CLASSES.items() if k),
                             meta={"source": str(path)})
    for no, line in _lines(path):
        parts = line.split()
        if len(parts) != 5:
            raise AnnotationError(f"{path}:{no}: expected 'path #frames class start end', got {line!r}")
        rel = parts[0]
        nf, cid, s, e = (_int(p, path, no, w) for p, w in zip(parts[1:], ("#frames", "class", "start", "end")))
        if cid not in TAD_CLASSES:
            raise AnnotationError(f"{path}:{no}: unknown TAD class id {cid} (known 0..7)")
        if nf <= 0:
            raise AnnotationError(f"{path}:{no}: #frames must be positive, got {nf}")
        label = TAD_CLASSES[cid]
        segs = []
        if cid != 0:
            seg = _segment(s, e, label, None, path, no)
            if seg.start >= nf:
                raise AnnotationError(f"{path}:{no}: start {s} is beyond the video's {nf} frames")
            segs.append(seg)
        vid = strip_video_suffix(Path(rel).name)
        try:
            out.add(VideoAnnotation(vid, split=split, classes=(label,) if cid else (), num_frames=nf, segments=segs,
                                    extra={"rel_path": rel}))
        except AnnotationError as err:
            raise AnnotationError(f"{path}:{no}: {err}") from None
    return out


def parse_tad_train(path: PathLike, *, name: str = "tad", split: str | None = "train") -> DatasetAnnotations:
    """UMIL ``labels/TAD_train.txt``: ``path start end class`` per line (video-level labels only).

    The training list differs from the test list: UMIL's ``FrameDataset`` reads four fields
    ``filename, start, end, label`` and uses ``end - start`` frames (every line has ``start = 0``, so
    ``end`` is the frame count). ``class`` is an id of :data:`TAD_CLASSES`; no interval is given
    (weak supervision). ``num_frames = end - start``; ``extra`` keeps ``rel_path`` and ``start``.
    A five-field line (the test format) raises :class:`AnnotationError` pointing at :func:`parse_tad`.
    """
    path = _require_file(path, "TAD training list (UMIL labels/TAD_train.txt)")
    out = DatasetAnnotations(name, root=path.parent, class_names=tuple(v for k, v in TAD_CLASSES.items() if k),
                             meta={"source": str(path)})
    for no, line in _lines(path):
        parts = line.split()
        if len(parts) == 5:
            raise AnnotationError(f"{path}:{no}: five fields is the TAD_test.txt layout "
                                  f"('path #frames class start end'); read it with parse_tad")
        if len(parts) != 4:
            raise AnnotationError(f"{path}:{no}: expected 'path start end class', got {line!r}")
        rel = parts[0]
        start, end, cid = (_int(p, path, no, w) for p, w in zip(parts[1:], ("start", "end", "class")))
        if cid not in TAD_CLASSES:
            raise AnnotationError(f"{path}:{no}: unknown TAD class id {cid} (known 0..7)")
        if end <= start or start < 0:
            raise AnnotationError(f"{path}:{no}: frame range {start}..{end} is empty or negative")
        label = TAD_CLASSES[cid]
        try:
            out.add(VideoAnnotation(strip_video_suffix(Path(rel).name), split=split, classes=(label,) if cid else (),
                                    num_frames=end - start, extra={"rel_path": rel, "start": start}))
        except AnnotationError as err:
            raise AnnotationError(f"{path}:{no}: {err}") from None
    return out


_UCSD_RE = re.compile(
    r"^TestVideoFile\{end\s*\+\s*1\}\.gt_frame\s*=\s*\[(?P<body>[^\]]*)\]\s*;?\s*$"
)


def parse_ucsd_m(path: PathLike, *, name: str = "ucsd", prefix: str = "Test", split: str | None = "test") -> DatasetAnnotations:
    """UCSD ``UCSDped2.m`` / ``UCSDped1.m``: ``TestVideoFile{end+1}.gt_frame = [61:180];`` per test video.

    The i-th such line belongs to ``Test{i:03d}``. MATLAB ranges are **1-based and inclusive**; they
    are stored **0-based and inclusive** (``[61:180]`` -> ``Segment(60, 179, end_inclusive=True)``).
    Comma-separated ranges (``[5:90, 140:200]``) give several segments. Other lines (``TestVideoFile = {};``,
    comments) are ignored.
    """
    path = _require_file(path, "UCSD ground-truth script (UCSDped1.m / UCSDped2.m)")
    out = DatasetAnnotations(name, root=path.parent, class_names=("abnormal",),
                             meta={"source": str(path), "end_inclusive": True, "index_base": 0})
    i = 0
    for no, line in _lines(path):
        if line.startswith("%") or "gt_frame" not in line:
            continue
        m = _UCSD_RE.match(line)
        if not m:
            raise AnnotationError(f"{path}:{no}: expected 'TestVideoFile{{end+1}}.gt_frame = [a:b];', got {line!r}")
        i += 1
        segs = []
        for rng in [r for r in re.split(r"[,;]", m.group("body")) if r.strip()]:
            ab = rng.strip().split(":")
            if len(ab) not in (1, 2):
                raise AnnotationError(f"{path}:{no}: range {rng.strip()!r} is not 'a:b'")
            a = _int(ab[0].strip(), path, no, "start")
            b = _int(ab[-1].strip(), path, no, "end")
            if a < 1:
                raise AnnotationError(f"{path}:{no}: MATLAB frame {a} < 1 (ranges are 1-based)")
            segs.append(_segment(a - 1, b - 1, "abnormal", True, path, no))
        out.add(VideoAnnotation(f"{prefix}{i:03d}", split=split, classes=("abnormal",) if segs else (), segments=segs))
    if i == 0:
        raise AnnotationError(f"{path}: no 'TestVideoFile{{end+1}}.gt_frame = [...]' lines found")
    return out


def parse_avenue_mat(directory: PathLike, *, name: str = "avenue", split: str | None = "test") -> DatasetAnnotations:
    """CUHK Avenue ``testing_label_mask/{i}_label.mat`` (variable ``volLabel``) -> frame labels.

    ``volLabel`` is a ``1 x T`` cell array of ``H x W`` binary masks; frame ``t`` is anomalous when
    its mask has any non-zero pixel. Video ids are ``"01".."21"`` (zero-padded ``i``, the naming of
    ``testing_videos/{i:02d}.avi``). The per-frame masks are kept in ``extra["mask_file"]``.
    """
    import scipy.io

    directory = _require_dir(directory, "Avenue label folder (testing_label_mask)")
    files = sorted(directory.glob("*_label.mat"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise AnnotationError(f"{directory}: no {{i}}_label.mat files found")
    out = DatasetAnnotations(name, root=directory, class_names=("abnormal",), meta={"source": str(directory)})
    for f in files:
        idx = f.stem.split("_")[0]
        if not idx.isdigit():
            raise AnnotationError(f"{f}: file name must be '{{i}}_label.mat' with an integer i")
        try:
            mat = scipy.io.loadmat(str(f))
        except Exception as err:
            raise AnnotationError(f"{f}: unreadable .mat file ({type(err).__name__}: {err})") from None
        if "volLabel" not in mat:
            raise AnnotationError(f"{f}: variable 'volLabel' not found (has {sorted(k for k in mat if not k.startswith('__'))})")
        vol = mat["volLabel"]
        cells = vol.reshape(-1) if vol.dtype == object else (vol if vol.ndim == 3 else None)
        if cells is None:
            raise AnnotationError(f"{f}: volLabel must be a cell array of masks or [T, H, W], got {vol.dtype} {vol.shape}")
        labels = np.array([1 if np.any(np.asarray(c)) else 0 for c in cells], dtype=np.uint8)
        out.add(VideoAnnotation(f"{int(idx):02d}", split=split, classes=("abnormal",) if labels.any() else (),
                                num_frames=len(labels), frame_labels=labels, extra={"mask_file": str(f)}))
    return out


__all__ = [
    "XD_LABELS", "UCF_CLASSES", "TAD_CLASSES", "strip_video_suffix",
    "parse_ucf_temporal", "parse_ucf_split_list", "ucf_split_paths",
    "parse_xd_annotations", "parse_xd_multiclass", "parse_xd_video_name",
    "parse_frame_masks", "parse_pixel_mask",
    "parse_ubnormal_tracks", "ubnormal_tracks_file", "parse_ubnormal_splits", "ubnormal_label",
    "parse_ubnormal_object_map", "boxes_from_object_map", "ubnormal_box_tracks", "ubnormal_segments",
    "ubnormal_anomaly_mask",
    "parse_box_tracks", "write_box_tracks", "parse_detections", "write_detections",
    "parse_tad", "parse_tad_train", "parse_ucsd_m", "parse_avenue_mat",
]
