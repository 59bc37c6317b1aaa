"""Anomaly heatmaps from multi-layer patch features and normal/abnormal text embeddings.

One implementation for the two methods that share the logic:

* T-VAD's **Anomaly Heatmap Decoder** (Gu et al. 2025, Sec. 3.2.1): the text side pools the prompt templates
  of each class into one vector (Eq. 2: mean over tokens, Eq. 4: mean over templates), every tapped vision
  layer ``i`` goes through its own MLP to the text width ``D``, the cosine of every patch with the two class
  vectors gives per-layer maps ``h_c^i [T', 2, H', W']`` (Eq. 5), learnable layer weights fuse them,
  ``H_c = sum_i w_i h_c^i`` (Eq. 6), and a softmax over the channel {normal, abnormal} gives the heatmap
  ``H = softmax(H_c)[:, 1]`` (Eq. 7). :class:`HeatmapDecoder` with ``fusion="logits"``.
* AnomalyCLIP's pixel map (Zhou et al., ICLR 2024): per layer a softmax over the two object-agnostic prompt
  embeddings at CLIP's temperature, averaged over layers. :class:`HeatmapDecoder` with ``fusion="probs"``.

Shapes: features arrive as a list, one ``[B, h_i, w_i, C_i]`` tensor per layer (the layers of a ViT share a
grid; the stages of a ResNet do not: every map is resized bilinearly to the finest grid before fusion);
text as ``[2, D]`` (row 0 normal, row 1 abnormal). Output ``logits`` ``[B, 2, h, w]`` (the fused ``H_c``, or the
log of the fused probabilities) and ``prob`` ``[B, h, w]`` (the abnormal channel).

Where the paper is silent (stated, and a parameter each):

* the scale of Eq. 6. Cosines lie in [-1, 1], so a softmax of ``sum_i w_i h^i`` with ``w_i = 1/L`` would sit
  near 0.5 everywhere; the weights are free (not normalised), so they set the temperature, initialised at
  ``init_scale / L`` (``init_scale = 10``).
* the MLP: ``Linear(C_i, D) -> GELU -> Linear(D, D)`` (two layers, as "an MLP along the channel dimension").
* a frame score from a heatmap: :func:`frame_scores` (the maximum by default; the mean of the top ``k`` share
  of pixels as an option).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NORMAL, ABNORMAL = 0, 1


def pool_prompt_embeddings(token_embeds: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """T-VAD Eqs. 2 and 4: ``[N_c, L, D]`` token embeddings of ``N_c`` templates (``mask [N_c, L]``, 1 = real
    token) -> ``[D]``: the mean over each template's tokens (``S_c``), then the mean over templates."""
    if token_embeds.ndim != 3:
        raise ValueError(f"pool_prompt_embeddings: expected [N_c, L, D], got {tuple(token_embeds.shape)}")
    if mask is None:
        mask = torch.ones(token_embeds.shape[:2], dtype=token_embeds.dtype, device=token_embeds.device)
    m = mask.to(token_embeds.dtype).unsqueeze(-1)
    sent = (token_embeds * m).sum(1) / m.sum(1).clamp_min(1.0)          # Eq. 2: S_c per template [N_c, D]
    return sent.mean(0)                                                 # Eq. 4


def layer_projection(c_in: int, d: int, kind: str) -> nn.Module:
    """``"mlp"`` (T-VAD: Linear-GELU-Linear), ``"linear"`` or ``"identity"`` (needs ``c_in == d``)."""
    if kind == "mlp":
        return nn.Sequential(nn.Linear(c_in, d), nn.GELU(), nn.Linear(d, d))
    if kind == "linear":
        return nn.Linear(c_in, d)
    if kind == "identity":
        if c_in != d:
            raise ValueError(f"identity projection needs equal widths, got {c_in} -> {d}")
        return nn.Identity()
    raise ValueError(f"unknown projection {kind!r}; choose mlp, linear or identity")


class HeatmapDecoder(nn.Module):
    """Multi-layer cosine maps -> fused 2-channel map -> anomaly heatmap (module docstring; T-VAD Eqs. 5-7).

    Args:
        in_dims: channel width ``C_i`` of each tapped layer.
        text_dim: ``D``, the width of the class embeddings.
        projection: per-layer map to ``D`` (:func:`layer_projection`), one kind for all layers or one each.
        fusion: ``"logits"`` (T-VAD Eq. 6-7: learnable weights on cosines, then a softmax) or ``"probs"``
            (AnomalyCLIP: the mean over layers of ``softmax(cos / tau)``).
        init_scale: ``"logits"``: the layer weights start at ``init_scale / L``.
        tau: ``"probs"``: the softmax temperature (CLIP's 0.07).
    """

    def __init__(self, in_dims: Sequence[int], text_dim: int, *, projection: str | Sequence[str] = "mlp",
                 fusion: str = "logits", init_scale: float = 10.0, tau: float = 0.07):
        super().__init__()
        if fusion not in ("logits", "probs"):
            raise ValueError(f"unknown fusion {fusion!r}; choose logits or probs")
        self.in_dims, self.text_dim, self.fusion, self.tau = list(in_dims), int(text_dim), fusion, float(tau)
        kinds = [projection] * len(self.in_dims) if isinstance(projection, str) else list(projection)
        if len(kinds) != len(self.in_dims):
            raise ValueError(f"HeatmapDecoder: {len(kinds)} projections for {len(self.in_dims)} layers")
        self.proj = nn.ModuleList([layer_projection(c, text_dim, k) for c, k in zip(in_dims, kinds)])
        n = len(self.in_dims)
        self.layer_weights = nn.Parameter(torch.full((n,), float(init_scale) / n))

    def layer_maps(self, feats: Sequence[torch.Tensor], text: torch.Tensor) -> torch.Tensor:
        """Eq. 5: ``[B, L, 2, h, w]`` cosines of every projected patch with the two class vectors, every
        layer on the finest grid of ``feats``."""
        if len(feats) != len(self.proj):
            raise ValueError(f"HeatmapDecoder: {len(self.proj)} layers configured, {len(feats)} given")
        h = max(f.shape[1] for f in feats)
        w = max(f.shape[2] for f in feats)
        t = F.normalize(text.float(), dim=-1)                              # [2, D]
        maps = []
        for f, proj in zip(feats, self.proj):
            v = F.normalize(proj(f.float()), dim=-1)                       # [B, h_i, w_i, D]
            m = torch.einsum("bhwd,cd->bchw", v, t)                        # [B, 2, h_i, w_i]
            if m.shape[-2:] != (h, w):
                m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
            maps.append(m)
        return torch.stack(maps, 1)

    def forward(self, feats: Sequence[torch.Tensor], text: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"logits": [B, 2, h, w], "prob": [B, h, w], "layers": [B, L, 2, h, w]}``."""
        maps = self.layer_maps(feats, text)
        if self.fusion == "logits":
            logits = torch.einsum("blchw,l->bchw", maps, self.layer_weights)     # Eq. 6
            prob = logits.softmax(1)[:, ABNORMAL]                                # Eq. 7
        else:
            p = (maps / self.tau).softmax(2).mean(1)                             # [B, 2, h, w]
            logits = p.clamp_min(1e-8).log()
            prob = p[:, ABNORMAL]
        return {"logits": logits, "prob": prob, "layers": maps}


# ------------------------------------------------------------------------------------------- losses ----------

def masks_to_grid(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[B, H, W]`` 0/1 masks -> ``[B, h, w]`` float anomaly share of each heatmap cell (area average)."""
    m = masks.float().unsqueeze(1)
    return F.adaptive_avg_pool2d(m, size)[:, 0]


def pixel_ce(logits: torch.Tensor, target: torch.Tensor, *, balanced: bool = False) -> torch.Tensor:
    """Pixel-wise cross-entropy of ``logits [B, 2, h, w]`` against a cell target ``[B, h, w]`` in [0, 1] (a
    cell's anomalous share, soft labels). ``balanced``: the two classes' pixels weigh equally in the batch
    (a class-balanced CE; anomalies cover 1-2 % of pixels)."""
    logp = logits.log_softmax(1)
    pos, neg = target, 1.0 - target
    if not balanced:
        return -(pos * logp[:, ABNORMAL] + neg * logp[:, NORMAL]).mean()
    lp = -(pos * logp[:, ABNORMAL]).sum() / pos.sum().clamp_min(1e-6)
    ln = -(neg * logp[:, NORMAL]).sum() / neg.sum().clamp_min(1e-6)
    return 0.5 * (lp + ln) if pos.sum() > 0 else ln


def focal_loss(prob: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Binary focal loss of the abnormal probability ``[B, h, w]`` against a target in [0, 1]."""
    p = prob.clamp(1e-6, 1 - 1e-6)
    pt = target * p + (1 - target) * (1 - p)
    ce = -(target * p.log() + (1 - target) * (1 - p).log())
    return ((1 - pt) ** gamma * ce).mean()


def dice_loss(prob: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice loss over the batch (AnomalyCLIP's local loss pairs it with :func:`focal_loss`)."""
    inter = (prob * target).sum()
    return 1.0 - (2 * inter + eps) / (prob.sum() + target.sum() + eps)


# ------------------------------------------------------------------------------------------- read-out --------

def frame_scores(heatmaps: np.ndarray | torch.Tensor, how: str = "max", top: float = 0.01) -> np.ndarray:
    """One score per heatmap ``[T, h, w] -> [T]``: ``"max"`` (default; the papers are silent) or ``"topk"``
    (the mean of the highest ``top`` share of cells, at least one)."""
    h = np.asarray(heatmaps.detach().cpu() if isinstance(heatmaps, torch.Tensor) else heatmaps, np.float64)
    flat = h.reshape(len(h), -1)
    if how == "max":
        return flat.max(1) if flat.size else np.zeros(len(h))
    if how == "topk":
        k = max(1, int(round(top * flat.shape[1])))
        return np.sort(flat, 1)[:, -k:].mean(1)
    raise ValueError(f"unknown frame score {how!r}; choose max or topk")


def upsample(heatmaps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``[T, h, w]`` -> ``[T, H, W]`` bilinear (``size = (H, W)``), float32."""
    x = torch.as_tensor(np.asarray(heatmaps, np.float32)).unsqueeze(1)
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)[:, 0].numpy()


def regions(heatmaps: np.ndarray, frames: Sequence[int], size: tuple[int, int], *, threshold: float = 0.5,
            min_area: int = 1) -> np.ndarray:
    """Scored regions of ``[T, h, w]`` heatmaps at frame indices ``frames``: each map upsampled to the frame
    ``size = (H, W)``, thresholded (T-VAD: 0.5), one box per connected component scored by its peak.
    Returns ``[N, 6]`` rows ``frame, x1, y1, x2, y2, score`` (the :class:`VideoPrediction` ``regions``)."""
    from vadkit.metrics.spatial import heatmap_to_regions

    up = upsample(heatmaps, size)
    rows = []
    for f, hm in zip(frames, up):
        for r in heatmap_to_regions(hm, threshold=threshold, min_area=min_area):
            rows.append((float(f), *r))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)
