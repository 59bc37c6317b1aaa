"""Read a SynthVAD root back into the common annotation type (:mod:`vadkit.data.annotations`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from vadkit.data.parsers import parse_box_tracks
from vadkit.data.annotations import DatasetAnnotations, QAPair, Segment, Track, VideoAnnotation
from vadkit.data.synth.world import CLASS_NAMES
from vadkit.errors import AnnotationError, DatasetError

MANIFEST = "synthvad.json"


def read_manifest(root) -> dict:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{path}: missing; {Path(root)} is not a complete SynthVAD root "
                           f"(generate one with vadkit.data.synth.generate())")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"{path}: missing from the SynthVAD root")
    return path


def _read_objects(path: Path) -> list[dict]:
    with open(_need(path), newline="") as fh:
        return list(csv.DictReader(fh))


def load_objects(root, video_id: str):
    """All agents in every frame of ``video_id``: a DataFrame with columns ``track_id, frame, x1, y1,
    x2, y2, object_class, anomalous, label`` (``anomalous`` 0/1 per frame; ``label`` the anomaly class
    in anomalous frames, else ``"normal"``)."""
    import pandas as pd

    path = _need(Path(root) / "objects" / f"{video_id}.csv")
    return pd.read_csv(path)


def load_synthvad(root, split: str | None = None) -> DatasetAnnotations:
    """Every level of ground truth of a SynthVAD root (optionally one split) as DatasetAnnotations.

    Per video: ``split``, ``classes`` (anomaly types present, empty for normal videos), ``num_frames``,
    ``fps``, ``video_path``, ``segments`` (inclusive ends, ``label`` = anomaly type),
    ``frame_labels`` (from ``test_frame_mask``), ``tracks``, ``pixel_mask_path`` (abnormal videos),
    ``captions`` (dense: every frame -> the sentence of its span), ``explanation``,
    ``target_sentences``, ``trajectory_sentences``, ``qa`` (:class:`QAPair`, kind ``"yesno"``), ``scene``.

    ``tracks`` holds (a) one track per anomalous agent (``anomalous=True``, ``label`` = anomaly type,
    boxes only in its anomalous frames, exactly the RBDC/TBDC ground truth in ``rbdc/``) and (b) one
    track per agent that is never anomalous (``anomalous=False``, ``label="normal"``, every visible
    frame). Anomalous agents' normal frames (e.g. the walk before a run) are in :func:`load_objects`.
    ``extra`` holds ``caption_spans`` (the spans as written) and ``agents`` (object class, role,
    clothing/paint colours of every agent id).
    """
    root = Path(root)
    meta = read_manifest(root)
    if split is not None and split not in meta["splits"]:
        raise DatasetError(f"{root / MANIFEST}: no split {split!r}; splits are {list(meta['splits'])}")
    fps = float(meta["fps"])
    ds = DatasetAnnotations("synthvad", {}, tuple(CLASS_NAMES), root,
                            {k: meta[k] for k in ("generator_version", "seed", "config", "splits", "anomaly_types")})
    for vid, info in meta["videos"].items():
        if split is not None and info["split"] != split:
            continue
        T = int(info["num_frames"])
        fm_path = _need(root / "test_frame_mask" / f"{vid}.npy")
        frame_labels = np.load(fm_path).astype(np.uint8)
        if frame_labels.shape != (T,):
            raise AnnotationError(f"{fm_path}: shape {frame_labels.shape}, expected ({T},)")
        segments = [Segment(int(s), int(e), label, end_inclusive=True) for s, e, label in info["segments"]]
        agents = info.get("agents", {})
        tracks: list[Track] = []
        if info["classes"]:
            for tr in sorted(parse_box_tracks(_need(root / "rbdc" / f"{vid}_gt.txt")), key=lambda t: t.track_id):
                ag = agents.get(str(tr.track_id), {})
                tracks.append(Track(tr.track_id, tr.frames, tr.boxes, label=ag.get("event"), anomalous=True,
                                    object_class=ag.get("object_class")))
        normal_rows: dict[int, tuple[list, list, str]] = {}
        for row in _read_objects(root / "objects" / f"{vid}.csv"):
            tid = int(row["track_id"])
            if agents.get(str(tid), {}).get("event"):
                continue
            fr, bx, _ = normal_rows.setdefault(tid, ([], [], row["object_class"]))
            fr.append(int(row["frame"]))
            bx.append([float(row[c]) for c in ("x1", "y1", "x2", "y2")])
        for tid, (fr, bx, cls) in sorted(normal_rows.items()):
            tracks.append(Track(tid, np.array(fr), np.array(bx), label="normal", anomalous=False, object_class=cls))
        text = json.loads(_need(root / "text" / f"{vid}.json").read_text())
        captions = {}
        for s, e, sent in text["captions"]:
            for t in range(int(s), int(e) + 1):
                captions[t] = sent
        pm = root / "test_pixel_mask" / f"{vid}.npy"
        ds.add(VideoAnnotation(
            video_id=vid, split=info["split"], classes=tuple(info["classes"]), num_frames=T, fps=fps,
            video_path=_need(root / "videos" / f"{vid}.mp4"), segments=segments, frame_labels=frame_labels,
            tracks=tracks, pixel_mask_path=pm if pm.is_file() else None, captions=captions,
            explanation=text["explanation"], target_sentences=list(text["target_sentences"]),
            trajectory_sentences=list(text["trajectory_sentences"]),
            qa=[QAPair(q, a, "yesno") for q, a in text["qa"]], scene=info["scene"],
            extra={"caption_spans": text["captions"], "agents": agents},
        ))
    return ds
