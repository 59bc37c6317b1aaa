"""Activity ground truth: what every agent and every interacting pair does over ``[t, t + delta]``.

SynthVAD knows each agent's action in every frame (``walk``, ``sit``, ``fall``, ``snatch``, ... the
``act`` column of ``objects/<video_id>.csv``), so its activity text is true by construction. This module
turns those per-frame rows into the text that MLLM-EVAD's describer is asked for and that T-VAD's
all-object phase and multi-turn dialogue are trained on:

* **windows**: every ``delta`` seconds (default 1 s; MLLM-EVAD follows tracks for 30 frames at 30 fps),
  the window ``[t, t + D]`` (``D = round(delta * fps)`` frames) gets one *single* row per agent visible
  in both frame ``t`` and frame ``t + D`` (the two moments whose crops a describer sees) and one *pair*
  row per pair of such agents that interact at frame ``t`` under the pseudo-depth rule of
  :mod:`vadkit.data.pairs` (bottom-centre points, ``h`` = the larger box height);
* **agents**: a target (appearance) sentence and a trajectory (motion) sentence for every agent,
  anomalous or not (the anomalous agents' sentences are those of ``text/<video_id>.json``);
* **dialogue**: a multi-turn exchange per video (is there an anomaly; which target is anomalous; when it
  starts, in seconds; what it does), T-VAD's dialogue format.

The wording is deterministic (one sentence per state), so the same activity always reads the same;
it names no colours in window text (appearance is the target sentence's job). :func:`describe_video` is
the one code path: the generator calls it on the rendered state, and
:func:`vadkit.data.synth.loader.activity_text` calls it on a root's files for another ``delta``.
The JSON schema is in :func:`vadkit.data.synth.loader.load_activity`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vadkit.data.pairs import interacting_pairs
from vadkit.data.synth.text import describe_target, place_name
from vadkit.data.synth.world import Scene

ACTIVITY_SCHEMA = "synthvad-activity/1"
DELTA_S = 1.0

NOUN = {"person": "a person", "car": "a car", "bicycle": "a cyclist"}

#: act -> verb phrase; ``{dir}`` is the direction of motion over the window ("" when it barely moves)
PERSON_VERBS = {
    "walk": "walks{dir}", "jaywalk": "walks across the road{dir}", "approached": "walks{dir}",
    "run": "runs{dir}", "sit": "sits on the bench", "fall": "falls to the ground", "lie": "lies on the ground",
    "get_up": "gets up from the ground", "limp": "limps{dir}", "loiter": "paces back and forth",
    "fight": "fights with arms raised", "approach": "hurries{dir} close behind someone", "snatch": "grabs a bag",
    "flee": "runs away{dir} carrying a bag", "robbed": "stands still after losing a bag",
    "cross": "crosses the road{dir}", "step_onto_road": "steps onto the road",
    "walk_on_road": "walks along the road{dir}", "leave_road": "steps off the road",
    "bend": "stops and bends down", "walk_together": "walks{dir} together with another person",
}
VEHICLE_VERBS = {
    "drive": "drives{dir}", "ride": "rides{dir}", "drive_walkway": "drives{dir}", "crash": "crashes",
    "stopped": "stands still", "drive_away": "drives away slowly{dir}",
    "drive_wrong": "drives{dir} against the traffic", "ride_wrong": "rides{dir} against the traffic",
    "brake": "slows down{dir}", "wait": "stands still", "occupy": "stays parked",
    "u_turn": "turns around across the road", "park": "is parked",
}


def _direction(dx: float, dy: float, height: float) -> str:
    """Direction words of a displacement, '' below a fifth of the agent's height."""
    if np.hypot(dx, dy) < 0.2 * max(height, 1.0):
        return ""
    if abs(dx) >= abs(dy):
        return " to the right" if dx > 0 else " to the left"
    return " towards the camera" if dy > 0 else " away from the camera"


def _runs(acts: list[str]) -> list[str]:
    out: list[str] = []
    for a in acts:
        if not out or out[-1] != a:
            out.append(a)
    return out


def _prep(place: str) -> str:
    return ("in " if place in ("the bike lane", "the bench area", "the parking area") else "on ") + place


def _verbs(kind: str, acts: list[str], direction: str) -> str:
    table = PERSON_VERBS if kind == "person" else VEHICLE_VERBS
    phrases = []
    for a in _runs(acts):
        v = table.get(a)
        if v is None:
            raise KeyError(f"activity text: no wording for act {a!r} of a {kind}")
        phrases.append(v.format(dir=direction))
    return ", then ".join(_runs(phrases))


class ActivityTrack:
    """Rows of one agent: ``frames [n]``, ``boxes [n, 4]``, ``acts [n]``, ``labels [n]`` ('normal' or type)."""

    def __init__(self, frames, boxes, acts, labels):
        order = np.argsort(frames, kind="stable")
        self.frames = np.asarray(frames, int)[order]
        self.boxes = np.asarray(boxes, float).reshape(-1, 4)[order]
        self.acts = [acts[i] for i in order]
        self.labels = [labels[i] for i in order]
        self.row = {int(f): i for i, f in enumerate(self.frames)}

    def window(self, t0: int, t1: int) -> slice:
        i0, i1 = self.row[t0], self.row[t1]
        return slice(i0, i1 + 1)


def activity_tracks(rows) -> dict[int, ActivityTrack]:
    """``{agent id: ActivityTrack}`` from rows ``(frame, track_id, x1, y1, x2, y2, object_class, anomalous,
    label, act)`` (the columns of ``objects/<video_id>.csv``, frame first)."""
    by: dict[int, tuple[list, list, list, list]] = {}
    for t, aid, x1, y1, x2, y2, _kind, _an, label, act in rows:
        fr, bx, ac, lb = by.setdefault(int(aid), ([], [], [], []))
        fr.append(int(t))
        bx.append((float(x1), float(y1), float(x2), float(y2)))
        ac.append(str(act))
        lb.append(str(label))
    return {aid: ActivityTrack(*v) for aid, v in sorted(by.items())}


def lane_at(scene: Scene, y: float) -> str | None:
    """Name of the lane whose ground line is nearest the bottom edge ``y`` (within 4 px at scale 1)."""
    best = min(scene.lanes, key=lambda ln: abs(ln.y - y))
    return best.name if abs(best.y - y) <= 4 * scene.scale else None


def _single(kind: str, tr: ActivityTrack, t0: int, t1: int, scene: Scene) -> dict:
    w = tr.window(t0, t1)
    b0, b1 = tr.boxes[tr.row[t0]], tr.boxes[tr.row[t1]]
    (x0, y0), (x1, y1) = ((b0[0] + b0[2]) / 2, b0[3]), ((b1[0] + b1[2]) / 2, b1[3])
    direction = _direction(x1 - x0, y1 - y0, b0[3] - b0[1])
    acts = tr.acts[w]
    labels = [lb for lb in tr.labels[w] if lb != "normal"]
    place = place_name(scene, (x0 + x1) / 2, (y0 + y1) / 2)
    lane = lane_at(scene, (y0 + y1) / 2)
    where = f"in the {lane}" if lane and place in ("the road", "the bike lane") else _prep(place)
    verbs = _verbs(kind, acts, direction)
    text = f"{NOUN[kind]} {verbs}" if set(acts) == {"sit"} else f"{NOUN[kind]} {verbs} {where}"
    return {"text": text, "acts": _runs(acts), "move": [round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
            "anomalous": bool(labels), "label": labels[0] if labels else "normal"}


def _relation(ka: str, kb: str, sa: dict, sb: dict) -> str:
    """What two interacting agents do to each other over the window."""
    la, lb = sa["label"], sb["label"]
    acts = set(sa["acts"]) | set(sb["acts"])
    if la != "normal" and la == lb:
        if la == "fighting":
            return "they fight each other"
        if la == "theft":
            if "snatch" in acts:
                return "one snatches the other's bag"
            if "flee" in acts:
                return "one runs off with the other's bag"
            if "approach" in acts:
                return "one follows close behind the other"
            return "one has just been robbed by the other"
        if la == "collision":
            if ka == kb == "car":
                return ("the two damaged cars drive away one behind the other" if acts <= {"drive_away"}
                        else "one car has driven into the back of the other")
            if {"fall", "crash"} & acts or "lie" in acts:
                return "the car has hit the person"
            return "the person moves off after being hit by the car"
    ma, mb = np.array(sa["move"]), np.array(sb["move"])
    still_a, still_b = np.hypot(*ma) < 1.0, np.hypot(*mb) < 1.0
    if still_a and still_b:
        return "they sit next to each other" if {"sit"} == set(sa["acts"]) == set(sb["acts"]) else \
            "they stay close to each other"
    if still_a or still_b:
        return "one passes the other, who stays in place"
    cos = float(ma @ mb) / (np.hypot(*ma) * np.hypot(*mb))
    if cos > 0.7:  # within ~45 degrees
        if ka == kb == "person":
            return "they walk together in the same direction"
        return "one follows the other in the same direction"
    if cos < -0.7:
        return "they pass each other going opposite ways"
    return "their paths cross"


def describe_video(tracks: Mapping[int, ActivityTrack], agents: Mapping[str, Mapping], scene: Scene, fps: float,
                   num_frames: int, *, delta_s: float = DELTA_S, h_scale: float = 1.0) -> list[dict]:
    """Activity windows of one video (the ``windows`` list of the activity JSON).

    ``tracks``: ``{agent id: ActivityTrack}`` of every visible agent (debris is skipped); ``agents``: the
    manifest's ``{str(id): {"object_class", "role", "event", "attributes"}}``.
    """
    D = max(int(round(delta_s * fps)), 1)
    windows = []
    for t0 in range(0, num_frames - D, D):
        t1 = t0 + D
        present = {aid: tr for aid, tr in tracks.items()
                   if t0 in tr.row and t1 in tr.row and agents[str(aid)]["object_class"] in NOUN}
        singles = {}
        for aid, tr in sorted(present.items()):
            singles[aid] = _single(agents[str(aid)]["object_class"], tr, t0, t1, scene)
        boxes = {aid: tr.boxes[tr.row[t0]] for aid, tr in present.items()}
        pairs = []
        for i, j, d, h in interacting_pairs(boxes, h_scale):
            ki, kj = agents[str(i)]["object_class"], agents[str(j)]["object_class"]
            si, sj = singles[i], singles[j]
            rel = _relation(ki, kj, si, sj)
            text = f"{si['text'][0].upper() + si['text'][1:]}; {sj['text']}; {rel}"
            pairs.append({"ids": [int(i), int(j)], "distance": round(d, 2), "h": round(h, 2), "text": text,
                          "relation": rel, "anomalous": si["anomalous"] or sj["anomalous"],
                          "labels": [si["label"], sj["label"]]})
        windows.append({"start": t0, "end": t1,
                        "singles": [{"id": int(aid), **{k: v for k, v in s.items() if k not in ("acts", "move")}}
                                    for aid, s in singles.items()],
                        "pairs": pairs})
    return windows


def trajectory_of(object_class: str, tr: ActivityTrack, scene: Scene) -> str:
    """Motion sentence of a whole visible track (the normal agents' trajectory sentence)."""
    noun = {"person": "the person", "car": "the car", "bicycle": "the cyclist"}[object_class]
    b0, b1 = tr.boxes[0], tr.boxes[-1]
    (x0, y0), (x1, y1) = ((b0[0] + b0[2]) / 2, b0[3]), ((b1[0] + b1[2]) / 2, b1[3])
    mid = tr.boxes[len(tr.boxes) // 2]
    place = place_name(scene, (mid[0] + mid[2]) / 2, mid[3])
    lane = lane_at(scene, mid[3])
    if lane and place in ("the road", "the bike lane"):
        place = f"the {lane}"
    acts = _runs(tr.acts)
    if acts == ["sit"]:
        return f"{noun} sits on the bench the whole time"
    verb = _verbs(object_class, acts, "")
    if np.hypot(x1 - x0, y1 - y0) < 0.2 * max(b0[3] - b0[1], 1.0):
        return f"{noun} {verb} {_prep(place)}"
    if abs(x1 - x0) >= abs(y1 - y0):
        fr, to = ("left", "right") if x1 > x0 else ("right", "left")
    else:
        fr, to = ("top", "bottom") if y1 > y0 else ("bottom", "top")
    return f"{noun} {verb} along {place} from the {fr} to the {to}"


def agent_sentences(tracks: Mapping[int, ActivityTrack], agents: Mapping[str, Mapping], scene: Scene,
                    anomalous_text: Mapping[int, tuple[str, str]]) -> dict:
    """``{str(id): {"object_class", "role", "event", "target", "trajectory"}}`` for every visible agent
    but debris; ``anomalous_text`` gives the anomalous agents' sentences from ``text/<id>.json``."""
    out = {}
    for aid, tr in sorted(tracks.items()):
        info = agents[str(aid)]
        kind = info["object_class"]
        if kind not in NOUN:
            continue
        if aid in anomalous_text:
            tgt, trj = anomalous_text[aid]
        else:
            tgt, trj = describe_target(kind, info.get("attributes", {})), trajectory_of(kind, tr, scene)
        out[str(aid)] = {"object_class": kind, "role": info.get("role"), "event": info.get("event"),
                         "target": tgt, "trajectory": trj}
    return out


def dialogue(segments: list, agent_rows: Mapping[str, Mapping], fps: float) -> list[dict]:
    """T-VAD-style multi-turn dialogue: ``[{"question", "answer", "kind", ...}, ...]``.

    Kinds: ``yesno`` (is there an anomaly), ``which_target`` (``track_ids``: the anomalous agents),
    ``when_start`` (``start_s``, ``start_frame``), ``what`` (the trajectory of the anomalous target).
    Abnormal videos get the last three turns once per event, in time order.
    """
    turns = [{"question": "Is there an anomaly in this video?", "answer": "Yes." if segments else "No.",
              "kind": "yesno"}]
    if not segments:
        turns.append({"question": "Which target is anomalous?",
                      "answer": "None: every target behaves normally.", "kind": "which_target", "track_ids": []})
        return turns
    for s, e, label in sorted(segments):
        ids = sorted(int(k) for k, v in agent_rows.items() if v.get("event") == label)
        if not ids:
            continue
        main = agent_rows[str(ids[0])]
        targets = [agent_rows[str(i)]["target"] for i in ids]
        if len(set(targets)) < len(targets):  # two silver cars: tell them apart by their part in the event
            targets = [f"{t} ({agent_rows[str(i)].get('role') or 'involved'})" for t, i in zip(targets, ids)]
        ans = " and ".join(targets)
        turns.append({"question": "Which target is anomalous?", "answer": ans[0].upper() + ans[1:] + ".",
                      "kind": "which_target", "track_ids": ids, "label": label})
        turns.append({"question": "When does the anomaly start?",
                      "answer": f"At about {s / fps:.1f} seconds.", "kind": "when_start",
                      "start_s": round(s / fps, 2), "start_frame": int(s), "end_frame": int(e), "label": label})
        traj = main["trajectory"]
        turns.append({"question": "What does the anomalous target do?", "answer": traj[0].upper() + traj[1:] + ".",
                      "kind": "what", "track_ids": ids[:1], "label": label})
    return turns


def build_document(video_id: str, tracks, agents, scene: Scene, fps: float, num_frames: int, segments: list,
                   anomalous_text: Mapping[int, tuple[str, str]], *, delta_s: float = DELTA_S,
                   h_scale: float = 1.0) -> dict:
    """The whole activity JSON of one video (schema: :func:`vadkit.data.synth.loader.load_activity`)."""
    rows = agent_sentences(tracks, agents, scene, anomalous_text)
    return {
        "schema": ACTIVITY_SCHEMA, "video_id": video_id, "fps": float(fps), "delta_s": float(delta_s),
        "delta_frames": max(int(round(delta_s * fps)), 1),
        "pair_rule": {"point": "box bottom centre", "distance": "sqrt(dx^2 + dy^2 + z^2), z = |dy|",
                      "h": "larger box height", "h_scale": float(h_scale)},
        "agents": rows,
        "windows": describe_video(tracks, agents, scene, fps, num_frames, delta_s=delta_s, h_scale=h_scale),
        "dialogue": dialogue(segments, rows, fps),
    }
