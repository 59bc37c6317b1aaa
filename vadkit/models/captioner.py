"""Frame captioners (the :class:`~vadkit.models.base.Captioner` role).

Full profile: BLIP-2 (``Salesforce/blip2-opt-2.7b``), as Ex-VAD and LAVAD use, through
``AutoProcessor`` + ``AutoModelForImageTextToText`` (:class:`HFCaptioner`). Smoke profile: the tiny zoo's
:class:`PrefixCaptioner`, the same three-part design at toy size: a frozen CLIP image encoder (the zoo's
tiny CLIP), a trained bridge into the language model's embedding space (BLIP-2's Q-Former reduced to a
linear map of the CLIP grid tokens, as in ClipCap), and a causal LM decoder (a tiny Llama). Any VLM can
also caption through :class:`VLMCaptioner` (asked :data:`~vadkit.models.prompts.CAPTION_PROMPT`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vadkit.models.base import GenerationConfig
from vadkit.models.llm import _gen_kwargs
from vadkit.models.prompts import CAPTION_PROMPT
from vadkit.models.vlm import HFVLM, _frames_list, load_image_text_model


class HFCaptioner:
    """BLIP-2 style captioner: image (+ optional text prefix) -> caption."""

    def __init__(self, model, processor, name: str, device=None, batch_size: int = 16):
        self.model = model.eval()
        self.processor = processor
        self.name = name
        self.device = torch.device(device or "cpu")
        self.batch_size = batch_size
        self.model.to(self.device)

    @torch.no_grad()
    def caption(self, frames, prompt: str | None = None, config: GenerationConfig | None = None) -> list[str]:
        """``[N, H, W, 3]`` uint8 -> ``N`` captions."""
        config = config or GenerationConfig(max_new_tokens=30)
        frames = _frames_list(frames)
        out: list[str] = []
        for i in range(0, len(frames), self.batch_size):
            chunk = frames[i:i + self.batch_size]
            kw = {"text": [prompt] * len(chunk)} if prompt else {}
            enc = self.processor(images=chunk, return_tensors="pt", **kw).to(self.device)
            gen = self.model.generate(**enc, **_gen_kwargs(config, self.processor.tokenizer))
            if prompt and gen.shape[1] > enc["input_ids"].shape[1] and self.model.config.is_encoder_decoder is False:
                gen = gen[:, enc["input_ids"].shape[1]:]
            out.extend(t.strip() for t in self.processor.batch_decode(gen, skip_special_tokens=True))
        return out

    def describe(self) -> dict:
        return {"name": self.name, "class": type(self.model).__name__}


class VLMCaptioner:
    """Captions frames by asking a VLM :data:`CAPTION_PROMPT` about each one."""

    def __init__(self, vlm: HFVLM, prompt: str = CAPTION_PROMPT):
        self.vlm = vlm
        self.prompt = prompt
        self.name = vlm.name

    def caption(self, frames, prompt: str | None = None, config: GenerationConfig | None = None) -> list[str]:
        """``[N, H, W, 3]`` uint8 -> ``N`` captions (one VLM turn per frame)."""
        config = config or GenerationConfig(max_new_tokens=30)
        msgs = [{"role": "user", "content": prompt or self.prompt}]
        return [self.vlm.chat(np.asarray(f)[None], msgs, config) for f in _frames_list(frames)]

    def describe(self) -> dict:
        return {"name": self.name, "class": "VLMCaptioner", "prompt": self.prompt}


def load_hf_captioner(name_or_path: str | Path, device=None, *, dtype=None) -> HFCaptioner:
    name = str(name_or_path)
    model, processor = load_image_text_model(name, dtype=dtype)
    return HFCaptioner(model, processor, name, device)


# ---------------------------------------------------------------------------------------------------
# CLIP-prefix captioner (the tiny zoo's captioner)
# ---------------------------------------------------------------------------------------------------
PREFIX_CAPTIONER_FILE = "captioner.json"


class CaptionPrefix(torch.nn.Module):
    """Maps frozen CLIP image features to ``1 + P`` prefix embeddings of the language model.

    ``pooled`` ``[N, D]`` (the CLIP image embedding) and ``grid`` ``[N, P, C]`` (the last stage's / block's
    spatial tokens) -> ``[N, 1 + P, H]``: one linear map each, a learned position embedding, LayerNorm. This
    is BLIP-2's bridge with its Q-Former reduced to a linear map of the grid (the ClipCap design), so the
    frozen image encoder and a small causal LM are joined by ``(D + C + 1 + P) * H`` parameters.
    """

    def __init__(self, pooled_dim: int, grid_dim: int, grid_tokens: int, hidden: int):
        super().__init__()
        self.pooled = torch.nn.Linear(pooled_dim, hidden)
        self.grid = torch.nn.Linear(grid_dim, hidden)
        self.pos = torch.nn.Parameter(torch.zeros(1 + grid_tokens, hidden))
        self.norm = torch.nn.LayerNorm(hidden)
        self.dims = {"pooled_dim": pooled_dim, "grid_dim": grid_dim, "grid_tokens": grid_tokens, "hidden": hidden}

    def forward(self, pooled: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.pooled(pooled)[:, None], self.grid(grid)], dim=1)
        return self.norm(x + self.pos)


@torch.no_grad()
def clip_image_features(clip, frames, grid_layer: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """``uint8 [N, H, W, 3]`` -> ``(pooled [N, D], grid [N, P, C])``: CLIP's image embedding and the spatial
    tokens of ``grid_layer`` (see :meth:`~vadkit.models.clip.ClipModel.encode_pixels`)."""
    px = clip.preprocess(np.asarray(frames) if not isinstance(frames, list) else np.stack(frames))
    pooled, taps = clip.encode_pixels(px, layers=(grid_layer,))
    return pooled, taps[grid_layer]


class PrefixCaptioner:
    """Frozen CLIP image encoder + :class:`CaptionPrefix` + causal LM (``LlamaForCausalLM`` in the zoo).

    ``caption(frames)``: ``[N, H, W, 3]`` uint8 -> ``N`` captions, generated greedily (or as ``config`` says)
    after the prefix and the tokenizer's BOS. Saved as ``captioner.json`` + ``clip/`` (open_clip layout) +
    ``lm/`` (``save_pretrained``) + ``prefix.safetensors``; :func:`load_prefix_captioner` reads it back.
    """

    def __init__(self, clip, prefix: CaptionPrefix, lm, tokenizer, name: str, *, grid_layer: int = -1,
                 device=None, batch_size: int = 32):
        self.clip, self.prefix, self.lm, self.tokenizer = clip, prefix.eval(), lm.eval(), tokenizer
        self.name, self.grid_layer, self.batch_size = name, grid_layer, batch_size
        self.device = torch.device(device or "cpu")
        self.prefix.to(self.device)
        self.lm.to(self.device)

    def image_features(self, frames) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pooled [N, D], grid [N, P, C])`` of the frozen CLIP (the captioner's only view of the frames)."""
        return clip_image_features(self.clip, frames, self.grid_layer)

    def embed_prefix(self, pooled: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """``[N, 1 + P + 1, H]``: the image prefix followed by the BOS embedding (where generation starts)."""
        pre = self.prefix(pooled.to(self.device), grid.to(self.device))
        bos = torch.full((len(pre), 1), self.tokenizer.bos_token_id, device=self.device)
        return torch.cat([pre, self.lm.get_input_embeddings()(bos)], dim=1)

    @torch.no_grad()
    def caption(self, frames, prompt: str | None = None, config: GenerationConfig | None = None) -> list[str]:
        if prompt is not None and prompt != CAPTION_PROMPT:
            raise ValueError(f"{self.name}: a prefix captioner takes no prompt (got {prompt!r})")
        config = config or GenerationConfig(max_new_tokens=30)
        frames = _frames_list(frames)
        out: list[str] = []
        for i in range(0, len(frames), self.batch_size):
            pooled, grid = self.image_features(np.stack(frames[i:i + self.batch_size]))
            emb = self.embed_prefix(pooled, grid)
            att = torch.ones(emb.shape[:2], dtype=torch.long, device=self.device)
            gen = self.lm.generate(inputs_embeds=emb, attention_mask=att, **_gen_kwargs(config, self.tokenizer))
            out.extend(t.strip() for t in self.tokenizer.batch_decode(gen, skip_special_tokens=True))
        return out

    def describe(self) -> dict:
        return {"name": self.name, "class": "PrefixCaptioner", "clip": self.clip.describe(),
                "lm": type(self.lm).__name__, "prefix": self.prefix.dims, "grid_layer": self.grid_layer}

    def save_pretrained(self, directory) -> Path:
        from safetensors.torch import save_file

        from vadkit.io_utils import atomic_write_json

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.clip.save_pretrained(d / "clip")
        self.lm.save_pretrained(d / "lm")
        self.tokenizer.save_pretrained(d / "lm")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.prefix.state_dict().items()},
                  str(d / "prefix.safetensors"))
        atomic_write_json(d / PREFIX_CAPTIONER_FILE, {"class": "PrefixCaptioner", "prefix": self.prefix.dims,
                                                      "grid_layer": self.grid_layer})
        return d


def is_prefix_captioner(path) -> bool:
    return (Path(path) / PREFIX_CAPTIONER_FILE).is_file()


def load_prefix_captioner(directory, device=None, name: str | None = None) -> PrefixCaptioner:
    """Read a :class:`PrefixCaptioner` directory (CLIP through :func:`~vadkit.models.clip.load_open_clip`, the LM
    through :func:`~vadkit.models.llm.load_hf_llm`: the loaders a hub id goes through)."""
    import json

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from vadkit.errors import ModelNotFoundError
    from vadkit.models.clip import load_open_clip
    from vadkit.models.llm import load_hf_llm

    from vadkit.models.weights import CorruptWeightsError, check_safetensors

    d = Path(directory)
    try:
        if (d / "prefix.safetensors").is_file():
            check_safetensors(d / "prefix.safetensors")   # names the file and the problem (truncated, overwritten)
        meta = json.loads((d / PREFIX_CAPTIONER_FILE).read_text())
        prefix = CaptionPrefix(**meta["prefix"])
        prefix.load_state_dict(load_file(str(d / "prefix.safetensors")))
    except (OSError, KeyError, ValueError, RuntimeError, SafetensorError, CorruptWeightsError) as err:
        raise ModelNotFoundError(f"{d}: not a readable prefix-captioner directory ({type(err).__name__}: {err})") \
            from err
    clip = load_open_clip(str(d / "clip"), device=device)
    llm = load_hf_llm(d / "lm", device)
    return PrefixCaptioner(clip, prefix, llm.model, llm.tokenizer, name or str(d), grid_layer=int(meta["grid_layer"]),
                           device=device)
