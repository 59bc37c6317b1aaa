"""VadCLIP (Wu et al., AAAI 2024): dual-branch weakly-supervised VAD on frozen CLIP features.

:class:`DualBranchVAD` is the shared network of VadCLIP and Ex-VAD:

``x [B, T, D_in]`` (frozen CLIP frame features, one per 16-frame snippet, padded/cut to 256)
-> input projection (identity when ``D_in == width``) -> :class:`~vadkit.methods.lgt_adapter.LGTAdapter`
-> ``F_V [B, T, W]``; optional text fusion ``F_F = F_V + F_T`` or ``Linear([F_V; F_T])`` (Ex-VAD MADM);

* coarse branch: ``s = sigmoid(FC(F_F + FFN(F_F)))`` -> ``coarse_logits [B, T]`` (VadCLIP Eq. 5, Ex-VAD Eq. 4);
* fine branch: class embeddings ``[C, W]`` from a class source (learnable prompt, fixed or label-augmented),
  optionally plus VadCLIP's *visual prompt* (the video feature weighted by the coarse branch's raw logits over the
  snippets and L2-normalised, as the official code does, added to every class embedding and followed by a residual
  FFN), and the alignment map ``M = cos(F_F, class) [B, T, C]`` (VadCLIP Eq. 6).

Differences from the official code that remain (minor, documented): GELU instead of QuickGELU in the FFNs and the
local Transformer; the learnable prompt's context vectors are shared across classes (the official code indexes one
77-position embedding table, so a postfix slot's vector depends on the class name's token length); padding is masked
everywhere (the official code lets padded snippets into attention and into the visual prompt).

Losses (VadCLIP Eq. 7-10, Ex-VAD Eq. 6-10): :func:`dual_branch_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from vadkit.methods.lgt_adapter import LGTAdapter, lengths_to_mask
from vadkit.methods.mil import mil_align_ce, normal_contrastive, topk_bce


@dataclass
class DualBranchConfig:
    """Architecture hyperparameters. Defaults are VadCLIP's (ViT-B/16, UCF-Crime)."""

    width: int = 512              # visual width (CLIP ViT-B/16 embedding dim)
    max_len: int = 256            # snippets per training sequence
    window: int = 8               # local attention window: 8 UCF-Crime, 64 XD-Violence
    layers: int = 2               # local Transformer layers
    heads: int = 1
    sim_threshold: float = 0.7    # H_sim threshold
    sigma: float = 1.0            # H_dis scale
    visual_prompt: bool = True    # VadCLIP's visual prompt on the class embeddings
    text_fusion: str = "none"     # "none" (VadCLIP), "add" (Ex-VAD Eq. 3) or "concat" (Ex-VAD impl. details)
    dropout: float = 0.0
    gcn_residual: str = "conv1d"  # official code: Conv1d(k=5, p=2) residual; "linear" = earlier vadkit versions
    prompt_weights: str = "logits"  # visual prompt: "logits" (official: raw logits, then L2-normalised) or
                                    # "sigmoid" (earlier vadkit: sigmoid scores normalised to sum 1)


@dataclass
class LossConfig:
    """Loss weights. ``lam``: contrastive weight (1 on UCF-Crime, 1e-4 on XD-Violence for Ex-VAD)."""

    tau: float = 0.07
    lam: float = 0.1              # official code UCF (XD: 1e-4); Ex-VAD's text: 1 (UCF), 1e-4 (XD)
    topk_divisor: int = 16
    use_fine: bool = True
    contrastive: str = "abs"      # official code: mean |cos|; "hinge": mean max(0, cos)


class DualBranchVAD(nn.Module):
    """VadCLIP / Ex-VAD network; see the module docstring. ``class_source()`` must return ``[C, W]``."""

    def __init__(self, in_dim: int, class_source: nn.Module, cfg: DualBranchConfig | None = None,
                 text_dim: int | None = None):
        super().__init__()
        self.cfg = cfg = cfg or DualBranchConfig()
        w = cfg.width
        self.inp = nn.Identity() if in_dim == w else nn.Linear(in_dim, w)
        self.adapter = LGTAdapter(w, cfg.max_len, cfg.window, cfg.layers, cfg.heads, cfg.sim_threshold,
                                  cfg.sigma, cfg.dropout, cfg.gcn_residual)
        if cfg.prompt_weights not in ("logits", "sigmoid"):
            raise ValueError(f"prompt_weights must be 'logits' or 'sigmoid', got {cfg.prompt_weights!r}")
        if cfg.text_fusion not in ("none", "add", "concat"):
            raise ValueError(f"text_fusion must be none/add/concat, got {cfg.text_fusion!r}")
        self.text_proj = None
        if cfg.text_fusion != "none":
            td = text_dim or w
            self.text_proj = nn.Identity() if td == w else nn.Linear(td, w)
            self.fuse = nn.Linear(2 * w, w) if cfg.text_fusion == "concat" else None
        self.ffn = nn.Sequential(nn.Linear(w, 4 * w), nn.GELU(), nn.Linear(4 * w, w))
        self.fc = nn.Linear(w, 1)
        self.class_source = class_source
        if cfg.visual_prompt:
            self.prompt_ffn = nn.Sequential(nn.Linear(w, 4 * w), nn.GELU(), nn.Linear(4 * w, w))

    def fused_features(self, x: torch.Tensor, lengths: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """``F_F [B, T, W]``: adapted visual features, fused with text features ``[B, D_t]`` or ``[B, T, D_t]``."""
        f = self.adapter(self.inp(x), lengths)
        if self.text_proj is not None:
            if text is None:
                raise ValueError("this model fuses text features (text_fusion != 'none') but got text=None")
            t = self.text_proj(text.to(f.dtype))
            t = t[:, None, :].expand_as(f) if t.dim() == 2 else t
            f = f + t if self.fuse is None else self.fuse(torch.cat([f, t], dim=-1))
        return f

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, text: torch.Tensor | None = None) -> dict:
        """Returns ``coarse_logits [B, T]``, ``align [B, T, C]`` (cosines), ``class_embeds [C, W]``."""
        f = self.fused_features(x, lengths, text)
        coarse = self.fc(f + self.ffn(f)).squeeze(-1)
        base = self.class_source()                                             # [C, W]
        cls = base[None].expand(f.shape[0], -1, -1)
        if self.cfg.visual_prompt:
            vp = visual_prompt(coarse, f, lengths, self.cfg.prompt_weights)     # [B, W]
            cls = cls + vp[:, None, :]
            cls = cls + self.prompt_ffn(cls)
        align = F.normalize(f, dim=-1) @ F.normalize(cls, dim=-1).transpose(1, 2)
        return {"coarse_logits": coarse, "align": align, "class_embeds": base}


def visual_prompt(coarse_logits: torch.Tensor, features: torch.Tensor, lengths: torch.Tensor,
                  weights: str = "logits") -> torch.Tensor:
    """VadCLIP's visual prompt, the video-level vector added to every class embedding. ``[B, T], [B, T, W] -> [B, W]``.

    ``weights="logits"`` (official code): ``normalize(sum_t logit_t f_t)`` with the coarse branch's raw logits;
    ``"sigmoid"`` (earlier vadkit): ``sum_t w_t f_t`` with ``w = sigmoid(logit)`` normalised to sum 1. Padded snippets
    get weight 0 in both (the official code lets them in).
    """
    valid = lengths_to_mask(lengths, features.shape[1]).to(features.dtype)
    if weights == "logits":
        return F.normalize(((coarse_logits * valid)[..., None] * features).sum(1), dim=-1)
    if weights != "sigmoid":
        raise ValueError(f"weights must be 'logits' or 'sigmoid', got {weights!r}")
    w = torch.sigmoid(coarse_logits) * valid
    w = w / w.sum(1, keepdim=True).clamp(min=1e-6)
    return (w[..., None] * features).sum(1)


def dual_branch_loss(out: dict, lengths: torch.Tensor, binary: torch.Tensor, multi_hot: torch.Tensor,
                     cfg: LossConfig | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """``L = L_bce + L_mce + lam * L_cts`` (Ex-VAD Eq. 10; VadCLIP Eq. 11). Returns ``(loss, parts)``."""
    cfg = cfg or LossConfig()
    bce = topk_bce(out["coarse_logits"], lengths, binary, cfg.topk_divisor)
    parts = {"bce": float(bce.detach())}
    loss = bce
    if cfg.use_fine:
        mce = mil_align_ce(out["align"], lengths, multi_hot, cfg.tau, cfg.topk_divisor)
        cts = normal_contrastive(out["class_embeds"], kind=cfg.contrastive)
        loss = loss + mce + cfg.lam * cts
        parts.update(mce=float(mce.detach()), cts=float(cts.detach()))
    parts["total"] = float(loss.detach())
    return loss, parts


@torch.no_grad()
def predict_video(model: DualBranchVAD, feats: np.ndarray | torch.Tensor, text=None, tau: float = 0.07,
                  ) -> dict[str, np.ndarray]:
    """Inference on one whole video, cut into consecutive chunks of ``max_len`` snippets (as VadCLIP tests).

    ``feats [T, D_in]``; ``text [D_t]`` or ``[T, D_t]`` or None. Returns per-snippet arrays:
    ``coarse [T]`` (sigmoid scores), ``align_anomaly [T]`` = 1 - p(normal) and ``class_probs [T, C]`` with
    ``p = softmax(M / tau)`` over classes (the fine-grained map thresholded for detection).
    """
    model.eval()
    dev = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(feats), dtype=torch.float32, device=dev)
    t_all = x.shape[0]
    tt = None if text is None else torch.as_tensor(np.asarray(text), dtype=torch.float32, device=dev)
    step = model.cfg.max_len
    coarse, probs = [], []
    for s in range(0, t_all, step):
        chunk = x[s:s + step][None]
        n = chunk.shape[1]
        tc = None
        if tt is not None:
            tc = (tt[s:s + step] if tt.dim() == 2 else tt)[None]
        out = model(chunk, torch.tensor([n], device=dev), tc)
        coarse.append(torch.sigmoid(out["coarse_logits"][0]))
        probs.append(torch.softmax(out["align"][0] / tau, dim=-1))
    p = torch.cat(probs).cpu().numpy()
    return {"coarse": torch.cat(coarse).cpu().numpy(), "align_anomaly": 1.0 - p[:, 0], "class_probs": p}


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (Table 7)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def predict_videos(model: DualBranchVAD, feats: dict, texts: dict | None = None, tau: float = 0.07,
                   batch_size: int = 64) -> dict[str, dict[str, np.ndarray]]:
    """Batched :func:`predict_video` over many videos: ``{video_id: [T, D_in]}`` -> ``{video_id: outputs}``.

    Every video is cut into consecutive ``max_len`` chunks; chunks of all videos are padded and run together
    (the padding is masked, so results equal the one-video-at-a-time path). ``texts[video_id]`` is ``[D_t]`` or
    ``[T, D_t]``.
    """
    model.eval()
    dev = next(model.parameters()).device
    step = model.cfg.max_len
    chunks = []                                                  # (video_id, x [n, D], text or None)
    for vid, f in feats.items():
        x = np.asarray(f, dtype=np.float32)
        t = None if texts is None else np.asarray(texts[vid], dtype=np.float32)
        for s in range(0, x.shape[0], step):
            chunks.append((vid, x[s:s + step], None if t is None else (t[s:s + step] if t.ndim == 2 else t)))
    coarse: dict[str, list] = {v: [] for v in feats}
    probs: dict[str, list] = {v: [] for v in feats}
    for b in range(0, len(chunks), batch_size):
        part = chunks[b:b + batch_size]
        n = max(c[1].shape[0] for c in part)
        x = torch.zeros(len(part), n, part[0][1].shape[1])
        lengths = torch.tensor([c[1].shape[0] for c in part])
        for i, c in enumerate(part):
            x[i, :c[1].shape[0]] = torch.from_numpy(c[1])
        tt = None
        if part[0][2] is not None:
            if part[0][2].ndim == 2:
                tt = torch.zeros(len(part), n, part[0][2].shape[-1])
                for i, c in enumerate(part):
                    tt[i, :c[2].shape[0]] = torch.from_numpy(c[2])
            else:
                tt = torch.from_numpy(np.stack([c[2] for c in part]))
        out = model(x.to(dev), lengths.to(dev), None if tt is None else tt.to(dev))
        sc = torch.sigmoid(out["coarse_logits"]).cpu()
        pr = torch.softmax(out["align"] / tau, dim=-1).cpu()
        for i, c in enumerate(part):
            k = int(lengths[i])
            coarse[c[0]].append(sc[i, :k])
            probs[c[0]].append(pr[i, :k])
    res = {}
    for v in feats:
        p = torch.cat(probs[v]).numpy()
        res[v] = {"coarse": torch.cat(coarse[v]).numpy(), "align_anomaly": 1.0 - p[:, 0], "class_probs": p}
    return res


# ---------------------------------------------------------------- variants and builders ------------------------

@dataclass
class Variant:
    """One trained configuration of the dual-branch network (the rows of chapters 11 and 12's tables).

    ``class_mode``: ``learnable`` (VadCLIP's prompt), ``cls`` (``"[CLS]"``), ``a_video_of`` or ``laam`` (Ex-VAD's
    label-augmented embeddings with ``topk_phrases``); ``text_source``: ``None`` (visual only), ``explanation`` or
    ``captions``, fused by ``fusion`` (``add`` | ``concat``).
    """

    name: str
    class_mode: str = "learnable"
    text_source: str | None = None
    visual_prompt: bool = True
    fusion: str = "add"
    topk_phrases: int = 4
    use_fine: bool = True


def make_class_source(variant: Variant, clip, classnames, n_prefix: int, n_postfix: int, laam: dict | None = None):
    """The class-embedding module ``() -> [C, D]`` of ``variant`` (``clip``: a frozen CLIP backend)."""
    from vadkit.methods.prompt_learning import FixedClassEmbeddings, LearnablePrompt, TextEncoderHooks

    names = [c.replace("_", " ") for c in classnames]
    if variant.class_mode == "learnable":
        return LearnablePrompt(TextEncoderHooks.from_clip(clip), names, n_prefix, n_postfix)
    if variant.class_mode in ("cls", "a_video_of"):
        template = "{}" if variant.class_mode == "cls" else "a video of {}"
        with torch.no_grad():
            emb = clip.encode_texts([template.format(n) for n in names])
        return FixedClassEmbeddings(emb)
    if variant.class_mode == "laam":
        if not laam or variant.topk_phrases not in laam:
            raise ValueError(f"variant {variant.name!r} needs LAAM embeddings for k={variant.topk_phrases}")
        return FixedClassEmbeddings(laam[variant.topk_phrases])
    raise ValueError(f"unknown class_mode {variant.class_mode!r}")


def build_dual_branch(variant: Variant, clip, classnames, in_dim: int, arch: DualBranchConfig, *, n_prefix: int,
                      n_postfix: int, laam: dict | None = None) -> DualBranchVAD:
    """A :class:`DualBranchVAD` for ``variant`` on ``in_dim`` features, on the frozen CLIP's device."""
    clip_dim = int(getattr(clip, "embed_dim", in_dim))
    if arch.width != clip_dim:
        raise ValueError(f"width {arch.width} must equal the CLIP embedding width {clip_dim} (the alignment map "
                         "compares visual features with CLIP text embeddings)")
    arch = DualBranchConfig(**{**arch.__dict__, "visual_prompt": variant.visual_prompt,
                               "text_fusion": variant.fusion if variant.text_source else "none"})
    model = DualBranchVAD(in_dim, make_class_source(variant, clip, classnames, n_prefix, n_postfix, laam), arch,
                          text_dim=clip_dim)
    # same device as the frozen CLIP (the learnable prompt runs through its text tower): CPU smoke, GPU full
    return model.to(getattr(clip, "device", None) or "cpu")


# ---------------------------------------------------------------- cost (Ex-VAD Table 7) ------------------------

class OpenClipTextTower:
    """A randomly initialised open_clip text tower with the real architecture (for cost measurements only)."""

    def __init__(self, arch: str = "ViT-B-16"):
        import open_clip

        self.model = open_clip.create_model(arch, pretrained=None)
        self.model.visual = None                       # only the text tower is needed
        self.model.eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.embed_dim = int(self.model.text_projection.shape[1])

    def tokenize(self, texts):
        return self.tokenizer(list(texts))

    @torch.no_grad()
    def encode_texts(self, texts, normalize: bool = True):
        e = self.model.encode_text(self.tokenize(texts))
        return F.normalize(e, dim=-1) if normalize else e


def cost_of(model, seq_len: int, in_dim: int, text_dim: int | None, snippet_len: int = 16, repeats: int = 3) -> dict:
    """Trainable params, MACs and time per frame of one forward pass on ``[1, seq_len, in_dim]`` random inputs."""
    from vadkit.methods.flops import cost_report

    x = torch.randn(1, seq_len, in_dim)
    lengths = torch.tensor([seq_len])
    text = torch.randn(1, text_dim) if text_dim else None
    return cost_report(model, (x, lengths, text), frames=seq_len * snippet_len, repeats=repeats)


def paper_dim_models(classes, window: int = 8) -> dict[str, DualBranchVAD]:
    """VadCLIP and Ex-VAD at the paper's dims (ViT-B/16 width 512, sequence 256, 2 local layers), random weights.

    VadCLIP's learnable prompt runs through a ViT-B/16-architecture text tower (frozen, so not counted as trainable,
    but its MACs are part of every forward pass, as in the reference model); Ex-VAD's label embeddings are
    precomputed once (LAAM), so its forward pass has no text tower.
    """
    from vadkit.methods.prompt_learning import FixedClassEmbeddings, LearnablePrompt, TextEncoderHooks
    from vadkit.models.clip import encode_text_embeddings

    text = OpenClipTextTower()
    hooks = TextEncoderHooks(text.tokenize, text.model.token_embedding,
                             lambda e, i: encode_text_embeddings(text.model, e, i))
    names = [c.replace("_", " ") for c in classes]
    vad = DualBranchVAD(512, LearnablePrompt(hooks, names, 10, 10),
                        DualBranchConfig(width=512, max_len=256, window=window, layers=2, visual_prompt=True))
    ex = DualBranchVAD(512, FixedClassEmbeddings(text.encode_texts(names)),
                       DualBranchConfig(width=512, max_len=256, window=window, layers=2, visual_prompt=False,
                                        text_fusion="concat"), text_dim=512)
    return {"VadCLIP": vad, "Ex-VAD": ex}


#: UCF-Crime's 13 anomaly classes (normal first): the class count of the paper-dim cost models.
UCF_CLASSES = ["normal", "abuse", "arrest", "arson", "assault", "burglary", "explosion", "fighting",
               "road accidents", "robbery", "shooting", "shoplifting", "stealing", "vandalism"]
