"""Visual features with provenance: extraction, the per-video cache, released formats.

::

    from vadkit.features import extract_dataset, read_released, compare_features
    store = extract_dataset(ds, "ViT-B-16:openai")       # or "zoo:tiny-clip" in the smoke profile
    x = store.load(video_id)                              # [T, 512] float32, one row per 16-frame snippet
    store.provenance, store.failures

See :mod:`vadkit.features.extract` for the frame-sampling convention and :mod:`.provenance` for what
is recorded and checked.
"""

from vadkit.features.extract import (FeatureStore, extract_dataset, naive_extract, parse_shard,
                                     snippet_frame_indices, store_dir_for)
from vadkit.features.provenance import check_provenance, source_fingerprint
from vadkit.features.released import compare_features, compare_stores, read_released

__all__ = ["FeatureStore", "extract_dataset", "naive_extract", "parse_shard", "snippet_frame_indices",
           "store_dir_for", "check_provenance", "source_fingerprint", "compare_features", "compare_stores",
           "read_released"]
