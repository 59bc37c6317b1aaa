"""T-VAD: text-guided fine-grained VAD on a frozen LVLM (Gu et al. 2025): AHD, RAE, the stage-2 injection.

Backbone: a Qwen2.5-VL (full: Qwen2.5-VL-7B; smoke: the zoo's ``tiny-vlm``, the same class), frozen.

* **AHD** (Sec. 3.2.1, Eqs. 2-7): :class:`AnomalyHeatmapDecoder` = the shared
  :class:`~vadkit.methods.heatmap.HeatmapDecoder` (per-layer MLP, cosine maps, learnable layer weights, softmax
  over {normal, abnormal}) on patch tokens of the vision tower's blocks
  (:meth:`vadkit.models.vlm.HFVLM.vision_layer_features`, ``[N, h, w, C_v]``), with class vectors from the
  decoder's **token-embedding table** ``E_t`` (Eq. 13 writes ``P_Q = E_t(Q, A)``), mean-pooled over tokens and
  then templates (:func:`class_text_embeddings`).
* **RAE** (Sec. 3.2.2, Eqs. 8-12): :class:`RegionAnomalyEncoder`: temporal differences of the two-channel
  heatmaps ``H_c [T', 2, h, w] -> X [T'-1, 2, h, w]`` (Eq. 8), a conv + GELU backbone to ``C_h`` channels (Eq. 9),
  3 x 3 adaptive average pooling and a two-layer region MLP to ``D`` (Eq. 10), a global MLP on the spatial mean
  (Eq. 11), a learnable base prompt ``P_base [N_base, D]`` (Eq. 12):
  ``P_An [T'-1, N_base + 9 + 1, D]``.
* **Injection** (Eq. 13): ``P = [P_V, P_An, P_Q]``: the prompt holds ``<|anomaly_start|>``, one
  ``<|anomaly_pad|>`` per prompt vector and ``<|anomaly_end|>`` after the frames' vision tokens (the three added
  special tokens, :func:`add_prompt_tokens`, which calls ``resize_token_embeddings``); a forward hook on the
  input-embedding layer puts ``P_An`` at the pad positions (:class:`PromptInjector`), so the model's own
  forward, loss and ``generate`` run unchanged.
* **Stage 2** (Sec. 4.1): :func:`lora_config` (rank 16, alpha 32, dropout 0.05, ``q_proj`` / ``v_proj`` of the
  language decoder, ``layers_to_transform`` the last four decoder layers) and :func:`phase_trainables`: phase A
  trains the RAE and the three new embedding rows, phase B adds the LoRA weights; ``merge_and_unload`` after each.

Where the paper is silent (each a parameter, stated in chapter 13): ``N_base`` = 4, the conv backbone = two
3 x 3 conv + GELU layers of ``C_h`` = 32 channels, token names ``<|anomaly_start|>`` / ``<|anomaly_pad|>`` /
``<|anomaly_end|>`` (the pad's embedding is replaced, so only the start and end rows are ever read), and that the
RAE reads the two-channel fused map ``H_c`` *before* the softmax (Eq. 8 names ``H_c``).
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vadkit.methods.heatmap import HeatmapDecoder, pool_prompt_embeddings

PROMPT_TOKENS = ("<|anomaly_start|>", "<|anomaly_pad|>", "<|anomaly_end|>")
TEMPLATES = ("A short surveillance clip where surveillance video of {} {}",
             "A surveillance frame in which {} {}",
             "A video of a scene where {} {}")


def prompt_sets(events: Sequence[str], templates: Sequence[str] = TEMPLATES) -> dict[str, list[str]]:
    """T-VAD's binary prompt sets: ``"... of person jumping not occurs"`` (normal) and ``"... occurs"``
    (abnormal), every template with every event phrase."""
    return {"normal": [t.format(e, "not occurs") for t in templates for e in events],
            "abnormal": [t.format(e, "occurs") for t in templates for e in events]}


@torch.no_grad()
def class_text_embeddings(tokenizer, embed_tokens: nn.Module, prompts: dict[str, list[str]]) -> torch.Tensor:
    """``[2, D]``: ``E_t`` (the decoder's token-embedding table) of each prompt, mean-pooled over its tokens
    (Eq. 2) and over the templates (Eq. 4); row 0 normal, row 1 abnormal."""
    rows = []
    weight = embed_tokens.weight
    for c in ("normal", "abnormal"):
        enc = tokenizer(list(prompts[c]), padding=True, add_special_tokens=False, return_tensors="pt")
        emb = embed_tokens(enc["input_ids"].to(weight.device)).float().cpu()
        rows.append(pool_prompt_embeddings(emb, enc["attention_mask"]))
    return torch.stack(rows)


class AnomalyHeatmapDecoder(nn.Module):
    """The AHD: :class:`HeatmapDecoder` with fixed class vectors ``[2, D]`` kept as a buffer."""

    def __init__(self, in_dims: Sequence[int], text: torch.Tensor, *, init_scale: float = 10.0):
        super().__init__()
        self.register_buffer("text", text.detach().float().clone())
        self.decoder = HeatmapDecoder(in_dims, text.shape[-1], projection="mlp", fusion="logits",
                                      init_scale=init_scale)

    def forward(self, feats: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``feats``: ``[[N, h, w, C_i]]`` per tapped layer -> ``{"logits": H_c [N, 2, h, w], "prob": H}``."""
        return self.decoder(feats, self.text)


class RegionAnomalyEncoder(nn.Module):
    """RAE (Eqs. 8-12): ``H_c [T', 2, h, w] -> P_An [T'-1, N_base + 10, D]``.

    Args:
        d: prompt width (the decoder's hidden size). hidden: ``C_h``. n_base: ``N_base``.
        depth: conv + GELU layers of the backbone. grid: regions per side (3 in the paper).
    """

    def __init__(self, d: int, hidden: int = 32, n_base: int = 4, depth: int = 2, grid: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        c = 2
        for _ in range(depth):
            layers += [nn.Conv2d(c, hidden, 3, padding=1), nn.GELU()]
            c = hidden
        self.backbone = nn.Sequential(*layers)                             # Eq. 9
        self.region = nn.Sequential(nn.Linear(hidden, d), nn.GELU(), nn.Linear(d, d))   # Eq. 10
        self.glob = nn.Sequential(nn.Linear(hidden, d), nn.GELU(), nn.Linear(d, d))     # Eq. 11
        self.base = nn.Parameter(torch.randn(1, n_base, d) * 0.02)         # Eq. 12
        self.grid, self.n_base, self.d = grid, n_base, d

    @property
    def tokens_per_step(self) -> int:
        return self.n_base + self.grid * self.grid + 1

    def n_tokens(self, n_maps: int) -> int:
        """Prompt vectors for ``n_maps`` heatmaps (``T'``): ``(T' - 1) (N_base + 10)``."""
        return max(n_maps - 1, 0) * self.tokens_per_step

    def forward(self, hc: torch.Tensor) -> torch.Tensor:
        if hc.ndim != 4 or hc.shape[1] != 2 or hc.shape[0] < 2:
            raise ValueError(f"RAE: expected H_c [T' >= 2, 2, h, w], got {tuple(hc.shape)}")
        x = hc[1:] - hc[:-1]                                               # Eq. 8: [T'-1, 2, h, w]
        f = self.backbone(x.float())                                       # Eq. 9: [T'-1, C_h, h, w]
        grid = F.adaptive_avg_pool2d(f, self.grid).flatten(2).transpose(1, 2)   # [T'-1, 9, C_h]
        p_region = self.region(grid)                                       # [T'-1, 9, D]
        p_global = self.glob(f.mean((2, 3))).unsqueeze(1)                  # [T'-1, 1, D]
        p_base = self.base.expand(len(x), -1, -1)                          # [T'-1, N_base, D]
        return torch.cat([p_base, p_region, p_global], 1)                  # Eq. 12


# ------------------------------------------------------------------------------------------ injection -----------

def add_prompt_tokens(model, tokenizer, names: Sequence[str] = PROMPT_TOKENS) -> list[int]:
    """Add the three special prompt tokens and grow the embedding tables (``resize_token_embeddings``); the new
    rows start at the mean of the existing ones. Returns their ids (start, pad, end)."""
    added = tokenizer.add_tokens(list(names), special_tokens=True)
    ids = [tokenizer.convert_tokens_to_ids(n) for n in names]
    old = model.get_input_embeddings().weight.shape[0]
    if added or max(ids) >= old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            emb = model.get_input_embeddings().weight
            emb[old:] = emb[:old].mean(0)
            out = model.get_output_embeddings()
            if out is not None and out.weight.shape[0] > old and out.weight is not emb:
                out.weight[old:] = out.weight[:old].mean(0)
    return ids


def prompt_block(n: int, names: Sequence[str] = PROMPT_TOKENS) -> str:
    """The text of the anomaly prompt in a user turn: start, ``n`` pads, end."""
    return names[0] + names[1] * n + names[2]


class PromptInjector:
    """A forward hook on the input embeddings that writes ``P_An`` where the ids are ``<|anomaly_pad|>``.

    ``with PromptInjector(model, pad_id).using(prompts [B, n, D] or [n, D]):`` runs forward / ``generate``
    with the prompts in place (gradients reach the RAE); a call without pad tokens (a decoding step) is
    left alone. The number of pads per row must equal ``n``.
    """

    def __init__(self, model, pad_id: int):
        self.model, self.pad_id = model, int(pad_id)
        self.prompts: torch.Tensor | None = None

    def _hook(self, _module, args, out):
        if self.prompts is None:
            return out
        ids = args[0]
        where = ids == self.pad_id
        if not where.any():
            return out
        p = self.prompts if self.prompts.ndim == 3 else self.prompts.unsqueeze(0).expand(ids.shape[0], -1, -1)
        if int(where.sum()) != p.shape[0] * p.shape[1] or (where.sum(1) != p.shape[1]).any():
            raise ValueError(f"PromptInjector: {int(where.sum())} pad tokens for prompts {tuple(p.shape)}")
        out = out.clone()
        out[where] = p.reshape(-1, p.shape[-1]).to(out.dtype)
        return out

    @contextlib.contextmanager
    def using(self, prompts: torch.Tensor):
        handle = self.model.get_input_embeddings().register_forward_hook(self._hook)
        self.prompts = prompts
        try:
            yield self
        finally:
            self.prompts = None
            handle.remove()


def restrict_embedding_grad(embedding: nn.Embedding, rows: Sequence[int]) -> torch.utils.hooks.RemovableHandle:
    """Make only ``rows`` of an embedding table trainable (a gradient hook zeroes the others)."""
    keep = torch.zeros(embedding.weight.shape[0], 1, dtype=embedding.weight.dtype)
    keep[list(rows)] = 1.0
    embedding.weight.requires_grad_(True)
    return embedding.weight.register_hook(lambda g: g * keep.to(g.device, g.dtype))


# ------------------------------------------------------------------------------------------ stage 2 -------------

def decoder_layers(model) -> int:
    """Number of language-decoder layers of a Qwen2.5-VL (or any model with ``config.text_config``)."""
    cfg = getattr(model.config, "text_config", model.config)
    return int(cfg.num_hidden_layers)


def lora_config(model, *, r: int = 16, alpha: int = 32, dropout: float = 0.05, last_layers: int = 4,
                targets: Sequence[str] = ("q_proj", "v_proj")):
    """T-VAD's peft ``LoraConfig``: ``q_proj`` / ``v_proj`` of the **language decoder** only (full module names
    from :func:`vadkit.models.vlm.lora_target_modules`, so the vision tower's attention is never adapted), on
    the last ``last_layers`` decoder layers (``layers_to_transform``; all of them when the model has fewer)."""
    from peft import LoraConfig

    from vadkit.models.vlm import lora_target_modules

    n = decoder_layers(model)
    layers = list(range(max(0, n - last_layers), n))
    names = [m for m in lora_target_modules(model, "language") if m.rsplit(".", 1)[-1] in targets
             and any(f".layers.{i}." in m for i in layers)]
    if not names:
        raise ValueError("lora_config: no q_proj / v_proj in the language decoder's last layers")
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=names, bias="none"), layers


def trainable_modules(model: nn.Module, extra: dict[str, nn.Module] | None = None) -> list[tuple[str, int]]:
    """``(name, trainable parameters)`` of every parameter tensor that requires a gradient (the chapter prints
    them per phase), including those of ``extra`` modules (the RAE)."""
    rows = [(n, p.numel()) for n, p in model.named_parameters() if p.requires_grad]
    for name, mod in (extra or {}).items():
        rows += [(f"{name}.{n}", p.numel()) for n, p in mod.named_parameters() if p.requires_grad]
    return rows
