"""Vision-language models for images and video with multi-turn chat (the :class:`~vadkit.models.base.VLM` role).

Full profile: ``AutoModelForImageTextToText`` + ``AutoProcessor`` (Qwen2.5-VL-7B as T-VAD uses, LLaVA, ...).
Smoke profile: the tiny zoo's ``LlavaForConditionalGeneration`` (CLIP vision tower + projector + Llama
decoder) saved with ``save_pretrained``, loaded by the same :func:`load_hf_vlm`.

A video is passed as ``K`` frames ``[K, H, W, 3]``; each frame becomes one image entry of the first
user turn (models with a native video input, e.g. Qwen2.5-VL, still accept this form).
"""

from __future__ import annotations

import copy
from pathlib import Path

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
