"""Crop-pair describers: two crops of one object or of an interacting pair, at ``t`` and ``t + delta``, in;
the activity text out (MLLM-EVAD's query, Mumcu et al., 2025).

MLLM-EVAD asks a VLM, for every tracked object and every interacting pair, what it does over a short
interval, showing it crops ``C_t`` and ``C_{t+delta}`` that enclose the object(s) at both moments
(:func:`vadkit.data.pairs.crop_box` / :func:`~vadkit.data.pairs.crop_pair`). Two backends, one interface
(:class:`CropPairDescriber`):

* :class:`PrefixDescriber` - the zoo's ``tiny-describer`` (smoke): a small CNN reads both crops and their
  difference (``[N, 9, S, S]``: ``C_t``, ``C_{t+delta}``, ``C_{t+delta} - C_t``) into a ``3 x 3`` grid of
  tokens plus a pooled token; a learned token says whether one object or a pair is asked about; these
  ``1 + 1 + 9`` prefix embeddings go before a ``LlamaForCausalLM``, which writes the text. It sees pixels
  only (no box, no track, no label) and is trained on the pretraining corpus' activity windows
  (:func:`vadkit.models.zoo._train_describer`), never on a chapter's split.
* :class:`VLMDescriber` - any image-text-to-text model of :func:`vadkit.models.load_vlm` (full: Qwen2.5-VL,
  Gemma 3), shown the two crops as two images with :data:`vadkit.models.prompts.ACTIVITY_PROMPTS`.

The target text is SynthVAD's activity ground truth (:mod:`vadkit.data.synth.activity`) in a canonical form
that pixels can determine (:func:`reference_text`): a single object's sentence; for a pair, the sentence of
the object whose box is further left first, then the other's, then the relation, separated by ``"; "``
(the generator orders a pair by track id, which no image shows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from vadkit.models.base import GenerationConfig
from vadkit.models.llm import _gen_kwargs

KINDS = ("single", "pair")
DESCRIBER_FILE = "describer.json"


class CropPairDescriber(Protocol):
    """``describe_crops(crops_t, crops_t1, kinds) -> [str]``: crops uint8 ``[N, S, S, 3]`` each, ``kinds[i]`` in
    :data:`KINDS`; one activity text per row."""

    name: str

    def describe_crops(self, crops_t, crops_t1, kinds: Sequence[str], config: GenerationConfig | None = None,
                       *, delta_s: float = 1.0) -> list[str]: ...

    def describe(self) -> dict: ...


def reference_text(kind: str, singles_text: Sequence[str], relation: str | None = None,
                   boxes_t: Sequence[Sequence[float]] | None = None) -> str:
    """Ground-truth activity text in the describer's canonical form.

    ``kind="single"``: ``singles_text[0]``. ``kind="pair"``: the two single sentences ordered by the bottom-centre
    ``x`` of ``boxes_t`` (left first; ties keep the given order), then ``relation``, joined by ``"; "``, the first
    letter capitalised (the form of the activity document's pair text)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "single":
        if len(singles_text) != 1:
            raise ValueError(f"a single row needs one sentence, got {len(singles_text)}")
        return str(singles_text[0])
    if len(singles_text) != 2 or relation is None or boxes_t is None or len(boxes_t) != 2:
        raise ValueError("a pair row needs two sentences, a relation and the two boxes at t")
    xs = [0.5 * (float(b[0]) + float(b[2])) for b in boxes_t]
    a, b = (singles_text[0], singles_text[1]) if xs[0] <= xs[1] else (singles_text[1], singles_text[0])
    text = f"{a}; {b}; {relation}"
    return text[:1].upper() + text[1:]


def stack_crops(crops_t, crops_t1) -> torch.Tensor:
    """uint8 ``[N, S, S, 3]`` twice -> float ``[N, 9, S, S]``: both crops in ``[-1, 1]`` and their difference."""
    a = torch.as_tensor(np.ascontiguousarray(crops_t)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    b = torch.as_tensor(np.ascontiguousarray(crops_t1)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if a.shape != b.shape:
        raise ValueError(f"crops at t {tuple(a.shape)} and t + delta {tuple(b.shape)} differ in shape")
    return torch.cat([a, b, b - a], dim=1)


class CropEncoder(torch.nn.Module):
    """``[N, 9, S, S]`` -> prefix ``[N, 2 + G*G, H]``: a kind token, a pooled token and a ``G x G`` grid.

    Four stride-2 3x3 convolutions (BatchNorm, GELU; widths ``width * (1, 2, 3, 4)``), adaptive average
    pooling to ``G x G``, one linear map to the language model's width ``H``, a learned position embedding and
    LayerNorm (the ClipCap / BLIP-2 bridge with a trainable image side).
    """

    def __init__(self, hidden: int, width: int = 32, grid: int = 3):
        super().__init__()
        chans = [9, width, 2 * width, 3 * width, 4 * width]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [torch.nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(cout),
                       torch.nn.GELU()]
        self.conv = torch.nn.Sequential(*layers)
        self.pool = torch.nn.AdaptiveAvgPool2d(grid)
        self.proj = torch.nn.Linear(chans[-1], hidden)
        self.kind = torch.nn.Embedding(len(KINDS), hidden)
        self.pos = torch.nn.Parameter(torch.zeros(2 + grid * grid, hidden))
        self.norm = torch.nn.LayerNorm(hidden)
        self.dims = {"hidden": hidden, "width": width, "grid": grid}

    def forward(self, x: torch.Tensor, kind_ids: torch.Tensor) -> torch.Tensor:
        f = self.pool(self.conv(x))                                   # [N, C, G, G]
        tokens = self.proj(f.flatten(2).transpose(1, 2))              # [N, G*G, H]
        pooled = tokens.mean(dim=1, keepdim=True)                     # [N, 1, H]
        x = torch.cat([self.kind(kind_ids)[:, None], pooled, tokens], dim=1)
        return self.norm(x + self.pos)


def _kind_ids(kinds: Sequence[str], device) -> torch.Tensor:
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"kinds must be in {KINDS}, got {sorted(set(bad))}")
    return torch.tensor([KINDS.index(k) for k in kinds], device=device)


class PrefixDescriber:
    """:class:`CropEncoder` + causal LM (the zoo's ``tiny-describer``). Saved as ``describer.json`` +
    ``encoder.safetensors`` + ``lm/`` (``save_pretrained``); :func:`load_prefix_describer` reads it back."""

    def __init__(self, encoder: CropEncoder, lm, tokenizer, name: str, *, crop_size: int = 48, device=None,
                 batch_size: int = 64):
        self.encoder, self.lm, self.tokenizer = encoder.eval(), lm.eval(), tokenizer
        self.name, self.crop_size, self.batch_size = name, crop_size, batch_size
        self.device = torch.device(device or "cpu")
        self.encoder.to(self.device)
        self.lm.to(self.device)

    def embed_prefix(self, x: torch.Tensor, kind_ids: torch.Tensor) -> torch.Tensor:
        """``[N, 2 + G*G + 1, H]``: the crop prefix followed by the BOS embedding (where generation starts)."""
        pre = self.encoder(x.to(self.device), kind_ids.to(self.device))
        bos = torch.full((len(pre), 1), self.tokenizer.bos_token_id, device=self.device)
        return torch.cat([pre, self.lm.get_input_embeddings()(bos)], dim=1)

    @torch.no_grad()
    def describe_crops(self, crops_t, crops_t1, kinds: Sequence[str], config: GenerationConfig | None = None,
                       *, delta_s: float = 1.0) -> list[str]:
        config = config or GenerationConfig(max_new_tokens=48)
        crops_t, crops_t1 = np.asarray(crops_t), np.asarray(crops_t1)
        if len(crops_t) != len(kinds) or len(crops_t1) != len(kinds):
            raise ValueError(f"{self.name}: {len(crops_t)} / {len(crops_t1)} crops for {len(kinds)} kinds")
        if len(kinds) and crops_t.shape[1:3] != (self.crop_size, self.crop_size):
            raise ValueError(f"{self.name}: crops must be {self.crop_size} x {self.crop_size}, got "
                             f"{crops_t.shape[1:3]} (vadkit.data.pairs.crop_pair(..., size={self.crop_size}))")
        out: list[str] = []
        for i in range(0, len(kinds), self.batch_size):
            sl = slice(i, i + self.batch_size)
            emb = self.embed_prefix(stack_crops(crops_t[sl], crops_t1[sl]), _kind_ids(kinds[sl], self.device))
            att = torch.ones(emb.shape[:2], dtype=torch.long, device=self.device)
            gen = self.lm.generate(inputs_embeds=emb, attention_mask=att, **_gen_kwargs(config, self.tokenizer))
            out.extend(t.strip() for t in self.tokenizer.batch_decode(gen, skip_special_tokens=True))
        return out

    def describe(self) -> dict:
        return {"name": self.name, "class": "PrefixDescriber", "encoder": self.encoder.dims,
                "lm": type(self.lm).__name__, "crop_size": self.crop_size,
                "sees": "two crops and their difference; no box, track or label"}

    def save_pretrained(self, directory) -> Path:
        from safetensors.torch import save_file

        from vadkit.io_utils import atomic_write_json

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.lm.save_pretrained(d / "lm")
        self.tokenizer.save_pretrained(d / "lm")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.encoder.state_dict().items()},
                  str(d / "encoder.safetensors"))
        atomic_write_json(d / DESCRIBER_FILE, {"class": "PrefixDescriber", "encoder": self.encoder.dims,
                                               "crop_size": self.crop_size})
        return d


def is_prefix_describer(path) -> bool:
    return (Path(path) / DESCRIBER_FILE).is_file()


def load_prefix_describer(directory, device=None, name: str | None = None) -> PrefixDescriber:
    """Read a :class:`PrefixDescriber` directory; a damaged file raises an error naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from vadkit.errors import ModelNotFoundError
    from vadkit.models.llm import load_hf_llm
    from vadkit.models.weights import CorruptWeightsError, check_safetensors

    d = Path(directory)
    try:
        check_safetensors(d / "encoder.safetensors")
        meta = json.loads((d / DESCRIBER_FILE).read_text())
        encoder = CropEncoder(**meta["encoder"])
        encoder.load_state_dict(load_file(str(d / "encoder.safetensors")))
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError, CorruptWeightsError) as err:
        raise ModelNotFoundError(f"{d}: not a readable crop-pair describer directory ({type(err).__name__}: {err})") \
            from err
    llm = load_hf_llm(d / "lm", device)
    return PrefixDescriber(encoder, llm.model, llm.tokenizer, name or str(d), crop_size=int(meta["crop_size"]),
                           device=device)


class VLMDescriber:
    """Any :class:`~vadkit.models.vlm.HFVLM` as a describer: both crops as two images, the kind's
    :data:`~vadkit.models.prompts.ACTIVITY_PROMPTS` question, one chat turn per row."""

    def __init__(self, vlm, prompts: dict[str, str] | None = None):
        from vadkit.models.prompts import ACTIVITY_PROMPTS

        self.vlm, self.name = vlm, vlm.name
        self.prompts = dict(prompts or ACTIVITY_PROMPTS)

    def describe_crops(self, crops_t, crops_t1, kinds: Sequence[str], config: GenerationConfig | None = None,
                       *, delta_s: float = 1.0) -> list[str]:
        _kind_ids(kinds, "cpu")
        config = config or GenerationConfig(max_new_tokens=64)
        return [self.vlm.chat(np.stack([a, b]), [{"role": "user",
                                                  "content": self.prompts[k].format(delta=delta_s)}], config)
                for a, b, k in zip(crops_t, crops_t1, kinds)]

    def describe(self) -> dict:
        return {"name": self.name, "class": "VLMDescriber", "vlm": self.vlm.describe(), "prompts": self.prompts}
