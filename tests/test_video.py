"""Video reading: both backends, samplers, batch helper, and clear errors for broken files."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from vadkit.data.video import (
    VideoReader,
    decode_many,
    iter_batches,
    probe,
    snippet_indices,
    uniform_indices,
    write_video,
)
from vadkit.errors import VideoReadError

HAVE_DECORD = importlib.util.find_spec("decord") is not None
BACKENDS = ["pyav"] + (["decord"] if HAVE_DECORD else [])


def _frames(t=24, h=48, w=64):
    """Frames whose mean brightness encodes the frame index (survives lossy mp4v coding)."""
    levels = np.linspace(20, 235, t).astype(np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (t, h, w, 3)).copy()
    frames[:, :8, :8] = [255, 0, 0]  # a red corner: checks RGB (not BGR) order
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, _frames(), fps=12.0)
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_reader_basics(clip, backend):
    r = VideoReader(clip, backend=backend)
    assert r.backend == backend and len(r) == r.num_frames == 24
    assert r.fps == pytest.approx(12.0) and (r.width, r.height) == (64, 48)
    idx = [5, 0, 23, 5]
    out = r.get_frames(idx)
    assert out.shape == (4, 48, 64, 3) and out.dtype == np.uint8
    truth = _frames()
    # order follows the request, duplicates allowed, content matches within codec error
    assert np.abs(out[:, 20:, 20:].mean(axis=(1, 2, 3)) - truth[idx, 20:, 20:].mean(axis=(1, 2, 3))).max() < 6
    corner = out[0, 2:6, 2:6].reshape(-1, 3).mean(0)
    assert corner[0] > 200 and corner[2] < 60  # RGB
    assert r.read_all().shape == (24, 48, 64, 3)
    assert r.get_frames([]).shape == (0, 48, 64, 3)
    with pytest.raises(IndexError):
        r.get_frames([24])


@pytest.mark.skipif(not HAVE_DECORD, reason="decord not installed")
def test_backends_agree(clip):
    a = VideoReader(clip, backend="decord").read_all().astype(int)
    b = VideoReader(clip, backend="pyav").read_all().astype(int)
    assert np.abs(a - b).mean() < 2


def test_auto_prefers_decord_and_logs(clip, caplog):
    with caplog.at_level(logging.INFO, logger="vadkit.data.video"):
        r = VideoReader(clip)
    assert r.backend == ("decord" if HAVE_DECORD else "pyav")
    assert f"reading with {r.backend}" in caplog.text


def test_auto_falls_back_to_pyav_when_decord_cannot_open(clip, monkeypatch):
    import vadkit.data.video as V

    def broken(path):
        raise VideoReadError(path, "decord could not open it (simulated)")

    monkeypatch.setattr(V, "_DecordBackend", broken)
    monkeypatch.setattr(V, "_have_decord", lambda: True)
    r = VideoReader(clip)
    assert r.backend == "pyav" and r.num_frames == 24


def test_probe(clip):
    info = probe(clip, deep=True)
    assert (info.num_frames, info.width, info.height) == (24, 64, 48)
    assert info.duration_s == pytest.approx(2.0)


@pytest.fixture
def broken_files(tmp_path, clip):
    data = clip.read_bytes()
    files = {
        "truncated": tmp_path / "truncated.mp4",
        "zero": tmp_path / "zero.mp4",
        "text": tmp_path / "text.mp4",
    }
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["zero"].write_bytes(b"")
    files["text"].write_text("this is not a video\n" * 20)
    return files


@pytest.mark.parametrize("kind", ["truncated", "zero", "text"])
@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_broken_files_raise_naming_the_file(broken_files, kind, backend):
    path = broken_files[kind]
    with pytest.raises(VideoReadError) as err:
        probe(path, backend=backend, deep=True)
    assert str(path) in str(err.value) and err.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(VideoReadError, match="file not found"):
        VideoReader(tmp_path / "nope.mp4")


def test_truncated_tail_caught_by_deep_probe(tmp_path):
    """An AVI cut mid-stream keeps a valid header: header-only probing passes, deep probing fails."""
    import cv2

    path = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match="truncated|could not"):
        probe(cut, deep=True)


def test_uniform_indices():
    assert uniform_indices(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert uniform_indices(100, 4).tolist() == [12, 37, 62, 87]
    assert uniform_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # repeats when n > frames
    assert uniform_indices(1, 1).tolist() == [0]
    with pytest.raises(ValueError):
        uniform_indices(0, 3)


def test_snippet_indices():
    s = snippet_indices(40)
    assert s.shape == (2, 16) and s[1, 0] == 16 and s[-1, -1] == 31  # remainder of 8 dropped
    k = snippet_indices(40, keep_remainder=True)
    assert k.shape == (3, 16) and k[2, :8].tolist() == list(range(32, 40)) and (k[2, 8:] == 39).all()
    assert snippet_indices(15).shape == (0, 16)
    assert snippet_indices(48, snippet_len=8).shape == (6, 8)


def test_iter_batches(clip):
    r = VideoReader(clip)
    got = list(iter_batches(r, snippet_indices(24, 4)[:3], batch_size=5))
    assert [len(i) for i, _ in got] == [5, 5, 2]
    assert got[1][0].tolist() == [5, 6, 7, 8, 9] and got[2][1].shape == (2, 48, 64, 3)


def test_decode_many_records_and_goes_on(clip, broken_files):
    paths = [clip, broken_files["zero"], clip.parent / "missing.mp4", broken_files["text"]]
    results, failures = decode_many(paths, lambda r: r.num_frames)
    assert results == {str(clip): 24}
    assert [f.path for f in failures] == [str(p) for p in paths[1:]]
    assert "zero-byte" in failures[0].message and "file not found" in failures[1].message
    with pytest.raises(VideoReadError):
        decode_many(paths, lambda r: r.num_frames, on_error="raise")


def test_frame_folder_reader(tmp_path):
    import cv2

    d = tmp_path / "01_0014"
    d.mkdir()
    truth = _frames(t=12, h=24, w=32)
    for i, f in enumerate(truth):
        cv2.imwrite(str(d / f"{i}.png"), f[..., ::-1])  # 0.png .. 11.png: natural order, not 0,1,10,11,2
    r = VideoReader(d, fps=24)
    assert r.backend == "frames" and r.num_frames == 12 and r.fps == 24 and (r.width, r.height) == (32, 24)
    assert np.array_equal(r.get_frames([10, 2]), truth[[10, 2]])  # lossless png
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoReadError, match="zero frames"):
        VideoReader(empty)


def test_pyav_counts_frames_when_header_has_none(tmp_path):
    """MKV headers carry no frame count: the PyAV backend counts packets instead of trusting 0."""
    import av

    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(17):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 10, np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    with av.open(str(path)) as c:
        assert not c.streams.video[0].frames  # the premise
    r = VideoReader(path, backend="pyav")
    assert r.num_frames == 17 and r.read_all().shape == (17, 48, 64, 3)
