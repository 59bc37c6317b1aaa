"""The one annotation type every parser returns (real datasets and SynthVAD alike).

A dataset is a :class:`DatasetAnnotations`: a mapping ``video_id -> VideoAnnotation`` plus the class
vocabulary. A :class:`VideoAnnotation` carries every level of ground truth the papers use; fields a
dataset does not provide stay empty/``None``:

* video level: ``classes`` (empty tuple = normal video), ``split``;
* temporal: ``segments`` (:class:`Segment`, frame indices *as published*), ``frame_labels`` (exact
  per-frame 0/1 where a dataset ships them, e.g. ShanghaiTech ``test_frame_mask``);
* spatial: ``tracks`` (:class:`Track`, one box per frame), ``pixel_mask_path`` (per-frame masks);
* text: ``captions`` (frame -> sentence), ``explanation``, ``target_sentences``,
  ``trajectory_sentences``, ``qa`` (question/answer pairs).

Segment ends
------------
Published temporal annotations disagree on whether ``end`` is the last anomalous frame (inclusive)
or one past it (exclusive). The parser stores the integers exactly as the file gives them and records
``end_inclusive`` as the dataset documents it (``None`` where the dataset is silent). Turning segments
into frame labels is a *metric convention* and lives in :mod:`vadkit.metrics` (see chapter 01); the
:meth:`VideoAnnotation.frame_labels_from_segments` helper here requires the caller to choose.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from vadkit.errors import AnnotationError, DatasetError

NORMAL = "normal"


@dataclass(frozen=True)
class Segment:
    """One anomalous temporal interval, frame indices as published.

    ``label`` is the fine-grained class name (dataset vocabulary, e.g. ``"Fighting"``, ``"B1"``
    mapped to ``"fighting"``); ``end_inclusive`` says how the source defines ``end``.
    """

    start: int
    end: int
    label: str | None = None
    end_inclusive: bool | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise AnnotationError(f"segment end {self.end} < start {self.start} (label {self.label!r})")

    def frames(self, end_inclusive: bool) -> range:
        """Frame indices covered under the chosen end convention."""
        return range(self.start, self.end + 1 if end_inclusive else self.end)


@dataclass
class Track:
    """An object track: ``frames[i]`` has box ``boxes[i] = (x1, y1, x2, y2)`` in pixels.

    Shapes: ``frames`` ``[N]`` int, ``boxes`` ``[N, 4]`` float. ``anomalous`` marks tracks that are
    ground-truth anomalous regions (RBDC/TBDC count only these); ``label`` is the anomaly class or
    object class.
    """

    track_id: int
    frames: np.ndarray
    boxes: np.ndarray
    label: str | None = None
    anomalous: bool = True
    object_class: str | None = None

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if len(self.frames) != len(self.boxes):
            raise AnnotationError(
                f"track {self.track_id}: {len(self.frames)} frames but {len(self.boxes)} boxes"
            )

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class QAPair:
    question: str
    answer: str  # normalised "Yes"/"No" for yes/no questions, free text otherwise
    kind: str = "yesno"


@dataclass
class VideoAnnotation:
    """All ground truth of one video. See the module docstring for field meanings."""

    video_id: str
    split: str | None = None
    classes: tuple[str, ...] = ()
    num_frames: int | None = None
    fps: float | None = None
    video_path: Path | None = None
    segments: list[Segment] = field(default_factory=list)
    frame_labels: np.ndarray | None = None  # [num_frames] uint8, exact per-frame truth when shipped
    tracks: list[Track] = field(default_factory=list)
    pixel_mask_path: Path | None = None  # [num_frames, H, W] uint8: .npy, .npz or a PNG folder (read_pixel_mask)
    captions: dict[int, str] = field(default_factory=dict)
    explanation: str | None = None
    target_sentences: list[str] = field(default_factory=list)
    trajectory_sentences: list[str] = field(default_factory=list)
    qa: list[QAPair] = field(default_factory=list)
    scene: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_anomalous(self) -> bool:
        """True if the video holds any anomaly (video-level label)."""
        if self.classes:
            return True
        if self.segments:
            return True
        return self.frame_labels is not None and bool(np.any(self.frame_labels))

    @property
    def label(self) -> str:
        """Primary video-level class name (``"normal"`` for normal videos)."""
        return self.classes[0] if self.classes else NORMAL

    def frame_labels_from_segments(self, num_frames: int, *, end_inclusive: bool) -> np.ndarray:
        """Binary frame labels ``[num_frames]`` from ``segments`` under an explicit end convention.

        Segments that run past ``num_frames`` are clipped (the metric layer decides whether that
        is an error). Use :mod:`vadkit.metrics` ground-truth builders for the lineage conventions.
        """
        gt = np.zeros(int(num_frames), dtype=np.uint8)
        for seg in self.segments:
            if seg.start < 0:
                continue  # UCF's -1 placeholder
            stop = seg.end + 1 if end_inclusive else seg.end
            gt[max(seg.start, 0) : max(min(stop, num_frames), 0)] = 1
        return gt

    def pixel_mask(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """``[T, H, W]`` uint8 0/1 anomaly mask (:func:`read_pixel_mask`)."""
        return read_pixel_mask(self, shape)

    def replace(self, **changes) -> "VideoAnnotation":
        return dataclasses.replace(self, **changes)


@dataclass
class DatasetAnnotations(Mapping[str, VideoAnnotation]):
    """Annotations of one dataset (or one split), keyed by video id, in file order."""

    name: str
    videos: dict[str, VideoAnnotation] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    root: Path | None = None
    meta: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> VideoAnnotation:
        try:
            return self.videos[key]
        except KeyError:
            raise AnnotationError(f"{self.name}: no annotation for video {key!r}") from None

    def __contains__(self, key: object) -> bool:
        # Mapping's default relies on KeyError; __getitem__ raises AnnotationError instead.
        return key in self.videos

    def get(self, key: str, default=None):
        return self.videos.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.videos)

    def __len__(self) -> int:
        return len(self.videos)

    def add(self, ann: VideoAnnotation) -> None:
        if ann.video_id in self.videos:
            raise AnnotationError(f"{self.name}: duplicate video id {ann.video_id!r}")
        self.videos[ann.video_id] = ann

    def split(self, name: str) -> "DatasetAnnotations":
        """The subset whose ``split`` equals ``name``."""
        subset = {k: v for k, v in self.videos.items() if v.split == name}
        return DatasetAnnotations(f"{self.name}:{name}", subset, self.class_names, self.root, dict(self.meta))

    def filter(self, predicate) -> "DatasetAnnotations":
        subset = {k: v for k, v in self.videos.items() if predicate(v)}
        return DatasetAnnotations(self.name, subset, self.class_names, self.root, dict(self.meta))

    @property
    def anomalous(self) -> list[VideoAnnotation]:
        return [v for v in self.videos.values() if v.is_anomalous]


def read_pixel_mask(ann: VideoAnnotation, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``[T, H, W]`` uint8 0/1 anomaly mask of a video (zeros when it has none; needs ``shape``).

    Reads ``pixel_mask_path`` as ``.npy`` (ShanghaiTech, SynthVAD 1.1), compressed ``.npz`` (one array;
    SynthVAD >= 1.2) or a folder of per-frame PNGs (natural order, one per frame).
    """
    p = ann.pixel_mask_path
    T = int(ann.num_frames)
    if p is None:
        if shape is None:
            raise DatasetError(f"{ann.video_id}: no pixel mask and no frame size to make an empty one")
        return np.zeros((T, *shape), np.uint8)
    p = Path(p)
    if p.is_dir():
        import cv2

        from vadkit.data.video import _natural_key

        files = sorted(p.glob("*.png"), key=_natural_key)
        arr = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]) if files else np.zeros((0, 1, 1))
    elif p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            arr = z[z.files[0]]
    else:
        arr = np.load(p, mmap_mode="r", allow_pickle=False)
    if arr.ndim != 3 or arr.shape[0] != T:
        raise DatasetError(f"{p}: pixel mask has shape {arr.shape}, expected [{T}, H, W]")
    return (np.asarray(arr) > 0).astype(np.uint8)
