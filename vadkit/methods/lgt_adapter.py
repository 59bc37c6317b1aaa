"""LGT-Adapter of VadCLIP (Wu et al., AAAI 2024, Sec. "Local and Global Temporal Adapter").

Frozen CLIP frame features ``X [B, T, D]`` are adapted to the video domain by

* a *local* module: a Transformer encoder whose self-attention is restricted to non-overlapping windows of
  ``window`` snippets (8 on UCF-Crime, 64 on XD-Violence), Eq. (1) of VadCLIP;
* a *global* module: a 2-layer GCN on two adjacencies, Eq. (2)-(4):
  ``H_sim = softmax(threshold(cos(x_i, x_j), 0.7))`` (feature similarity) and
  ``H_dis(i, j) = exp(-|i - j| / (sigma * e))`` (temporal distance; sigma = 1 gives VadCLIP's ``exp(-|i-j|/e)``).

Each GCN layer is ``H X W`` plus a residual; where the widths differ, the official code's residual is a
``Conv1d`` over time (kernel 5, padding 2), not a linear map (``gcn_residual="conv1d"``, the default;
``"linear"`` keeps the per-snippet linear residual of earlier vadkit versions).

Padding is handled explicitly: padded snippets are excluded from attention (key padding mask), from the
similarity adjacency (the official code masks it to the sequence length too) and from the distance adjacency, and
they are zeroed before the temporal Conv1d residual so they cannot leak into the last real snippets. The official
code builds an attention padding mask but never passes it to the Transformer, so there padded snippets receive
attention; we fix that here (tested: outputs on real snippets do not change when padding is appended).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """``lengths [B]`` -> bool ``[B, max_len]``, True where the snippet is real (not padding)."""
    ar = torch.arange(max_len, device=lengths.device)
    return ar[None, :] < lengths[:, None]


def windowed_attention_mask(length: int, window: int, device=None) -> torch.Tensor:
    """Block-diagonal local attention: bool ``[T, T]``, True where attention is *blocked*.

    Snippet ``i`` attends to ``j`` iff ``i // window == j // window`` (non-overlapping windows, as VadCLIP).
    """
    if window <= 0:
        raise ValueError(f"attention window must be positive, got {window}")
    idx = torch.arange(length, device=device) // window
    return idx[:, None] != idx[None, :]


def similarity_adjacency(x: torch.Tensor, valid: torch.Tensor | None = None, threshold: float = 0.7) -> torch.Tensor:
    """Feature-similarity adjacency ``H_sim`` (VadCLIP Eq. 3). ``x [B, T, D]`` -> ``[B, T, T]``.

    Cosine similarities below ``threshold`` are set to 0, then each row is soft-maxed over the *valid*
    snippets only (padded columns are masked with -inf; padded rows become zero).
    """
    xn = F.normalize(x, dim=-1)
    sim = xn @ xn.transpose(1, 2)
    sim = torch.where(sim > threshold, sim, torch.zeros_like(sim))
    if valid is not None:
        sim = sim.masked_fill(~valid[:, None, :], float("-inf"))
    adj = torch.softmax(sim, dim=-1)
    if valid is not None:
        adj = adj.masked_fill(~valid[:, :, None], 0.0)
    return adj


def distance_adjacency(length: int, sigma: float = 1.0, device=None) -> torch.Tensor:
    """Temporal-distance adjacency ``H_dis(i,j) = exp(-|i-j| / (sigma*e))`` (VadCLIP Eq. 4), ``[T, T]``."""
    pos = torch.arange(length, device=device, dtype=torch.float32)
    return torch.exp(-(pos[:, None] - pos[None, :]).abs() / (sigma * math.e))


class GraphConvolution(nn.Module):
    """``H X W`` plus a residual (the GCN layer of Kipf & Welling as VadCLIP uses it). ``[B,T,Din]->[B,T,Dout]``.

    Residual: identity when ``Din == Dout``; otherwise ``residual="conv1d"`` (official code: ``Conv1d(Din, Dout,
    kernel_size=5, padding=2)`` over time, with bias) or ``"linear"`` (a bias-free per-snippet linear map).
    ``valid [B, T]`` zeroes padded snippets before the temporal convolution.
    """

    def __init__(self, in_dim: int, out_dim: int, residual: str = "conv1d"):
        super().__init__()
        if residual not in ("conv1d", "linear"):
            raise ValueError(f"residual must be 'conv1d' or 'linear', got {residual!r}")
        self.weight = nn.Linear(in_dim, out_dim, bias=False)
        self.kind = "identity" if in_dim == out_dim else residual
        if self.kind == "conv1d":
            self.residual = nn.Conv1d(in_dim, out_dim, kernel_size=5, padding=2)
        elif self.kind == "linear":
            self.residual = nn.Linear(in_dim, out_dim, bias=False)
        else:
            self.residual = nn.Identity()

    def forward(self, x: torch.Tensor, adj: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "conv1d":
            xr = x if valid is None else x * valid[..., None].to(x.dtype)
            res = self.residual(xr.transpose(1, 2)).transpose(1, 2)
        else:
            res = self.residual(x)
        return adj @ self.weight(x) + res


class LocalTransformer(nn.Module):
    """Pre-LN Transformer encoder with windowed self-attention. ``[B, T, D] -> [B, T, D]``."""

    def __init__(self, width: int, layers: int, heads: int, window: int, dropout: float = 0.0):
        super().__init__()
        self.window = window
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        blocked = windowed_attention_mask(t, self.window, x.device)[None].expand(b, t, t)
        if valid is not None:
            blocked = blocked | ~valid[:, None, :]          # no attention to padded keys
        # every query keeps itself, so an all-padding window never gives an all -inf row (NaN)
        blocked = blocked & ~torch.eye(t, dtype=torch.bool, device=x.device)[None]
        heads = self.encoder.layers[0].self_attn.num_heads
        mask = torch.zeros(blocked.shape, device=x.device, dtype=x.dtype).masked_fill(blocked, float("-inf"))
        return self.encoder(x, mask=mask.repeat_interleave(heads, dim=0))


class LGTAdapter(nn.Module):
    """Local Transformer + global GCN (VadCLIP Sec. 3.2). ``x [B, T, D], lengths [B] -> [B, T, D]``.

    Args:
        width: feature width ``D`` (512 for ViT-B/16).
        max_len: maximum sequence length (256 in VadCLIP), size of the learnable position embedding.
        window: local attention window (8 UCF-Crime, 64 XD-Violence).
        layers/heads: local Transformer depth and heads (VadCLIP: 2 layers, 1 head).
        sim_threshold: cosine threshold of ``H_sim`` (0.7).
        sigma: distance scale of ``H_dis`` (1).
        gcn_residual: ``conv1d`` (official code) or ``linear`` residual of the width-changing GCN layers.
    """

    def __init__(self, width: int = 512, max_len: int = 256, window: int = 8, layers: int = 2, heads: int = 1,
                 sim_threshold: float = 0.7, sigma: float = 1.0, dropout: float = 0.0, gcn_residual: str = "conv1d"):
        super().__init__()
        if width % 2:
            raise ValueError(f"LGTAdapter width must be even (two GCN halves), got {width}")
        self.width, self.max_len, self.sim_threshold, self.sigma = width, max_len, sim_threshold, sigma
        self.pos = nn.Embedding(max_len, width)
        nn.init.normal_(self.pos.weight, std=0.01)
        self.local = LocalTransformer(width, layers, heads, window, dropout)
        half = width // 2
        self.gc_sim1, self.gc_sim2 = GraphConvolution(width, half, gcn_residual), GraphConvolution(half, half)
        self.gc_dis1, self.gc_dis2 = GraphConvolution(width, half, gcn_residual), GraphConvolution(half, half)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        if t > self.max_len:
            raise ValueError(f"sequence of {t} snippets is longer than the adapter's max_len {self.max_len}")
        if d != self.width:
            raise ValueError(f"feature width {d} != adapter width {self.width}")
        valid = lengths_to_mask(lengths, t) if lengths is not None else None
        x = x + self.pos.weight[None, :t]
        x = self.local(x, valid)
        h_sim = similarity_adjacency(x, valid, self.sim_threshold)
        h_dis = distance_adjacency(t, self.sigma, x.device)[None]
        if valid is not None:
            h_dis = h_dis * valid[:, None, :] * valid[:, :, None]
        a = F.gelu(self.gc_sim2(F.gelu(self.gc_sim1(x, h_sim, valid)), h_sim))
        g = F.gelu(self.gc_dis2(F.gelu(self.gc_dis1(x, h_dis, valid)), h_dis))
        return self.out(torch.cat([a, g], dim=-1))
