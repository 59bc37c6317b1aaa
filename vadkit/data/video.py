"""Video IO: decord first, PyAV as fallback; writing mp4 files.

Reading: :class:`VideoReader` (random access, uint8 RGB ``[N, H, W, 3]``; video files through decord
or PyAV, folders of numbered images through OpenCV), :func:`probe`,
frame samplers :func:`uniform_indices` / :func:`snippet_indices`, :func:`iter_batches`, and the batch
helper :func:`decode_many` that records failures and goes on. Writing: :func:`write_video` (used by
SynthVAD and the injected-anomaly set).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from vadkit.errors import VideoReadError

log = logging.getLogger(__name__)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """Write ``frames`` ``[T, H, W, 3]`` uint8 RGB to an mp4 (MPEG-4 Part 2, ``mp4v``), atomically.

    The file appears under its final name only once it is complete, so a crash never leaves a
    truncated video behind.
    """
    import cv2

    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError(f"{path}: refusing to write a video with zero frames")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise VideoReadError(path, "OpenCV could not open an mp4v writer")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
    finally:
        writer.release()
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


BACKENDS = ("decord", "pyav")


@dataclass(frozen=True)
class VideoInfo:
    """Header facts of one video. ``backend`` names the reader that produced them."""

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    backend: str

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps if self.fps else float("nan")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoReadError(path, "file not found")
    if not path.is_file():
        raise VideoReadError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "zero-byte file")


def _have_decord() -> bool:
    import importlib.util

    return importlib.util.find_spec("decord") is not None


class _DecordBackend:
    name = "decord"

    def __init__(self, path: Path):
        # OpenCV first: once decord's bundled zlib is loaded, OpenCV's libpng fails on every PNG it reads
        # ("bad parameters to zlib"; UBnormal's object maps), while OpenCV loaded first keeps its own
        import cv2  # noqa: F401
        import decord

        try:
            self._vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        except Exception as err:  # decord raises its own DECORDError / RuntimeError
            raise VideoReadError(path, f"decord could not open it ({type(err).__name__}: {err})") from None
        self.path = path
        self.num_frames = len(self._vr)
        self.fps = float(self._vr.get_avg_fps())
        if self.num_frames > 0:
            h, w = self._vr[0].shape[:2]
            self._vr.seek(0)
        else:
            h = w = 0
        self.width, self.height = int(w), int(h)

    def get(self, indices: np.ndarray) -> np.ndarray:
        try:
            return self._vr.get_batch(list(map(int, indices))).asnumpy()
        except Exception as err:
            raise VideoReadError(self.path, f"decord failed to decode frames ({type(err).__name__}: {err})") from None


class _PyAVBackend:
    """Sequential PyAV decoding; frames requested out of order are served from one forward pass.

    Frame counts from container headers are unreliable (missing for many AVI/MKV files), so when
    the header has no count the stream is decoded once to count frames.
    """

    name = "pyav"

    def __init__(self, path: Path):
        import av

        self.path = path
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise VideoReadError(path, "no video stream")
                stream = container.streams.video[0]
                self.width, self.height = int(stream.width), int(stream.height)
                rate = stream.average_rate or stream.guessed_rate or stream.base_rate
                self.fps = float(rate) if rate else 0.0
                n = int(stream.frames or 0)
                if n <= 0:  # no count in the header: count video packets (demuxing only, no decoding)
                    n = sum(1 for pkt in container.demux(stream) if pkt.size)
        except VideoReadError:
            raise
        except Exception as err:  # av.error.InvalidDataError and friends
            raise VideoReadError(path, f"PyAV could not open it ({type(err).__name__}: {err})") from None
        self.num_frames = n

    def get(self, indices: np.ndarray) -> np.ndarray:
        import av

        wanted = np.asarray(indices, dtype=np.int64)
        if len(wanted) == 0:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        last = int(wanted.max())
        needed = set(wanted.tolist())
        got: dict[int, np.ndarray] = {}
        decoded = 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for i, frame in enumerate(container.decode(stream)):
                    decoded = i + 1
                    if i in needed:
                        got[i] = frame.to_ndarray(format="rgb24")
                    if i >= last:
                        break
        except Exception as err:
            raise VideoReadError(self.path, f"PyAV failed to decode frames ({type(err).__name__}: {err})") from None
        missing = sorted(needed - got.keys())
        if missing:
            raise VideoReadError(
                self.path, f"truncated: frames {missing[:5]}{'...' if len(missing) > 5 else ''} could not be "
                f"decoded (header says {self.num_frames} frames, the stream ended after {decoded})"
            )
        return np.stack([got[int(i)] for i in wanted])


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def _natural_key(p: Path):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


class _FramesBackend:
    """A folder of numbered images (ShanghaiTech ``testing/frames/<vid>/``, UCSD ``TestNNN/*.tif``).

    Files are ordered by natural sort (``2.jpg`` before ``10.jpg``); the folder carries no frame
    rate, so ``fps`` is what the caller passes (0.0 when unknown).
    """

    name = "frames"

    def __init__(self, path: Path, fps: float | None):
        self.path = path
        self.files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        self.num_frames = len(self.files)
        self.fps = float(fps or 0.0)
        self.width = self.height = 0
        if self.files:
            first = self._read(0)
            self.height, self.width = first.shape[:2]

    def _read(self, i: int) -> np.ndarray:
        import cv2

        img = cv2.imread(str(self.files[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise VideoReadError(self.files[i], "unreadable image in frame folder")
        return img[..., ::-1]

    def get(self, indices: np.ndarray) -> np.ndarray:
        frames = [self._read(int(i)) for i in indices]
        if any(f.shape != frames[0].shape for f in frames):
            raise VideoReadError(self.path, "frame images differ in size")
        return np.stack(frames)


class VideoReader:
    """Random-access RGB frame reader.

    ``backend="auto"`` tries decord (fast random access, the reader VadCLIP/LAVAD code uses) and falls
    back to PyAV when decord is not installed or cannot open the file; ``.backend`` says which one
    was used (also logged at INFO). A directory of numbered images is read as a video
    (``backend="frames"``, natural sort order; pass ``fps`` since a folder has none). Corrupt, truncated and zero-frame files raise
    :class:`~vadkit.errors.VideoReadError` naming the file.

    >>> r = VideoReader("clip.mp4")                # doctest: +SKIP
    >>> r.get_frames([0, 10]).shape                # [N, H, W, 3] uint8 RGB   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, backend: str = "auto", fps: float | None = None):
        self.path = Path(path)
        if backend not in ("auto", "frames", *BACKENDS):
            raise ValueError(f"unknown video backend {backend!r}; choose auto, decord, pyav or frames")
        if self.path.is_dir() and backend in ("auto", "frames"):
            order = ["frames"]
        else:
            _check_file(self.path)
            order = [backend] if backend != "auto" else (["decord"] if _have_decord() else []) + ["pyav"]
        errors = []
        impl = None
        for name in order:
            try:
                if name == "frames":
                    impl = _FramesBackend(self.path, fps)
                else:
                    impl = _DecordBackend(self.path) if name == "decord" else _PyAVBackend(self.path)
                if impl.num_frames <= 0:
                    raise VideoReadError(self.path, f"zero frames ({name})")
                break
            except VideoReadError as err:
                errors.append(err.problem)
                impl = None
        if impl is None:
            raise VideoReadError(self.path, "; ".join(errors) or "no video backend available")
        if backend == "auto" and errors:
            log.info("%s: decord failed (%s); using PyAV", self.path, errors[0])
        log.info("%s: reading with %s (%d frames, %.3g fps)", self.path, impl.name, impl.num_frames, impl.fps)
        self._impl = impl
        self.backend: str = impl.name
        self.num_frames: int = int(impl.num_frames)
        self.fps: float = float(fps) if fps and impl.name == "frames" else float(impl.fps)
        self.width: int = int(impl.width)
        self.height: int = int(impl.height)

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, backend={self.backend!r}, frames={self.num_frames}, fps={self.fps:.3g})"

    @property
    def info(self) -> VideoInfo:
        return VideoInfo(self.path, self.num_frames, self.fps, self.width, self.height, self.backend)

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices`` as uint8 ``[N, H, W, 3]`` RGB (negative or out-of-range index: IndexError)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.num_frames):
            raise IndexError(f"{self.path}: frame index out of range [0, {self.num_frames}): {idx.min()}..{idx.max()}")
        if len(idx) == 0:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        frames = self._impl.get(idx)
        return np.ascontiguousarray(frames, dtype=np.uint8)

    def read_all(self) -> np.ndarray:
        """Every frame, ``[num_frames, H, W, 3]`` uint8 RGB."""
        return self.get_frames(np.arange(self.num_frames))


def probe(path: str | os.PathLike, backend: str = "auto", deep: bool = False, fps: float | None = None) -> VideoInfo:
    """Open ``path`` and return its :class:`VideoInfo`.

    ``deep=True`` also decodes the first, middle and last frames, which catches truncated files
    whose header still claims the full length (header-only probing does not).
    """
    reader = VideoReader(path, backend=backend, fps=fps)
    if deep:
        n = reader.num_frames
        reader.get_frames(sorted({0, n // 2, n - 1}))
        if reader.backend == "decord":
            # decord counts only the frames its index can reach, so a cut-off AVI opens "fine" with
            # fewer frames; the container header still holds the length it was written with.
            header = _header_frame_count(reader.path)
            if header and abs(header - n) > 1:
                raise VideoReadError(reader.path, f"truncated: header says {header} frames, only {n} decodable")
    return reader.info


def _header_frame_count(path: Path) -> int | None:
    """Frame count stored in the container header (PyAV), or None when the header has none."""
    try:
        import av

        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames or 0) or None
    except Exception:  # header unreadable by PyAV: nothing to compare with
        return None


def uniform_indices(num_frames: int, n: int) -> np.ndarray:
    """``n`` frame indices at the centres of ``n`` equal segments of ``[0, num_frames)``.

    Index ``i`` is ``floor((i + 0.5) * num_frames / n)`` (TSN-style segment centres). For
    ``n > num_frames`` frames repeat, so the output always has length ``n``. Shape ``[n]`` int64.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    idx = np.floor((np.arange(n) + 0.5) * num_frames / n).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)


def snippet_indices(num_frames: int, snippet_len: int = 16, *, keep_remainder: bool = False) -> np.ndarray:
    """Non-overlapping snippets of ``snippet_len`` consecutive frames, ``[S, snippet_len]`` int64.

    VadCLIP/RTFM lineage: snippet ``s`` covers frames ``[16 s, 16 s + 16)`` and ``S = num_frames // 16``;
    the trailing ``num_frames % 16`` frames are **dropped** (the released I3D/CLIP features have one row
    per full 16-frame snippet; this is the origin of the "off by < 16 frames" length mismatches, which
    :mod:`vadkit.metrics` handles explicitly). With ``keep_remainder=True`` a last partial snippet is
    added, padded by repeating the final frame.
    """
    if snippet_len <= 0:
        raise ValueError(f"snippet_len must be positive, got {snippet_len}")
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    s = num_frames // snippet_len
    idx = np.arange(s * snippet_len, dtype=np.int64).reshape(s, snippet_len)
    rem = num_frames - s * snippet_len
    if keep_remainder and rem:
        last = np.minimum(np.arange(s * snippet_len, (s + 1) * snippet_len), num_frames - 1)
        idx = np.concatenate([idx, last[None].astype(np.int64)])
    return idx


def iter_batches(reader: VideoReader, indices: Sequence[int] | np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(batch_indices [B], frames [B, H, W, 3])`` over ``indices`` (any shape; flattened in order)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    flat = np.asarray(indices, dtype=np.int64).reshape(-1)
    for start in range(0, len(flat), batch_size):
        chunk = flat[start : start + batch_size]
        yield chunk, reader.get_frames(chunk)


@dataclass(frozen=True)
class DecodeFailure:
    path: str
    message: str


def decode_many(
    paths: Iterable[str | os.PathLike],
    fn: Callable[[VideoReader], object],
    on_error: str = "record",
    backend: str = "auto",
    progress: bool = False,
) -> tuple[dict[str, object], list[DecodeFailure]]:
    """Apply ``fn(reader)`` to every video; returns ``({path: result}, [failures])``.

    ``on_error="record"`` records a :class:`~vadkit.errors.VideoReadError` (path + message) and goes
    on with the next video; ``"raise"`` re-raises it. Other exceptions are programming errors and
    always propagate.
    """
    if on_error not in ("record", "raise"):
        raise ValueError(f"on_error must be 'record' or 'raise', got {on_error!r}")
    paths = list(paths)
    results: dict[str, object] = {}
    failures: list[DecodeFailure] = []
    iterator = paths
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(paths, desc="decode", unit="video")
    for p in iterator:
        try:
            results[str(p)] = fn(VideoReader(p, backend=backend))
        except VideoReadError as err:
            if on_error == "raise":
                raise
            log.warning("skipping %s", err)
            failures.append(DecodeFailure(str(p), str(err)))
    return results, failures
