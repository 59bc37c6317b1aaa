"""CLIP snippet features for whole datasets, cached one file per video with provenance.

Convention (VadCLIP's released UCF-Crime/XD-Violence CLIP features): a video of ``N`` decoded frames is
cut into ``T = N // snippet_len`` non-overlapping 16-frame snippets (the trailing ``N % 16`` frames are
dropped, like the released features; a video shorter than one snippet gets one padded snippet). From
snippet ``t`` (frames ``[16 t, 16 t + 16)``) ``frames_per_snippet`` frames are taken at the centres of
equal sub-segments, so with one frame it is frame ``16 t + 8``; their image embeddings (L2-normalised,
CLIP's ``encode_image(normalize=True)``) are averaged. Output ``[T, D]`` float32, or ``[T, 10, D]``
with ``crop="ten_crop"``. With ``layers``, the patch tokens of those residual blocks are stored too
(``[T, P, W]`` float16, of the snippet's first sampled frame, centre crop) for T-VAD's AHD.

Throughput: decoding runs in a background thread pool (``prefetch`` videos ahead) while the model
encodes; frames of several videos are batched together; on CUDA, batches go through pinned memory with
non-blocking copies and bf16 autocast (``precision="bf16"``). On CPU torch uses all cores.

Cache: one store directory per dataset identity, model identity, settings and compute precision
(:func:`store_dir_for`, :mod:`vadkit.features.provenance`); one entry per video, whose record
``sources/<id>.json`` carries the sha256 of its files and is written last. A resumed extraction skips the
videos whose entry is complete and undamaged and recomputes the others (a truncated file, a file that
fails its digest, a video that changed); :meth:`FeatureStore.load` verifies the digest on every read.

Distributed: ``shard=(i, n)`` (CLI ``--shard i/n``) takes every ``n``-th video (sorted by id) starting at
``i``; under ``torchrun``/``accelerate launch`` the shard and device come from ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK``. The shards of one dataset write disjoint entries of the same store directory (on a shared
file system), so ``n`` processes together produce exactly what one process would.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vadkit import paths
from vadkit.errors import CacheMismatchError, ConfigError, VadkitError
from vadkit.features.provenance import (build_provenance, check_provenance, compute_precision, source_fingerprint,
                                        store_dataset_identity)
from vadkit.identity import (bytes_digest, cache_key, file_digest, producer, read_json_entry, weights_digest,
                             write_json_entry)
from vadkit.io_utils import atomic_write, atomic_write_json

FRAME_RULE = "centres of frames_per_snippet equal sub-segments of each snippet (1 frame: 16t+8)"
PRECISIONS = ("fp32", "bf16")


def snippet_frame_indices(num_frames: int, snippet_len: int = 16, frames_per_snippet: int = 1) -> np.ndarray:
    """Frame indices ``[T, frames_per_snippet]`` sampled from each snippet (see module docstring)."""
    from vadkit.data.video import snippet_indices

    if frames_per_snippet < 1 or frames_per_snippet > snippet_len:
        raise ValueError(f"frames_per_snippet must be in [1, {snippet_len}], got {frames_per_snippet}")
    snip = snippet_indices(num_frames, snippet_len, keep_remainder=num_frames < snippet_len)
    pos = np.floor((np.arange(frames_per_snippet) + 0.5) * snippet_len / frames_per_snippet).astype(np.int64)
    return np.minimum(snip[:, pos], num_frames - 1)


def parse_shard(shard) -> tuple[int, int] | None:
    """``"i/n"`` or ``(i, n)`` -> ``(i, n)`` with ``0 <= i < n``."""
    if shard is None:
        return None
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m:
            raise ValueError(f"shard must look like 'i/n', got {shard!r}")
        shard = (int(m.group(1)), int(m.group(2)))
    i, n = int(shard[0]), int(shard[1])
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard must be i/n with 0 <= i < n (the first of n shards is 0/n), got {i}/{n}")
    return i, n


def launcher_shard() -> tuple[int, int] | None:
    """Shard from a torchrun / accelerate environment (``RANK``, ``WORLD_SIZE``), if launched by one."""
    world = os.environ.get("WORLD_SIZE")
    if world is None:
        return None
    try:
        n, i = int(world), int(os.environ.get("RANK", 0))
    except ValueError:
        raise ConfigError(f"RANK={os.environ.get('RANK')!r} / WORLD_SIZE={world!r}: not integers") from None
    return parse_shard((i, n)) if n > 1 else None


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:80]


class FeatureStore:
    """A directory of per-video features. ``load(vid) -> [T, D]`` float32.

    Attributes: ``root`` (directory), ``provenance`` (dict), ``failures`` (``{video_id: message}``),
    ``video_ids`` (finished videos, sorted), ``requested`` (the videos the :func:`extract_dataset` call that
    returned this store was asked for; ``None`` when opened directly).

    Every entry is verified on read: :meth:`load` and :meth:`load_tokens` check the file's size and sha256
    against the entry's record ``sources/<id>.json`` (itself digest-checked) and raise
    :class:`~vadkit.errors.CacheMismatchError` naming the file when they differ; running the extraction
    again recomputes the damaged entry.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        f = self.root / "provenance.json"
        if not f.is_file():
            raise CacheMismatchError(f"{self.root}: not a feature store (no provenance.json)")
        try:
            self.provenance = json.loads(f.read_text())
        except (OSError, ValueError) as err:
            raise CacheMismatchError(f"{f}: unreadable provenance record ({err})") from err
        self.requested: list[str] | None = None

    @property
    def video_ids(self) -> list[str]:
        feats = self.root / "features"
        return sorted(p.stem for p in (self.root / "sources").glob("*.json") if (feats / f"{p.stem}.npy").is_file())

    @property
    def failures(self) -> dict[str, str]:
        out = {}
        for p in sorted((self.root / "failures").glob("*.json")):
            try:
                rec = json.loads(p.read_text())
                out[rec["video_id"]] = rec["error"]
            except (OSError, ValueError, KeyError):
                out[p.stem] = f"unreadable failure record {p}"
        return out

    def failed(self, video_ids: Sequence[str] | None = None) -> dict[str, str]:
        """``{video_id: reason}`` of the videos of ``video_ids`` (default :attr:`requested`) without features."""
        ids = self.requested if video_ids is None else list(video_ids)
        if ids is None:
            return self.failures
        fails = self.failures
        return {v: fails.get(v, "no features (not extracted)") for v in ids if v not in self}

    def __contains__(self, video_id: str) -> bool:
        return (self.root / "features" / f"{video_id}.npy").is_file() and \
            (self.root / "sources" / f"{video_id}.json").is_file()

    def __len__(self) -> int:
        return len(self.video_ids)

    def _record(self, video_id: str) -> dict:
        f = self.root / "sources" / f"{video_id}.json"
        rec = read_json_entry(f)
        if rec is None or "files" not in rec:
            raise CacheMismatchError(f"{f}: the entry record of {video_id!r} is missing, unreadable or fails its "
                                     f"digest; run the extraction again to recompute this video")
        return rec

    def load(self, video_id: str) -> np.ndarray:
        """``[T, D]`` (``[T, 10, D]`` for ten_crop) float32, verified against its recorded digest."""
        f = self.root / "features" / f"{video_id}.npy"
        if not f.is_file():
            reason = self.failures.get(video_id)
            raise KeyError(f"{video_id}: no features in {self.root}" + (f" (extraction failed: {reason})" if reason else ""))
        return _load_verified(f, self._record(video_id)["files"].get("features"))

    def load_tokens(self, video_id: str, layer: int) -> np.ndarray:
        """Patch tokens ``[T, P, W]`` (float16) of ``layer``, verified against its recorded digest."""
        f = self.root / "tokens" / f"{video_id}.L{layer}.npy"
        if not f.is_file():
            raise KeyError(f"{video_id}: no layer-{layer} tokens in {self.root} (extracted layers: "
                           f"{self.provenance['sampling']['layers']})")
        return _load_verified(f, self._record(video_id)["files"].get("tokens", {}).get(str(layer)))

    def source(self, video_id: str) -> dict:
        """The entry record: source fingerprint, ``num_frames``, ``T``, ``path`` and the entry's file digests."""
        return self._record(video_id)

    def __repr__(self) -> str:
        return f"FeatureStore({self.root}, videos={len(self)}, failures={len(self.failures)})"


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _load_verified(path: Path, expected: dict | None) -> np.ndarray:
    """Read ``path`` once, check its size and sha256 against ``expected``, parse it (no pickle)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CacheMismatchError(f"{path}: cannot read feature file ({err})") from err
    if not expected:
        raise CacheMismatchError(f"{path}: no digest recorded for this file in its entry record; run the "
                                 f"extraction again to recompute it")
    if len(data) != expected["size"] or bytes_digest(data) != expected["sha256"]:
        raise CacheMismatchError(f"{path}: damaged feature file ({len(data)} bytes, recorded {expected['size']}; "
                                 f"sha256 differs from the entry record); run the extraction again to recompute it")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise CacheMismatchError(f"{path}: unreadable feature file ({err})") from err


def store_dir_for(clip_name: str, cache_root, snippet_len: int, frames_per_snippet: int, crop: str,
                  layers: Sequence[int], *, dataset: dict | None = None, model: dict | None = None,
                  precision: str = "fp32") -> Path:
    """Directory of the store of these settings.

    ``<cache_root>/<dataset>-<clip>_<crop>_s<S>x<k>_L<layers>_<precision>-<key>``.

    ``key`` is :func:`vadkit.identity.cache_key` of the features producer's version, ``dataset``
    (:func:`~vadkit.features.provenance.store_dataset_identity`), ``model`` (its identity: weights digest of a
    local directory) and the settings; the readable prefix is for people, the key is what separates stores.
    """
    root = Path(cache_root) if cache_root is not None else paths.cache_dir() / "features"
    lay = "-".join(str(x) for x in layers) or "none"
    settings = {"snippet_len": int(snippet_len), "frames_per_snippet": int(frames_per_snippet), "crop": crop,
                "layers": [int(x) for x in layers], "frame_rule": FRAME_RULE}
    key = cache_key(producer("features"), dataset=dataset, model=model or {"name": clip_name}, settings=settings,
                    precision=precision, length=12)
    ds = (dataset or {}).get("dataset") or "videos"
    return root / (_safe_name(f"{ds}-{clip_name}_{crop}_s{snippet_len}x{frames_per_snippet}_L{lay}_{precision}")
                   + f"-{key}")


class _Pending:
    __slots__ = ("vid", "idx", "fp", "n", "emb", "tok", "done")

    def __init__(self, vid, idx, fp, n):
        self.vid, self.idx, self.fp, self.n = vid, idx, fp, n
        self.emb: list = []
        self.tok: dict = {}
        self.done = 0


def _check_settings(snippet_len, frames_per_snippet, crop, batch_size, prefetch, precision) -> None:
    from vadkit.models.clip import CROPS

    problems = []
    if not isinstance(snippet_len, int) or snippet_len < 1:
        problems.append(f"snippet_len must be an integer >= 1, got {snippet_len!r}")
    elif not isinstance(frames_per_snippet, int) or not 1 <= frames_per_snippet <= snippet_len:
        problems.append(f"frames_per_snippet must be an integer in [1, snippet_len={snippet_len}], "
                        f"got {frames_per_snippet!r}")
    if crop not in CROPS:
        problems.append(f"crop must be one of {CROPS}, got {crop!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        problems.append(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(prefetch, int) or prefetch < 0:
        problems.append(f"prefetch must be an integer >= 0, got {prefetch!r}")
    if precision is not None and precision not in PRECISIONS:
        problems.append(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if problems:
        raise ConfigError("extract_dataset: " + "; ".join(problems))


def extract_dataset(annotations, clip_name: str, *, snippet_len: int = 16, frames_per_snippet: int = 1,
                    crop: str = "center", layers: Sequence[int] = (), cache_root=None, shard=None,
                    batch_size: int = 64, device=None, precision: str | None = None, prefetch: int = 2,
                    progress: bool = True, clip=None) -> FeatureStore:
    """Extract (or resume) snippet features of every video in ``annotations``.

    ``annotations``: :class:`~vadkit.data.annotations.DatasetAnnotations` (``video_path`` set) or a
    mapping ``{video_id: path}``. Returns the :class:`FeatureStore` (``store.failed()`` lists this call's
    videos without features). Videos that are missing or fail to decode are recorded in ``store.failures``
    and the others go on. The store is keyed by the dataset's identity (not its path or split), the model's
    identity, the settings and the compute precision (:func:`store_dir_for`); a store whose provenance
    differs anyway raises :class:`~vadkit.errors.CacheMismatchError`. A damaged entry (its file's digest
    differs from its record) or a video whose file changed since it was cached is recomputed.
    ``clip`` passes an already loaded :class:`~vadkit.models.clip.ClipModel` (``clip_name`` still names it);
    ``precision`` (``"fp32"`` or ``"bf16"``) defaults to the passed model's, else ``"fp32"``.
    Bad settings raise :class:`~vadkit.errors.ConfigError` before any work.
    """
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader
    from vadkit.models import load_clip

    _check_settings(snippet_len, frames_per_snippet, crop, batch_size, prefetch, precision)
    if clip is not None and precision is not None and precision != getattr(clip, "precision", precision):
        raise ConfigError(f"extract_dataset: precision={precision!r} but the passed model was loaded with "
                          f"precision={clip.precision!r}; pass one or make them agree")
    shard = parse_shard(shard) or launcher_shard()
    if device is None and torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    if device is None or str(device) == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    layers = tuple(int(x) for x in layers)
    items = _items(annotations)
    if shard:
        items = items[shard[0]::shard[1]]
    clip = clip or load_clip(clip_name, device=device, precision=precision or "fp32")
    ident = _model_identity(clip)
    prec = compute_precision(clip)
    dataset = store_dataset_identity(annotations)
    store_dir = store_dir_for(clip_name, cache_root, snippet_len, frames_per_snippet, crop, layers,
                              dataset=dataset, model=ident, precision=prec)
    prov = build_provenance(ident, snippet_len=snippet_len, frames_per_snippet=frames_per_snippet,
                            crop=crop, layers=layers, frame_rule=FRAME_RULE, dataset=dataset, precision=prec)
    check_provenance(store_dir, prov)
    for sub in ("features", "sources", "failures", "tokens"):
        (store_dir / sub).mkdir(parents=True, exist_ok=True)
    if not (store_dir / "provenance.json").is_file():
        atomic_write_json(store_dir / "provenance.json", prov)

    todo = []
    for vid, path in items:
        if not _is_done(store_dir, vid, path, layers):
            todo.append((vid, path))

    def decode(item):
        vid, path = item
        try:
            if path is None:
                raise VadkitError(f"{vid}: video file not found (no video_path; is it under the dataset root?)")
            reader = VideoReader(path)
            n = len(reader)
            idx = snippet_frame_indices(n, snippet_len, frames_per_snippet)
            uniq, inv = np.unique(idx.reshape(-1), return_inverse=True)
            frames = reader.get_frames(uniq)[inv]
            return vid, path, idx, frames, n, None
        except Exception as err:  # noqa: BLE001 - one bad video must not stop the batch; recorded below
            return vid, path, None, None, 0, f"{type(err).__name__}: {err}"

    bar = tqdm(desc=f"features {clip_name}", unit="frame", disable=not progress, smoothing=0.1)
    pending: list[tuple[_Pending, np.ndarray]] = []
    buffered = 0
    pin = clip.device.type == "cuda"

    def flush(force: bool):
        nonlocal buffered
        while buffered >= batch_size or (force and buffered):
            take, taken = [], 0
            while pending and taken < batch_size:
                p, fr = pending[0]
                k = min(batch_size - taken, len(fr))
                take.append((p, fr[:k]))
                taken += k
                if k == len(fr):
                    pending.pop(0)
                else:
                    pending[0] = (p, fr[k:])
            frames = np.concatenate([fr for _, fr in take])
            x = torch.from_numpy(frames)
            if pin:
                x = x.pin_memory()
            px = clip.preprocess(x.to(clip.device, non_blocking=True), crop)
            if crop == "ten_crop":
                emb, _ = clip.encode_pixels(px.flatten(0, 1))
                emb = emb.view(len(frames), 10, -1)
                tok = {}
                if layers:
                    _, tok = clip.encode_pixels(px[:, 4], layers=layers)  # centre crop tokens
            else:
                emb, tok = clip.encode_pixels(px, layers=layers)
            off = 0
            for p, fr in take:
                k = len(fr)
                p.emb.append(emb[off:off + k].numpy())
                for layer, t in tok.items():
                    p.tok.setdefault(layer, []).append(t[off:off + k].half().numpy())
                off += k
                p.done += k
                if p.done == p.n:
                    _write_video(store_dir, p, frames_per_snippet, shard)
            buffered -= taken
            bar.update(taken)

    with ThreadPoolExecutor(max_workers=max(1, prefetch)) as pool:
        for vid, path, idx, frames, n, err in pool.map(decode, todo):
            if err is not None:
                atomic_write_json(store_dir / "failures" / f"{_safe_name(vid)}.json",
                                  {"video_id": vid, "path": None if path is None else str(path), "error": err})
                continue
            p = _Pending(vid, idx, {**source_fingerprint(path), "num_frames": n, "path": str(path)}, len(frames))
            pending.append((p, frames))
            buffered += len(frames)
            flush(False)
        flush(True)
    bar.close()
    store = FeatureStore(store_dir)
    store.requested = [vid for vid, _ in items]
    return store


def _items(annotations) -> list[tuple[str, Path | None]]:
    out = []
    for vid, v in annotations.items():
        path = v if isinstance(v, (str, os.PathLike)) else getattr(v, "video_path", None)
        out.append((str(vid), Path(path) if path is not None else None))
    return sorted(out)


def _model_identity(clip) -> dict:
    """Provenance of the encoder: its description, with a local directory named by its weights digest
    (:func:`vadkit.identity.weights_digest`), never by its location."""
    d = clip.describe()
    arch = Path(str(d["model"]))
    if arch.is_dir():
        d["model"] = arch.name
        try:
            d["weights"] = weights_digest(arch)
        except FileNotFoundError:
            d["weights"] = None
    d.pop("name", None)
    return d


def _is_done(store_dir: Path, vid: str, path, layers) -> bool:
    """Whether ``vid`` has a complete, undamaged entry for the video file ``path`` as it is now.

    The record must pass its own digest, the features file its full sha256 (they are small), each token
    file its recorded size (token maps can be large: their full sha256 is checked on every load instead).
    A damaged entry or a changed video returns ``False`` (recomputed), with a warning naming the file.
    """
    feat = store_dir / "features" / f"{vid}.npy"
    src = store_dir / "sources" / f"{vid}.json"
    if not src.is_file():
        return False
    rec = read_json_entry(src)
    files = (rec or {}).get("files") or {}
    problem = None
    if rec is None or "features" not in files:
        problem = f"{src}: entry record damaged or from an older vadkit"
    elif not feat.is_file() or feat.stat().st_size != files["features"]["size"] \
            or file_digest(feat) != files["features"]["sha256"]:
        problem = f"{feat}: missing or damaged (differs from its recorded digest)"
    else:
        for layer in layers:
            t = store_dir / "tokens" / f"{vid}.L{layer}.npy"
            want = files.get("tokens", {}).get(str(layer))
            if want is None or not t.is_file() or t.stat().st_size != want["size"]:
                problem = f"{t}: missing or damaged (size differs from its record)"
                break
    if problem is None and path is not None and Path(path).is_file():
        now = source_fingerprint(path)
        if rec.get("sha256_edges") != now["sha256_edges"] or rec.get("size") != now["size"]:
            problem = f"{path}: the video changed since its features were cached in {store_dir}"
    if problem is not None:
        warnings.warn(f"{problem}; recomputing {vid!r}", stacklevel=3)
        return False
    return True


def _write_video(store_dir: Path, p: _Pending, k: int, shard=None) -> None:
    emb = np.concatenate(p.emb).astype(np.float32)  # [T * k, D] or [T * k, 10, D]
    T = p.idx.shape[0]
    feats = emb.reshape(T, k, *emb.shape[1:]).mean(axis=1)
    files: dict = {"tokens": {}}
    for layer, chunks in p.tok.items():
        tok = np.concatenate(chunks).reshape(T, k, *chunks[0].shape[1:])[:, 0]
        name = f"tokens/{p.vid}.L{layer}.npy"
        files["tokens"][str(layer)] = _write_npy(store_dir / name, tok, name)
    name = f"features/{p.vid}.npy"
    files["features"] = _write_npy(store_dir / name, feats, name)
    # the record last: it holds the digests of the files above and is what marks the video done
    write_json_entry(store_dir / "sources" / f"{p.vid}.json",
                     {"video_id": p.vid, **p.fp, "T": int(T), "files": files,
                      "shard": f"{shard[0]}/{shard[1]}" if shard else None})
    fail = store_dir / "failures" / f"{_safe_name(p.vid)}.json"
    if fail.exists():
        fail.unlink()


def _write_npy(path: Path, array: np.ndarray, name: str) -> dict:
    data = _npy_bytes(array)
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return {"name": name, "size": len(data), "sha256": bytes_digest(data)}


def naive_extract(path, clip, snippet_len: int = 16) -> np.ndarray:
    """Reference loop: decode and encode one frame at a time (for tests and the benchmark).

    ``[T, D]`` with the same frame rule as :func:`extract_dataset` (one frame per snippet, centre crop).
    """
    from vadkit.data.video import VideoReader

    reader = VideoReader(path)
    idx = snippet_frame_indices(len(reader), snippet_len, 1)[:, 0]
    rows = [clip.encode_images(reader.get_frames([int(i)]))[0].numpy() for i in idx]
    return np.stack(rows).astype(np.float32)
