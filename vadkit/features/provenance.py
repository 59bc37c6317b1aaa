"""Provenance of cached features: what produced them, checked before any cache is reused.

A feature store directory holds ``provenance.json``::

    {"pipeline_version": 2, "vadkit_version": "0.1.0",
     "dataset": {"dataset": "synthvad", "manifest": "<digest of synthvad.json>"},
     "model": {"model": "ViT-B-16", "pretrained": "openai", "image_size": 224, "mean": [...], ...},
     "sampling": {"snippet_len": 16, "frames_per_snippet": 1, "frame_rule": "...", "crop": "center",
                  "layers": [], "pooling": "mean over sampled frames"},
     "compute_precision": "fp32", "dtype": "float32", "patch_token_dtype": "float16"}

and per video ``sources/<video_id>.json``, written by :func:`vadkit.identity.write_json_entry` (so the
record carries its own digest): the source fingerprint (size + sha256 of the first and last MiB, a
content digest that stays fast on 100 GB datasets), decoded frame count, ``T`` and the sha256 and size of
every file of the entry (``features/<id>.npy``, ``tokens/<id>.L<l>.npy``). The record is written last: it
is what marks a video done, and a file whose digest differs from it is a damaged entry (recomputed by the
next extraction, named in the error of :meth:`~vadkit.features.FeatureStore.load`).

``compute_precision`` is what the encoder really ran in (``"bf16"`` only for bf16 autocast on CUDA;
``precision="bf16"`` on a CPU computes in fp32 and says so), so a resumed store never mixes precisions:
it is part of the store's key, and a store made in another precision is another directory.

Where a store lives (:func:`vadkit.features.extract.store_dir_for`): under the cache root, one directory per
``cache_key(producer("features"), dataset=..., model=..., settings=..., precision=...)``
(:mod:`vadkit.identity`). The dataset part is :func:`store_dataset_identity`, the identity of the *whole*
dataset the videos come from (never its path, never the split): every split and subset of one dataset
shares one store, so chapters that use the same encoder and settings on the same videos share features,
and a validation split carved from the training videos reuses the training videos' features.

:func:`check_provenance` compares every field except ``vadkit_version`` (recorded, not compared: a
release that changes what features mean bumps :data:`PIPELINE_VERSION`, which *is* compared). Any
difference raises :class:`~vadkit.errors.CacheMismatchError` naming the fields, never a silent reuse.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from vadkit.errors import CacheMismatchError

from vadkit.identity import PRODUCERS

#: Version of what a feature store means (2: per-entry digests, dataset identity and precision in the key).
PIPELINE_VERSION = PRODUCERS["features"]
_EDGE = 1 << 20


def source_fingerprint(path: str | os.PathLike) -> dict:
    """``{"size", "sha256_edges"}`` of a video file (first and last MiB plus the size)."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(p, "rb") as fh:
        h.update(fh.read(_EDGE))
        if size > 2 * _EDGE:
            fh.seek(size - _EDGE)
            h.update(fh.read(_EDGE))
        elif size > _EDGE:
            h.update(fh.read())
    return {"size": size, "sha256_edges": h.hexdigest()}


def _items_rows(annotations) -> list:
    rows = []
    for vid in sorted(annotations):
        v = annotations[vid]
        path = v if isinstance(v, (str, os.PathLike)) else getattr(v, "video_path", None)
        size = None
        if path is not None and Path(path).is_file():
            size = Path(path).stat().st_size
        rows.append((str(vid), None if path is None else Path(path).name, size))
    return rows


def store_dataset_identity(annotations) -> dict:
    """The dataset part of a feature store's key: what the videos are, not where they lie.

    * a SynthVAD root (``synthvad.json`` beside the videos): the dataset name and the digest of that
      manifest (:func:`vadkit.identity.synth_manifest_digest`, without its volatile fields), which records the generation request and the sha256 of every file (so two seeds never
      share a store, and a moved root keeps its features);
    * another dataset root known to a manifest (``data_manifests/<name>.yaml``): the name and the content
      digest of its annotation files (the manifest's ``kind: annotation`` patterns). The videos are not
      listed in the key, so fetching a missing archive later does not orphan the features already made;
      each video is checked by its own fingerprint instead (a changed video is recomputed);
    * anything else (a mapping ``{id: path}``, annotations without a root or manifest): the digest of the
      videos given, ``(id, file name, size)`` (:func:`vadkit.identity.dataset_identity`'s video part).

    The split is never part of it: a split, a subset or a validation carve of one dataset share a store.
    """
    from vadkit.identity import file_digest
    from vadkit.io_utils import content_hash

    name = str(getattr(annotations, "name", None) or "videos").split(":")[0]
    root = getattr(annotations, "root", None)
    if root is not None and Path(root).is_dir():
        root = Path(root)
        if (root / "synthvad.json").is_file():
            from vadkit.identity import synth_manifest_digest

            return {"dataset": name, "manifest": synth_manifest_digest(root)}
        try:
            from vadkit.data.manifests import load_manifest

            patterns = [e.pattern for e in load_manifest(name, schema=False).tree if e.kind == "annotation"]
        except Exception:  # noqa: BLE001 - a custom dataset name without a manifest: fall through
            patterns = []
        files = sorted({p for pat in patterns for p in root.glob(pat) if p.is_file()
                        and not any(part.startswith(".") for part in p.relative_to(root).parts)})
        if files:
            rows = [(str(p.relative_to(root)), file_digest(p)) for p in files]
            return {"dataset": name, "annotations": content_hash(rows, 16)}
    return {"dataset": name, "videos": content_hash(_items_rows(annotations), 16)}


def compute_precision(clip) -> str:
    """What the encoder really computes in: ``"bf16"`` (autocast on CUDA) or ``"fp32"``."""
    on_cuda = getattr(getattr(clip, "device", None), "type", "cpu") == "cuda"
    return "bf16" if on_cuda and getattr(clip, "precision", "fp32") in ("bf16", "amp") else "fp32"


def build_provenance(model_desc: dict, *, snippet_len: int, frames_per_snippet: int, crop: str,
                     layers, frame_rule: str, dataset: dict | None = None, precision: str = "fp32") -> dict:
    from vadkit import __version__

    return {"pipeline_version": PIPELINE_VERSION, "vadkit_version": __version__, "dataset": dataset,
            "model": model_desc,
            "sampling": {"snippet_len": int(snippet_len), "frames_per_snippet": int(frames_per_snippet),
                         "frame_rule": frame_rule, "crop": crop, "layers": [int(x) for x in layers],
                         "pooling": "mean over the sampled frames of a snippet"},
            "compute_precision": precision, "dtype": "float32", "patch_token_dtype": "float16"}


def _diff(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k == "vadkit_version" and not prefix:
                continue
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')}: cached {a!r} != requested {b!r}"]


def check_provenance(store_dir: Path, wanted: dict) -> None:
    """Raise :class:`CacheMismatchError` if ``store_dir/provenance.json`` differs from ``wanted``."""
    f = Path(store_dir) / "provenance.json"
    if not f.is_file():
        return
    try:
        have = json.loads(f.read_text())
    except json.JSONDecodeError as err:
        raise CacheMismatchError(f"{f}: unreadable provenance record ({err}); delete the directory to rebuild") from err
    diffs = _diff(have, wanted)
    if diffs:
        raise CacheMismatchError(f"{f}: feature cache was made with other settings; refusing to reuse it:\n  "
                                 + "\n  ".join(diffs) + "\nUse another cache_root or delete this directory.")
