"""SynthVAD in the real datasets' on-disk layouts: each tree verifies, loads through the real loaders and gives
back SynthVAD's ground truth at the levels the real release has (and no more); writing is idempotent,
atomic and resumable. Also the loader fixes these trees exposed (with the real formats' quirks)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vadkit.cli import main
from vadkit.data import parsers as P
from vadkit.data.datasets import load_dataset, verify_dataset
from vadkit.data.layouts import (DEFAULT_CLASS_MAPS, UBNORMAL_OPEN_SET, layout_info, read_pixel_mask, synth_request,
                                 synthvad_ids, write_layout)
from vadkit.data.synth import SynthConfig, generate, load_synthvad
from vadkit.data.synth.world import CAMEL_NAMES
from vadkit.data.video import VideoReader, write_video
from vadkit.errors import DatasetError

TINY = SynthConfig(min_frames=48, max_frames=60, second_event_prob=0.0)
# open-set and mappable everywhere: UBnormal (disjoint types), XD (B1/B5/B6), UCF; TAD maps two via class_map
TYPES = {"train": ["fighting"], "val": ["theft"], "test": ["collision"]}
TAD_EXTRA = {"fighting": 5, "theft": 5}  # TAD's "else"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "src", {"train": 4, "val": 2, "test": 4}, seed=5, config=TINY,
                    anomaly_types=TYPES, progress=False, workers=1)


@pytest.fixture(scope="module")
def truth(source):
    return load_synthvad(source)


@pytest.fixture(scope="module")
def trees(source, tmp_path_factory):
    """One tree per layout, written once for the module."""
    base = tmp_path_factory.mktemp("trees")
    cache = {}

    def get(layout):
        if layout not in cache:
            cm = TAD_EXTRA if layout == "tad" else None
            cache[layout] = write_layout(source, layout, base / layout, class_map=cm, progress=False)
        return cache[layout]

    return get


def _loaded(layout, root):
    rep = verify_dataset(layout, root, deep=True)
    assert rep.ok, rep.format()
    assert any("SynthVAD tree" in n for n in rep.notes)
    return load_dataset(layout, root), synthvad_ids(root)


def _weak_splits(truth):
    return {vid: ("test" if v.split == "test" else "train") for vid, v in truth.items()}


def _exact_frames(v):
    return v.frame_labels_from_segments(int(v.num_frames), end_inclusive=True)


# ------------------------------------------------------------------ weakly supervised layouts


def test_ucf_crime_round_trip(trees, truth):
    root = trees("ucf_crime")
    ann, ids = _loaded("ucf_crime", root)
    assert sorted(ids.values()) == sorted(truth) and ann.meta["layout"]["layout"] == "ucf_crime"
    splits = _weak_splits(truth)
    for vid, a in ann.items():
        t = truth[ids[vid]]
        assert a.split == splits[t.video_id] and a.fps == t.fps == 15.0
        assert a.classes == tuple(CAMEL_NAMES[c] for c in t.classes)
        assert vid.endswith("_x264") and a.video_path.is_file()
        if a.split == "train":
            assert a.segments == [] and a.frame_labels is None  # weak supervision: video-level labels only
        else:
            assert [(s.start, s.end) for s in a.segments] == [(s.start, s.end) for s in t.segments]
            assert a.segments == [] or a.segments[0].end_inclusive is None  # as the release: not documented
    assert set(ann.class_names) == {CAMEL_NAMES[c] for v in truth.values() for c in v.classes}
    assert "val" not in {a.split for a in ann.values()}
    with pytest.raises(DatasetError, match="split 'val'"):
        load_dataset("ucf_crime", root, split="val")
    # the release's file layout and line format
    temporal = root / "Temporal_Anomaly_Annotation_for_Testing_Videos" / "Txt formate" / "Temporal_Anomaly_Annotation.txt"
    line = temporal.read_text().splitlines()[0]
    assert line.endswith(" ") and ".mp4  " in line
    lists = root / "UCF_Crimes-Train-Test-Split" / "Anomaly_Detection_splits"
    assert all(x.startswith(("Training_Normal_Videos_Anomaly/", "Fighting/", "Theft/"))
               for x in (lists / "Anomaly_Train.txt").read_text().split())
    # videos are hard links to SynthVAD's files (same container)
    a = next(iter(ann.values()))
    assert os.path.samefile(a.video_path, truth[ids[a.video_id]].video_path)
    assert layout_info(root)["videos_stored_as"] == {"hard link": len(truth)}


def test_xd_violence_round_trip(trees, truth):
    ann, ids = _loaded("xd_violence", trees("xd_violence"))
    codes = DEFAULT_CLASS_MAPS["xd_violence"]
    for vid, a in ann.items():
        t = truth[ids[vid]]
        assert a.split == _weak_splits(truth)[t.video_id]
        assert a.classes == tuple(P.XD_LABELS[codes[c]] for c in t.classes)
        assert "_label_" in vid and a.video_path.parent.name == a.split
        if a.split == "train" or not t.classes:
            assert a.segments == []
        else:
            assert [(s.start, s.end, s.label) for s in a.segments] == \
                [(s.start, s.end, P.XD_LABELS[codes[s.label]]) for s in t.segments]


def test_xd_violence_multi_label(tmp_path):
    src = generate(tmp_path / "src", {"train": 1, "test": 1}, seed=2, progress=False, workers=1,
                   config=SynthConfig(min_frames=96, max_frames=104, abnormal_fraction=1.0, second_event_prob=1.0),
                   anomaly_types={"train": ["fighting", "theft"], "test": ["fighting", "collision"]})
    truth = load_synthvad(src)
    root = write_layout(src, "xd_violence", tmp_path / "xd", progress=False)
    ann, ids = _loaded("xd_violence", root)
    two = [vid for vid in ann if len(truth[ids[vid]].classes) == 2]
    assert {ann[v].split for v in two} == {"train", "test"}, "the source should hold two-event videos"
    for vid in two:
        assert len(ann[vid].classes) == 2 and "-0" in vid and vid.endswith("-0")  # e.g. label_B1-B5-0
        if ann[vid].split == "test":
            assert len(ann[vid].segments) == 2


def test_tad_round_trip(trees, truth):
    root = trees("tad")
    ann, ids = _loaded("tad", root)
    cmap = {**DEFAULT_CLASS_MAPS["tad"], **TAD_EXTRA}
    for vid, a in ann.items():
        t = truth[ids[vid]]
        assert a.split == _weak_splits(truth)[t.video_id] and a.num_frames == t.num_frames
        assert a.classes == tuple(P.TAD_CLASSES[cmap[c]] for c in t.classes[:1])
        assert a.video_path.relative_to(root).parts[:2] == ("frames", "abnormal" if t.classes else "normal")
        if a.split == "train":
            assert a.segments == []
        else:
            assert [(s.start, s.end) for s in a.segments] == [(s.start, s.end) for s in t.segments]
    train_line = (root / "labels" / "TAD_train.txt").read_text().splitlines()[0].split()
    assert len(train_line) == 4 and train_line[1] == "0"  # UMIL's training list: path start end class


def test_tad_refuses_two_events_and_unmapped_types(source, tmp_path):
    with pytest.raises(DatasetError, match="has no label in the tad layout.*class_map"):
        write_layout(source, "tad", tmp_path / "t1", progress=False)  # fighting / theft are not traffic
    with pytest.raises(DatasetError, match="TAD class ids are integers 1..7"):
        write_layout(source, "tad", tmp_path / "t2", class_map={"fighting": 9}, progress=False)
    with pytest.raises(DatasetError, match="XD-Violence codes"):
        write_layout(source, "xd_violence", tmp_path / "t3", class_map={"fighting": "Z9"}, progress=False)
    from vadkit.data.synth import ANOMALY_TYPES

    req = synth_request("tad", 5)
    assert req["config"].second_event_prob == 0
    assert set(req["anomaly_types"]["train"]) == set(DEFAULT_CLASS_MAPS["tad"]) & set(ANOMALY_TYPES)
    long = synth_request("tad", 5, long=True)  # + the context types, as in the real TAD
    assert set(long["anomaly_types"]["train"]) == set(DEFAULT_CLASS_MAPS["tad"])
    assert long["config"].second_event_prob == 0 and long["config"].min_frames >= 600


# ------------------------------------------------------------------ semi-supervised layouts


def test_shanghaitech_round_trip(trees, truth):
    root = trees("shanghaitech")
    ann, ids = _loaded("shanghaitech", root)
    info = layout_info(root)
    dropped = {vid for vid, v in truth.items() if v.split in ("train", "val") and v.classes}
    assert set(info["dropped"]) == dropped and dropped
    assert sorted(ids.values()) == sorted(set(truth) - dropped)
    for vid, a in ann.items():
        t = truth[ids[vid]]
        if a.split == "train":
            assert not t.classes and a.video_path.suffix == ".avi" and a.frame_labels is None
            # remuxed without re-encoding: the very same frames
            assert np.array_equal(VideoReader(a.video_path).get_frames([0, 5]), VideoReader(t.video_path).get_frames([0, 5]))
        else:
            assert np.array_equal(a.frame_labels, t.frame_labels)
            assert a.video_path.is_dir() and VideoReader(a.video_path).num_frames == t.num_frames
            assert (a.video_path / "000.jpg").is_file()
            assert np.array_equal(P.parse_pixel_mask(a.pixel_mask_path), read_pixel_mask(t, (120, 160)))


def test_avenue_round_trip(trees, truth):
    root = trees("avenue")
    ann, ids = _loaded("avenue", root)
    for vid, a in ann.items():
        t = truth[ids[vid]]
        assert a.video_path.parent.name == ("testing_videos" if a.split == "test" else "training_videos")
        assert a.video_path.parent.parent.name == "Avenue Dataset"
        if a.split == "test":
            assert np.array_equal(a.frame_labels, t.frame_labels) and a.num_frames == t.num_frames
            assert VideoReader(a.video_path).num_frames == t.num_frames
        else:
            assert not t.classes
    import scipy.io

    vol = scipy.io.loadmat(next((root / "ground_truth_demo" / "testing_label_mask").glob("*_label.mat")))["volLabel"]
    assert vol.dtype == object and vol.shape[0] == 1 and vol[0, 0].shape == (120, 160)


# ------------------------------------------------------------------ UBnormal


def test_ubnormal_round_trip(trees, truth):
    root = trees("ubnormal")
    ann, ids = _loaded("ubnormal", root)
    info = layout_info(root)
    assert {a.split for a in ann.values()} == {"train", "val", "test"}
    types = {s: {c for vid, a in ann.items() if a.split == s for c in truth[ids[vid]].classes} for s in TYPES}
    assert types == {s: set(t) for s, t in TYPES.items()}  # open set: disjoint types per split
    for vid, a in ann.items():
        t = truth[ids[vid]]
        assert a.split == t.split and vid.startswith("abnormal_" if t.classes else "normal_")
        assert a.video_path.parent.name == f"Scene{vid.split('_')[2]}" and a.fps == 15.0
        if not t.classes:
            assert "annotation_dir" not in a.extra
            continue
        # frame level: the tracks rows (inclusive) give back SynthVAD's frame labels
        assert np.array_equal(_exact_frames(a.replace(num_frames=t.num_frames)), t.frame_labels)
        # pixel level: the object maps restricted to the tracks give back SynthVAD's anomaly mask
        mask = P.ubnormal_anomaly_mask(a.extra["annotation_dir"], vid, t.num_frames)
        assert np.array_equal(mask, read_pixel_mask(t))
        # region level: boxes from the maps; exact for an agent no other anomalous agent touches
        objects = info["videos"][vid]["object_ids"]
        synth = {tr.track_id: tr for tr in t.tracks if tr.anomalous}
        for tr in P.ubnormal_box_tracks(a.extra["annotation_dir"], vid):
            st = synth[objects[str(tr.track_id)]]
            assert set(tr.frames) <= set(st.frames)
            for f, box in zip(tr.frames, tr.boxes):
                ref = st.boxes[list(st.frames).index(f)]
                assert ref[0] <= box[0] and ref[1] <= box[1] and box[2] <= ref[2] and box[3] <= ref[3]
                if len(synth) == 1:
                    assert np.array_equal(box, ref)
    # the official split files, without a newline after the last name
    text = (root / "scripts" / "abnormal_training_video_names.txt").read_text()
    assert text and not text.endswith("\n")


def test_ubnormal_needs_open_set(tmp_path):
    src = generate(tmp_path / "src", {"train": 2, "test": 2}, seed=0, config=TINY, progress=False, workers=1,
                   anomaly_types={"train": ["running"], "test": ["running"]})
    with pytest.raises(DatasetError, match="open-set.*share \\['running'\\]"):
        write_layout(src, "ubnormal", tmp_path / "ub", progress=False)
    assert set(synth_request("ubnormal", 8)["anomaly_types"]["val"]) == set(UBNORMAL_OPEN_SET["val"])


# ------------------------------------------------------------------ writer properties


def test_idempotent_and_refuses_other_content(source, trees, tmp_path):
    root = trees("xd_violence")
    marker = root / ".vadkit_layout.json"
    before = marker.stat().st_mtime_ns
    assert write_layout(source, "xd_violence", root, progress=False) == root
    assert marker.stat().st_mtime_ns == before  # nothing rewritten
    with pytest.raises(DatasetError, match="other settings"):
        write_layout(source, "xd_violence", root, class_map={"theft": "B1"}, progress=False)
    other = tmp_path / "busy"
    other.mkdir()
    (other / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match="not empty and is not a vadkit layout tree"):
        write_layout(source, "ucf_crime", other, progress=False)
    with pytest.raises(DatasetError, match="unknown layout"):
        write_layout(source, "kinetics", tmp_path / "k", progress=False)


def test_resume_after_interruption(source, tmp_path, monkeypatch):
    from vadkit.data import layouts as L

    calls = {"n": 0}
    real = L._write_frames

    def flaky(src, dst, quality=95):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the job dies while writing the second frame folder
        return real(src, dst, quality)

    monkeypatch.setattr(L, "_write_frames", flaky)
    out = tmp_path / "sht"
    with pytest.raises(KeyboardInterrupt):
        write_layout(source, "shanghaitech", out, progress=False)
    assert not out.exists()
    part = next(tmp_path.glob(".sht.partial-*"))
    done = sorted(p.name for p in (part / "testing" / "frames").iterdir() if not p.name.startswith("."))
    assert len(done) == 1
    first = part / "testing" / "frames" / done[0] / "000.jpg"
    stamp = first.stat().st_mtime_ns
    monkeypatch.setattr(L, "_write_frames", real)
    assert write_layout(source, "shanghaitech", out, progress=False) == out
    assert (out / "testing" / "frames" / done[0] / "000.jpg").stat().st_mtime_ns == stamp  # kept, not redone
    assert verify_dataset("shanghaitech", out).ok and not part.exists()
    assert not list(out.rglob(".*.partial"))


def test_link_modes(source, tmp_path):
    root = write_layout(source, "ucf_crime", tmp_path / "copy", link="copy", progress=False)
    ann = load_dataset("ucf_crime", root)
    a = next(iter(ann.values()))
    assert not a.video_path.is_symlink() and a.video_path.stat().st_nlink == 1
    assert layout_info(root)["videos_stored_as"] == {"copy": len(ann)}
    root = write_layout(source, "ucf_crime", tmp_path / "sym", link="symlink", progress=False)
    assert all(p.is_symlink() for p in root.rglob("*.mp4"))
    assert verify_dataset("ucf_crime", root).ok


def test_cli_layout(tmp_path, vadkit_home, capsys):
    out = tmp_path / "tad-tree"
    assert main(["data", "synth", "--layout", "tad", "--out", str(out), "--videos", "3", "--frames", "40", "48"]) == 0
    text = capsys.readouterr().out
    assert "tad layout" in text and f"vadkit data verify tad --root {out}" in text
    assert main(["data", "verify", "tad", "--root", str(out)]) == 0
    assert "SynthVAD tree" in capsys.readouterr().out
    assert len(load_dataset("tad", out)) == 3
    assert main(["data", "synth", "--out", str(tmp_path / "x")]) == 1  # --videos missing: a clear error
    assert "--videos N is required" in capsys.readouterr().err


# ------------------------------------------------------------------ loader fixes the layouts exposed


def test_verify_subset_mode_and_real_counts(trees):
    """Without the marker the real release's counts apply (and fail on a handful of videos); --subset skips them."""
    root = trees("ucf_crime")
    marker = root / ".vadkit_layout.json"
    saved = marker.read_bytes()
    marker.unlink()
    try:
        rep = verify_dataset("ucf_crime", root, probe_videos=False)
        assert not rep.ok and any("expected at least 1900" in p.message for p in rep.missing)
        assert verify_dataset("ucf_crime", root, probe_videos=False, subset=True).ok
        assert load_dataset("ucf_crime", root).get(next(iter(load_dataset("ucf_crime", root)))).fps == 30  # manifest
    finally:
        marker.write_bytes(saved)


def test_xd_split_comes_from_folders_not_titles(tmp_path):
    root = tmp_path / "XD"
    tiny = np.zeros((4, 16, 16, 3), np.uint8)
    (root / "list").mkdir(parents=True)
    (root / "list" / "annotations.txt").write_text("Movie.2001__#1_label_B1-0-0 0 3\n")
    write_video(root / "test_videos" / "Movie.2001__#1_label_B1-0-0.mp4", tiny, 24)
    write_video(root / "train_videos" / "The.Greatest.Showman.2017__#1_label_A.mp4", tiny, 24)
    write_video(root / "test_videos" / "Trainspotting.1996__#1_label_A.mp4", tiny, 24)
    ann = load_dataset("xd_violence", root)
    assert ann["The.Greatest.Showman.2017__#1_label_A"].split == "train"
    assert ann["Trainspotting.1996__#1_label_A"].split == "test"


def test_tad_training_list_format(tmp_path):
    """UMIL's TAD_train.txt has four fields (path start end class), not the test list's five."""
    root = tmp_path / "TAD"
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "TAD_test.txt").write_text("frames/abnormal/01_Accident_006.mp4 266 1 75 110\n"
                                                  "frames/normal/Normal_008.mp4 77 0 0 77\n")
    (root / "labels" / "TAD_train.txt").write_text("frames/abnormal/01_Accident_001.mp4 0 224 1\n"
                                                   "frames/normal/Normal_001.mp4 0 141 0\n")
    ann = load_dataset("tad", root)
    assert ann["01_Accident_001"].split == "train" and ann["01_Accident_001"].classes == ("Accident",)
    assert ann["01_Accident_001"].num_frames == 224 and ann["01_Accident_001"].segments == []
    assert ann["Normal_001"].classes == () and ann["Normal_008"].split == "test"
    assert [(s.start, s.end) for s in ann["01_Accident_006"].segments] == [(75, 110)]
    with pytest.raises(Exception, match="five fields is the TAD_test.txt layout"):
        P.parse_tad_train(root / "labels" / "TAD_test.txt")


def test_avenue_train_and_test_ids_do_not_collide(tmp_path):
    import cv2

    root = tmp_path / "Avenue"
    masks = root / "B" / "ground_truth_demo" / "testing_label_mask"
    masks.mkdir(parents=True)
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8)
    import scipy.io

    scipy.io.savemat(masks / "1_label.mat", {"volLabel": cells})
    for folder, n in (("A/training_videos", 3), ("B/testing_videos", 2)):  # training sorts first
        (root / folder).mkdir(parents=True)
        w = cv2.VideoWriter(str(root / folder / "01.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (32, 24))
        for _ in range(n):
            w.write(np.zeros((24, 32, 3), np.uint8))
        w.release()
    ann = load_dataset("avenue", root)
    assert ann["01"].video_path.parent.name == "testing_videos"
    assert ann["train_01"].video_path.parent.name == "training_videos"


def test_synth_request_sizes_and_mask_formats(tmp_path):
    """Every split of a small request can hold a normal and an abnormal video; masks read from .npy, .npz, PNGs."""
    import cv2

    from vadkit.data.annotations import VideoAnnotation

    assert synth_request("ubnormal", 8)["splits"] == {"train": 3, "val": 2, "test": 3}
    assert synth_request("ucf_crime", 12)["splits"] == {"train": 10, "test": 2}
    assert synth_request("ucf_crime", 3)["splits"] == {"train": 2, "test": 1}
    with pytest.raises(DatasetError, match="at least 3 videos"):
        synth_request("ubnormal", 2)
    assert synth_request("shanghaitech", 6)["anomaly_types"] == {"train": []}
    assert synth_request("avenue", 4)["config"].scenes == ("campus",)
    m = (np.arange(3 * 4 * 5).reshape(3, 4, 5) % 7 == 0).astype(np.uint8)
    np.save(tmp_path / "m.npy", m)
    np.savez_compressed(tmp_path / "m.npz", mask=m)
    (tmp_path / "png").mkdir()
    for t in range(3):
        cv2.imwrite(str(tmp_path / "png" / f"{t}.png"), m[t] * 255)
    for p in ("m.npy", "m.npz", "png"):
        assert np.array_equal(read_pixel_mask(VideoAnnotation("v", num_frames=3, pixel_mask_path=tmp_path / p)), m)
    assert read_pixel_mask(VideoAnnotation("v", num_frames=3), (4, 5)).shape == (3, 4, 5)
    with pytest.raises(DatasetError, match="expected \\[2, H, W\\]"):
        read_pixel_mask(VideoAnnotation("v", num_frames=2, pixel_mask_path=tmp_path / "m.npy"))
