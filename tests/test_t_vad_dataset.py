"""T-VAD's Sec. 3.3 dataset construction (vadkit.methods.t_vad_dataset) with a scripted VLM: structured lines are
parsed, linked into timelines with the right motion, the anomaly pass sees the background blurred, the mutual
verification drops what does not verify, and every call is cached (a rerun makes no call)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vadkit.methods import t_vad_dataset as tds

T, H, W = 12, 60, 120
MASK = np.zeros((T, H, W), np.uint8)


def _person(t):            # walks to the right, 2 px per frame; the anomalous target
    return np.array([10 + 2 * t, 20, 20 + 2 * t, 40])


CAR = np.array([80, 30, 110, 45])                      # parked


for _t in range(T):
    x1, y1, x2, y2 = _person(_t)
    MASK[_t, y1:y2, x1:x2] = 1


def _frames(idx):
    rng = np.random.default_rng(0)
    out = rng.integers(0, 255, (len(idx), H, W, 3), dtype=np.uint8)
    out[..., 0] = np.asarray(idx, np.uint8)[:, None, None]          # channel 0 carries the frame index
    return out


class Scripted:
    """Answers like a VLM that sees the scene: the person's and the car's boxes, none of the car when the
    background is blurred (the car lies outside the mask), and (``lie``) wrong verification answers."""

    name, identity = "scripted", "scripted-vlm/1"

    def __init__(self, lie=False):
        self.lie, self.calls = lie, 0

    def chat(self, frames, messages, config=None):
        self.calls += 1
        q = messages[-1]["content"]
        f = np.asarray(frames)[0]
        t = int(f[0, 0, 0])
        if q == tds.EXTRACT_PROMPT:
            blurred = f[45:, 60:80, 1].std() < 30          # a corner outside the mask: smooth once blurred
            lines = ["1. a person in a red shirt | " + " ".join(str(v) for v in _person(t)),
                     "garbage line without a box"]
            if not blurred:
                lines.append("a white car: " + ", ".join(str(v) for v in CAR))
            return "\n".join(lines)
        if q.startswith("Look at the"):
            if self.lie:
                return "It moves up."
            return "It walks to the right." if "person" in q else "It stays still."
        return "a red shirt person" if "right" in q else "a white car"


def _ann(vid, abnormal):
    return SimpleNamespace(video_id=vid, num_frames=T, is_anomalous=abnormal)


def _build(vlm, tmp_path, videos):
    return tds.build_records(vlm, videos, lambda a, idx: _frames(idx),
                             lambda a: MASK if a.is_anomalous else None,
                             tds.BuildConfig(frames_per_video=6, clip_frames=2), cache=tmp_path, progress=False)


def test_parse_targets_reads_lines_and_drops_the_rest():
    dets, dropped = tds.parse_targets("a man | 1 2 30 40\n- a car: 200, 5, 90, 50\nnone\nhello", (60, 120))
    assert [d[0] for d in dets] == ["a man", "a car"] and dropped == 1
    assert np.allclose(dets[1][1], [90, 5, 120, 50])               # sorted corners, clipped to the frame


def test_records_timelines_blur_and_verification(tmp_path):
    from vadkit.models import calls

    vlm = Scripted()
    calls.reset_stats()
    recs = _build(vlm, tmp_path, [_ann("abn", True), _ann("nor", False)])
    made = vlm.calls
    assert made == calls.stats("chat")["made"] > 0
    a = recs["abn"]
    assert a["source"] == "vlm" and a["model"] == "scripted-vlm/1" and a["yes_no"] == "Yes"
    # general pass: person + car; anomaly pass (blurred background): the person only
    assert sorted((x["target"], x["anomalous"]) for x in a["agents"]) == [
        ("A person in a red shirt.", False), ("A person in a red shirt.", True), ("A white car.", False)]
    person = next(x for x in a["agents"] if x["anomalous"])
    assert "moves right" in person["trajectory"]
    car = next(x for x in a["agents"] if "car" in x["target"])
    assert car["trajectory"].startswith("It stays")
    assert [q for q, _ in a["dialogue"]] == [tds.ANOMALY_Q, tds.TARGET_Q, tds.TRAJECTORY_Q]
    assert a["stats"]["lines_dropped"] > 0 and a["stats"]["calls_blurred"] == 6
    assert recs["nor"]["dialogue"] == [[tds.ANOMALY_Q, "No"]]
    assert not any(x["anomalous"] for x in recs["nor"]["agents"])
    # a rerun is served from the cache
    calls.reset_stats()
    again = _build(vlm, tmp_path, [_ann("abn", True), _ann("nor", False)])
    assert vlm.calls == made and calls.stats("chat")["made"] == 0 and again == recs


def test_unverified_targets_are_dropped(tmp_path):
    recs = _build(Scripted(lie=True), tmp_path, [_ann("abn", True)])
    assert recs["abn"]["agents"] == [] and recs["abn"]["stats"]["timelines"] == 3
    assert recs["abn"]["dialogue"] == [[tds.ANOMALY_Q, "Yes"]]


def test_blur_keeps_the_mask_and_smooths_the_rest():
    f = _frames([3])[0]
    b = tds.blur_outside(f, MASK[3], 4.0)
    inside = MASK[3] > 0
    assert np.array_equal(b[inside], f[inside])
    assert b[..., 1][~inside].std() < f[..., 1][~inside].std() / 4


@pytest.mark.parametrize("d", [(4, 0, "right"), (-4, 0, "left"), (0, 5, "down"), (0.1, 0, "still")])
def test_direction_of(d):
    dx, dy, want = d
    tl = tds.Timeline([])
    for k in range(4):
        tl.add(k, "a car", np.array([50 + dx * k, 50 + dy * k, 60 + dx * k, 60 + dy * k]))
    assert tds.direction_of(tl) == want
