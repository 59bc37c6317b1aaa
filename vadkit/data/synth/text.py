"""Text ground truth generated from the simulation state (so it is true by construction).

* captions: one sentence per span of frames (1-second chunks, cut at event boundaries, identical
  consecutive sentences merged), describing the anomalous action first and then the normal activity
  that is visible;
* explanation: what is anomalous, who, where and when (frames and seconds), and why it is unusual;
* target (appearance) sentences and trajectory (motion) sentences of the anomalous agents, the two
  kinds of text T-VAD's RAE is trained and scored on (BLEU-4 for Target and Trajectory);
* yes/no questions, balanced per video between "Yes" and "No" where the video allows it.

Templates have several wordings; the choice is drawn from the video's random generator.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vadkit.data.synth.simulate import Agent
from vadkit.data.synth.world import (
    REGION_BENCH,
    REGION_BIKE,
    REGION_GRASS,
    REGION_PARKING,
    REGION_RESTRICTED,
    REGION_ROAD,
    Scene,
)

NUM = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

QUESTIONS = {
    "running": ["Is there a person running?", "Is anyone running?"],
    "wrong_way": ["Is a vehicle driving the wrong way?", "Is anyone going against the traffic?"],
    "car_on_walkway": ["Is there a car on the walkway?", "Is a car driving where pedestrians walk?"],
    "falling": ["Does anyone fall down?", "Does a person fall to the ground?"],
    "loitering": ["Is someone loitering?", "Is anyone lingering in one place?"],
    "fighting": ["Are people fighting?", "Is there a fight?"],
    "collision": ["Is there a collision?", "Is there a traffic accident?"],
    "theft": ["Does someone steal something?", "Is a bag snatched from someone?"],
    "illegal_occupation": ["Is a car blocking a traffic lane?", "Is a vehicle parked on the road?"],
    "pedestrian_on_road": ["Is a person walking on the road?", "Is there a pedestrian in the traffic lane?"],
    "illegal_turn": ["Does a car make a U-turn?", "Does a vehicle turn around on the road?"],
}
PRESENCE_Q = {"person": "Is there a person in the video?", "car": "Is there a car in the video?",
              "bicycle": "Is there a bicycle in the video?"}
REASONS = {
    "running": "people here normally walk at a steady pace along the paths",
    "wrong_way": "traffic in this lane normally moves in the opposite direction",
    "car_on_walkway": "cars belong on the road, while the walkways are for pedestrians",
    "falling": "people normally stay on their feet while they walk",
    "loitering": "people normally pass through or sit on the bench instead of pacing on one spot",
    "fighting": "people normally pass each other without any physical contact",
    "collision": "road users normally keep their distance and do not stop in the lane",
    "theft": "one person takes another person's bag by force and flees",
    "illegal_occupation": "cars stop in a lane only briefly, while this one stays and blocks the traffic",
    "pedestrian_on_road": "people cross the road quickly at a right angle instead of walking along the lane",
    "illegal_turn": "cars keep to their lane and direction, and turning around across the road is not allowed",
}


def place_name(scene: Scene, x: float, y: float) -> str:
    H, W = scene.regions.shape
    xi, yi = int(np.clip(round(x), 0, W - 1)), int(np.clip(round(y) - 1, 0, H - 1))
    r = int(scene.regions[yi, xi])
    if r == REGION_ROAD:
        return "the road"
    if r == REGION_BIKE:
        return "the bike lane"
    if r == REGION_RESTRICTED:
        return f"the {scene.restricted_name}"
    if r == REGION_BENCH:
        return "the bench area"
    if r == REGION_PARKING:
        return "the parking area"
    if r == REGION_GRASS:
        best = min(scene.walkways, key=lambda w: _rect_dist(w.rect, x, y))
        return f"the {best.name}" if _rect_dist(best.rect, x, y) < 6 * scene.scale else "the grass"
    for w in scene.walkways:
        x0, y0, x1, y1 = w.rect
        if x0 <= x <= x1 and y0 <= y <= y1 + 1:
            return f"the {w.name}"
    return "the walkway"


def _rect_dist(r, x, y) -> float:
    x0, y0, x1, y1 = r
    dx = max(x0 - x, 0, x - x1)
    dy = max(y0 - y, 0, y - y1)
    return float(np.hypot(dx, dy))


def side(scene: Scene, x: float) -> str:
    W = scene.width
    return "left side" if x < W / 3 else ("right side" if x > 2 * W / 3 else "middle")


def _a(word: str) -> str:
    """Indefinite article for ``word``."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def describe_target(kind: str, at) -> str:
    """Appearance sentence of an agent of class ``kind`` from its attributes, in one fixed wording."""
    if kind == "car":
        return _a(f"{at['colour']} car")
    if kind == "bicycle":
        return f"a cyclist in {_a(at['shirt'])} shirt riding {_a(at['bike'])} bicycle"
    return f"a person in {_a(at['shirt'])} shirt and {at['trousers']} trousers"


def target_sentence(a: Agent, rng) -> str:
    """:func:`describe_target`, with a second wording drawn for cars and a victim's bag."""
    at = a.attrs
    if a.kind == "car":
        return str(rng.choice([describe_target("car", at), f"the {at['colour']} car"]))
    s = describe_target(a.kind, at)
    if a.kind == "person" and a.carry is not None and a.carry.any() and a.role == "victim":
        s += f" carrying {_a(at['item'])} bag"
    return s


def _anom_idx(a: Agent, k: int, vis: dict) -> np.ndarray:
    """Script indices where ``a`` is anomalous for event ``k`` and visible."""
    frames = [t for (t, *_b, kk) in vis[a.aid] if kk == k]
    return np.asarray(frames, int) - a.t0


def _from_to(scene: Scene, a: Agent, idx: np.ndarray) -> tuple[str, str]:
    x0, y0, x1, y1 = a.x[idx[0]], a.y[idx[0]], a.x[idx[-1]], a.y[idx[-1]]
    if abs(y1 - y0) > abs(x1 - x0):
        top = lambda y: "top" if y < scene.height / 2 else "bottom"  # noqa: E731
        a_, b_ = f"{top(y0)} of the frame", f"{top(y1)} of the frame"
        if a_ == b_:
            a_, b_ = ("upper part", "lower part") if y1 > y0 else ("lower part", "upper part")
        return a_, b_
    s0, s1 = side(scene, x0), side(scene, x1)
    if s0 == s1:
        s0, s1 = ("left", "right") if x1 > x0 else ("right", "left")
    return s0, s1


def trajectory_sentence(scene: Scene, ev: dict, a: Agent, vis: dict, fps: float, rng) -> str:
    k, typ = ev["index"], ev["type"]
    idx = _anom_idx(a, k, vis)
    if len(idx) == 0:
        idx = np.array([0])
    mid = idx[len(idx) // 2]
    place = place_name(scene, a.x[mid], a.y[mid])
    fr, to = _from_to(scene, a, idx)
    dur = len(idx) / fps
    noun = "the car" if a.kind == "car" else ("the cyclist" if a.kind == "bicycle" else "the person")
    if typ == "running":
        return str(rng.choice([f"{noun} runs along {place} from the {fr} to the {to}",
                               f"{noun} starts running on {place} and runs from the {fr} to the {to}"]))
    if typ == "wrong_way":
        verb = "rides" if a.kind == "bicycle" else "drives"
        lane = a.attrs.get("lane", "lane")
        return f"{noun} {verb} against the traffic in the {lane}, from the {fr} to the {to}"
    if typ == "car_on_walkway":
        return str(rng.choice([f"the car drives along {place} from the {fr} to the {to}",
                               f"the car leaves the road and drives on {place} from the {fr} to the {to}"]))
    if typ == "falling":
        lie = ev["info"].get("lie_frames", 0) / fps
        return (f"{noun} falls down on {place} near the {side(scene, a.x[mid])}, lies on the ground for about "
                f"{lie:.0f} seconds and then gets up")
    if typ == "loitering":
        return (f"{noun} stops on {place} near the {side(scene, a.x[mid])} and paces back and forth for about "
                f"{dur:.0f} seconds")
    if typ == "fighting":
        return (f"{noun} meets another person in the {side(scene, a.x[mid])} of {place} and they fight for "
                f"about {dur:.0f} seconds before separating")
    if typ == "collision":
        if a.kind == "debris":
            return "debris is scattered on the road around the crash"
        if ev["info"]["variant"] == "rear_end":
            if a.role == "car behind":
                return f"{noun} drives into the back of the car in front near the {side(scene, a.x[mid])} and stops"
            return f"{noun} brakes, is hit from behind near the {side(scene, a.x[mid])} and stops"
        if a.kind == "car":
            return f"{noun} hits a person crossing the road near the {side(scene, a.x[mid])} and stops"
        return f"{noun} crosses the road, is hit by a car near the {side(scene, a.x[mid])} and falls down"
    if typ == "theft":
        d = "right" if ev["info"]["direction"] > 0 else "left"
        if a.role == "thief":
            return (f"{noun} comes up behind another person on {place}, grabs their {ev['item']} bag and runs "
                    f"away to the {d}")
        return f"{noun} walks along {place} towards the {d} and stops after the bag is snatched"
    lane = a.attrs.get("lane", "lane")
    if typ == "illegal_occupation":
        return (f"{noun} stops in the {lane} near the {side(scene, a.x[mid])} and stays there for about "
                f"{dur:.0f} seconds, blocking the lane")
    if typ == "pedestrian_on_road":
        return f"{noun} steps onto the road and walks along the {lane} from the {fr} to the {to}"
    if typ == "illegal_turn":
        return (f"{noun} drives in the {lane}, turns around across the road near the {side(scene, a.x[mid])} "
                f"and drives back the other way")
    raise KeyError(typ)


def event_phrase(scene: Scene, ev: dict, agents: list[Agent], t_mid: int) -> str:
    """Caption fragment of event ``ev`` around frame ``t_mid``."""
    typ = ev["type"]
    main = [a for a in agents if a.kind != "debris"]
    acts = []
    for a in main:
        i = a.at(t_mid)
        if i is not None and a.anom[i] == ev["index"]:
            acts.append((a, a.act[i], i))
    if not acts:
        a = main[0]
        i = min(max(t_mid - a.t0, 0), len(a.x) - 1)
        acts = [(a, a.act[i], i)]
    a, act, i = acts[0]
    place = place_name(scene, a.x[i], a.y[i])
    if typ == "running":
        return f"a person runs along {place}"
    if typ == "wrong_way":
        return ("a cyclist rides the wrong way in the bike lane" if a.kind == "bicycle"
                else "a car drives the wrong way on the road")
    if typ == "car_on_walkway":
        return f"a car drives on {place}"
    if typ == "falling":
        return {"fall": f"a person falls down on {place}", "lie": f"a person lies on the ground on {place}",
                "get_up": f"a person gets up from the ground on {place}"}.get(act, f"a person falls on {place}")
    if typ == "loitering":
        return f"a person lingers on {place}, pacing back and forth"
    if typ == "fighting":
        return f"two people fight on {place}"
    if typ == "collision":
        if any(ac == "drive_away" for _, ac, _ in acts):
            return ("the damaged cars drive away slowly after a crash" if ev["info"]["variant"] == "rear_end"
                    else "a car drives away slowly after hitting a person")
        if ev["info"]["variant"] == "rear_end":
            return "two cars have collided on the road and debris lies around them"
        return "a car has hit a person on the road and debris lies around them"
    if typ == "theft":
        by_role = {x.role: ac for x, ac, _ in acts}
        ac = by_role.get("thief", act)
        if ac == "approach":
            return f"a person sneaks up behind another person on {place}"
        if ac == "snatch":
            return f"a person snatches a bag from another person on {place}"
        if ac == "flee":
            return f"a person runs away along {place} with a stolen bag"
        return f"a person who was robbed stands on {place}"
    if typ == "illegal_occupation":
        return "a car stays parked in a traffic lane"
    if typ == "pedestrian_on_road":
        return "a person walks along the road among the traffic"
    if typ == "illegal_turn":
        return "a car makes a U-turn across the road"
    raise KeyError(typ)


def _background_phrase(counts: Counter, rng) -> str:
    parts = []
    if counts["walk"]:
        n = counts["walk"]
        parts.append(f"{NUM.get(n, 'several')} {'person walks' if n == 1 else 'people walk'} along the walkway")
    if counts["sit"]:
        n = counts["sit"]
        parts.append(f"{NUM.get(n, 'several')} {'person sits' if n == 1 else 'people sit'} on the bench")
    if counts["drive"]:
        n = counts["drive"]
        parts.append(f"{NUM.get(n, 'several')} {'car drives' if n == 1 else 'cars drive'} down the road")
    if counts["ride"]:
        n = counts["ride"]
        parts.append(f"{NUM.get(n, 'several')} {'cyclist rides' if n == 1 else 'cyclists ride'} in the bike lane")
    if counts["stop"]:  # only in roots with context types or their hard negatives
        n = counts["stop"]
        parts.append(f"{NUM.get(n, 'several')} {'car waits' if n == 1 else 'cars wait'} in its lane")
    if counts["bend"]:  # generator 2.0's look-alikes: they name what a single frame shows
        n = counts["bend"]
        parts.append(f"{NUM.get(n, 'several')} {'person bends' if n == 1 else 'people bend'} down on the walkway")
    if counts["park"]:
        n = counts["park"]
        parts.append(f"{NUM.get(n, 'several')} {'car is' if n == 1 else 'cars are'} parked in the parking area")
    if counts["cross"]:
        n = counts["cross"]
        parts.append(f"{NUM.get(n, 'several')} {'person crosses' if n == 1 else 'people cross'} the road")
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + (parts[-1] if parts else "")


def captions(scene: Scene, agents: list[Agent], events: list[dict], T: int, fps: float, vis: dict, rng):
    """Caption spans ``[[start, end_inclusive, sentence], ...]`` covering frames ``0 .. T-1``."""
    cuts = set(range(0, T, max(int(round(fps)), 1)))
    for ev in events:
        cuts.add(ev["segment"][0])
        cuts.add(ev["segment"][1] + 1)
    cuts = sorted(c for c in cuts if 0 <= c < T) + [T]
    vis_frames = {aid: {t: kk for (t, *_b, kk) in rows} for aid, rows in vis.items()}
    keys = []
    for a0, b0 in zip(cuts[:-1], cuts[1:]):
        mid = (a0 + b0 - 1) // 2
        active = [ev for ev in events if ev["segment"][0] <= mid <= ev["segment"][1]]
        counts: Counter = Counter()
        for a in agents:
            if a.kind == "debris":
                continue
            seen = [t for t in range(a0, b0) if t in vis_frames[a.aid]]
            if len(seen) * 2 < (b0 - a0):
                continue
            if any(vis_frames[a.aid][t] >= 0 for t in seen):
                continue
            i = mid - a.t0 if a.at(mid) is not None else seen[0] - a.t0
            act = a.act[i]
            key = {"walk": "walk", "sit": "sit", "drive": "drive", "ride": "ride", "jaywalk": "walk",
                   "approached": "walk", "robbed": "walk", "limp": "walk", "brake": "stop", "wait": "stop",
                   "cross": "cross", "step_onto_road": "cross", "walk_on_road": "cross", "bend": "bend",
                   "walk_together": "walk", "park": "park"}.get(act)
            if key:
                counts[key] += 1
        ev_parts = tuple(event_phrase(scene, ev, ev["agents"], mid) for ev in active)
        keys.append((a0, b0 - 1, ev_parts, tuple(sorted(counts.items()))))
    # merge equal consecutive descriptions, then word them
    merged = []
    for a0, b0, evp, cnt in keys:
        if merged and merged[-1][2] == evp and merged[-1][3] == cnt:
            merged[-1][1] = b0
        else:
            merged.append([a0, b0, evp, cnt])
    out = []
    for a0, b0, evp, cnt in merged:
        bg = _background_phrase(Counter(dict(cnt)), rng)
        if evp:
            sent = "; ".join(evp)
            if bg:
                sent += str(rng.choice([" while ", ", and meanwhile "])) + bg
        else:
            sent = bg if bg else str(rng.choice(["the scene is empty", "nobody is in view"]))
        out.append([int(a0), int(b0), sent[0].upper() + sent[1:] + "."])
    return out


def video_text(scene: Scene, agents: list[Agent], events: list[dict], T: int, fps: float, vis: dict,
               rng) -> dict:
    """All text of one video (see the module docstring); ``agent_sentences`` maps each anomalous agent's id
    to its ``(target, trajectory)`` pair (the activity ground truth reuses them; not written to the JSON)."""
    caps = captions(scene, agents, events, T, fps, vis, rng)
    targets, trajs, expl = [], [], []
    by_agent: dict[int, tuple[str, str]] = {}
    for ev in events:
        s0, e0 = ev["segment"]
        sents = []
        for a in ev["agents"]:
            if a.kind == "debris":
                continue
            tgt = target_sentence(a, rng)
            trj = trajectory_sentence(scene, ev, a, vis, fps, rng)
            targets.append(tgt)
            trajs.append(trj)
            by_agent[a.aid] = (tgt, trj)
            sents.append(f"{tgt[0].upper() + tgt[1:]} is involved: {trj}.")
        kind = ev["type"].replace("_", " ")
        expl.append(
            f"Anomaly ({kind}) from frame {s0} to frame {e0} (about {s0 / fps:.1f} s to {(e0 + 1) / fps:.1f} s). "
            + " ".join(sents) + f" This is unusual because {REASONS[ev['type']]}."
        )
    if not events:
        expl.append("Nothing unusual happens: people walk along the walkways, cars drive in their lanes in the "
                    "usual direction and cyclists keep to the bike lane.")
    qa = questions([ev["type"] for ev in events], {a.kind for a in agents if len(vis[a.aid])}, rng)
    return {"captions": caps, "explanation": " ".join(expl), "target_sentences": targets,
            "trajectory_sentences": trajs, "qa": qa, "agent_sentences": by_agent}


def questions(present_types: list[str], kinds: set, rng) -> list[list[str]]:
    """Yes/no pairs: the anomaly question, every present type (Yes), as many absent types (No),
    and object-presence questions, ordered so "Yes" and "No" are balanced per video when possible."""
    from vadkit.data.synth.world import ANOMALY_TYPES

    qa = [[str(rng.choice(["Is there an anomaly in this video?", "Does anything unusual happen?"])),
           "Yes" if present_types else "No"]]
    absent = [t for t in ANOMALY_TYPES if t not in present_types]
    for t in present_types:
        qa.append([str(rng.choice(QUESTIONS[t])), "Yes"])
    n_yes = sum(a == "Yes" for _, a in qa)
    pres_yes = [k for k in ("person", "car", "bicycle") if k in kinds]
    pres_no = [k for k in ("person", "car", "bicycle") if k not in kinds]
    for k in pres_yes:
        qa.append([PRESENCE_Q[k], "Yes"])
    for k in pres_no:
        qa.append([PRESENCE_Q[k], "No"])
    n_yes = sum(a == "Yes" for _, a in qa)
    n_no = len(qa) - n_yes
    n_abs = max(n_yes - n_no, 1)
    for t in rng.permutation(absent)[:n_abs]:
        qa.append([str(rng.choice(QUESTIONS[str(t)])), "No"])
    if not present_types:
        qa.append(["Do all road users behave normally?", "Yes"])
    return qa
