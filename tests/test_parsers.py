"""Annotation parsers: real files from ../shared/annotations (skipped when absent) and small
synthetic files for the formats without real copies (TAD, UCSD .m, Avenue .mat, box tracks,
ShanghaiTech masks, UBnormal object maps)."""

from __future__ import annotations

import numpy as np
import pytest

from vadkit.data import parsers as P
from vadkit.data.annotations import Segment, Track
from vadkit.errors import AnnotationError

# ------------------------------------------------------------------ real files


def test_ucf_temporal_real(shared_annotations):
    ann = P.parse_ucf_temporal(shared_annotations / "ucf_crime" / "Temporal_Anomaly_Annotation.txt")
    assert len(ann) == 290
    assert len(ann.anomalous) == 140
    assert sum(not v.is_anomalous for v in ann.values()) == 150
    assert set(ann.class_names) == set(P.UCF_CLASSES)
    v = ann["Abuse028_x264"]
    assert v.classes == ("Abuse",) and v.segments == [Segment(165, 240, "Abuse", None)]
    two = ann["Vandalism028_x264"]
    assert [(s.start, s.end) for s in two.segments] == [(1830, 1980), (2400, 2670)]
    assert all(s.end_inclusive is None for v in ann.values() for s in v.segments)
    assert all(len(v.segments) <= 2 for v in ann.values())
    assert ann["Normal_Videos_003_x264"].classes == () and ann["Normal_Videos_003_x264"].segments == []


def test_ucf_split_lists_real(shared_annotations):
    train = P.parse_ucf_split_list(shared_annotations / "ucf_crime" / "Anomaly_Train.txt")
    test = P.parse_ucf_split_list(shared_annotations / "ucf_crime" / "Anomaly_Test.txt")
    assert len(train) == 1610 and sum(c == "normal" for c, _ in train) == 800
    assert len(test) == 290 and sum(c == "normal" for c, _ in test) == 150
    assert ("Abuse", "Abuse001_x264") in train
    assert {c for c, _ in train} - {"normal"} == set(P.UCF_CLASSES)
    temporal = P.parse_ucf_temporal(shared_annotations / "ucf_crime" / "Temporal_Anomaly_Annotation.txt")
    assert {v for _, v in test} == set(temporal)
    assert not {v for _, v in train} & {v for _, v in test}  # no leakage between the official splits


def test_xd_annotations_real(shared_annotations):
    ann = P.parse_xd_annotations(shared_annotations / "xd_violence" / "annotations.txt")
    assert len(ann) == 500 and len(ann.anomalous) == 500
    assert not any(k.endswith(".mp4") for k in ann)  # the 14 wrong '.mp4' names are stripped
    v = ann["v=GI49YSCruwY__#1_label_B4-0-0"]
    assert v.classes == ("riot",)
    assert [(s.start, s.end) for s in v.segments] == [(0, 1410), (1795, 1965), (2320, 2980)]
    multi = [k for k, v in ann.items() if len(v.classes) > 1]
    assert "The.Fast.and.the.Furious.2001__#00-29-00_00-29-52_label_B2-G-0" in multi
    assert ann["The.Fast.and.the.Furious.2001__#00-29-00_00-29-52_label_B2-G-0"].classes == ("shooting", "explosion")


def test_xd_multiclass_real(shared_annotations):
    ann = P.parse_xd_multiclass(shared_annotations / "xd_violence" / "annotations_multiclasses.txt")
    plain = P.parse_xd_annotations(shared_annotations / "xd_violence" / "annotations.txt")
    assert set(ann) == set(plain) and len(ann) == 500
    assert set(ann.class_names) == {"fighting", "shooting", "riot", "abuse", "car accident", "explosion"}
    v = ann["v=S-7rRLrxnVQ__#1_label_B4-0-0"]
    assert v.segments == [Segment(0, 1517, "riot"), Segment(1970, 3038, "riot")]
    # per-segment labels agree with the name label for all but the documented quirk
    disagree = [k for k in ann if set(ann[k].classes) != set(plain[k].classes)]
    assert disagree == ["Ip.Man.2008__#01-40-37_01-42-07_label_B4-0-0"]


def test_ubnormal_splits_real(shared_annotations):
    splits = P.parse_ubnormal_splits(shared_annotations / "ubnormal")
    assert {k: len(v) for k, v in splits.items()} == {"train": 268, "val": 64, "test": 211}
    labels = {k: sum(P.ubnormal_label(n) == "abnormal" for n in v) for k, v in splits.items()}
    assert labels == {"train": 82, "val": 38, "test": 158}
    allv = [n for v in splits.values() for n in v]
    assert len(allv) == len(set(allv)) == 543


# ------------------------------------------------------------------ quirks and errors


def test_ucf_temporal_variants(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("A001.mp4  Fighting  5  9  -1  -1  \nN1  Normal  -1  -1  -1  -1  \n\nB2 Robbery 1 2 4 8 10 12\n")
    ann = P.parse_ucf_temporal(f, end_inclusive=True)
    assert list(ann) == ["A001", "N1", "B2"]
    assert ann["A001"].segments == [Segment(5, 9, "Fighting", True)]
    assert len(ann["B2"].segments) == 3  # SynthVAD may write more than two events
    assert ann.class_names == ("Fighting", "Robbery")


@pytest.mark.parametrize(
    "line, problem",
    [
        ("A  Fighting  5  -1  -1  -1", "half-empty"),
        ("A  Fighting  9  5  -1  -1", "end 5 < start 9"),
        ("A  Fighting  x  5  -1  -1", "not an integer"),
        ("A  Fighting  5  9  -1", "even number"),
        ("N  Normal  5  9  -1  -1", "Normal"),
    ],
)
def test_ucf_temporal_errors_name_file_and_line(tmp_path, line, problem):
    f = tmp_path / "bad.txt"
    f.write_text("ok  Abuse  1  2  -1  -1  \n" + line + "\n")
    with pytest.raises(AnnotationError) as err:
        P.parse_ucf_temporal(f)
    assert f"{f}:2" in str(err.value) and problem in str(err.value)


def test_missing_file_names_path_and_kind(tmp_path):
    with pytest.raises(AnnotationError, match=r"nope\.txt: UCF-Crime temporal annotation file"):
        P.parse_ucf_temporal(tmp_path / "nope.txt")
    with pytest.raises(AnnotationError, match="frame-mask folder"):
        P.parse_frame_masks(tmp_path / "none")


def test_duplicate_video_is_an_error(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("a_label_B1-0-0 1 2\na_label_B1-0-0.mp4 3 4\n")
    with pytest.raises(AnnotationError, match=r"d\.txt:2: .*duplicate"):
        P.parse_xd_annotations(f)


def test_xd_video_name():
    assert P.parse_xd_video_name("x__#1_label_B2-G-0") == ("x__#1_label_B2-G-0", ("shooting", "explosion"))
    assert P.parse_xd_video_name("x__#1_label_A.mp4") == ("x__#1_label_A", ())
    assert P.parse_xd_video_name("x_label_B6-0-0")[1] == ("car accident",)
    with pytest.raises(AnnotationError, match="unknown label code 'B3'"):
        P.parse_xd_video_name("x_label_B3-0-0")
    with pytest.raises(AnnotationError, match="no '_label_"):
        P.parse_xd_video_name("plain_name")


def test_xd_multiclass_free_labels_and_errors(tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("Running_0001 running 3 7 fighting 10 12\n")
    ann = P.parse_xd_multiclass(f, label_map=None, end_inclusive=True)
    assert ann["Running_0001"].classes == ("running", "fighting")
    assert ann["Running_0001"].segments[1] == Segment(10, 12, "fighting", True)
    f.write_text("v_label_B1-0-0 B9 3 7\n")
    with pytest.raises(AnnotationError, match=r"m\.txt:1: unknown class code 'B9'"):
        P.parse_xd_multiclass(f)
    f.write_text("v_label_B1-0-0 B1 3\n")
    with pytest.raises(AnnotationError, match="triples"):
        P.parse_xd_multiclass(f)


def test_ucf_split_list_errors(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("Abuse/Abuse001_x264.mp4\nno_folder.mp4\n")
    with pytest.raises(AnnotationError, match=r"s\.txt:2: expected 'Class/Name.mp4'"):
        P.parse_ucf_split_list(f)


# ------------------------------------------------------------------ synthetic files: masks


def test_frame_and_pixel_masks(tmp_path):
    d = tmp_path / "test_frame_mask"
    d.mkdir()
    np.save(d / "01_0014.npy", np.array([0, 0, 1, 1, 0], np.uint8))
    np.save(d / "01_0015.npy", np.zeros(3, np.uint8))
    ann = P.parse_frame_masks(d)
    assert list(ann) == ["01_0014", "01_0015"]
    assert ann["01_0014"].num_frames == 5 and ann["01_0014"].frame_labels.tolist() == [0, 0, 1, 1, 0]
    assert ann["01_0014"].is_anomalous and not ann["01_0015"].is_anomalous
    np.save(d / "bad.npy", np.array([0, 2], np.uint8))
    with pytest.raises(AnnotationError, match=r"bad\.npy: frame mask holds values other than 0/1"):
        P.parse_frame_masks(d)
    pm = tmp_path / "pix.npy"
    np.save(pm, np.zeros((4, 6, 8), np.uint8))
    arr = P.parse_pixel_mask(pm)
    assert isinstance(arr, np.memmap) and arr.shape == (4, 6, 8)
    np.save(pm, np.zeros((4, 6), np.uint8))
    with pytest.raises(AnnotationError, match=r"\[T, H, W\]"):
        P.parse_pixel_mask(pm)


# ------------------------------------------------------------------ UBnormal


def test_ubnormal_tracks_and_override(tmp_path):
    d = tmp_path / "abnormal_scene_1_scenario_1_annotations"
    d.mkdir()
    (d / "abnormal_scene_1_scenario_1_tracks.txt").write_text("1,10,20\n2,15,30\n")
    assert P.ubnormal_tracks_file(d, "abnormal_scene_1_scenario_1").name.endswith("_tracks.txt")
    assert P.parse_ubnormal_tracks(d / "abnormal_scene_1_scenario_1_tracks.txt") == [(1, 10, 20), (2, 15, 30)]
    (d / "abnormal_scene_1_scenario_1_new_tracks.txt").write_text("1,11,19\n")
    assert P.ubnormal_tracks_file(d, "abnormal_scene_1_scenario_1").name.endswith("_new_tracks.txt")
    assert P.ubnormal_tracks_file(d, "normal_scene_1_scenario_1") is None
    bad = d / "bad_tracks.txt"
    bad.write_text("1,10,20\n1,10\n")
    with pytest.raises(AnnotationError, match=r"bad_tracks\.txt:2"):
        P.parse_ubnormal_tracks(bad)


def test_ubnormal_object_maps_to_box_tracks(tmp_path):
    import cv2

    video = "abnormal_scene_2_scenario_3"
    d = tmp_path / f"{video}_annotations"
    d.mkdir()
    (d / f"{video}_tracks.txt").write_text("3,0,2\n")
    for f in range(4):
        m = np.zeros((20, 30), np.uint8)
        m[2 + f : 6 + f, 5:9] = 3  # object 3 moves down one pixel per frame
        m[15:18, 20:25] = 7  # another (normal) object, not in the tracks file
        cv2.imwrite(str(d / f"{video}_{f:04d}_gt.png"), m)
    obj = P.parse_ubnormal_object_map(d / f"{video}_0001_gt.png")
    assert obj.shape == (20, 30) and set(np.unique(obj)) == {0, 3, 7}
    assert P.boxes_from_object_map(obj) == {3: (5.0, 3.0, 9.0, 7.0), 7: (20.0, 15.0, 25.0, 18.0)}
    tracks = P.ubnormal_box_tracks(d, video)
    assert len(tracks) == 1 and tracks[0].track_id == 3
    assert tracks[0].frames.tolist() == [0, 1, 2]  # frame 3 lies outside the track's 0..2
    assert tracks[0].boxes[2].tolist() == [5.0, 4.0, 9.0, 8.0]
    out = P.write_box_tracks(tmp_path / "gt.txt", tracks)
    back = P.parse_box_tracks(out)
    assert np.allclose(back[0].boxes, tracks[0].boxes) and back[0].frames.tolist() == [0, 1, 2]


# ------------------------------------------------------------------ box tracks / detections


def test_box_tracks_roundtrip_and_formats(tmp_path):
    tracks = [Track(1, [3, 1, 2], [[0, 0, 10, 10], [1, 1, 5.5, 6], [2, 2, 8, 9]]), Track(4, [7], [[3, 3, 4, 4]])]
    f = P.write_box_tracks(tmp_path / "t.txt", tracks)
    back = {t.track_id: t for t in P.parse_box_tracks(f)}
    assert back[1].frames.tolist() == [1, 2, 3]  # sorted by frame
    assert back[1].boxes[0].tolist() == [1, 1, 5.5, 6]
    ws = tmp_path / "ws.txt"
    ws.write_text("track_id frame x1 y1 x2 y2\n1 0 1 2 3 4\n1\t1\t1 2 3 4\n")
    assert P.parse_box_tracks(ws)[0].frames.tolist() == [0, 1]
    ws.write_text("1,0,1,2,3,4\n1,0,1,2,3,4\n")
    with pytest.raises(AnnotationError, match=r"ws\.txt:2: track 1 has two boxes at frame 0"):
        P.parse_box_tracks(ws)
    ws.write_text("1,0,5,2,3,4\n")
    with pytest.raises(AnnotationError, match="empty box"):
        P.parse_box_tracks(ws)


def test_detections_roundtrip(tmp_path):
    rows = np.array([[0, 1, 2, 30, 40, 0.9], [5, 10, 10, 20, 20, 0.123456]])
    f = P.write_detections(tmp_path / "d.txt", rows)
    back = P.parse_detections(f)
    assert back.shape == (2, 6) and np.allclose(back, rows)
    assert P.parse_detections(P.write_detections(tmp_path / "e.txt", [])).shape == (0, 6)
    (tmp_path / "bad.txt").write_text("0,1,2,3,4,nan\n")
    with pytest.raises(AnnotationError, match="NaN"):
        P.parse_detections(tmp_path / "bad.txt")


# ------------------------------------------------------------------ TAD, UCSD, Avenue


def test_tad(tmp_path):
    f = tmp_path / "TAD_test.txt"
    f.write_text("abnormal/01_Accident_001.mp4 1200 1 300 560\nnormal/Normal_007.mp4 900 0 -1 -1\n"
                 "abnormal/07_RoadSpills_002.mp4 400 7 10 90\n")
    ann = P.parse_tad(f)
    assert list(ann) == ["01_Accident_001", "Normal_007", "07_RoadSpills_002"]
    assert ann["01_Accident_001"].segments == [Segment(300, 560, "Accident")]
    assert ann["01_Accident_001"].num_frames == 1200
    assert ann["Normal_007"].classes == () and not ann["Normal_007"].segments
    assert ann["07_RoadSpills_002"].classes == ("RoadSpills",)
    f.write_text("a.mp4 100 9 1 2\n")
    with pytest.raises(AnnotationError, match=r"TAD_test\.txt:1: unknown TAD class id 9"):
        P.parse_tad(f)
    f.write_text("a.mp4 100 1 150 160\n")
    with pytest.raises(AnnotationError, match="beyond"):
        P.parse_tad(f)


def test_ucsd_m(tmp_path):
    f = tmp_path / "UCSDped2.m"
    f.write_text("TestVideoFile = {};\n% comment\nTestVideoFile{end+1}.gt_frame = [61:180];\n"
                 "TestVideoFile{end+1}.gt_frame = [95:180];\nTestVideoFile{end+1}.gt_frame = [1:146, 150:160];\n")
    ann = P.parse_ucsd_m(f)
    assert list(ann) == ["Test001", "Test002", "Test003"]
    assert ann["Test001"].segments == [Segment(60, 179, "abnormal", True)]  # 1-based -> 0-based
    assert [(s.start, s.end) for s in ann["Test003"].segments] == [(0, 145), (149, 159)]
    assert ann["Test001"].frame_labels_from_segments(180, end_inclusive=True).sum() == 120
    f.write_text("TestVideoFile{end+1}.gt_frame = [0:10];\n")
    with pytest.raises(AnnotationError, match="1-based"):
        P.parse_ucsd_m(f)
    f.write_text("TestVideoFile{end+1}.gt_frame = 61:180;\n")
    with pytest.raises(AnnotationError, match=r"UCSDped2\.m:1"):
        P.parse_ucsd_m(f)


def test_avenue_mat(tmp_path):
    import scipy.io

    d = tmp_path / "testing_label_mask"
    d.mkdir()
    for i, anomalous in ((1, [2, 3]), (2, []), (10, [0])):
        cells = np.empty((1, 5), dtype=object)
        for t in range(5):
            m = np.zeros((6, 8), np.uint8)
            if t in anomalous:
                m[1:3, 2:4] = 1
            cells[0, t] = m
        scipy.io.savemat(d / f"{i}_label.mat", {"volLabel": cells})
    ann = P.parse_avenue_mat(d)
    assert list(ann) == ["01", "02", "10"]  # numeric order, zero-padded ids
    assert ann["01"].frame_labels.tolist() == [0, 0, 1, 1, 0]
    assert not ann["02"].is_anomalous and ann["10"].frame_labels.tolist() == [1, 0, 0, 0, 0]
    scipy.io.savemat(d / "3_label.mat", {"other": np.zeros(3)})
    with pytest.raises(AnnotationError, match=r"3_label\.mat: variable 'volLabel' not found"):
        P.parse_avenue_mat(d)


# ------------------------------------------------------------------ property tests: writers and parsers agree

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_box = st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(1, 200), st.integers(1, 200)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.integers(0, 50), st.dictionaries(st.integers(0, 3000), _box, min_size=1, max_size=8),
                       max_size=5))
def test_box_track_roundtrip_property(tmp_path_factory, tracks_spec):
    tracks = [Track(tid, sorted(fr), [fr[f] for f in sorted(fr)]) for tid, fr in tracks_spec.items()]
    path = P.write_box_tracks(tmp_path_factory.mktemp("bt") / "t.txt", tracks)
    back = {t.track_id: t for t in P.parse_box_tracks(path)}
    assert set(back) == set(tracks_spec)
    for t in tracks:
        assert back[t.track_id].frames.tolist() == t.frames.tolist()
        assert np.array_equal(back[t.track_id].boxes, t.boxes)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 500)), max_size=2), min_size=1, max_size=6))
def test_ucf_temporal_roundtrip_property(tmp_path_factory, videos):
    lines, want = [], {}
    for i, events in enumerate(videos):
        segs = [(s, s + d) for s, d in events]
        fields = [x for seg in segs for x in seg] + [-1, -1] * (2 - len(segs))
        cls = "Fighting" if segs else "Normal"
        lines.append(f"V{i:03d}_x264  {cls}  " + "  ".join(map(str, fields)) + "  ")
        want[f"V{i:03d}_x264"] = segs
    path = tmp_path_factory.mktemp("ucf") / "t.txt"
    path.write_text("\n".join(lines) + "\n")
    ann = P.parse_ucf_temporal(path, end_inclusive=True)
    assert {k: [(s.start, s.end) for s in v.segments] for k, v in ann.items()} == want
    assert all(v.is_anomalous == bool(want[k]) for k, v in ann.items())
