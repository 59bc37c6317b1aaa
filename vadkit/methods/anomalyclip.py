"""AnomalyCLIP: object-agnostic prompt learning for zero-shot anomaly detection (Zhou et al., ICLR 2024).

The method, as the paper states it: a frozen CLIP; two **object-agnostic** learnable text prompts,
``[V_1..V_E] object`` (normality) and ``[W_1..W_E] damaged object`` (abnormality), whose context vectors are
learned on *auxiliary* data with pixel masks and then applied, unchanged, to other domains (zero-shot). Two
read-outs:

* image level: ``p_img = softmax(cos(f_img, [g_n, g_a]) / tau)[abnormal]`` of the global image embedding;
* pixel level: per tapped layer ``softmax(cos(f_patch, [g_n, g_a]) / tau)``, averaged over layers, upsampled
  to the image (:class:`~vadkit.methods.heatmap.HeatmapDecoder`, ``fusion="probs"``).

Loss ("glocal"): cross-entropy of the image read-out against the image label, plus focal and Dice losses of
the pixel map against the mask.

What differs here, and why (each stated in chapter 32):

* **Visual side.** AnomalyCLIP taps four ViT-L/14 blocks, sends every patch token through CLIP's own
  ``ln_post`` + projection, and replaces the Q-K attention of those blocks by V-V attention (DPAM). The
  zoo's tiny CLIP has a ResNet image tower (why: :class:`vadkit.models.zoo.ClipTrainConfig`), whose stages have
  no projection into the joint space. Its last stage does (the attention pool): its value and output
  projections applied to every position (:func:`dense_clip_tokens`, the "MaskCLIP" reading of an attention
  pool, the ResNet analogue of V-V attention) give joint-space patch tokens without training. The earlier
  stages (finer grids) get one trainable linear map each to the joint space: a deviation (AnomalyCLIP trains
  only text-side parameters), labelled as such.
* **Text side.** The context vectors are learned (:class:`ObjectAgnosticPrompts`, through
  :class:`~vadkit.methods.prompt_learning.TextEncoderHooks`); the deeper learnable text tokens AnomalyCLIP
  also inserts into the text encoder's layers are not used (2-block text tower).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vadkit.methods.heatmap import HeatmapDecoder, dice_loss, focal_loss, masks_to_grid
from vadkit.methods.prompt_learning import TextEncoderHooks

STATE_WORDS = ("object", "damaged object")


class ObjectAgnosticPrompts(nn.Module):
    """``forward() -> [2, D]``: ``[SOT] ctx^c_1..ctx^c_E <word_c> [EOT]`` through the frozen text tower, one
    context per class (``V`` for ``object``, ``W`` for ``damaged object``), E = ``n_ctx``."""

    def __init__(self, hooks: TextEncoderHooks, n_ctx: int = 12, words: Sequence[str] = STATE_WORDS):
        super().__init__()
        self.hooks, self.words = hooks, list(words)
        with torch.no_grad():
            ids = hooks.tokenize(self.words)                               # [2, L]
            emb = hooks.token_embedding(ids).detach().float().cpu()         # [2, L, W]
        eot = ids.argmax(-1)
        if int(eot.max()) + n_ctx + 1 > emb.shape[1]:
            raise ValueError(f"{n_ctx} context tokens plus {self.words} exceed the text context {emb.shape[1]}")
        self.ctx = nn.Parameter(torch.randn(len(self.words), n_ctx, emb.shape[-1]) * 0.02)
        self.register_buffer("base", emb, persistent=False)
        self.register_buffer("eot_index", eot + n_ctx, persistent=False)
        self.n_ctx = n_ctx

    def prompt_embeddings(self) -> torch.Tensor:
        """``[2, L, W]``: SOT, the class's context vectors, the word's tokens, EOT and padding (cut to L)."""
        length = self.base.shape[1]
        rows = [torch.cat([self.base[c, :1], self.ctx[c], self.base[c, 1:]], 0)[:length]
                for c in range(len(self.words))]
        return torch.stack(rows)

    def forward(self) -> torch.Tensor:
        return self.hooks.encode(self.prompt_embeddings(), self.eot_index)


@torch.no_grad()
def dense_clip_tokens(visual, stage4: torch.Tensor) -> torch.Tensor:
    """Joint-space tokens of every position of a ResNet CLIP's last stage: ``[N, C, h, w] -> [N, h, w, D]``.

    The attention pool's value and output projections applied per position (with the positional embedding
    of that position), i.e. the pool's output if each position attended only to itself. Frozen, no training.
    """
    pool = visual.attnpool
    n, c, h, w = stage4.shape
    x = stage4.flatten(2).transpose(1, 2)                                  # [N, hw, C]
    pos = pool.positional_embedding[1:]
    if pos.shape[0] != h * w:
        side = int(round(pos.shape[0] ** 0.5))
        pos = F.interpolate(pos.T.reshape(1, c, side, side), size=(h, w), mode="bilinear",
                            align_corners=False).reshape(c, h * w).T
    x = pool.c_proj(pool.v_proj(x + pos.to(x.dtype)))
    return x.reshape(n, h, w, -1)


@torch.no_grad()
def clip_frame_features(clip, frames, stages: Sequence[int] = (0, 1, 2)) -> dict:
    """Frozen features of a ResNet CLIP (:class:`vadkit.models.clip.ClipModel`) for AnomalyCLIP.

    ``frames`` uint8 ``[N, H, W, 3]`` -> ``{"image": [N, D] (normalised), "stages": [[N, h_i, w_i, C_i]],
    "dense": [N, h_4, w_4, D]}`` (``stages`` index the four ResNet stages, ``dense`` is
    :func:`dense_clip_tokens` of stage 4).

    The whole frame is resized to ``S x S`` (``squash``), whatever the model's own preprocessing: AnomalyCLIP
    resizes its images so (``Resize((S, S))``), and only then does every map cover the whole frame it is
    upsampled to. A released CLIP's shorter-side resize and centre crop (``RN50:openai``) would leave the maps
    covering the central square of a 4:3 frame, misaligned with its masks.
    """
    from vadkit.models.clip import forward_batch, preprocess_frames

    if not getattr(clip, "is_resnet", False):
        raise ValueError(f"{clip.name}: AnomalyCLIP's features here need a ResNet CLIP tower (e.g. the zoo's "
                         f"tiny-clip or RN50:openai), got a ViT")
    n = len(frames)
    step = forward_batch(64, clip.device)       # small CPU batches: ~2.5x faster per frame than a whole video
    parts = [_frame_features(clip, frames[i:i + step], stages, preprocess_frames) for i in range(0, n, step)]
    if not parts:
        parts = [_frame_features(clip, frames, stages, preprocess_frames)]
    return {"image": torch.cat([p["image"] for p in parts]),
            "stages": [torch.cat([p["stages"][k] for p in parts]) for k in range(len(stages))],
            "dense": torch.cat([p["dense"] for p in parts])}


def _frame_features(clip, frames, stages, preprocess_frames) -> dict:
    """:func:`clip_frame_features` of one forward batch."""
    px = preprocess_frames(frames, clip.image_size, clip.mean, clip.std, "center", device=clip.device,
                           resize_mode="squash")
    taps = sorted(set(stages) | {3})
    emb, tokens = clip.encode_pixels(px, layers=taps)

    def grid(t):
        side = int(round(t.shape[1] ** 0.5))
        return t.reshape(t.shape[0], side, side, t.shape[-1])

    s4 = grid(tokens[3]).permute(0, 3, 1, 2).to(clip.device)
    dense = dense_clip_tokens(clip.model.visual, s4.to(next(clip.model.parameters()).dtype)).float().cpu()
    return {"image": emb, "stages": [grid(tokens[s]) for s in stages], "dense": dense}


class AnomalyCLIP(nn.Module):
    """Object-agnostic prompts + the multi-layer pixel map (module docstring).

    Args:
        hooks: the frozen CLIP text tower (:class:`TextEncoderHooks`).
        stage_dims: channels of the tapped earlier stages (each gets a trainable linear map, a deviation).
        embed_dim: the joint space ``D``; the dense last-stage tokens enter as they are.
        n_ctx: context length E of each prompt. tau: CLIP's temperature.
    """

    def __init__(self, hooks: TextEncoderHooks, stage_dims: Sequence[int], embed_dim: int, *, n_ctx: int = 12,
                 tau: float = 0.07):
        super().__init__()
        self.prompts = ObjectAgnosticPrompts(hooks, n_ctx)
        dims = list(stage_dims) + [embed_dim]
        self.decoder = HeatmapDecoder(dims, embed_dim, projection=["linear"] * len(stage_dims) + ["identity"],
                                      fusion="probs", tau=tau)
        self.tau = tau

    def forward(self, image: torch.Tensor, stages: Sequence[torch.Tensor], dense: torch.Tensor) -> dict:
        """``image [B, D]``, ``stages`` ``[[B, h_i, w_i, C_i]]``, ``dense [B, h, w, D]`` ->
        ``{"image": [B] p_abnormal, "prob": [B, h, w], "logits": [B, 2, h, w]}``."""
        text = self.prompts()                                              # [2, D]
        t = F.normalize(text.float(), dim=-1)
        img = (F.normalize(image.float(), dim=-1) @ t.T / self.tau)        # [B, 2]
        out = self.decoder(list(stages) + [dense], text)
        return {"image": img.softmax(-1)[:, 1], "image_logits": img, "prob": out["prob"], "logits": out["logits"]}

    def loss(self, out: dict, labels: torch.Tensor, masks: torch.Tensor) -> dict:
        """Glocal loss: CE(image) + focal + Dice (pixel maps against ``masks [B, H, W]`` on the map grid)."""
        target = masks_to_grid(masks, tuple(out["prob"].shape[-2:]))
        parts = {"image_ce": F.cross_entropy(out["image_logits"], labels.long()),
                 "focal": focal_loss(out["prob"], target), "dice": dice_loss(out["prob"], target)}
        parts["total"] = parts["image_ce"] + parts["focal"] + parts["dice"]
        return parts


@torch.no_grad()
def zero_shot_maps(image: torch.Tensor, dense: torch.Tensor, text: torch.Tensor, tau: float = 0.07) -> dict:
    """The training-free CLIP-prompt read-out: fixed text embeddings ``[2, D]`` against the image embedding
    and the dense last-stage tokens (:func:`dense_clip_tokens`): ``{"image": [B], "prob": [B, h, w]}``."""
    t = F.normalize(text.float(), dim=-1)
    img = (F.normalize(image.float(), dim=-1) @ t.T / tau).softmax(-1)[:, 1]
    d = torch.einsum("bhwd,cd->bchw", F.normalize(dense.float(), dim=-1), t) / tau
    return {"image": img, "prob": d.softmax(1)[:, 1]}
