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
    ``extra`` holds ``caption_spans`` (the spans as written), ``agents`` (object class, role,
    clothing/paint colours of every agent id) and, from generator 1.2 on, ``instance_mask_path``
    (``instance_mask/<id>.npz``, modal agent ids ``[T, H, W]``) and ``activity_path``
    (``activity/<id>.json``, read with :func:`load_activity`). ``pixel_mask_path`` is ``.npz`` from 1.2
    on (``.npy`` before): read it with :meth:`VideoAnnotation.pixel_mask`. The class vocabulary is the
    manifest's (the default nine classes, plus any context types the root was generated with).
    """
    root = Path(root)
    meta = read_manifest(root)
    if split is not None and split not in meta["splits"]:
        raise DatasetError(f"{root / MANIFEST}: no split {split!r}; splits are {list(meta['splits'])}")
    fps = float(meta["fps"])
    ds = DatasetAnnotations("synthvad", {}, tuple(meta.get("class_names", CLASS_NAMES)), root,
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
        pm = _first_file(root / "test_pixel_mask" / f"{vid}.npz", root / "test_pixel_mask" / f"{vid}.npy")
        extra = {"caption_spans": text["captions"], "agents": agents}
        for key, path in (("instance_mask_path", root / "instance_mask" / f"{vid}.npz"),
                          ("activity_path", root / "activity" / f"{vid}.json")):
            if path.is_file():
                extra[key] = path
        ds.add(VideoAnnotation(
            video_id=vid, split=info["split"], classes=tuple(info["classes"]), num_frames=T, fps=fps,
            video_path=_need(root / "videos" / f"{vid}.mp4"), segments=segments, frame_labels=frame_labels,
            tracks=tracks, pixel_mask_path=pm, captions=captions,
            explanation=text["explanation"], target_sentences=list(text["target_sentences"]),
            trajectory_sentences=list(text["trajectory_sentences"]),
            qa=[QAPair(q, a, "yesno") for q, a in text["qa"]], scene=info["scene"],
            extra=extra,
        ))
    return ds


def _first_file(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


# ----------------------------------------------------------------------------------------------
# activity ground truth (no real format exists: a documented JSON schema)
# ----------------------------------------------------------------------------------------------
_SINGLE_KEYS = {"id": int, "text": str, "anomalous": bool, "label": str}
_PAIR_KEYS = {"ids": list, "distance": (int, float), "h": (int, float), "text": str, "relation": str,
              "anomalous": bool, "labels": list}
_AGENT_KEYS = {"object_class": str, "target": str, "trajectory": str}
_TURN_KEYS = {"question": str, "answer": str, "kind": str}


def _check(obj, keys: dict, where: str, path: Path) -> None:
    if not isinstance(obj, dict):
        raise AnnotationError(f"{path}: {where} is {type(obj).__name__}, expected an object")
    for k, typ in keys.items():
        if k not in obj:
            raise AnnotationError(f"{path}: {where} lacks {k!r}")
        if not isinstance(obj[k], typ) or (typ is int and isinstance(obj[k], bool)):
            raise AnnotationError(f"{path}: {where}.{k} is {type(obj[k]).__name__}, expected "
                                  f"{getattr(typ, '__name__', typ)}")


def read_activity(path) -> dict:
    """Read and validate one activity file (schema in :func:`load_activity`); errors name the file."""
    from vadkit.data.synth.activity import ACTIVITY_SCHEMA

    path = _need(Path(path))
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != ACTIVITY_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise AnnotationError(f"{path}: schema {got!r}, expected {ACTIVITY_SCHEMA!r}")
    for k in ("agents", "windows", "dialogue"):
        if k not in doc:
            raise AnnotationError(f"{path}: lacks {k!r}")
    for aid, row in doc["agents"].items():
        _check(row, _AGENT_KEYS, f"agents[{aid}]", path)
    known = {int(a) for a in doc["agents"]}
    last = -1
    for n, w in enumerate(doc["windows"]):
        _check(w, {"start": int, "end": int, "singles": list, "pairs": list}, f"windows[{n}]", path)
        if not last < w["start"] < w["end"]:
            raise AnnotationError(f"{path}: windows[{n}] = [{w['start']}, {w['end']}] is empty or out of order")
        last = w["start"]
        for m, row in enumerate(w["singles"]):
            _check(row, _SINGLE_KEYS, f"windows[{n}].singles[{m}]", path)
            if row["id"] not in known:
                raise AnnotationError(f"{path}: windows[{n}].singles[{m}] names agent {row['id']}, not in 'agents'")
        for m, row in enumerate(w["pairs"]):
            _check(row, _PAIR_KEYS, f"windows[{n}].pairs[{m}]", path)
            if len(row["ids"]) != 2 or not set(row["ids"]) <= known or row["ids"][0] >= row["ids"][1]:
                raise AnnotationError(f"{path}: windows[{n}].pairs[{m}].ids = {row['ids']}: need two known agent "
                                      f"ids in increasing order")
    for n, turn in enumerate(doc["dialogue"]):
        _check(turn, _TURN_KEYS, f"dialogue[{n}]", path)
    return doc


def load_activity(root, video_id: str) -> dict:
    """The activity ground truth of one video: ``activity/<video_id>.json`` (SynthVAD >= 1.2).

    No real dataset has this level, so it is a JSON document with this schema (checked on read; every
    problem is an :class:`~vadkit.errors.AnnotationError` naming the file)::

        {
          "schema": "synthvad-activity/1",
          "video_id": str, "fps": float,
          "delta_s": float, "delta_frames": int,          # window length, seconds and frames (D)
          "pair_rule": {"point": "box bottom centre", "distance": ..., "h": "larger box height",
                        "h_scale": float},                # vadkit.data.pairs
          "agents": {                                      # every visible agent but debris
            "<track id>": {"object_class": "person" | "car" | "bicycle",
                           "role": str | null,             # "thief", "victim", "runner", ... (anomalous agents)
                           "event": str | null,            # anomaly type of the agent's event, else null
                           "target": str,                  # appearance sentence (T-VAD "Target")
                           "trajectory": str}              # motion sentence (T-VAD "Trajectory")
          },
          "windows": [                                     # every D frames: [start, end = start + D]
            {"start": int, "end": int,
             "singles": [{"id": int, "text": str,          # agents visible at both start and end
                          "anomalous": bool, "label": str}],       # label: anomaly type or "normal"
             "pairs": [{"ids": [int, int],                 # increasing; interacting at frame start
                        "distance": float, "h": float,     # d < h (pseudo-depth rule)
                        "text": str, "relation": str,      # "<single a>; <single b>; <relation>"
                        "anomalous": bool, "labels": [str, str]}]}
          ],
          "dialogue": [{"question": str, "answer": str,
                        "kind": "yesno" | "which_target" | "when_start" | "what",
                        "track_ids": [int], "start_s": float, "start_frame": int, ...}]
        }

    Track ids are those of ``objects/<video_id>.csv``, ``rbdc/`` and the instance maps. For another
    window length or pair threshold use :func:`activity_text`.
    """
    return read_activity(Path(root) / "activity" / f"{video_id}.json")


def activity_text(root, video_id: str, *, delta_s: float = 1.0, h_scale: float = 1.0) -> dict:
    """The activity document of one video recomputed from the root's files for another ``delta_s`` or
    ``h_scale`` (same code as the generator's: :func:`vadkit.data.synth.activity.build_document`)."""
    from vadkit.data.synth.activity import activity_tracks, build_document
    from vadkit.data.synth.world import make_scene

    root = Path(root)
    meta = read_manifest(root)
    if video_id not in meta["videos"]:
        raise DatasetError(f"{root / MANIFEST}: no video {video_id!r}")
    info = meta["videos"][video_id]
    path = root / "objects" / f"{video_id}.csv"
    rows = _read_objects(path)
    if rows and "act" not in rows[0]:
        raise AnnotationError(f"{path}: no 'act' column (SynthVAD < 1.2); regenerate the root")
    tracks = activity_tracks((r["frame"], r["track_id"], r["x1"], r["y1"], r["x2"], r["y2"], r["object_class"],
                              r["anomalous"], r["label"], r["act"]) for r in rows)
    written = load_activity(root, video_id)
    anomalous_text = {int(k): (v["target"], v["trajectory"]) for k, v in written["agents"].items() if v["event"]}
    scene = make_scene(info["scene"], int(meta["width"]), int(meta["height"]))
    return build_document(video_id, tracks, info.get("agents", {}), scene, float(meta["fps"]),
                          int(info["num_frames"]), info["segments"], anomalous_text, delta_s=delta_s,
                          h_scale=h_scale)
