"""Visual features with provenance: extraction, the per-video cache, released formats.

::

    from vadkit.features import extract_dataset, read_released, compare_features
    store = extract_dataset(ds, "ViT-B-16:openai")       # or "zoo:tiny-clip" in the smoke profile
    x = store.load(video_id)                              # [T, 512] float32, one row per 16-frame snippet
    store.provenance, store.failures

See :mod:`vadkit.features.extract` for the frame-sampling convention and :mod:`.provenance` for what
is recorded and checked. Names are imported on first use, so ``vadkit --help`` (which imports
:mod:`vadkit.features.cli`) does not pay for torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "FeatureStore": "extract", "extract_dataset": "extract", "naive_extract": "extract", "parse_shard": "extract",
    "snippet_frame_indices": "extract", "store_dir_for": "extract",
    "check_provenance": "provenance", "source_fingerprint": "provenance", "store_dataset_identity": "provenance",
    "compare_features": "released", "compare_stores": "released", "read_released": "released",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"vadkit.features.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'vadkit.features' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
