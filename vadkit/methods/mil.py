"""Weakly-supervised MIL losses of VadCLIP / Ex-VAD.

* :func:`topk_bce` - coarse branch (Ex-VAD Eq. 6 / VadCLIP Eq. 7): video score = mean of the top-k frame
  scores with ``k = floor(len / 16) + 1`` (per video, on its real length), binary cross-entropy with the
  video label.
* :func:`mil_align_ce` - fine branch, MIL-Align (Ex-VAD Eq. 7-8 / VadCLIP Eq. 8-9): per class the mean of
  the top-k alignment values -> video-class similarity ``v [B, C]``; ``p = softmax(v / tau)`` (tau = 0.07);
  cross-entropy with the (normalised, possibly multi-hot for XD-style videos) class target.
* :func:`normal_contrastive` - pushes the normal-class embedding away from every abnormal one
  (Ex-VAD Eq. 9 / VadCLIP Eq. 10): ``sum_j max(0, cos(L_N, L_A_j))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vadkit.methods.lgt_adapter import lengths_to_mask


def topk_k(lengths: torch.Tensor, divisor: int = 16) -> torch.Tensor:
    """``k = floor(len / divisor) + 1`` per video, ``[B]`` (VadCLIP's rule; divisor 16)."""
    return torch.div(lengths, divisor, rounding_mode="floor") + 1


def topk_mean(values: torch.Tensor, lengths: torch.Tensor, k: torch.Tensor | int | None = None,
              divisor: int = 16) -> torch.Tensor:
    """Mean of the ``k`` largest values over the real (unpadded) time steps.

    ``values [B, T]`` or ``[B, T, C]`` -> ``[B]`` or ``[B, C]``. ``k`` defaults to :func:`topk_k`; an int gives a
    fixed k (clipped to each video's length).
    """
    squeeze = values.dim() == 2
    v = values[..., None] if squeeze else values
    b, t, c = v.shape
    valid = lengths_to_mask(lengths, t)
    if k is None:
        k = topk_k(lengths, divisor)
    elif isinstance(k, int):
        k = torch.full((b,), k, device=values.device, dtype=torch.long)
    k = torch.minimum(k.clamp(min=1), lengths.clamp(min=1))
    masked = v.masked_fill(~valid[..., None], float("-inf"))
    kmax = int(k.max())
    top = masked.topk(min(kmax, t), dim=1).values                        # [B, kmax, C]
    keep = (torch.arange(top.shape[1], device=v.device)[None, :] < k[:, None])[..., None]
    out = torch.where(keep, top, torch.zeros_like(top)).sum(1) / k[:, None].to(v.dtype)
    return out[:, 0] if squeeze else out


def topk_bce(logits: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor, divisor: int = 16) -> torch.Tensor:
    """Coarse top-k BCE. ``logits [B, T]`` (pre-sigmoid), ``labels [B]`` in {0, 1} -> scalar.

    The top-k is taken on the sigmoid scores (as the papers describe), then BCE on their mean.
    """
    video = topk_mean(torch.sigmoid(logits), lengths, divisor=divisor).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(video, labels.to(video.dtype))


def mil_align_logits(align: torch.Tensor, lengths: torch.Tensor, divisor: int = 16) -> torch.Tensor:
    """Video-class similarities ``v [B, C]`` from the alignment map ``align [B, T, C]`` (top-k mean per class)."""
    return topk_mean(align, lengths, divisor=divisor)


def mil_align_ce(align: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, tau: float = 0.07,
                 divisor: int = 16) -> torch.Tensor:
    """MIL-Align cross-entropy. ``align [B, T, C]`` cosine similarities, ``targets [B, C]`` multi-hot.

    ``p = softmax(v / tau)``; ``L = -sum_i y_i log p_i`` with ``y`` normalised to sum 1 (multi-label videos share
    the target mass equally).
    """
    v = mil_align_logits(align, lengths, divisor) / tau
    y = targets.to(v.dtype)
    y = y / y.sum(-1, keepdim=True).clamp(min=1e-12)
    return -(y * F.log_softmax(v, dim=-1)).sum(-1).mean()


def normal_contrastive(class_embeds: torch.Tensor, normal_index: int = 0, kind: str = "abs") -> torch.Tensor:
    """Contrastive term pushing the normal class embedding away from the abnormal ones. ``[C, D] -> scalar``.

    ``kind="abs"`` (VadCLIP's official code): ``mean_j |cos(L_N, L_A_j)|`` over the abnormal classes ``j`` (the code
    sums and divides by 13 on UCF-Crime and 6 on XD-Violence, i.e. takes the mean); ``kind="hinge"``:
    ``mean_j max(0, cos(L_N, L_A_j))`` (earlier vadkit versions; only positive similarity is penalised). The weight
    lambda multiplies this term outside (official code: 0.1 UCF, 1e-4 XD; Ex-VAD's text: 1 UCF, 1e-4 XD).
    """
    if kind not in ("abs", "hinge"):
        raise ValueError(f"contrastive kind must be 'abs' or 'hinge', got {kind!r}")
    e = F.normalize(class_embeds, dim=-1)
    cos = e @ e[normal_index]
    keep = torch.ones(e.shape[0], dtype=torch.bool, device=e.device)
    keep[normal_index] = False
    c = cos[keep]
    return (c.abs() if kind == "abs" else c.clamp(min=0)).mean()
