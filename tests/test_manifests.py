"""Manifests (schema, facts), load_dataset / verify_dataset, and the ``vadkit data`` CLI."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from vadkit.cli import main
from vadkit.data import manifests as M
from vadkit.data.datasets import LOADERS, load_dataset, verify_dataset
from vadkit.data.video import write_video
from vadkit.errors import DatasetError

REQUIRED = {"ucf_crime", "xd_violence", "shanghaitech", "ubnormal", "tad", "avenue", "ucsd_ped2",
            "street_scene", "complexvad", "synthvad", "real_footage"}


def test_all_manifests_validate():
    ms = M.validate_all()
    assert REQUIRED <= set(ms)
    assert set(ms) == set(LOADERS)  # every manifest has a loader and vice versa
    for m in ms.values():
        assert m.summary().startswith(m.title)
        for e in m.tree:
            assert e.archive is None or m.archive(e.archive) is not None


def test_manifest_facts():
    ucf = M.load_manifest("ucf_crime").raw
    assert ucf["num_videos"] == {"total": 1900, "train": 1610, "test": 290}
    assert ucf["splits"]["test"]["abnormal"] == 140 and ucf["annotation"]["end_inclusive"] is None
    ub = M.load_manifest("ubnormal").raw
    assert (ub["num_videos"]["train"], ub["num_videos"]["val"], ub["num_videos"]["test"]) == (268, 64, 211)
    assert ub["terms"]["licence"] == "CC BY-NC-ND 4.0" and ub["terms"]["verified"]
    assert M.load_manifest("ucsd_ped2").raw["annotation"]["end_inclusive"] is True
    rf = M.load_manifest("real_footage")
    assert set(rf.checksums) == {"vtest.avi", "bikes.mp4"}


def test_schema_rejects_bad_manifests(tmp_path, monkeypatch):
    src = M.manifests_dir()
    shutil.copy(src / "schema.json", tmp_path)
    raw = yaml.safe_load((src / "tad.yaml").read_text())
    monkeypatch.setenv("VADKIT_MANIFESTS", str(tmp_path))
    bad = dict(raw, fps="fast")
    (tmp_path / "tad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DatasetError, match=r"tad\.yaml: manifest does not match schema.json: fps"):
        M.load_manifest("tad")
    bad = dict(raw, annotation=dict(raw["annotation"], parsers=["parse_nothing"]))
    (tmp_path / "tad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DatasetError, match="parse_nothing"):
        M.load_manifest("tad")
    (tmp_path / "tad.yaml").write_text(yaml.safe_dump(raw))
    assert M.list_manifests() == ["tad"] and M.load_manifest("tad").name == "tad"
    with pytest.raises(DatasetError, match="known: tad"):
        M.load_manifest("ucf")
    monkeypatch.setenv("VADKIT_MANIFESTS", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="VADKIT_MANIFESTS"):
        M.list_manifests()


# ------------------------------------------------------------------ load_dataset on real annotation files


def test_load_ucf_from_annotation_root(shared_annotations, tmp_path):
    root = tmp_path / "UCF"
    shutil.copytree(shared_annotations / "ucf_crime", root / "UCF_Crimes-Train-Test-Split")
    write_video(root / "Anomaly-Videos-Part-1" / "Abuse" / "Abuse028_x264.mp4", np.zeros((4, 16, 16, 3), np.uint8), 30)
    ann = load_dataset("ucf_crime", root)
    assert len(ann) == 1900 and len(ann.split("train")) == 1610 and len(ann.split("test")) == 290
    test = load_dataset("ucf_crime", root, split="test")
    assert test["Abuse028_x264"].video_path.name == "Abuse028_x264.mp4"
    assert test["Abuse028_x264"].fps == 30 and test["Abuse030_x264"].video_path is None
    with pytest.raises(DatasetError, match="split 'val'"):
        load_dataset("ucf_crime", root, split="val")


def test_load_xd_and_ubnormal(shared_annotations, tmp_path):
    root = tmp_path / "XD"
    shutil.copytree(shared_annotations / "xd_violence", root / "list")
    write_video(root / "test_videos" / "some_movie__#1_label_A.mp4", np.zeros((4, 16, 16, 3), np.uint8), 24)
    write_video(root / "train_videos" / "x__#1_label_B1-B2-0.mp4", np.zeros((4, 16, 16, 3), np.uint8), 24)
    ann = load_dataset("xd_violence", root)
    assert len(ann.split("test")) == 501 and ann["some_movie__#1_label_A"].classes == ()
    assert ann["x__#1_label_B1-B2-0"].split == "train" and ann["x__#1_label_B1-B2-0"].classes == ("fighting", "shooting")
    ub = load_dataset("ubnormal", shared_annotations / "ubnormal")
    assert {s: len(ub.split(s)) for s in ("train", "val", "test")} == {"train": 268, "val": 64, "test": 211}
    assert ub["abnormal_scene_1_scenario_1"].scene == "scene_1" and ub["abnormal_scene_1_scenario_1"].fps == 30


def test_unsupported_and_unknown(tmp_path):
    with pytest.raises(DatasetError, match="no automatic loader"):
        load_dataset("complexvad", tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        load_dataset("nope", tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("tad", tmp_path / "missing")


# ------------------------------------------------------------------ verify


def _avenue_root(tmp_path):
    import cv2
    import scipy.io

    root = tmp_path / "Avenue"
    masks = root / "ground_truth_demo" / "testing_label_mask"
    masks.mkdir(parents=True)
    for i in (1, 2):
        cells = np.empty((1, 3), dtype=object)
        for t in range(3):
            cells[0, t] = np.full((4, 4), t == 1, np.uint8)
        scipy.io.savemat(masks / f"{i}_label.mat", {"volLabel": cells})
    for folder, n in (("testing_videos", 2), ("training_videos", 1)):
        (root / folder).mkdir()
        for i in range(1, n + 1):
            w = cv2.VideoWriter(str(root / folder / f"{i:02d}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (32, 24))
            for _ in range(3):
                w.write(np.zeros((24, 32, 3), np.uint8))
            w.release()
    return root


def test_verify_counts_and_corrupt(tmp_path):
    root = _avenue_root(tmp_path)
    rep = verify_dataset("avenue", root)
    assert not rep.ok
    assert any("testing_label_mask" in p.path and p.archive == "ground_truth_demo.zip" for p in rep.missing)
    assert any("training_videos" in p.path and p.archive == "Avenue_Dataset.zip" for p in rep.missing)
    assert rep.checked_videos == 3 and not rep.corrupt
    (root / "testing_videos" / "02.avi").write_bytes(b"")
    (root / "testing_videos" / "notes.mp4").write_text("x")
    rep = verify_dataset("avenue", root)
    assert [p.path for p in rep.corrupt] == ["testing_videos/02.avi"] and "zero-byte" in rep.corrupt[0].message
    assert rep.extra == ["testing_videos/notes.mp4"]
    text = rep.format()
    assert "PROBLEMS FOUND" in text and "02.avi" in text and "fetch archive 'Avenue_Dataset.zip'" in text
    ann = load_dataset("avenue", root, split="test")
    assert ann["01"].frame_labels.tolist() == [0, 1, 0] and ann["01"].video_path.name == "01.avi"


def test_verify_names_missing_and_misnamed(shared_annotations, tmp_path):
    root = tmp_path / "UCF"
    shutil.copytree(shared_annotations / "ucf_crime", root / "split")
    tiny = np.zeros((4, 16, 16, 3), np.uint8)
    write_video(root / "v" / "Abuse028_x264.mp4", tiny, 30)
    write_video(root / "v" / "Abuse030_x264 (1).mp4", tiny, 30)  # browser-renamed download
    rep = verify_dataset("ucf_crime", root, probe_videos=False)
    assert ("Abuse030_x264", "v/Abuse030_x264 (1).mp4") in rep.misnamed
    missing = {p.path: p for p in rep.missing}
    assert "Abuse028_x264" not in missing and "Abuse030_x264" not in missing
    assert missing["Normal_Videos_003_x264"].archive == "Testing_Normal_Videos"
    assert "Anomaly-Videos-Part" in missing["Arrest001_x264"].archive


def test_real_footage_checksum_mismatch_is_corrupt(tmp_path):
    write_video(tmp_path / "bikes.mp4", np.zeros((4, 16, 16, 3), np.uint8), 25)
    rep = verify_dataset("real_footage", tmp_path)
    assert any(p.path == "bikes.mp4" and "sha256" in p.message for p in rep.corrupt)
    assert any(p.path == "vtest.avi" for p in rep.missing)


# ------------------------------------------------------------------ CLI


def test_cli_list_info(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "ucf_crime" in out and "UBnormal" in out
    assert main(["data", "info", "ubnormal"]) == 0
    out = capsys.readouterr().out
    assert "CC BY-NC-ND 4.0" in out and "268" in out and "acsintoae2022ubnormal" in out
    assert main(["data", "info", "nope"]) == 1
    assert "no manifest for dataset 'nope'" in capsys.readouterr().err


def test_cli_verify_exit_codes(tmp_path, capsys):
    root = _avenue_root(tmp_path)
    assert main(["data", "verify", "avenue", "--root", str(root)]) == 1
    assert "PROBLEMS FOUND" in capsys.readouterr().out
    assert main(["data", "verify", "real_injected", "--root", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_help_has_examples(capsys):
    for sub in ("synth", "verify", "fetch", "inject"):
        with pytest.raises(SystemExit) as e:
            main(["data", sub, "--help"])
        assert e.value.code == 0
        assert "example" in capsys.readouterr().out


def test_cli_synth_splits(monkeypatch, tmp_path, capsys):
    import sys
    import types

    from vadkit.data.cli import split_counts

    assert split_counts(20) == {"train": 12, "val": 3, "test": 5}
    assert sum(split_counts(7).values()) == 7 and split_counts(1)["train"] == 1
    calls = {}

    def fake_generate(out, splits, seed, progress, **kw):
        calls.update(out=out, splits=splits, seed=seed, progress=progress, **kw)
        return out

    import dataclasses

    @dataclasses.dataclass
    class FakeConfig:
        min_frames: int = 160
        max_frames: int = 320

    fake = types.SimpleNamespace(generate=fake_generate, SynthConfig=FakeConfig)
    monkeypatch.setitem(sys.modules, "vadkit.data.synth", fake)
    monkeypatch.setattr("vadkit.data.synth", fake, raising=False)
    assert main(["data", "synth", "--out", str(tmp_path), "--videos", "8", "--seed", "3", "--frames", "50", "90"]) == 0
    assert calls["splits"] == split_counts(8) and calls["seed"] == 3
    assert calls["config"] == FakeConfig(50, 90) and calls["progress"] is True
    calls.clear()
    assert main(["data", "synth", "--out", str(tmp_path), "--videos", "1"]) == 0
    assert calls["splits"] == {"train": 1} and "config" not in calls  # empty splits dropped, default config


def test_synthvad_roundtrip_through_load_and_verify(tmp_path):
    synth = pytest.importorskip("vadkit.data.synth")
    import dataclasses

    cfg = dataclasses.replace(synth.SynthConfig(), min_frames=96, max_frames=100)
    root = synth.generate(tmp_path / "sv", splits={"train": 1, "test": 1}, seed=0, config=cfg, progress=False)
    ann = load_dataset("synthvad", root)
    assert len(ann) == 2 and len(load_dataset("synthvad", root, split="test")) == 1
    assert all(v.video_path is not None and v.video_path.is_file() for v in ann.values())
    assert verify_dataset("synthvad", root, deep=True).ok
    victim = next(iter(ann.values())).video_path
    victim.write_bytes(victim.read_bytes()[:200])
    rep = verify_dataset("synthvad", root)
    assert not rep.ok and [p.path for p in rep.corrupt] == [f"videos/{victim.name}"]
    mask = root / "test_frame_mask" / f"{victim.stem}.npy"
    mask.write_bytes(mask.read_bytes()[:-1] + b"\x07")  # still loads, content changed
    deep = verify_dataset("synthvad", root, deep=True)
    assert f"test_frame_mask/{victim.stem}.npy" in [p.path for p in deep.corrupt]


def test_cli_tracks_from_ubnormal_object_maps(tmp_path, capsys):
    import cv2

    from vadkit.data.parsers import parse_box_tracks

    root = tmp_path / "UB"
    for video, ok in (("abnormal_scene_1_scenario_1", True), ("abnormal_scene_2_scenario_1", False)):
        d = root / "Scene1" / f"{video}_annotations"
        d.mkdir(parents=True)
        (d / f"{video}_tracks.txt").write_text("5,0,1\n" if ok else "5,0\n")
        for f in range(2):
            m = np.zeros((10, 10), np.uint8)
            m[2:4, 3 + f : 6 + f] = 5
            cv2.imwrite(str(d / f"{video}_{f:04d}_gt.png"), m)
    out = tmp_path / "gt"
    assert main(["data", "tracks", "--root", str(root), "--out", str(out)]) == 1  # one video fails, one is written
    text = capsys.readouterr().out
    assert "FAILED" in text and "abnormal_scene_2_scenario_1_tracks.txt:1" in text
    (track,) = parse_box_tracks(out / "abnormal_scene_1_scenario_1_gt.txt")
    assert track.track_id == 5 and track.boxes.tolist() == [[3, 2, 6, 4], [4, 2, 7, 4]]


def test_load_shanghaitech_tad_ucsd_layouts(tmp_path):
    import cv2

    st = tmp_path / "shanghaitech"
    fm, pm, fr = st / "testing" / "test_frame_mask", st / "testing" / "test_pixel_mask", st / "testing" / "frames" / "01_0014"
    for d in (fm, pm, fr):
        d.mkdir(parents=True)
    np.save(fm / "01_0014.npy", np.array([0, 1, 1], np.uint8))
    np.save(pm / "01_0014.npy", np.zeros((3, 4, 4), np.uint8))
    for i in range(3):
        cv2.imwrite(str(fr / f"{i:03d}.jpg"), np.zeros((4, 4, 3), np.uint8))
    ann = load_dataset("shanghaitech", st, split="test")
    v = ann["01_0014"]
    assert v.classes == ("abnormal",) and v.scene == "01" and v.pixel_mask_path.name == "01_0014.npy"
    assert v.extra["frames_dir"] == fr and v.frame_labels.tolist() == [0, 1, 1]

    tad = tmp_path / "TAD"
    (tad / "labels").mkdir(parents=True)
    (tad / "labels" / "TAD_test.txt").write_text("abnormal/01_Accident_001.mp4 50 1 10 20\nnormal/Normal_1.mp4 40 0 -1 -1\n")
    write_video(tad / "videos" / "01_Accident_001.mp4", np.zeros((4, 16, 16, 3), np.uint8), 30)
    ann = load_dataset("tad", tad)
    assert ann["01_Accident_001"].video_path.name == "01_Accident_001.mp4" and ann["Normal_1"].video_path is None
    rep = verify_dataset("tad", tad)
    assert [p.path for p in rep.missing] == ["Normal_1"]

    ucsd = tmp_path / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2"
    (ucsd / "Test" / "Test001").mkdir(parents=True)
    (ucsd / "Train" / "Train001").mkdir(parents=True)
    (ucsd / "Test" / "UCSDped2.m").write_text("TestVideoFile{end+1}.gt_frame = [2:3];\n")
    for d in (ucsd / "Test" / "Test001", ucsd / "Train" / "Train001"):
        for i in range(1, 5):
            cv2.imwrite(str(d / f"{i:03d}.tif"), np.full((8, 8, 3), 40 * i, np.uint8))
    ann = load_dataset("ucsd_ped2", tmp_path)
    t = ann["Test001"]
    assert t.num_frames == 4 and t.frame_labels_from_segments(4, end_inclusive=True).tolist() == [0, 1, 1, 0]
    from vadkit.data.video import VideoReader

    r = VideoReader(t.video_path, fps=10)
    assert r.backend == "frames" and r.num_frames == 4
    assert ann["Train001"].split == "train"
