"""SynthVAD generator: determinism, ground-truth consistency, file formats, loader, open-set splits, text."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from vadkit.data.synth import (
    ANOMALY_TYPES,
    CLASS_NAMES,
    INTERACTION_TYPES,
    SINGLE_OBJECT_TYPES,
    SynthConfig,
    generate,
    load_objects,
    load_synthvad,
    plan_videos,
    render_video,
)
from vadkit.data.annotations import read_pixel_mask
from vadkit.errors import ConfigError, DatasetError
from vadkit.io_utils import sha256_file

TINY = SynthConfig(min_frames=96, max_frames=112, abnormal_fraction=0.75, second_event_prob=0.3)
SPLITS = {"train": 4, "val": 2, "test": 4}

# words a correct text must contain for each anomaly type
KEYWORDS = {
    "running": "run", "wrong_way": "against the traffic", "car_on_walkway": "car", "falling": "fall",
    "loitering": "back and forth", "fighting": "fight", "collision": "hit", "theft": "bag",
}
CAPTION_WORDS = {
    "running": "runs", "wrong_way": "wrong way", "car_on_walkway": "car drives on", "falling": ("fall", "lies", "gets up"),
    "loitering": "lingers", "fighting": "fight", "collision": ("collided", "hit", "crash"),
    "theft": ("sneaks", "snatches", "stolen", "robbed"),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "ds", SPLITS, seed=3, config=TINY, progress=False, workers=1)


@pytest.fixture(scope="module")
def ds(root):
    return load_synthvad(root)


def test_constants():
    assert ANOMALY_TYPES == SINGLE_OBJECT_TYPES + INTERACTION_TYPES
    assert set(ANOMALY_TYPES) == {"running", "wrong_way", "car_on_walkway", "falling", "loitering", "fighting",
                                  "collision", "theft"}
    assert CLASS_NAMES == ("normal", *ANOMALY_TYPES)


def test_layout_and_checksums(root):
    meta = json.loads((root / "synthvad.json").read_text())
    assert meta["splits"] == SPLITS and meta["seed"] == 3
    for name in ("Temporal_Anomaly_Annotation.txt", "annotations_multiclasses.txt", "splits/train.txt",
                 "splits/val.txt", "splits/test.txt"):
        assert (root / name).is_file(), name
    assert meta["files"], "no checksums recorded"
    for rel, digest in meta["files"].items():
        assert sha256_file(root / rel) == digest, rel
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"synthvad.json"}
    assert on_disk == set(meta["files"])


def test_rerun_is_noop_and_other_args_refused(root):
    before = (root / "synthvad.json").stat().st_mtime_ns
    assert generate(root, SPLITS, seed=3, config=TINY, progress=False, workers=1) == root
    assert (root / "synthvad.json").stat().st_mtime_ns == before
    with pytest.raises(DatasetError):
        generate(root, SPLITS, seed=4, config=TINY, progress=False, workers=1)


def test_determinism(tmp_path):
    small = {"test": 5}
    a = generate(tmp_path / "a", small, seed=11, config=TINY, progress=False, workers=1)
    b = generate(tmp_path / "b", small, seed=11, config=TINY, progress=False, workers=2)  # process pool
    c = generate(tmp_path / "c", small, seed=12, config=TINY, progress=False, workers=1)
    ma, mb, mc = (json.loads((r / "synthvad.json").read_text()) for r in (a, b, c))
    # byte-identical annotations and videos, whatever the number of workers
    assert ma["files"] == mb["files"] and ma["videos"] == mb["videos"]
    ann = [k for k in ma["files"] if not k.startswith("videos/")]
    assert any(ma["files"][k] != mc["files"].get(k) for k in ann), "another seed gave the same annotations"
    # identical frames: the in-memory re-render reproduces the written masks, and seeds differ
    vid = next(iter(ma["videos"]))
    f1, m1 = render_video(vid, a)
    f2, m2 = render_video(vid, seed=11, config=TINY, splits=small)
    assert np.array_equal(f1, f2) and np.array_equal(m1, m2)
    assert np.array_equal(np.load(a / "test_frame_mask" / f"{vid}.npy"), m1.reshape(len(m1), -1).any(1))
    f3, _ = render_video(vid, c) if vid in mc["videos"] else render_video(next(iter(mc["videos"])), c)
    assert f3.shape != f1.shape or not np.array_equal(f1, f3)


def test_frame_labels_match_segments_and_masks(ds):
    assert len(ds) == sum(SPLITS.values())
    for v in ds.values():
        T = v.num_frames
        assert TINY.min_frames <= T <= TINY.max_frames
        from_segments = v.frame_labels_from_segments(T, end_inclusive=True)
        assert np.array_equal(from_segments, v.frame_labels), v.video_id
        assert all(s.end_inclusive for s in v.segments)
        assert [s.label for s in v.segments] == list(v.classes)
        if not v.classes:
            assert v.pixel_mask_path is None and not v.frame_labels.any()
            assert all(not t.anomalous for t in v.tracks)
            continue
        assert len(set(v.classes)) == len(v.classes)  # a second event is of a different type
        mask = read_pixel_mask(v)
        assert mask.dtype == np.uint8 and mask.shape == (T, TINY.height, TINY.width)
        assert set(np.unique(mask)) <= {0, 1}
        nonempty = mask.reshape(T, -1).any(1)
        assert np.array_equal(nonempty, v.frame_labels.astype(bool)), v.video_id
        segs = sorted((s.start, s.end) for s in v.segments)
        for (s0, e0), (s1, e1) in zip(segs[:-1], segs[1:]):
            assert e0 < s1, "events overlap in time"


def test_boxes_contain_mask_pixels(ds):
    for v in ds.anomalous:
        mask = read_pixel_mask(v)
        boxes_at: dict[int, list] = {}
        for tr in v.tracks:
            if tr.anomalous:
                assert tr.label in ANOMALY_TYPES and tr.object_class in ("person", "car", "bicycle", "debris")
                for t, b in zip(tr.frames, tr.boxes):
                    boxes_at.setdefault(int(t), []).append(b)
        assert set(boxes_at) == set(np.nonzero(v.frame_labels)[0].tolist())
        for t, bxs in boxes_at.items():
            covered = np.zeros(mask.shape[1:], bool)
            for x1, y1, x2, y2 in bxs:
                assert 0 <= x1 < x2 <= mask.shape[2] and 0 <= y1 < y2 <= mask.shape[1]
                assert mask[t, int(y1) : int(y2), int(x1) : int(x2)].any(), "box without mask pixels"
                covered[int(y1) : int(y2), int(x1) : int(x2)] = True
            assert not (mask[t].astype(bool) & ~covered).any(), f"{v.video_id} frame {t}: mask pixel outside boxes"


def test_objects_csv_and_tracks_files(root, ds):
    for v in ds.values():
        df = load_objects(root, v.video_id)
        assert list(df.columns) == ["track_id", "frame", "x1", "y1", "x2", "y2", "object_class", "anomalous", "label",
                                  "act"]
        assert set(df.object_class) <= {"person", "car", "bicycle", "debris"}
        assert df.frame.between(0, v.num_frames - 1).all()
        anom_frames = set(df.loc[df.anomalous == 1, "frame"])
        assert anom_frames == set(np.nonzero(v.frame_labels)[0].tolist())
        assert set(df.loc[df.anomalous == 1, "label"]) == set(v.classes)
        assert (df.loc[df.anomalous == 0, "label"] == "normal").all()
        normal_ids = {t.track_id for t in v.tracks if not t.anomalous}
        assert normal_ids and normal_ids <= set(df.track_id)
        if v.classes:
            rows = [ln.split(",") for ln in (root / "tracks" / f"{v.video_id}_tracks.txt").read_text().split()]
            for oid, s, e in rows:
                sub = df[(df.track_id == int(oid)) & (df.anomalous == 1)]
                assert (sub.frame.min(), sub.frame.max()) == (int(s), int(e))


def test_index_files_formats(root, ds):
    for split, n in SPLITS.items():
        lines = (root / "splits" / f"{split}.txt").read_text().split()
        assert len(lines) == n
        for ln in lines:
            cls, name = ln.split("/")
            vid = name[: -len(".mp4")]
            assert ds[vid].split == split and cls == ds[vid].label
    temporal = (root / "Temporal_Anomaly_Annotation.txt").read_text().splitlines()
    assert len(temporal) == SPLITS["val"] + SPLITS["test"]
    for ln in temporal:
        assert ln.endswith("  ") and "  " in ln
        f = ln.split()
        v = ds[f[0]]
        nums = [int(x) for x in f[2:6]]
        if not v.classes:
            assert f[1] == "Normal" and nums == [-1, -1, -1, -1]
        else:
            assert f[1] == v.classes[0]
            assert nums[:2] == [v.segments[0].start, v.segments[0].end]
    for ln in (root / "annotations_multiclasses.txt").read_text().splitlines():
        f = ln.split()
        v = ds[f[0]]
        assert [(f[i], int(f[i + 1]), int(f[i + 2])) for i in range(1, len(f), 3)] == [
            (s.label, s.start, s.end) for s in v.segments]


def test_videos_decode(ds):
    decord = pytest.importorskip("decord")
    for v in list(ds.values())[:3]:
        vr = decord.VideoReader(str(v.video_path))
        assert len(vr) == v.num_frames
        frame = vr[0].asnumpy()
        assert frame.shape == (TINY.height, TINY.width, 3)
        assert frame.std() > 5  # textured, not blank


def test_loader_fields(ds, root):
    assert ds.class_names == CLASS_NAMES and ds.root == root
    assert len(load_synthvad(root, "train")) == SPLITS["train"]
    with pytest.raises(DatasetError):
        load_synthvad(root, "nope")
    for v in ds.values():
        assert v.fps == TINY.fps and v.scene in TINY.scenes and v.video_path.is_file()
        assert sorted(v.captions) == list(range(v.num_frames))
        assert v.explanation and v.qa
        assert all(q.answer in ("Yes", "No") for q in v.qa)
        if v.classes:
            n_agents = sum(1 for t in v.tracks if t.anomalous and t.object_class != "debris")
            assert len(v.target_sentences) == len(v.trajectory_sentences) == n_agents >= 1


def test_text_mentions_category(ds):
    from vadkit.data.synth.text import QUESTIONS

    yes = no = 0
    for v in ds.values():
        qa = {q.question: q.answer for q in v.qa}
        yes += sum(a == "Yes" for a in qa.values())
        no += sum(a == "No" for a in qa.values())
        for typ in ANOMALY_TYPES:
            for q in QUESTIONS[typ]:
                if q in qa:
                    assert qa[q] == ("Yes" if typ in v.classes else "No"), (v.video_id, q)
        for seg in v.segments:
            assert seg.label.replace("_", " ") in v.explanation
            assert f"frame {seg.start} to frame {seg.end}" in v.explanation
            words = " ".join(v.trajectory_sentences + v.target_sentences).lower()
            assert KEYWORDS[seg.label] in words, (v.video_id, seg.label, words)
            cap = v.captions[(seg.start + seg.end) // 2].lower()
            want = CAPTION_WORDS[seg.label]
            want = (want,) if isinstance(want, str) else want
            assert any(w in cap for w in want), (v.video_id, seg.label, cap)
            assert any(QUESTIONS[seg.label][i] in qa for i in range(2))
        if not v.classes:
            assert "Nothing unusual" in v.explanation
    assert 0.35 < yes / (yes + no) < 0.65


def test_open_set_and_balance(tmp_path):
    types = {"train": ["running", "falling", "theft"], "test": ["fighting", "wrong_way"]}
    cfg = SynthConfig(abnormal_fraction=0.5)
    plan = plan_videos({"train": 60, "test": 40}, 0, cfg, types)
    for split, allowed in types.items():
        items = [p for p in plan if p["split"] == split]
        prim = Counter(p["classes"][0] for p in items if p["classes"])
        assert set(prim) == set(allowed)
        assert max(prim.values()) - min(prim.values()) <= 1, prim
        assert all(set(p["classes"]) <= set(allowed) for p in items)
        assert sum(1 for p in items if not p["classes"]) == len(items) // 2
        assert Counter(p["scene"] for p in items).most_common()[-1][1] >= len(items) // len(cfg.scenes) - 1
    root = generate(tmp_path / "os", {"train": 2, "test": 2}, seed=0, config=TINY, progress=False, workers=1,
                    anomaly_types={"train": ["running"], "test": ["fighting"]})
    d = load_synthvad(root)
    assert {c for v in d.split("train").values() for c in v.classes} <= {"running"}
    assert {c for v in d.split("test").values() for c in v.classes} <= {"fighting"}
    with pytest.raises(ConfigError):
        plan_videos({"train": 2}, 0, cfg, {"train": ["jaywalking"]})
    with pytest.raises(ConfigError):
        SynthConfig(scenes=("moon",))


def test_every_type_renders(tmp_path):
    """Each anomaly type yields a valid, contiguous event in a short video."""
    from vadkit.data.synth.builder import simulate_video

    for i, typ in enumerate(ANOMALY_TYPES):
        item = {"video_id": f"x{i}", "split": "test", "classes": [typ], "scene": TINY.scenes[i % 4],
                "num_frames": 128, "index": i}
        rend, agents, events, scene, T, _ = simulate_video(item, 5, TINY)
        s, e = events[0]["segment"]
        assert e - s + 1 >= 8 and rend.presence[0, s : e + 1].all() and rend.presence[0].sum() == e - s + 1


def test_parsers_read_synthvad(root, ds):
    """The data layer's generic parsers read SynthVAD files (skipped until they exist)."""
    parsers = pytest.importorskip("vadkit.data.parsers")
    if hasattr(parsers, "parse_ucf_split_list"):
        pairs = parsers.parse_ucf_split_list(root / "splits" / "test.txt")
        assert [vid for _, vid in pairs] == [v for v in ds if ds[v].split == "test"]
    if hasattr(parsers, "parse_ucf_temporal"):
        ann = parsers.parse_ucf_temporal(root / "Temporal_Anomaly_Annotation.txt")
        for vid, a in ann.items():
            mine = ds[vid]
            assert [(s.start, s.end) for s in a.segments if s.start >= 0] == [
                (s.start, s.end) for s in mine.segments][:2]
    if hasattr(parsers, "parse_frame_masks"):
        fm = parsers.parse_frame_masks(root / "test_frame_mask")
        for vid, a in fm.items():
            assert np.array_equal(np.asarray(a.frame_labels), ds[vid].frame_labels)
    if hasattr(parsers, "parse_xd_multiclass"):
        xd = parsers.parse_xd_multiclass(root / "annotations_multiclasses.txt", label_map=None, end_inclusive=True)
        for vid, a in xd.items():
            assert a.classes == ds[vid].classes
            assert [(s.start, s.end, s.label) for s in a.segments] == [(s.start, s.end, s.label) for s in ds[vid].segments]
    if hasattr(parsers, "parse_ubnormal_tracks"):
        v = ds.anomalous[0]
        rows = parsers.parse_ubnormal_tracks(root / "tracks" / f"{v.video_id}_tracks.txt")
        assert {r[0] for r in rows} == {t.track_id for t in v.tracks if t.anomalous}
    if hasattr(parsers, "parse_box_tracks"):
        v = ds.anomalous[0]
        tracks = parsers.parse_box_tracks(root / "rbdc" / f"{v.video_id}_gt.txt")
        assert sum(len(t) for t in tracks) == sum(len(t) for t in v.tracks if t.anomalous)


def test_resume_after_interruption(tmp_path):
    """Videos finished before a crash (in the .partial dir) are reused; the result equals a clean run."""
    from vadkit.data.synth.builder import _request, _write_video_files
    from vadkit.io_utils import content_hash

    small = {"test": 3}
    clean = generate(tmp_path / "clean", small, seed=2, config=TINY, progress=False, workers=1)
    out = tmp_path / "resumed"
    part = tmp_path / f".resumed.partial-{content_hash(_request(small, 2, TINY, None))}"
    first = plan_videos(small, 2, TINY, None)[0]
    _write_video_files(part, first, TINY, 2)  # the work done before the "crash"
    video_stamp = (part / "videos" / f"{first['video_id']}.mp4").stat().st_mtime_ns
    generate(out, small, seed=2, config=TINY, progress=False, workers=1)
    assert not part.exists() and (out / "synthvad.json").is_file()
    assert (out / "videos" / f"{first['video_id']}.mp4").stat().st_mtime_ns == video_stamp  # not redone
    a = json.loads((clean / "synthvad.json").read_text())
    b = json.loads((out / "synthvad.json").read_text())
    assert a["files"] == b["files"] and a["videos"] == b["videos"]


# ----------------------------------------------------------------------------------------------
# generator 1.2: compressed masks, instance maps, activity ground truth
# ----------------------------------------------------------------------------------------------
def test_other_generator_version_refused(root, monkeypatch):
    """Version 2.0 changed the frames (poses, damage, look-alikes): a root or cache of another version is
    refused, never reused (the version is part of the request hash that names roots)."""
    from vadkit.data.synth import GENERATOR_VERSION, builder

    assert GENERATOR_VERSION == "2.0.0"
    assert json.loads((root / "synthvad.json").read_text())["generator_version"] == "2.0.0"
    new_name = builder.cached_root("smoke")
    monkeypatch.setattr(builder, "GENERATOR_VERSION", "1.2.0")
    assert builder.cached_root("smoke") != new_name
    with pytest.raises(DatasetError, match="other settings"):
        generate(root, SPLITS, seed=3, config=TINY, progress=False, workers=1)


def test_masks_are_compressed_npz(root, ds):
    for v in ds.anomalous:
        assert v.pixel_mask_path.suffix == ".npz"
        with np.load(v.pixel_mask_path, allow_pickle=False) as z:
            assert z.files == ["mask"]
        raw = v.num_frames * TINY.height * TINY.width
        assert v.pixel_mask_path.stat().st_size < raw / 20  # the 1.1 .npy was `raw` bytes


def test_instance_maps_match_boxes_and_masks(ds):
    for v in ds.values():
        with np.load(v.extra["instance_mask_path"], allow_pickle=False) as z:
            ids = z["ids"]
        assert ids.dtype == np.uint16 and ids.shape == (v.num_frames, TINY.height, TINY.width)
        objects = load_objects(ds.root, v.video_id)
        assert set(np.unique(ids)) - {0} <= set(objects.track_id)
        # every id pixel lies inside its agent's box at that frame (boxes: x2/y2 exclusive)
        for row in objects.itertuples():
            frame = ids[row.frame]
            ys, xs = np.nonzero(frame == row.track_id)
            if len(ys):
                assert xs.min() >= row.x1 and xs.max() < row.x2 and ys.min() >= row.y1 and ys.max() < row.y2
        for t in np.unique(objects.frame)[::7]:
            assert set(np.unique(ids[t])) - {0} <= set(objects.track_id[objects.frame == t])
        if v.classes:  # modal ids of the anomalous agents lie inside their amodal anomaly mask
            anomalous = [t.track_id for t in v.tracks if t.anomalous]
            mask = read_pixel_mask(v)
            for tr in v.tracks:
                if tr.anomalous:
                    for t in tr.frames:
                        assert not ((ids[t] == tr.track_id) & (mask[t] == 0)).any()
            assert np.isin(ids, anomalous).any()


def test_activity_document(root, ds):
    from vadkit.data.pairs import pair_distance
    from vadkit.data.synth import load_activity

    n_pairs = n_anomalous_pairs = 0
    for v in ds.values():
        doc = load_activity(root, v.video_id)
        objects = load_objects(root, v.video_id)
        text = json.loads((root / "text" / f"{v.video_id}.json").read_text())
        D = doc["delta_frames"]
        assert D == round(doc["delta_s"] * doc["fps"]) == 15
        visible = set(objects.track_id[objects.object_class != "debris"])
        assert set(map(int, doc["agents"])) == visible  # every agent, anomalous or not
        for aid, row in doc["agents"].items():
            assert row["target"] and row["trajectory"]
        anom_rows = [r for r in doc["agents"].values() if r["event"]]
        assert sorted(r["target"] for r in anom_rows) == sorted(text["target_sentences"])
        assert sorted(r["trajectory"] for r in anom_rows) == sorted(text["trajectory_sentences"])
        assert [w["start"] for w in doc["windows"]] == list(range(0, v.num_frames - D, D))
        at = {(r.track_id, r.frame): r for r in objects.itertuples()}
        for w in doc["windows"]:
            t0, t1 = w["start"], w["end"]
            assert t1 == t0 + D
            both = sorted(a for a in visible if (a, t0) in at and (a, t1) in at)
            assert [s["id"] for s in w["singles"]] == both
            for s in w["singles"]:
                labels = {at[(s["id"], t)].label for t in range(t0, t1 + 1) if (s["id"], t) in at} - {"normal"}
                assert s["anomalous"] == bool(labels) and (s["label"] in labels or s["label"] == "normal")
            # pairs: exactly the pseudo-depth pairs among the singles at frame start
            want = set()
            for n, i in enumerate(both):
                for j in both[n + 1:]:
                    bi, bj = ((at[(k, t0)].x1, at[(k, t0)].y1, at[(k, t0)].x2, at[(k, t0)].y2) for k in (i, j))
                    d, h = pair_distance(bi, bj)
                    if d < h:
                        want.add((i, j))
            assert {tuple(p["ids"]) for p in w["pairs"]} == want
            for p in w["pairs"]:
                n_pairs += 1
                n_anomalous_pairs += p["anomalous"]
                assert p["text"].endswith(p["relation"])
        turns = doc["dialogue"]
        assert turns[0]["kind"] == "yesno" and turns[0]["answer"] == ("Yes." if v.classes else "No.")
        starts = [t["start_frame"] for t in turns if t["kind"] == "when_start"]
        assert starts == sorted(s.start for s in v.segments)
        for t in turns:
            if t["kind"] == "which_target":
                assert all(doc["agents"][str(i)]["event"] == t.get("label") for i in t["track_ids"])
    assert n_pairs and n_anomalous_pairs  # the fixture has fights and thefts: interacting anomalous pairs


def test_activity_interaction_wording(root, ds):
    from vadkit.data.synth import load_activity

    relations = Counter()
    for v in ds.anomalous:
        for w in load_activity(root, v.video_id)["windows"]:
            for p in w["pairs"]:
                if p["labels"][0] == p["labels"][1] != "normal":
                    relations[(p["labels"][0], p["relation"])] += 1
    assert relations[("fighting", "they fight each other")] > 0
    assert any(lb == "theft" for lb, _ in relations)


def test_activity_text_recomputes_and_other_delta(root, ds):
    from vadkit.data.synth import activity_text, load_activity

    vid = next(v.video_id for v in ds.anomalous if "fighting" in v.classes)
    assert activity_text(root, vid) == load_activity(root, vid)  # one code path, generator and files
    two = activity_text(root, vid, delta_s=2.0)
    assert two["delta_frames"] == 30 and all(w["end"] - w["start"] == 30 for w in two["windows"])
    wide = activity_text(root, vid, h_scale=3.0)
    assert sum(len(w["pairs"]) for w in wide["windows"]) > sum(len(w["pairs"]) for w in load_activity(root, vid)["windows"])


def test_activity_errors_name_the_file(root, tmp_path):
    from vadkit.data.synth import read_activity
    from vadkit.errors import AnnotationError

    vid = json.loads((root / "synthvad.json").read_text())["videos"]
    doc = json.loads((root / "activity" / f"{next(iter(vid))}.json").read_text())
    cases = {
        "notjson.json": "{oops",
        "schema.json": json.dumps({**doc, "schema": "other/9"}),
        "missing.json": json.dumps({k: v for k, v in doc.items() if k != "windows"}),
        "badid.json": json.dumps({**doc, "windows": [{**doc["windows"][0], "singles": [
            {"id": 9999, "text": "x", "anomalous": False, "label": "normal"}]}]}),
        "badtype.json": json.dumps({**doc, "dialogue": [{"question": "q", "answer": 1, "kind": "yesno"}]}),
    }
    for name, body in cases.items():
        p = tmp_path / name
        p.write_text(body)
        with pytest.raises(AnnotationError, match=name):
            read_activity(p)
    with pytest.raises(DatasetError, match="missing"):
        read_activity(tmp_path / "absent.json")


def test_pair_rule():
    from vadkit.data.pairs import bottom_centre, interacting_pairs, pair_distance

    a = (0, 0, 10, 20)  # bottom centre (5, 20), height 20
    assert bottom_centre(a) == (5.0, 20.0)
    d, h = pair_distance(a, (12, 0, 22, 20))  # side by side: d = dx = 12
    assert (d, h) == (12.0, 20.0)
    d, _ = pair_distance(a, (0, 10, 10, 30))  # one behind the other: dy = z = 10 -> d = sqrt(200)
    assert d == pytest.approx(np.sqrt(200))
    d, h = pair_distance(a, (0, 0, 10, 40))  # h is the larger height
    assert h == 40 and d == pytest.approx(np.sqrt(2) * 20)
    boxes = {1: a, 2: (12, 0, 22, 20), 3: (100, 0, 110, 20)}
    assert [(i, j) for i, j, *_ in interacting_pairs(boxes)] == [(1, 2)]
    assert interacting_pairs(boxes, h_scale=0.5) == []


# ----------------------------------------------------------------------------------------------
# context-defined types (on request), their hard negatives, long videos, the benchmark request
# ----------------------------------------------------------------------------------------------
CONTEXT_CONFIG = SynthConfig(min_frames=300, max_frames=330, stop_rate=0.004, crossing_rate=0.004,
                             abnormal_fraction=0.75)


KEYWORDS_CONTEXT = {"illegal_occupation": "stays there", "pedestrian_on_road": "walks along the",
                    "illegal_turn": "turns around"}


@pytest.fixture(scope="module")
def context_root(tmp_path_factory) -> Path:
    from vadkit.data.synth import CONTEXT_TYPES

    return generate(tmp_path_factory.mktemp("ctx") / "ds", {"test": 8}, seed=4, config=CONTEXT_CONFIG,
                    anomaly_types={"test": list(CONTEXT_TYPES)}, progress=False, workers=1)


def test_context_types_need_context(context_root):
    from vadkit.data.synth import CLASS_NAMES as DEFAULT, CONTEXT_TYPES
    from vadkit.data.synth.simulate import OCCUPY_AFTER_S, ON_ROAD_AFTER_S

    ds = load_synthvad(context_root)
    assert ds.class_names == DEFAULT + CONTEXT_TYPES
    fps = CONTEXT_CONFIG.fps
    seen = set()
    for v in ds.anomalous:
        (seg,) = v.segments
        seen.add(seg.label)
        objects = load_objects(context_root, v.video_id)
        agent = objects[objects.anomalous == 1].track_id.iloc[0]
        rows = objects[objects.track_id == agent].sort_values("frame")
        first = rows[rows.anomalous == 1].frame.min()
        before = rows[rows.frame < first]
        if seg.label == "illegal_occupation":
            # the car has stood still (act "wait") for OCCUPY_AFTER_S before it counts as an occupation,
            # unless it was already standing when the video started
            waited = (before.act == "wait").sum()
            assert waited >= OCCUPY_AFTER_S * fps - 1 or before.frame.min() == 0 and waited > 0
            assert set(rows[rows.anomalous == 1].act) == {"occupy"}
        if seg.label == "pedestrian_on_road":
            on_road = (before.act == "walk_on_road").sum()
            assert on_road >= ON_ROAD_AFTER_S * fps - 1 or before.frame.min() == 0
        if seg.label == "illegal_turn":
            assert "u_turn" in set(rows[rows.anomalous == 1].act)
        assert KEYWORDS_CONTEXT[seg.label] in v.explanation
    assert seen == set(CONTEXT_TYPES)


def test_context_hard_negatives_in_normal_videos(context_root):
    acts = Counter()
    for v in load_synthvad(context_root).values():
        objects = load_objects(context_root, v.video_id)
        acts.update(set(objects[objects.anomalous == 0].act))
    assert acts["wait"] > 0 or acts["cross"] > 0  # normal cars stopping briefly / people crossing


def test_default_requests_unchanged_by_context_options():
    from vadkit.data.synth.builder import PRETRAIN_CONFIG, SMOKE_CONFIG

    for cfg in (SynthConfig(), SMOKE_CONFIG, PRETRAIN_CONFIG):
        assert "stop_rate" not in cfg.to_dict() and "crossing_rate" not in cfg.to_dict()
    assert "stop_rate" in CONTEXT_CONFIG.to_dict()
    with pytest.raises(ConfigError, match="unknown type"):
        plan_videos({"test": 2}, 0, SynthConfig(), {"test": ["u_turn"]})


def test_long_and_benchmark_requests():
    from vadkit.data.layouts import DEFAULT_CLASS_MAPS, synth_request
    from vadkit.data.synth import ALL_ANOMALY_TYPES, CONTEXT_TYPES, LONG_CONFIG
    from vadkit.data.synth.builder import BENCH_CONFIG, BENCH_SPLITS, BENCH_TYPES, SMOKE_SPLITS

    req = synth_request("tad", 12, long=True)
    assert req["config"].min_frames >= 600 and req["config"].stop_rate > 0
    assert set(CONTEXT_TYPES) <= set(req["anomaly_types"]["train"])
    assert all(DEFAULT_CLASS_MAPS["tad"][t] in (2, 3, 6) for t in CONTEXT_TYPES)
    from vadkit.data.parsers import TAD_CLASSES        # TAD's own ids: 5 is "else", 6 "PedestrianOnRoad"
    assert TAD_CLASSES[DEFAULT_CLASS_MAPS["tad"]["pedestrian_on_road"]] == "PedestrianOnRoad"
    assert set(synth_request("tad", 12)["anomaly_types"]["train"]).isdisjoint(CONTEXT_TYPES)
    plan = plan_videos(BENCH_SPLITS, 0, BENCH_CONFIG, BENCH_TYPES)
    assert {c for it in plan for c in it["classes"]} == set(ALL_ANOMALY_TYPES)
    assert all(len(it["classes"]) <= 1 for it in plan)
    # the held-out types are in no smoke split
    smoke = plan_videos(SMOKE_SPLITS, 0, SynthConfig(min_frames=160, max_frames=240), None)
    assert not {c for it in smoke for c in it["classes"]} & set(CONTEXT_TYPES)
    assert LONG_CONFIG.min_frames == 600 and LONG_CONFIG.max_frames == 900


def test_long_video_with_context_event(tmp_path):
    import dataclasses

    from vadkit.data.synth import LONG_CONFIG

    cfg = dataclasses.replace(LONG_CONFIG, abnormal_fraction=1.0)
    root = generate(tmp_path / "long", {"test": 1}, seed=2, config=cfg,
                    anomaly_types={"test": ["illegal_occupation"]}, progress=False, workers=1)
    (v,) = load_synthvad(root).values()
    assert 600 <= v.num_frames <= 900 and v.classes == ("illegal_occupation",)


# ----------------------------------------------------------------------------------------------
# generator 2.0: single-frame signatures of the anomalies and their normal look-alikes
# ----------------------------------------------------------------------------------------------
HP = 18.0  # a person's height in px at scale 1
SCENES = ("street", "plaza", "park", "campus")


def _shoulder(j):
    return j["arms"][0][0]


def _width(tp) -> int:
    return tp.bbox[2] - tp.bbox[0]


def _height(tp) -> int:
    return tp.bbox[3] - tp.bbox[1]


def test_fight_pose_raises_both_fists_towards_the_opponent():
    from vadkit.data.synth.world import person_joints

    for facing in (1, -1):
        for q in range(8):
            j = person_joints(HP, "fight", q / 8, facing)
            sh = _shoulder(j)
            for _, _, hand in j["arms"]:
                assert hand[1] > sh[1] + 0.05 * HP, "fist not above the shoulder"
                assert (hand[0] - sh[0]) * facing > 0.1 * HP, "fist not towards the opponent"
            highest = max(hand[1] for _, _, hand in j["arms"])
            assert highest >= j["head"][1] - 0.05 * HP  # one fist at head height
        walk = person_joints(HP, "walk", 0.25, facing)
        assert all(hand[1] < _shoulder(walk)[1] - 0.2 * HP for _, _, hand in walk["arms"])


def test_run_pose_leans_and_strides_more_than_walk():
    from vadkit.data.synth.world import person_joints, person_template

    def stride(j):
        feet = [leg[2] for leg in j["legs"]]
        return abs(feet[0][0] - feet[1][0]) + abs(feet[0][1] - feet[1][1])

    run = [person_joints(HP, "run", q / 8, 1) for q in range(8)]
    walk = [person_joints(HP, "walk", q / 8, 1) for q in range(8)]
    for j in run:
        assert j["neck"][0] - j["hip"][0] >= 0.18 * HP  # forward lean
        assert min(leg[2][1] for leg in j["legs"]) == pytest.approx(0.0, abs=1e-6)  # a foot on the ground
        assert stride(j) > 0.25 * HP  # never feet together, unlike a walker mid-step
    assert max(stride(j) for j in run) > 1.3 * max(stride(j) for j in walk)
    assert min(stride(j) for j in run) > 2 * min(stride(j) for j in walk)
    # and in pixels: every running sprite is wider than the widest walking one
    walk_w = max(_width(person_template("walk", q, 1, 0, False, 1.0)) for q in range(8))
    assert min(_width(person_template("run", q, 1, 0, False, 1.0)) for q in range(8)) > walk_w


def test_bend_pose_looks_like_a_fall_half_way_with_feet_under_the_body():
    from vadkit.data.synth.world import person_joints, person_template

    j = person_joints(HP, "bend", 0.0, 1)
    tx, ty = j["neck"][0] - j["hip"][0], j["neck"][1] - j["hip"][1]
    assert 60 <= np.degrees(np.arctan2(tx, ty)) <= 80  # torso tilt from the vertical
    assert all(abs(leg[2][1]) < 1e-6 for leg in j["legs"])  # both feet on the ground
    stand, bend = person_template("stand", 0, 1, 0, False, 1.0), person_template("bend", 0, 1, 0, False, 1.0)
    assert _height(bend) < 0.8 * _height(stand)


def test_askew_damaged_car_template():
    from vadkit.data.synth.world import BODY, DAMAGE, HEADLIGHT, car_palette, car_template

    for heading in ("E", "W"):
        up = car_template(heading, 1.0)
        assert not (up.labels == DAMAGE).any()
        for mag in (12, 18, 25):
            for damage, tilt in (("front", mag), ("rear", -mag)):  # the crushed end lifted (simulate._askew)
                tp = car_template(heading, 1.0, tilt, damage)
                assert (tp.labels == DAMAGE).sum() >= 20
                # taller box: it stands askew (the rotated body's ends rise and sink)
                assert tp.bbox[3] - tp.bbox[1] >= up.bbox[3] - up.bbox[1] + (1 if mag < 20 else 3)
                assert tp.body[tp.ay - 1].any() and not tp.body[tp.ay:].any()  # back on the ground
        flat = car_template(heading, 1.0, 0, "front")
        assert flat.bbox[2] - flat.bbox[0] < up.bbox[2] - up.bbox[0]  # the crushed end is shorter
        assert (flat.labels == HEADLIGHT).sum() < (up.labels == HEADLIGHT).sum() // 2  # the headlight is gone
    for seed in range(40):  # crumpled metal stands out from every paint colour
        pal, _ = car_palette(np.random.default_rng(seed))
        assert np.abs(pal[DAMAGE] - pal[BODY]).max() > 40


def _sim(classes, index, scene="street", T=200, seed=5):
    from vadkit.data.synth.builder import simulate_video

    cfg = SynthConfig(min_frames=160, max_frames=240)
    item = {"video_id": f"v{index}", "split": "test", "classes": classes, "scene": scene, "num_frames": T,
            "index": index}
    return simulate_video(item, seed, cfg)


def test_collided_cars_are_askew_and_damaged_only_while_anomalous():
    variants = set()
    for idx in range(8):
        rend, agents, events, *_ = _sim(["collision"], idx, scene=SCENES[idx % 4])
        variants.add(events[0]["info"]["variant"])
        cars = [a for a in events[0]["agents"] if a.kind == "car"]
        assert cars
        for a in cars:
            marked = np.array([bool(d) for d in a.damage]) | (np.abs(a.tilt) > 0)
            assert marked.any() and (a.anom[marked] >= 0).all()
            first = int(np.argmax(marked))
            assert (a.anom[:first] < 0).all() and all(d == "" for d in a.damage[:first])
            assert all(d == a.damage[first] for d in a.damage[first:])  # once crushed, it stays crushed
            stopped = [i for i, act in enumerate(a.act) if act in ("crash", "stopped") and abs(a.tilt[i]) > 0]
            assert 12 <= max(abs(a.tilt[i]) for i in stopped) <= 25
        # boxes of a collided car hold its askew silhouette: they are taller than an upright car's
        upright = max(y2 - y1 for a in agents if a.kind == "car" and a not in cars
                      for _, _, y1, _, y2, _ in rend.boxes[a.aid]) if any(
            a.kind == "car" and a not in cars and rend.boxes[a.aid] for a in agents) else 15
        askew = max(y2 - y1 for a in cars for _, _, y1, _, y2, k in rend.boxes[a.aid] if k >= 0)
        assert askew > upright
        for a in agents:  # nobody else is ever askew or damaged
            if a not in cars and a.kind == "car":
                assert not any(a.damage) and not np.abs(a.tilt).any()
    assert variants == {"rear_end", "pedestrian"}


def test_theft_bag_changes_hands():
    _, agents, *_ = _sim(["theft"], 3)
    thief = next(a for a in agents if a.role == "thief")
    victim = next(a for a in agents if a.role == "victim")
    t_snatch = thief.t0 + thief.act.index("snatch")
    t_flee = thief.t0 + thief.act.index("flee")
    before, after = t_snatch - 5, t_flee + 3
    assert victim.carry[before - victim.t0] and not thief.carry[before - thief.t0]
    assert thief.carry[after - thief.t0] and not victim.carry[after - victim.t0]
    assert victim.pose[after - victim.t0] == "alarm"
    assert thief.pose[after - thief.t0] == "run"


def test_lookalikes_in_normal_videos_are_normal():
    from vadkit.data.synth.activity import PERSON_VERBS, VEHICLE_VERBS, _verbs

    seen = Counter()
    for idx in range(6):
        for classes in ([], ["fighting"] if idx % 2 else ["falling"]):
            rend, agents, _, scene, *_ = _sim(classes, 40 + idx, scene=SCENES[idx % 4])
            for a in agents:
                kinds = {"bend", "park", "walk_together"} & set(a.act)
                if not kinds:
                    continue
                assert (a.anom < 0).all() and a.role == ""
                rows = rend.boxes[a.aid]
                for act in kinds:
                    seen[act] += sum(1 for t, *_ in rows if a.act[t - a.t0] == act)
                # none of their pixels is in the anomaly mask (modal ids: where they are seen)
                assert not (rend.mask.astype(bool) & (rend.ids == a.aid)).any()
                if "park" in kinds:
                    assert a.kind == "car" and not np.abs(a.tilt).any() and not any(a.damage)
                    assert len({(x1, y1, x2, y2) for _, x1, y1, x2, y2, _ in rows}) == 1  # still all video
                    assert scene.regions[rows[0][4] - 2, (rows[0][1] + rows[0][3]) // 2] == 6  # in a bay
                if "walk_together" in kinds:
                    b = next(x for x in agents if x.aid == a.attrs["companion"])
                    assert b.attrs["companion"] == a.aid and b.t0 == a.t0
                    assert np.hypot(a.x - b.x, a.y - b.y).max() < 8 * scene.scale  # side by side all along
    assert seen["bend"] > 0 and seen["park"] > 0 and seen["walk_together"] > 0, seen
    for act in ("bend", "walk_together"):
        assert act in PERSON_VERBS and _verbs("person", ["walk", act], " to the left")
    assert VEHICLE_VERBS["park"] == "is parked"


def test_lookalike_config():
    cfg = SynthConfig()
    d = cfg.to_dict()
    for k in ("bend_prob", "together_prob", "parked_prob", "bag_prob"):
        assert 0 < d[k] <= 0.5  # on by default, at modest rates, and part of the request hash
    assert SynthConfig.from_dict(d) == cfg
    with pytest.raises(ConfigError, match="bend_prob"):
        SynthConfig(bend_prob=1.5)


def test_lookalike_text(root, ds):
    """The fixture's agents of the new acts are worded in the activity text and the captions."""
    from vadkit.data.synth import load_activity

    words = {"bend": "bends down", "walk_together": "together with another person", "park": "is parked"}
    found = Counter()
    for v in ds.values():
        objects = load_objects(root, v.video_id)
        acts = set(objects.act[objects.anomalous == 0])
        doc = json.dumps(load_activity(root, v.video_id))
        for act, w in words.items():
            if act in acts:
                found[act] += 1
                assert w in doc, (v.video_id, act)
    assert sum(found.values()) > 0, "the fixture holds no look-alike at all"
