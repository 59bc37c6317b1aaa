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

Distributed: ``shard=(i, n)`` (CLI ``--shard i/n``) takes every ``n``-th video starting at ``i``; under
``torchrun``/``accelerate launch`` the shard and device come from ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vadkit import paths
from vadkit.errors import CacheMismatchError, VadkitError
from vadkit.features.provenance import build_provenance, check_provenance, source_fingerprint
from vadkit.io_utils import atomic_save_npy, atomic_write_json

FRAME_RULE = "centres of frames_per_snippet equal sub-segments of each snippet (1 frame: 16t+8)"


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
        raise ValueError(f"shard index must satisfy 0 <= i < n, got {i}/{n}")
    return i, n


def launcher_shard() -> tuple[int, int] | None:
    """Shard from a torchrun / accelerate environment (``RANK``, ``WORLD_SIZE``), if launched by one."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        return int(os.environ.get("RANK", 0)), int(os.environ["WORLD_SIZE"])
    return None


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:80]


class FeatureStore:
    """A directory of per-video features. ``load(vid) -> [T, D]`` float32.

    Attributes: ``root`` (directory), ``provenance`` (dict), ``failures`` (``{video_id: message}``),
    ``video_ids`` (finished videos, sorted).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        f = self.root / "provenance.json"
        if not f.is_file():
            raise CacheMismatchError(f"{self.root}: not a feature store (no provenance.json)")
        self.provenance = json.loads(f.read_text())

    @property
    def video_ids(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "features").glob("*.npy"))

    @property
    def failures(self) -> dict[str, str]:
        out = {}
        for p in sorted((self.root / "failures").glob("*.json")):
            rec = json.loads(p.read_text())
            out[rec["video_id"]] = rec["error"]
        return out

    def __contains__(self, video_id: str) -> bool:
        return (self.root / "features" / f"{video_id}.npy").is_file()

    def __len__(self) -> int:
        return len(self.video_ids)

    def load(self, video_id: str) -> np.ndarray:
        """``[T, D]`` (``[T, 10, D]`` for ten_crop) float32."""
        f = self.root / "features" / f"{video_id}.npy"
        if not f.is_file():
            reason = self.failures.get(video_id)
            raise KeyError(f"{video_id}: no features in {self.root}" + (f" (extraction failed: {reason})" if reason else ""))
        return np.load(f)

    def load_tokens(self, video_id: str, layer: int) -> np.ndarray:
        """Patch tokens ``[T, P, W]`` (float16) of ``layer``."""
        f = self.root / "tokens" / f"{video_id}.L{layer}.npy"
        if not f.is_file():
            raise KeyError(f"{video_id}: no layer-{layer} tokens in {self.root} (extracted layers: "
                           f"{self.provenance['sampling']['layers']})")
        return np.load(f)

    def source(self, video_id: str) -> dict:
        return json.loads((self.root / "sources" / f"{video_id}.json").read_text())

    def __repr__(self) -> str:
        return f"FeatureStore({self.root}, videos={len(self)}, failures={len(self.failures)})"


def store_dir_for(clip_name: str, cache_root, snippet_len: int, frames_per_snippet: int, crop: str,
                  layers: Sequence[int]) -> Path:
    from vadkit.io_utils import content_hash

    root = Path(cache_root) if cache_root is not None else paths.cache_dir() / "features"
    lay = "-".join(str(x) for x in layers) or "none"
    full = f"{clip_name}_{crop}_s{snippet_len}x{frames_per_snippet}_L{lay}"
    # a readable prefix plus a digest of the whole descriptor: long names (checkpoint paths) never collide
    return root / f"{_safe_name(full)[:60]}-{content_hash(full, 10)}"


class _Pending:
    __slots__ = ("vid", "idx", "fp", "n", "emb", "tok", "done")

    def __init__(self, vid, idx, fp, n):
        self.vid, self.idx, self.fp, self.n = vid, idx, fp, n
        self.emb: list = []
        self.tok: dict = {}
        self.done = 0


def extract_dataset(annotations, clip_name: str, *, snippet_len: int = 16, frames_per_snippet: int = 1,
                    crop: str = "center", layers: Sequence[int] = (), cache_root=None, shard=None,
                    batch_size: int = 64, device=None, precision: str = "fp32", prefetch: int = 2,
                    progress: bool = True, clip=None) -> FeatureStore:
    """Extract (or resume) snippet features of every video in ``annotations``.

    ``annotations``: :class:`~vadkit.data.annotations.DatasetAnnotations` (``video_path`` set) or a
    mapping ``{video_id: path}``. Returns the :class:`FeatureStore`; videos that fail to decode are
    recorded in ``store.failures`` and the others go on. A store made with other settings raises
    :class:`~vadkit.errors.CacheMismatchError`, as does a video whose file changed since it was cached
    (a ``zoo:`` model's store is named after its weights digest, so a retrained zoo entry gets a new store).
    ``clip`` passes an already loaded :class:`~vadkit.models.clip.ClipModel` (``clip_name`` still names it).
    """
    from tqdm.auto import tqdm

    from vadkit.data.video import VideoReader
    from vadkit.models import load_clip

    shard = parse_shard(shard) or launcher_shard()
    if device is None and torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    if device is None or str(device) == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    layers = tuple(int(x) for x in layers)
    items = _items(annotations)
    if shard:
        items = items[shard[0]::shard[1]]
    clip = clip or load_clip(clip_name, device=device, precision=precision)
    ident = _model_identity(clip)
    store_name = clip_name
    if clip_name.startswith("zoo:") and ident.get("weights"):
        # zoo entries are content-addressed (retrained when their config or data change): so are their features
        store_name = f"{clip_name}-{ident['weights'][:12]}"
    store_dir = store_dir_for(store_name, cache_root, snippet_len, frames_per_snippet, crop, layers)
    prov = build_provenance(ident, snippet_len=snippet_len, frames_per_snippet=frames_per_snippet,
                            crop=crop, layers=layers, frame_rule=FRAME_RULE)
    check_provenance(store_dir, prov)
    for sub in ("features", "sources", "failures", "tokens"):
        (store_dir / sub).mkdir(parents=True, exist_ok=True)
    if not (store_dir / "provenance.json").is_file():
        atomic_write_json(store_dir / "provenance.json", prov)

    todo = []
    for vid, path in items:
        if _is_done(store_dir, vid, path, layers):
            continue
        todo.append((vid, path))

    def decode(item):
        vid, path = item
        try:
            if path is None:
                raise VadkitError(f"{vid}: video file not found")
            reader = VideoReader(path)
            n = len(reader)
            idx = snippet_frame_indices(n, snippet_len, frames_per_snippet)
            uniq, inv = np.unique(idx.reshape(-1), return_inverse=True)
            frames = reader.get_frames(uniq)[inv]
            return vid, path, idx, frames, n, None
        except (VadkitError, OSError, RuntimeError, ValueError) as err:
            return vid, path, None, None, 0, f"{type(err).__name__}: {err}"

    total_frames = None
    bar = tqdm(desc=f"features {clip_name}", unit="frame", disable=not progress, smoothing=0.1, total=total_frames)
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
                    _write_video(store_dir, p, frames_per_snippet)
            buffered -= taken
            bar.update(taken)

    with ThreadPoolExecutor(max_workers=max(1, prefetch)) as pool:
        for vid, path, idx, frames, n, err in pool.map(decode, todo):
            if err is not None:
                atomic_write_json(store_dir / "failures" / f"{_safe_name(vid)}.json",
                                  {"video_id": vid, "path": str(path), "error": err})
                continue
            p = _Pending(vid, idx, {**source_fingerprint(path), "num_frames": n, "path": str(path)}, len(frames))
            pending.append((p, frames))
            buffered += len(frames)
            flush(False)
        flush(True)
    bar.close()
    return FeatureStore(store_dir)


def _items(annotations) -> list[tuple[str, Path | None]]:
    out = []
    for vid, v in annotations.items():
        path = v if isinstance(v, (str, os.PathLike)) else getattr(v, "video_path", None)
        out.append((str(vid), Path(path) if path is not None else None))
    return sorted(out)


def _model_identity(clip) -> dict:
    d = clip.describe()
    arch = Path(str(d["model"]))
    if arch.is_dir():  # a local directory (tiny zoo): identify it by name + weights digest, not its location
        from vadkit.features.provenance import source_fingerprint as fp

        weights = next(iter(sorted(arch.glob("*.safetensors"))), None)
        d["model"] = arch.name
        d["weights"] = fp(weights)["sha256_edges"] if weights else None
    d.pop("name", None)
    return d


def _is_done(store_dir: Path, vid: str, path, layers) -> bool:
    feat = store_dir / "features" / f"{vid}.npy"
    src = store_dir / "sources" / f"{vid}.json"
    if not (feat.is_file() and src.is_file()):
        return False
    if not all((store_dir / "tokens" / f"{vid}.L{l}.npy").is_file() for l in layers):
        return False
    if path is not None and Path(path).is_file():
        rec = json.loads(src.read_text())
        now = source_fingerprint(path)
        if rec.get("sha256_edges") != now["sha256_edges"] or rec.get("size") != now["size"]:
            raise CacheMismatchError(f"{path}: the video changed since its features were cached in {store_dir} "
                                     f"(fingerprint differs); delete {feat} to re-extract")
    return True


def _write_video(store_dir: Path, p: _Pending, k: int) -> None:
    emb = np.concatenate(p.emb).astype(np.float32)  # [T * k, D] or [T * k, 10, D]
    T = p.idx.shape[0]
    feats = emb.reshape(T, k, *emb.shape[1:]).mean(axis=1)
    for layer, chunks in p.tok.items():
        tok = np.concatenate(chunks).reshape(T, k, *chunks[0].shape[1:])[:, 0]
        atomic_save_npy(store_dir / "tokens" / f"{p.vid}.L{layer}.npy", tok)
    atomic_write_json(store_dir / "sources" / f"{p.vid}.json", {**p.fp, "T": int(T)})
    atomic_save_npy(store_dir / "features" / f"{p.vid}.npy", feats)  # last: marks the video done
    fail = store_dir / "failures" / f"{_safe_name(p.vid)}.json"
    if fail.exists():
        fail.unlink()


def naive_extract(path, clip, snippet_len: int = 16) -> np.ndarray:
    """Reference loop: decode and encode one frame at a time (for tests and the benchmark).

    ``[T, D]`` with the same frame rule as :func:`extract_dataset` (one frame per snippet, centre crop).
    """
    from vadkit.data.video import VideoReader

    reader = VideoReader(path)
    idx = snippet_frame_indices(len(reader), snippet_len, 1)[:, 0]
    rows = [clip.encode_images(reader.get_frames([int(i)]))[0].numpy() for i in idx]
    return np.stack(rows).astype(np.float32)
