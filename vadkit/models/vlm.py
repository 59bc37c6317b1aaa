"""Vision-language models for images and video with multi-turn chat (the :class:`~vadkit.models.base.VLM` role).

Full profile: ``AutoModelForImageTextToText`` + ``AutoProcessor`` (Qwen2.5-VL-7B as T-VAD uses, Gemma 3, ...).
Smoke profile: the tiny zoo's ``Qwen2_5_VLForConditionalGeneration`` (the same class and processor as
``Qwen/Qwen2.5-VL-7B-Instruct`` at toy sizes, built by :func:`new_qwen2_5_vl`, which the rehearsal fixture of
:mod:`vadkit.models.rehearsal` uses as well) saved with ``save_pretrained``, loaded by the same
:func:`load_hf_vlm`. The layer taps (:meth:`HFVLM.vision_layer_features`), the chat format
(:data:`QWEN_VL_CHAT_TEMPLATE`) and the LoRA targets (:func:`lora_target_modules`) are therefore one code path
in both profiles.

A video is passed as ``K`` frames ``[K, H, W, 3]``; each frame becomes one image entry of the first
user turn (models with a native video input, e.g. Qwen2.5-VL, still accept this form).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from vadkit.models.base import GenerationConfig
from vadkit.models.llm import _gen_kwargs, hf_load_error


def _frames_list(frames) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        return [frames]
    return [np.asarray(f) for f in frames]


def attach_images(messages: list[dict], num_images: int) -> list[dict]:
    """Put ``num_images`` image entries at the start of the first user turn (content-list format)."""
    msgs = copy.deepcopy(messages)
    done = False
    for m in msgs:
        content = m["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if m["role"] == "user" and not done:
            content = [{"type": "image"} for _ in range(num_images)] + content
            done = True
        m["content"] = content
    if not done:
        raise ValueError("messages need at least one user turn")
    return msgs


class HFVLM:
    """An image-text-to-text model with its processor."""

    def __init__(self, model, processor, name: str, device=None):
        self.model = model.eval()
        self.processor = processor
        self.name = name
        self.device = torch.device(device or "cpu")
        self.model.to(self.device)
        tok = processor.tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left"

    def build_inputs(self, frames, messages, add_generation_prompt: bool = True):
        frames = _frames_list(frames)
        text = self.processor.apply_chat_template(attach_images(messages, len(frames)),
                                                  add_generation_prompt=add_generation_prompt, tokenize=False)
        return self.processor(images=frames, text=[text], return_tensors="pt")

    @torch.no_grad()
    def chat(self, frames, messages: list[dict], config: GenerationConfig | None = None) -> str:
        """``frames`` ``[K, H, W, 3]`` uint8 (one image: ``K=1``) + chat ``messages`` -> the next reply."""
        config = config or GenerationConfig(max_new_tokens=64)
        torch.manual_seed(config.seed)
        enc = self.build_inputs(frames, messages).to(self.device)
        out = self.model.generate(**enc, **_gen_kwargs(config, self.processor.tokenizer))
        return self.processor.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)[0].strip()

    @torch.no_grad()
    def vision_layer_features(self, frames, layers: Iterable[int] = (-1,)) -> dict[int, torch.Tensor]:
        """Patch tokens of vision-tower blocks: ``{layer: [N, h, w, C]}`` for ``frames`` ``[N, H, W, 3]`` uint8.

        The output of block ``layer`` of the vision tower (negative indices count from the last block), before
        the patch merger, put back on the patch grid ``h x w`` of the processor's resized frame (for the zoo's
        tiny Qwen2.5-VL: 14 x 20 patches of 8 px, ``C`` = 64; for Qwen2.5-VL-7B: 8 x 12 patches of 14 px on a
        160 x 120 frame, ``C`` = 1280). These are the taps of T-VAD's Anomaly Heatmap Decoder. Forward hooks on
        ``model.model.visual.blocks[i]``; Qwen2.5-VL only (other classes raise ``ValueError``).
        """
        visual = _qwen_visual(self.model, self.name)
        n_blocks = len(visual.blocks)
        layers = list(layers)
        idx = {}
        for layer in layers:
            i = layer + n_blocks if layer < 0 else layer
            if not 0 <= i < n_blocks:
                raise ValueError(f"{self.name}: vision layer {layer} out of range; the tower has {n_blocks} blocks")
            idx[layer] = i
        enc = self.processor.image_processor(images=_frames_list(frames), return_tensors="pt")
        px = enc["pixel_values"].to(self.device, visual.dtype)
        grid = enc["image_grid_thw"].to(self.device)
        outs: dict[int, torch.Tensor] = {}
        hooks = [visual.blocks[i].register_forward_hook(
            lambda _m, _a, out, i=i: outs.__setitem__(i, out[0] if isinstance(out, tuple) else out))
            for i in sorted(set(idx.values()))]
        try:
            visual(px, grid_thw=grid)
        finally:
            for h in hooks:
                h.remove()
        return {layer: qwen_patch_grid(outs[i], grid, visual) for layer, i in idx.items()}

    def describe(self) -> dict:
        return {"name": self.name, "class": type(self.model).__name__,
                "parameters": int(sum(p.numel() for p in self.model.parameters()))}


def load_image_text_model(name: str, *, dtype=None):
    """``(model, processor)`` of an image-text-to-text checkpoint (hub id or local directory).

    Shared by the VLM and the captioner roles (BLIP-2, LLaVA, Qwen2.5-VL all load this way).
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from vadkit.models.weights import check_weights, weights_errors

    check_weights(name)
    try:
        with weights_errors(name, "image-text model"):
            processor = AutoProcessor.from_pretrained(name)
            model = AutoModelForImageTextToText.from_pretrained(name, dtype=dtype or torch.float32)
    except (OSError, ValueError) as err:
        raise hf_load_error(name, err) from err
    return model, processor


def load_hf_vlm(name_or_path: str | Path, device=None, *, dtype=None) -> HFVLM:
    """Hub id or local ``save_pretrained`` directory -> :class:`HFVLM`."""
    name = str(name_or_path)
    model, processor = load_image_text_model(name, dtype=dtype)
    return HFVLM(model, processor, name, device)


# ---------------------------------------------------------------------------------------------------
# Qwen2.5-VL: the one construction of the tiny instances, the vision tower's patch order, LoRA targets
# ---------------------------------------------------------------------------------------------------
#: Qwen2.5-VL's chat format (its hub template without tool calls; a video entry gives ``<|video_pad|>``).
QWEN_VL_CHAT_TEMPLATE = (
    "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' or 'image' in c %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'video' or 'video' in c %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in c %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: Qwen2.5-VL's special tokens (first ids of a tiny tokenizer) and their roles (``byte_bpe`` keyword arguments).
QWEN_VL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
QWEN_VL_TOKEN_ROLES = {"pad_token": "<|endoftext|>", "eos_token": "<|im_end|>", "image_token": "<|image_pad|>",
                       "video_token": "<|video_pad|>"}


def new_qwen2_5_vl(tok, vision: dict, text: dict, image_processor: dict | None = None):
    """A randomly initialised ``Qwen2_5_VLForConditionalGeneration`` and its ``Qwen2_5_VLProcessor`` around ``tok``
    (a tokenizer with :data:`QWEN_VL_SPECIALS`): the zoo's ``tiny-vlm`` and the rehearsal fixture.

    ``vision`` / ``text``: ``Qwen2_5_VLVisionConfig`` / ``Qwen2_5_VLTextConfig`` fields (the vocabulary and the
    special token ids are filled in from ``tok``); ``image_processor``: ``Qwen2VLImageProcessor`` settings
    (``patch_size``, ``merge_size``, ``temporal_patch_size``, ``min_pixels``, ``max_pixels``; ``None``: the real
    defaults), given to the video processor too. Seed torch before calling for reproducible weights.
    """
    from transformers import (GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_VL_SPECIALS}
    missing = [t for t, i in ids.items() if i is None or i == tok.unk_token_id]
    if missing:
        raise ValueError(f"new_qwen2_5_vl: the tokenizer lacks Qwen2.5-VL's special tokens {missing}")
    tok.chat_template = QWEN_VL_CHAT_TEMPLATE
    ip = dict(image_processor or {})
    proc = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(**ip), tokenizer=tok,
                               video_processor=Qwen2VLVideoProcessor(**ip), chat_template=QWEN_VL_CHAT_TEMPLATE)
    text = {"vocab_size": len(tok), **text, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"]}
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=dict(vision), image_token_id=ids["<|image_pad|>"],
                           video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                           vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    model.generation_config = GenerationConfig(eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
                                               pad_token_id=ids["<|endoftext|>"])
    return model, proc


def mrope_section(head_dim: int) -> list[int]:
    """M-RoPE's split of the rotary half ``head_dim / 2`` into (time, height, width) in Qwen2.5-VL-7B's ratio
    2:3:3 (``128 -> [16, 24, 24]``, ``16 -> [2, 3, 3]``, ``24 -> [4, 4, 4]``)."""
    half = head_dim // 2
    hw = 3 * half // 8
    return [half - 2 * hw, hw, hw]


def _qwen_visual(model, name: str = "model"):
    """``model.model.visual`` of a Qwen2.5-VL model; ``ValueError`` naming the class otherwise."""
    visual = getattr(getattr(model, "model", None), "visual", None)
    if getattr(getattr(model, "config", None), "model_type", None) != "qwen2_5_vl" or visual is None:
        raise ValueError(f"{name}: vision-layer taps are implemented for Qwen2.5-VL "
                         f"(Qwen2_5_VLForConditionalGeneration), not {type(model).__name__}")
    return visual


def qwen_patch_grid(tokens: torch.Tensor, grid_thw: torch.Tensor, visual) -> torch.Tensor:
    """Vision-block tokens ``[L, C]`` (all images of one call, in the tower's window order) -> ``[N, h, w, C]``.

    The processor emits each image's ``h x w`` patches grouped by ``merge x merge`` blocks (``[h/m, w/m, m, m]``
    order) and the tower permutes those blocks window by window (``get_vision_window_index``); both are undone
    here. Images (``t = 1``) of one call must share the grid ``h x w``.
    """
    from transformers.vision_utils import get_vision_window_index

    m = visual.spatial_merge_size
    window_index, _ = get_vision_window_index(grid_thw, m, visual.window_size, visual.patch_size)
    C = tokens.shape[-1]
    units = tokens.reshape(-1, m * m, C)[torch.argsort(window_index.to(tokens.device))]
    sizes = {(int(t), int(h), int(w)) for t, h, w in grid_thw.tolist()}
    if len(sizes) != 1 or next(iter(sizes))[0] != 1:
        raise ValueError(f"vision_layer_features: frames of one call need one size and t = 1, got grids {sizes}")
    _, h, w = next(iter(sizes))
    x = units.reshape(len(grid_thw), h // m, w // m, m, m, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(len(grid_thw), h, w, C)


def lora_target_modules(model, part: str = "language") -> list[str]:
    """Full names of the ``nn.Linear`` modules of one part of an image-text model, for peft's
    ``LoraConfig(target_modules=...)``: ``"language"`` (the decoder, ``model.language_model``; not ``lm_head``) or
    ``"vision"`` (the vision tower with its projector: ``model.visual`` of Qwen2.5-VL, ``model.vision_tower`` +
    ``model.multi_modal_projector`` of LLaVA / Gemma 3). The two lists never share a module, so a LoRA of the
    language model leaves the vision tower untouched (T-VAD tunes the decoder only)."""
    if part not in ("language", "vision"):
        raise ValueError(f"lora_target_modules: part must be 'language' or 'vision', got {part!r}")
    inner = getattr(model, "model", None)
    roots = {"language": ["language_model"], "vision": ["visual", "vision_tower", "multi_modal_projector"]}[part]
    found = [r for r in roots if isinstance(getattr(inner, r, None), torch.nn.Module)]
    if not found:
        raise ValueError(f"lora_target_modules: {type(model).__name__} has no model.{' / model.'.join(roots)} "
                         f"(the {part} part of Qwen2.5-VL, LLaVA or Gemma 3)")
    prefixes = tuple(f"model.{r}." for r in found)
    return [n for n, mod in model.named_modules() if n.startswith(prefixes) and isinstance(mod, torch.nn.Linear)]
