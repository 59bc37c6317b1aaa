"""Class-embedding sources for the fine-grained branch (VadCLIP Sec. 3.3; Ex-VAD Sec. 3.4 / Table 6).

Every source is an ``nn.Module`` whose ``forward()`` returns class embeddings ``[C, D]`` (class 0 = normal):

* :class:`LearnablePrompt` - CoOp-style context vectors around each class name, VadCLIP's
  ``[SOT] ctx_1..ctx_p  <class tokens>  ctx_1'..ctx_q' [EOT]`` layout (p = q = 10 in VadCLIP; Ex-VAD
  reports a context length l = 20), encoded by the frozen CLIP text encoder;
* :class:`FixedClassEmbeddings` - fixed text embeddings (``"[CLS]"``, ``"a video of [CLS]"``, or Ex-VAD's
  label-augmented embeddings from :func:`label_augmented_embeddings`) plus a small trainable residual
  projection so the contrastive term and the alignment can still shape them.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F


class TextEncoderHooks:
    """The three pieces of a CLIP text tower that prompt learning needs.

    * ``tokenize(texts) -> LongTensor [N, L]`` (CLIP BPE ids, SOT first, EOT has the largest id);
    * ``token_embedding(ids [N, L]) -> [N, L, W]``;
    * ``encode(prompt_embeds [N, L, W], eot_index [N]) -> [N, D]`` (the rest of the frozen text tower).
    """

    def __init__(self, tokenize: Callable, token_embedding: Callable, encode: Callable):
        self.tokenize, self.token_embedding, self.encode = tokenize, token_embedding, encode

    @classmethod
    def from_clip(cls, clip) -> "TextEncoderHooks":
        """Hooks for a :class:`vadkit.models.base.CLIPBackend` (open_clip model underneath)."""
        from vadkit.models.clip import encode_text_embeddings

        def tokenize(texts):
            return torch.as_tensor(clip.tokenize(list(texts)))

        def token_embedding(ids):
            return clip.model.token_embedding(ids.to(next(clip.model.parameters()).device))

        return cls(tokenize, token_embedding, lambda e, i: encode_text_embeddings(clip, e, i))


class LearnablePrompt(nn.Module):
    """VadCLIP's learnable prompt. ``forward() -> [C, D]`` class embeddings from the frozen text encoder.

    Args:
        hooks: :class:`TextEncoderHooks` of a frozen CLIP text tower.
        classnames: C class names, normal first.
        n_prefix / n_postfix: learnable context tokens before / after the class name (VadCLIP: 10 / 10).
    """

    def __init__(self, hooks: TextEncoderHooks, classnames: Sequence[str], n_prefix: int = 10, n_postfix: int = 10):
        super().__init__()
        self.hooks, self.classnames = hooks, list(classnames)
        with torch.no_grad():
            ids = hooks.tokenize(self.classnames)                       # [C, L]
            emb = hooks.token_embedding(ids).detach().float().cpu()      # [C, L, W]
        c, length, width = emb.shape
        eot = ids.argmax(-1)                                            # CLIP's EOT id is the largest
        n_name = eot - 1                                                # tokens between SOT and EOT
        if int((n_prefix + n_postfix + n_name).max()) + 2 > length:
            raise ValueError(f"prompt of {n_prefix}+{n_postfix} context tokens plus class names does not fit "
                             f"the text context length {length}")
        self.prefix = nn.Parameter(torch.randn(n_prefix, width) * 0.02)
        self.postfix = nn.Parameter(torch.randn(n_postfix, width) * 0.02)
        self.register_buffer("base", emb, persistent=False)
        self.register_buffer("eot_src", eot, persistent=False)
        self.register_buffer("eot_index", eot + n_prefix + n_postfix, persistent=False)
        self.n_prefix, self.n_postfix = n_prefix, n_postfix

    def prompt_embeddings(self) -> torch.Tensor:
        """``[C, L, W]`` token embeddings with the context vectors spliced in."""
        rows = []
        length = self.base.shape[1]
        for i in range(self.base.shape[0]):
            e, eot = self.base[i], int(self.eot_src[i])
            row = torch.cat([e[:1], self.prefix, e[1:eot], self.postfix, e[eot:]], dim=0)[:length]
            rows.append(row)
        return torch.stack(rows)

    def forward(self) -> torch.Tensor:
        return self.hooks.encode(self.prompt_embeddings(), self.eot_index)


class FixedClassEmbeddings(nn.Module):
    """Fixed class embeddings ``E [C, D]`` plus a trainable residual MLP, ``E + MLP(E)`` (MLP initialised at 0)."""

    def __init__(self, embeds: torch.Tensor, residual: bool = True):
        super().__init__()
        self.register_buffer("embeds", embeds.detach().float().clone())
        d = embeds.shape[-1]
        self.mlp = None
        if residual:
            self.mlp = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
            nn.init.zeros_(self.mlp[2].weight)
            nn.init.zeros_(self.mlp[2].bias)

    def forward(self) -> torch.Tensor:
        return self.embeds if self.mlp is None else self.embeds + self.mlp(self.embeds)


def label_augmented_embeddings(label_embeds: torch.Tensor, phrase_embeds: Sequence[torch.Tensor], k: int = 4,
                               ) -> tuple[torch.Tensor, list[list[int]]]:
    """Ex-VAD LAAM label augmentation (Sec. 3.4, Eq. 5).

    For class ``c`` with label embedding ``v_L [D]`` and ``m`` phrase embeddings ``v_S [m, D]``, keep the ``k``
    phrases of highest ``cos(v_L, v_S_i)`` and fuse: ``F_L = normalize(v_L + mean(top-k v_S)) `` (the paper says
    the phrases are "integrated" with the label embedding; we give the label and the phrase mean equal weight).
    ``k = 0`` returns the label embeddings unchanged.

    Returns ``(F_L [C, D], kept phrase indices per class)``.
    """
    out, kept = [], []
    for v_l, v_s in zip(label_embeds, phrase_embeds):
        v_l = F.normalize(v_l.float(), dim=-1)
        if k <= 0 or v_s is None or len(v_s) == 0:
            out.append(v_l)
            kept.append([])
            continue
        v_s = F.normalize(torch.as_tensor(v_s).float(), dim=-1)
        sims = v_s @ v_l
        idx = sims.topk(min(k, len(v_s))).indices
        kept.append(idx.tolist())
        out.append(F.normalize(v_l + v_s[idx].mean(0), dim=-1))
    return torch.stack(out), kept
