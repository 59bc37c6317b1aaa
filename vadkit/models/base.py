"""One interface per model role. Full profile: Hugging Face / open_clip checkpoints. Smoke: the tiny zoo.

Both kinds are built by the same factory functions in :mod:`vadkit.models` from a *name*:

* a tiny-zoo entry, written ``"zoo:<entry>"`` (e.g. ``"zoo:tiny-clip"``), trained on SynthVAD on first
  use and cached ("train or load");
* a local directory saved with ``save_pretrained`` (how tests exercise the full-profile loading code);
* a hub id such as ``"Salesforce/blip2-opt-2.7b"`` (full profile, needs the network or a warm HF cache).

Roles and their contracts (shapes in the docstrings):

=================  =======================================================================
role               methods
=================  =======================================================================
CLIPBackend        ``encode_images(frames) -> [N, D]``, ``encode_texts(texts) -> [N, D]``,
                   ``tokenize``, ``model`` (the open_clip model, for prompt learning)
Captioner          ``caption(frames, prompt=None) -> list[str]``
LLM                ``generate(prompts, max_new_tokens=..., ...) -> list[str]``, ``chat(messages)``
VLM                ``chat(frames, messages) -> str``
TextEmbedder       ``encode(texts) -> [N, D]`` L2-normalised float32
=================  =======================================================================

Frames are always ``uint8`` arrays ``[N, H, W, 3]`` RGB (or a list of ``[H, W, 3]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass
class GenerationConfig:
    """Explicit generation settings, recorded with every cached LLM/VLM output."""

    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_beams: int = 1
    repetition_penalty: float = 1.0
    batch_size: int = 8
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class CLIPBackend(Protocol):
    name: str
    embed_dim: int
    image_size: int

    def encode_images(self, frames: np.ndarray | Sequence[np.ndarray], *, normalize: bool = True) -> "Any":
        """``[N, H, W, 3]`` uint8 -> ``torch.Tensor [N, D]`` (float32, CPU)."""

    def encode_texts(self, texts: Sequence[str], *, normalize: bool = True) -> "Any":
        """``N`` strings -> ``torch.Tensor [N, D]``."""


@runtime_checkable
class Captioner(Protocol):
    name: str

    def caption(self, frames: np.ndarray | Sequence[np.ndarray], prompt: str | None = None) -> list[str]:
        ...


@runtime_checkable
class LLM(Protocol):
    name: str

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> list[str]:
        ...

    def chat(self, messages: list[dict[str, str]], config: GenerationConfig | None = None) -> str:
        ...


@runtime_checkable
class VLM(Protocol):
    name: str

    def chat(self, frames: np.ndarray | Sequence[np.ndarray], messages: list[dict[str, str]],
             config: GenerationConfig | None = None) -> str:
        ...


@runtime_checkable
class TextEmbedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``N`` strings -> ``[N, dim]`` float32, L2-normalised."""
