"""Provenance of cached features: what produced them, checked before any cache is reused.

A feature store directory holds ``provenance.json``::

    {"pipeline_version": 1, "vadkit_version": "0.1.0",
     "model": {"model": "ViT-B-16", "pretrained": "openai", "image_size": 224, "mean": [...], ...},
     "sampling": {"snippet_len": 16, "frames_per_snippet": 1, "frame_rule": "...", "crop": "center",
                  "layers": [], "pooling": "mean over sampled frames"},
     "dtype": "float32"}

and per video ``sources/<video_id>.json`` with the source fingerprint (size + sha256 of the first and
last MiB, a content digest that stays fast on 100 GB datasets), decoded frame count and ``T``.

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

PIPELINE_VERSION = 1
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


def build_provenance(model_desc: dict, *, snippet_len: int, frames_per_snippet: int, crop: str,
                     layers, frame_rule: str) -> dict:
    from vadkit import __version__

    return {"pipeline_version": PIPELINE_VERSION, "vadkit_version": __version__, "model": model_desc,
            "sampling": {"snippet_len": int(snippet_len), "frames_per_snippet": int(frames_per_snippet),
                         "frame_rule": frame_rule, "crop": crop, "layers": [int(x) for x in layers],
                         "pooling": "mean over the sampled frames of a snippet"},
            "dtype": "float32", "patch_token_dtype": "float16"}


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
