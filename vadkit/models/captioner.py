"""Frame captioners (the :class:`~vadkit.models.base.Captioner` role).

Full profile: BLIP-2 (``Salesforce/blip2-opt-2.7b``), as Ex-VAD and LAVAD use, through
``AutoProcessor`` + ``AutoModelForImageTextToText`` (:class:`HFCaptioner`). Smoke profile: the tiny
zoo's VLM asked :data:`~vadkit.models.prompts.CAPTION_PROMPT` (:class:`VLMCaptioner`). The zoo trains
one vision-language decoder for both roles rather than a separate tiny BLIP-2: a Q-Former adds
parameters and training time without teaching anything on SynthVAD the LLaVA projector does not, and the
2-core budget of the zoo (<= 5 min for all entries) is better spent on one well-trained model.
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
