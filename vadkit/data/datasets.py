"""Load any supported dataset into :class:`~vadkit.data.annotations.DatasetAnnotations`, and verify
a dataset root against its manifest.

>>> ann = load_dataset("ucf_crime", "/data/UCF-Crime", split="test")        # doctest: +SKIP
>>> report = verify_dataset("ucf_crime", "/data/UCF-Crime"); print(report.format())  # doctest: +SKIP

Videos are located **by file name anywhere under the root** (``<video_id>.<ext>``), so the folder
layout the archives unpack to can be kept; ``video_path`` is attached when the file exists.
Annotation files are found with the glob patterns of the manifest's ``annotation.files``.

A root written by :func:`vadkit.data.layouts.write_layout` (SynthVAD in a real dataset's on-disk
layout) carries a hidden marker file, ``.vadkit_layout.json``. Loaders read such a tree exactly as the
real dataset; the marker only replaces two dataset-wide facts that differ from the real release: the
frame rate attached to videos (SynthVAD's, not the manifest's) and, in :func:`verify_dataset`, the
real release's file counts (a rehearsal tree holds a handful of videos).
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vadkit.data import parsers as P
from vadkit.data.annotations import NORMAL, DatasetAnnotations, VideoAnnotation
from vadkit.data.manifests import Manifest, load_manifest
from vadkit.errors import AnnotationError, DatasetError, VideoReadError

PathLike = str | os.PathLike
log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")

#: Hidden file a :mod:`vadkit.data.layouts` tree carries (layout, SynthVAD provenance, fps, id mapping).
LAYOUT_MARKER = ".vadkit_layout.json"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _root(root: PathLike, name: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root for {name!r} does not exist (see 'vadkit data info {name}')")
    return root


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def video_index(root: Path) -> dict[str, Path]:
    """``stem -> path`` of every video file under ``root`` (hidden files skipped; first found wins)."""
    index: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in VIDEO_EXTS and p.is_file() and _visible(p, root):
            index.setdefault(p.stem, p)
    return index


def _find(root: Path, pattern: str | None, required_what: str | None = None) -> Path | None:
    if not pattern:
        return None
    hits = sorted(p for p in root.glob(pattern) if _visible(p, root))
    if not hits:
        if required_what:
            raise DatasetError(f"{root}: {required_what} not found (looked for {pattern!r})")
        return None
    return hits[0]


def layout_marker(root: PathLike, name: str | None = None) -> dict | None:
    """The marker of a SynthVAD tree in a real layout (``None`` for a real dataset root).

    With ``name``, a marker written for another layout is ignored (returns ``None``).
    """
    import json

    path = Path(root) / LAYOUT_MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable layout marker ({err}); rewrite the tree with "
                           f"'vadkit data synth --layout ...'") from None
    if not isinstance(marker, dict) or "layout" not in marker:
        raise DatasetError(f"{path}: not a vadkit layout marker (no 'layout' field)")
    if name is not None and marker["layout"] != name:
        return None
    return marker


def _attach_videos(ann: DatasetAnnotations, root: Path) -> DatasetAnnotations:
    index = video_index(root)
    for vid, v in ann.videos.items():
        p = index.get(vid)
        if p is not None:
            v.video_path = p
    ann.root = root
    return ann


def _merge(name: str, parts: list[DatasetAnnotations], class_names=()) -> DatasetAnnotations:
    out = DatasetAnnotations(name, class_names=tuple(class_names))
    for part in parts:
        for v in part.values():
            if v.video_id not in out.videos:
                out.add(v)
        out.meta.update(part.meta)
    return out


# ----------------------------------------------------------------------------------------------
# per-dataset loaders: (root, manifest) -> DatasetAnnotations (all splits)
# ----------------------------------------------------------------------------------------------


def _load_ucf(root: Path, m: Manifest) -> DatasetAnnotations:
    files = m.annotation["files"]
    temporal = _find(root, files["temporal"], "UCF-Crime Temporal_Anomaly_Annotation.txt")
    test = P.parse_ucf_temporal(temporal, end_inclusive=None)
    parts = [test]
    train_list = _find(root, files.get("train_list"))
    if train_list is not None:
        train = DatasetAnnotations("ucf_crime")
        for cls, vid in P.parse_ucf_split_list(train_list):
            train.add(VideoAnnotation(vid, split="train", classes=() if cls == NORMAL else (cls,)))
        parts.append(train)
    found = list(dict.fromkeys(c for part in parts for v in part.values() for c in v.classes))
    # the release's 13 classes in their folder order; a tree with other classes (a SynthVAD tree in
    # this layout) keeps its own vocabulary, in order of appearance
    return _merge("ucf_crime", parts, P.UCF_CLASSES if set(found) <= set(P.UCF_CLASSES) else found)


def _load_xd(root: Path, m: Manifest) -> DatasetAnnotations:
    files = m.annotation["files"]
    multi = _find(root, files.get("multiclass"))
    if multi is not None:
        test = P.parse_xd_multiclass(multi)
    else:
        test = P.parse_xd_annotations(_find(root, files["temporal"], "XD-Violence annotations.txt"))
    out = _merge("xd_violence", [test], test.class_names)
    # Normal test videos and all training videos have no annotation line: take them from the files,
    # with the split from the folder name and the labels from the file name.
    for stem, path in video_index(root).items():
        try:
            vid, classes = P.parse_xd_video_name(stem)
        except AnnotationError:
            continue
        if vid in out.videos:
            continue
        # the split comes from the folder names only: film titles ("The.Greatest.Showman", "Protest")
        # contain "test" / "train" too
        folders = "/".join(path.relative_to(root).parent.parts).lower()
        split = "test" if "test" in folders else ("train" if "train" in folders else None)
        if split == "test" and classes:
            # a violent test video without intervals cannot be scored at frame level: keep it out
            log.warning("%s: violent test video %r has no line in the annotation file; skipped", path, vid)
            out.meta.setdefault("skipped", []).append(str(path))
            continue
        out.add(VideoAnnotation(vid, split=split, classes=classes))
    return out


def _load_shanghaitech(root: Path, m: Manifest) -> DatasetAnnotations:
    files = m.annotation["files"]
    masks = _find(root, files["frame_masks"], "ShanghaiTech test_frame_mask folder")
    test = P.parse_frame_masks(masks)
    pix = _find(root, files.get("pixel_masks"))
    for vid, v in test.items():
        if pix is not None and (pix / f"{vid}.npy").is_file():
            v.pixel_mask_path = pix / f"{vid}.npy"
        frames_dir = masks.parent / "frames" / vid
        if frames_dir.is_dir():
            v.extra["frames_dir"] = frames_dir
            v.video_path = frames_dir  # test videos ship as JPEG frame folders; VideoReader reads them
        v.classes = ("abnormal",) if v.frame_labels is not None and v.frame_labels.any() else ()
        v.scene = vid.split("_")[0]
    out = _merge("shanghaitech", [test], ("abnormal",))
    for p in sorted(root.glob("**/training/videos/*.avi")):
        if p.stem not in out.videos:
            out.add(VideoAnnotation(p.stem, split="train", scene=p.stem.split("_")[0]))
    return out


def _load_ubnormal(root: Path, m: Manifest) -> DatasetAnnotations:
    split_file = _find(root, m.annotation["files"]["splits"], "UBnormal split lists (*_video_names.txt)")
    splits = P.parse_ubnormal_splits(split_file.parent)
    ann_dirs = {p.name[: -len("_annotations")]: p for p in root.glob("**/*_annotations") if p.is_dir()}
    out = DatasetAnnotations("ubnormal", class_names=("abnormal",))
    for split, names in splits.items():
        for vid in names:
            lab = P.ubnormal_label(vid)
            v = VideoAnnotation(vid, split=split, classes=("abnormal",) if lab == "abnormal" else (), fps=30.0)
            parts = vid.split("_")
            if len(parts) > 2 and parts[1] == "scene":
                v.scene = f"scene_{parts[2]}"
            d = ann_dirs.get(vid)
            if d is not None:
                v.extra["annotation_dir"] = d
                tf = P.ubnormal_tracks_file(d, vid)
                if tf is not None:
                    v.extra["tracks_file"] = tf
                    v.extra["track_rows"] = P.parse_ubnormal_tracks(tf)
                    v.segments = P.ubnormal_segments(v.extra["track_rows"])
            out.add(v)
    return out


def _load_tad(root: Path, m: Manifest) -> DatasetAnnotations:
    files = m.annotation["files"]
    parts = [P.parse_tad(_find(root, files["test"], "TAD labels/TAD_test.txt"), split="test")]
    train = _find(root, files.get("train"))
    if train is not None:
        # UMIL's training list has four fields ('path start end class'); a list in the test layout
        # (five fields, with intervals) is read as such
        first = next((line.split() for line in train.read_text().splitlines() if line.strip()), [])
        parts.append(P.parse_tad(train, split="train") if len(first) == 5 else P.parse_tad_train(train))
    return _merge("tad", parts, parts[0].class_names)


def _load_avenue(root: Path, m: Manifest) -> DatasetAnnotations:
    test = P.parse_avenue_mat(_find(root, m.annotation["files"]["label_masks"], "Avenue testing_label_mask folder"))
    out = _merge("avenue", [test], ("abnormal",))
    for folder, split in (("testing_videos", "test"), ("training_videos", "train")):
        for p in sorted(root.glob(f"**/{folder}/*.avi")):
            vid = f"{int(p.stem):02d}" if p.stem.isdigit() else p.stem
            key = vid if split == "test" else f"train_{vid}"
            if split == "test" and key in out.videos:
                out.videos[key].video_path = p
            elif key not in out.videos:
                out.add(VideoAnnotation(key, split=split, video_path=p))
    return out


def _load_ucsd(root: Path, m: Manifest) -> DatasetAnnotations:
    gt = _find(root, m.annotation["files"]["gt_script"], "UCSD Ped2 ground truth UCSDped2.m")
    test = P.parse_ucsd_m(gt, name="ucsd_ped2")
    for vid, v in test.items():
        d = gt.parent / vid
        if d.is_dir():
            v.video_path = d  # a TIFF frame folder
            v.extra["frames_dir"] = d
            v.num_frames = len(list(d.glob("*.tif")))
        if (gt.parent / f"{vid}_gt").is_dir():
            v.extra["pixel_mask_dir"] = gt.parent / f"{vid}_gt"
    out = _merge("ucsd_ped2", [test], ("abnormal",))
    for d in sorted((gt.parent.parent / "Train").glob("Train???")):
        out.add(VideoAnnotation(d.name, split="train", video_path=d, num_frames=len(list(d.glob("*.tif"))),
                                extra={"frames_dir": d}))
    return out


def _unsupported(reason: str) -> Callable:
    def load(root: Path, m: Manifest) -> DatasetAnnotations:
        raise DatasetError(f"{m.name}: no automatic loader: {reason} (see 'vadkit data info {m.name}')")

    return load


def _load_synthvad(root: Path, m: Manifest) -> DatasetAnnotations:
    from vadkit.data.synth import load_synthvad

    return load_synthvad(root)  # split filtering is done by load_dataset


def _load_real_footage(root: Path, m: Manifest) -> DatasetAnnotations:
    out = DatasetAnnotations("real_footage", class_names=())
    for e in m.tree:
        p = root / e.pattern
        if p.is_file():
            from vadkit.data.video import probe

            info = probe(p)
            out.add(VideoAnnotation(p.stem, split="all", video_path=p, num_frames=info.num_frames, fps=info.fps))
    if not out.videos:
        raise DatasetError(f"{root}: none of vtest.avi / bikes.mp4 found (run 'vadkit data fetch all')")
    return out


def _load_real_injected(root: Path, m: Manifest) -> DatasetAnnotations:
    from vadkit.data.real_footage import load_injected

    return load_injected(root)


LOADERS: dict[str, Callable[[Path, Manifest], DatasetAnnotations]] = {
    "ucf_crime": _load_ucf,
    "xd_violence": _load_xd,
    "shanghaitech": _load_shanghaitech,
    "ubnormal": _load_ubnormal,
    "tad": _load_tad,
    "avenue": _load_avenue,
    "ucsd_ped2": _load_ucsd,
    "street_scene": _unsupported("the *_gt.txt column layout is not verified; convert to "
                                 "'track_id,frame,x1,y1,x2,y2' rows and use parsers.parse_box_tracks"),
    "complexvad": _unsupported("the annotation JSON schema is not available to vadkit"),
    "synthvad": _load_synthvad,
    "real_footage": _load_real_footage,
    "real_injected": _load_real_injected,
}


def load_dataset(name: str, root: PathLike, split: str | None = None) -> DatasetAnnotations:
    """Annotations of dataset ``name`` stored under ``root`` (optionally one ``split``).

    Dispatches to the parsers named in the manifest; attaches ``video_path`` (and ``fps`` from the
    manifest when it is known) for videos found under ``root``. Unknown names, missing roots or
    missing annotation files raise :class:`~vadkit.errors.DatasetError`.
    """
    if name not in LOADERS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(LOADERS))}")
    m = load_manifest(name, schema=False)
    root = _root(root, name)
    ann = LOADERS[name](root, m)
    if name not in ("synthvad", "real_injected", "ucsd_ped2", "avenue"):  # these set their own paths
        _attach_videos(ann, root)
    ann.root = root
    ann.meta.setdefault("manifest", str(m.path))
    fps = m.fps
    marker = layout_marker(root, name)
    if marker is not None and marker.get("fps"):
        for v in ann.values():  # a SynthVAD tree keeps SynthVAD's frame rate, whatever the release's is
            v.fps = float(marker["fps"])
        ann.meta["layout"] = {k: marker[k] for k in ("layout", "layout_version", "source_request_hash") if k in marker}
    elif fps:
        for v in ann.values():
            if v.fps is None:
                v.fps = float(fps)
    if split is not None:
        known = sorted({v.split for v in ann.values() if v.split is not None})
        if split not in known:
            raise DatasetError(f"{name}: no videos in split {split!r} under {root} (splits found: {known})")
        ann = ann.split(split)
    return ann


# ----------------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------------


@dataclass
class Problem:
    path: str
    message: str
    archive: str | None = None


@dataclass
class VerifyReport:
    """Result of :func:`verify_dataset`. ``ok`` is True when nothing is missing, misnamed or corrupt."""

    name: str
    root: Path
    missing: list[Problem] = field(default_factory=list)
    misnamed: list[tuple[str, str]] = field(default_factory=list)  # (expected, found)
    corrupt: list[Problem] = field(default_factory=list)
    bad_annotations: list[Problem] = field(default_factory=list)  # empty or unparsable annotation files
    extra: list[str] = field(default_factory=list)
    checked_videos: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.misnamed or self.corrupt or self.bad_annotations)

    def format(self, limit: int = 20) -> str:
        """Human-readable report: one section per problem kind, each capped at ``limit`` lines."""
        lines = [f"{self.name} at {self.root}: {'OK' if self.ok else 'PROBLEMS FOUND'}"]
        for pat, n in self.counts.items():
            lines.append(f"  {n:>7}  {pat}")
        lines.append(f"  videos probed: {self.checked_videos}")

        def section(title, items, fmt):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines.extend("  " + fmt(x) for x in items[:limit])
                if len(items) > limit:
                    lines.append(f"  ... and {len(items) - limit} more")

        section("missing", self.missing, lambda p: f"{p.path}: {p.message}" + (f"  -> fetch archive {p.archive!r}" if p.archive else ""))
        section("misnamed (expected <- found)", self.misnamed, lambda t: f"{t[0]} <- {t[1]}")
        section("corrupt", self.corrupt, lambda p: f"{p.path}: {p.message}")
        section("annotation files empty or unreadable", self.bad_annotations, lambda p: f"{p.path}: {p.message}"
                + (f"  -> fetch archive {p.archive!r} again" if p.archive else ""))
        section("extra (not expected by the manifest)", self.extra, str)
        for n in self.notes:
            lines.append(f"note: {n}")
        if not self.ok:
            lines.append(f"see 'vadkit data info {self.name}' for download locations and the expected layout")
        return "\n".join(lines)


def _expected_video_ids(name: str, root: Path, m: Manifest, report: VerifyReport) -> dict[str, str | None] | None:
    """``{video_id: split}`` the annotation files promise, or None when they cannot be read."""
    if name == "real_footage":
        return None
    try:
        ann = LOADERS[name](root, m)
    except AnnotationError as err:  # a file that is there but malformed: a problem, not a note
        report.bad_annotations.append(Problem(getattr(err, "path", None) or "annotations", str(err)))
        return None
    except DatasetError as err:     # missing files (reported by the tree check) or an unsupported dataset
        report.notes.append(f"annotations not readable, video names not checked: {err}")
        return None
    if name in ("shanghaitech", "ucsd_ped2", "avenue"):
        return None  # frame folders / numbered files: counts in the tree suffice
    if name == "xd_violence":
        return {v: a.split for v, a in ann.items() if a.split == "test" and a.classes}
    return {v: a.split for v, a in ann.items()}


#: annotation files that are text: one whose content is only whitespace holds no annotation either
_TEXT_SUFFIXES = (".txt", ".csv", ".json", ".yaml", ".yml", ".m", ".lst", ".list")


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def empty_annotation_problem(path: Path, recorded_sha256: str | None = None) -> str | None:
    """Why the annotation file ``path`` holds no annotation (``None`` when it is not empty).

    An empty annotation file is not a valid release: a parser would read it as "no anomalous video" (or no
    video at all) and every downstream number would silently change. Zero bytes, or only whitespace in a text
    file, is an error, unless the dataset's own checksum record says the file *is* empty
    (``recorded_sha256`` = sha256 of zero bytes: a SynthVAD root whose val/test splits hold no abnormal video
    writes an empty XD-layout list, and records it so).
    """
    size = path.stat().st_size
    if size == 0 and recorded_sha256 == _EMPTY_SHA256:
        return None
    if size == 0:
        return "empty file (0 bytes): no annotation in it"
    if path.suffix.lower() in _TEXT_SUFFIXES and size < (1 << 16):
        try:
            if not path.read_text(errors="replace").strip():
                return f"holds only whitespace ({size} bytes): no annotation in it"
        except OSError as err:
            return f"unreadable ({err})"
    return None


def _synthvad_checksums(root: Path) -> dict[str, str]:
    import json

    try:
        return dict(json.loads((root / "synthvad.json").read_text()).get("files") or {})
    except (OSError, ValueError):
        return {}


def _archive_for(name: str, vid: str, split: str | None, default: str | None) -> str | None:
    """Archive that provides video ``vid`` (as precise as the manifest's facts allow)."""
    if name == "ucf_crime":
        if vid.startswith("Normal_Videos"):
            # which of the two training parts holds which normal video is not recorded
            return "Testing_Normal_Videos" if split == "test" else "Training-Normal-Videos-Part-1 or -2"
        return "one of Anomaly-Videos-Part-1..4 (by class)"
    return default


def verify_dataset(name: str, root: PathLike, deep: bool = False, probe_videos: bool = True,
                   progress: bool = False, subset: bool = False) -> VerifyReport:
    """Check ``root`` against the manifest of ``name``.

    ``subset=True`` (implied by a :mod:`vadkit.data.layouts` marker) skips the real release's file
    counts: every required pattern needs at least one file, none has a maximum. Everything else is
    checked as for a full copy.

    * **missing**: tree patterns with fewer files than ``min`` and video ids named by the annotation
      files with no file (each with the archive to fetch);
    * **misnamed**: a missing video id whose close match (difflib, ratio >= 0.8) is a video file
      under ``root`` that no annotation names;
    * **corrupt**: videos that fail :func:`vadkit.data.video.probe` (header only; ``deep=True``
      also decodes first/middle/last frames and catches truncation);
    * **extra**: video files matched by no tree pattern (hidden files ignored);
    * sha256 mismatches against the manifest's ``checksums`` (and, with ``deep=True``, against the
      per-file sha256 a SynthVAD root records in ``synthvad.json``) count as corrupt;
    * **annotation files empty or unreadable**: a file of a ``kind: annotation`` or ``mask`` tree pattern
      with zero bytes (or only whitespace), and annotation files the dataset's parser rejects (the
      parser's message names the file and line).
    """
    from vadkit.data.video import probe
    from vadkit.io_utils import sha256_file

    if name not in LOADERS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(LOADERS))}")
    m = load_manifest(name, schema=False)
    root = _root(root, name)
    report = VerifyReport(name, root)
    marker = layout_marker(root, name)
    subset = subset or marker is not None
    if marker is not None:
        report.notes.append(
            f"a SynthVAD tree in the {name} layout (vadkit.data.layouts v{marker.get('layout_version')}, "
            f"{len(marker.get('videos') or {})} videos): the real release's file counts are not checked; "
            f"file names, annotation formats, the videos the annotations name and video integrity are")
    elif subset:
        report.notes.append("subset mode: the real release's file counts are not checked")
    recorded = dict(m.checksums)
    if name == "synthvad":
        recorded.update(_synthvad_checksums(root))
    all_files = [p for p in root.rglob("*") if p.is_file() and _visible(p, root)]
    matched: set[Path] = set()
    video_files: set[Path] = set()
    for e in m.tree:
        hits = [p for p in root.glob(e.pattern) if p.is_file() and _visible(p, root)]
        matched.update(hits)
        if e.kind == "video":
            video_files.update(hits)
        report.counts[e.pattern] = len(hits)
        if e.kind in ("annotation", "mask"):
            for h in sorted(hits):
                problem = empty_annotation_problem(h, recorded.get(str(h.relative_to(root))))
                if problem:
                    report.bad_annotations.append(Problem(str(h.relative_to(root)), problem, e.archive))
        lo, hi = (min(e.min, 1), None) if subset else (e.min, e.max)
        if len(hits) < lo and e.required:
            report.missing.append(Problem(e.pattern, f"found {len(hits)} files, expected at least {lo} ({e.description})", e.archive))
        elif hi is not None and len(hits) > hi:
            report.notes.append(f"{e.pattern}: {len(hits)} files, more than the expected {hi}")

    expected = _expected_video_ids(name, root, m, report)
    if expected is not None:
        index = video_index(root)
        missing_ids = sorted(set(expected) - set(index))
        unclaimed = sorted(set(index) - set(expected))
        video_archive = next((e.archive for e in m.tree if e.kind == "video"), None)
        # Match from the file side: each unclaimed video file claims its closest missing id, so a
        # renamed file is paired with the id it was meant to be, not with the first similar one.
        claimed: dict[str, str] = {}
        for stem in unclaimed:
            close = difflib.get_close_matches(stem, [v for v in missing_ids if v not in claimed], n=1, cutoff=0.8)
            if close:
                claimed[close[0]] = stem
        for vid in missing_ids:
            if vid in claimed:
                report.misnamed.append((vid, str(index[claimed[vid]].relative_to(root))))
            else:
                report.missing.append(Problem(vid, "video file not found under the root",
                                              _archive_for(name, vid, expected[vid], video_archive)))

    checksums = dict(m.checksums)
    if name == "synthvad" and deep:
        checksums.update(_synthvad_checksums(root))  # the generator records sha256 of every file
    for rel, digest in checksums.items():
        p = root / rel
        if p.is_file() and sha256_file(p) != digest:
            report.corrupt.append(Problem(rel, f"sha256 mismatch (expected {digest[:12]}..)"))

    if probe_videos:
        vids = sorted(video_files)
        it = vids
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(vids, desc=f"verify {name}", unit="video")
        for p in it:
            try:
                probe(p, deep=deep)
            except VideoReadError as err:
                report.corrupt.append(Problem(str(p.relative_to(root)), err.problem))
            report.checked_videos += 1

    report.extra = sorted(str(p.relative_to(root)) for p in all_files if p not in matched
                          and p.suffix.lower() in VIDEO_EXTS)
    return report


# ----------------------------------------------------------------------------------------------
# RBDC/TBDC ground-truth files from UBnormal object maps
# ----------------------------------------------------------------------------------------------


def make_ubnormal_box_tracks(root: PathLike, out: PathLike, progress: bool = True) -> tuple[list[Path], list[Problem]]:
    """Write ``out/<video>_gt.txt`` (``track_id,frame,x1,y1,x2,y2``) for every abnormal UBnormal video.

    Boxes come from the per-frame object maps restricted to the tracks file's objects and frame
    ranges (:func:`vadkit.data.parsers.ubnormal_box_tracks`). Files already present are kept (the
    job resumes); a video whose annotations fail is recorded and skipped. Returns
    ``(written_or_existing_files, failures)``.
    """
    root = _root(root, "ubnormal")
    out = Path(out)
    dirs = sorted(p for p in root.glob("**/abnormal_*_annotations") if p.is_dir())
    if not dirs:
        raise DatasetError(f"{root}: no abnormal_*_annotations folders found (is this a UBnormal root?)")
    it = dirs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(dirs, desc="UBnormal box tracks", unit="video")
    done, failures = [], []
    for d in it:
        video = d.name[: -len("_annotations")]
        target = out / f"{video}_gt.txt"
        if target.is_file():
            done.append(target)
            continue
        try:
            done.append(P.write_box_tracks(target, P.ubnormal_box_tracks(d, video)))
        except (AnnotationError, DatasetError) as err:
            failures.append(Problem(str(d), str(err)))
    return done, failures
