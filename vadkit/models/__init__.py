"""Model backends, one factory per role, each configured by a *name*.

=====================  ================================  ===========================================
factory                full profile (HF / open_clip)       smoke profile (tiny zoo)
=====================  ================================  ===========================================
:func:`load_clip`      ``"ViT-B-16:openai"``                ``"zoo:tiny-clip"``
:func:`load_captioner` ``"Salesforce/blip2-opt-2.7b"``      ``"zoo:tiny-captioner"``
:func:`load_llm`       ``"meta-llama/Llama-3.1-8B-Instruct"`` ``"zoo:tiny-llm"``
:func:`load_vlm`       ``"Qwen/Qwen2.5-VL-7B-Instruct"``     ``"zoo:tiny-vlm"``
:func:`load_describer` any VLM name (two crops, one question)  ``"zoo:tiny-describer"``
:func:`load_text_embedder` ``"minilm"`` (both profiles) or any sentence-transformers id
=====================  ================================  ===========================================

Each smoke entry is a tiny model of the full profile's class where one exists: ``zoo:tiny-vlm`` is a
``Qwen2_5_VLForConditionalGeneration`` with Qwen2.5-VL's processor and chat format, so vision-layer taps
(:meth:`vadkit.models.vlm.HFVLM.vision_layer_features`) and LoRA targets (:func:`vadkit.models.vlm.lora_target_modules`)
take the same path in both profiles.

A name is (1) ``"zoo:<entry>"``: trained on SynthVAD on first use and cached (:mod:`vadkit.models.zoo`),
then loaded from its directory; (2) a local directory written by ``save_pretrained``; (3) a hub id; or
``"pkg:<entry>"``: real weights shipped in a pip package, digest-checked (:mod:`vadkit.models.packaged`;
``load_llm("pkg:gemma3-270m")``, the Gemma-3-270m base model, no chat template).
(1) and (2) go through exactly the loader (3) uses, so the smoke profile runs the full-profile code. A CLIP
name may also be ``"<arch>:/path/checkpoint.safetensors"`` (a local checkpoint in place of the pretrained tag;
the rehearsal fixtures of :mod:`vadkit.models.rehearsal` are named this way).
Offline with no cached weights, (3) raises :class:`~vadkit.errors.ModelNotFoundError`.

Every model call (LLM generation, VLM chat, frame caption) is cached by :mod:`vadkit.models.calls`, keyed by the
model's identity (:func:`model_identity`), the prompt, the decoding settings and the inputs' content hash.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Mapping

from vadkit.errors import ModelNotFoundError
from vadkit.models.base import LLM, VLM, CLIPBackend, Captioner, GenerationConfig, TextEmbedder

__all__ = ["load_clip", "load_captioner", "load_llm", "load_vlm", "load_describer", "load_text_embedder", "cached_generate",
           "resolve_name", "model_identity", "GenerationConfig", "CLIPBackend", "Captioner", "LLM", "VLM", "TextEmbedder"]


def resolve_name(name: str) -> tuple[str, str]:
    """``(kind, location)``: kind is ``"zoo"`` (location = trained directory), ``"local"``, ``"hub"`` or ``"pkg"``
    (location = the entry of :mod:`vadkit.models.packaged`, checked to exist; nothing is read yet)."""
    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(f"model name must be a non-empty string, got {name!r}")
    if name.startswith("pkg:"):
        from vadkit.models import packaged

        return "pkg", packaged.entry(name[4:]).name
    if name.startswith("zoo:"):
        from vadkit.models import zoo

        return "zoo", str(zoo.train_or_load(name[4:]))
    p = Path(name).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ModelNotFoundError(f"{p}: a model path must be a save_pretrained directory")
        return "local", str(p)
    if name.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"{p}: model directory does not exist")
    return "hub", name


def model_identity(name: str) -> str:
    """A string that changes whenever the model behind ``name`` does (keys of caches of its outputs).

    ``zoo:<entry>``: the entry's content-addressed directory name plus, once trained, its weights digest
    (:func:`vadkit.identity.weights_digest`; ``--force`` retrains into the same directory); a local directory or
    file: its weights digest (the same weights give the same identity wherever they lie); a hub id: the id itself
    (pin a revision by downloading it to a directory). See :mod:`vadkit.identity`.
    """
    from vadkit.identity import weights_digest

    if name.startswith("pkg:"):
        from vadkit.models import packaged

        return packaged.identity(name[4:])
    if name.startswith("zoo:"):
        from vadkit.models import zoo

        d = zoo.entry_dir(name[4:])
        return f"{d.name}#{weights_digest(d)}" if d.is_dir() else d.name
    p = Path(name).expanduser()
    if p.exists():
        return f"local#{weights_digest(p)}"
    if ":" in name:                                   # open_clip "arch:/checkpoint/file" (a local checkpoint)
        arch, _, ckpt = name.partition(":")
        if ckpt.startswith((".", "/", "~")) and Path(ckpt).expanduser().is_file():
            return f"{arch}:local#{weights_digest(Path(ckpt).expanduser())}"
    return name


def load_clip(name: str = "zoo:tiny-clip", device=None, precision: str = "fp32"):
    """open_clip model -> :class:`vadkit.models.clip.ClipModel` (``precision="bf16"`` autocasts on CUDA)."""
    from vadkit.models.clip import load_open_clip

    from vadkit.models.lit import is_lit_dir, load_lit

    kind, loc = resolve_name(name)
    if kind != "hub" and is_lit_dir(loc):      # the zoo's LiT: frozen packaged towers + trained heads
        return load_lit(loc, name=name, device=device)
    clip = load_open_clip(loc, device=device, precision=precision)
    clip.name = name
    return clip


def load_llm(name: str = "zoo:tiny-llm", device=None, *, lora: str | None = None):
    """Causal LM -> :class:`vadkit.models.llm.HFLLM` (``"pkg:..."``: a shared per-process instance)."""
    from vadkit.models.llm import load_hf_llm

    kind, loc = resolve_name(name)
    if kind == "pkg":
        from vadkit.models.packaged import load_gemma

        return load_gemma(device, name=loc, lora=lora)     # cached per process; name is "pkg:<entry>"
    llm = load_hf_llm(loc, device, lora=lora)
    llm.name = name
    return llm


def load_vlm(name: str = "zoo:tiny-vlm", device=None):
    """Image/video-text model -> :class:`vadkit.models.vlm.HFVLM`."""
    from vadkit.models.vlm import load_hf_vlm

    _, loc = resolve_name(name)
    vlm = load_hf_vlm(loc, device)
    vlm.name = name
    return vlm


def load_describer(name: str = "zoo:tiny-describer", device=None):
    """Crop-pair describer (:mod:`vadkit.models.describer`): the zoo's ``tiny-describer`` (a CNN-prefix decoder on
    pixels), or any VLM name, asked with both crops as two images."""
    from vadkit.models.describer import VLMDescriber, is_prefix_describer, load_prefix_describer

    kind, loc = resolve_name(name)
    if kind != "hub" and is_prefix_describer(loc):
        return load_prefix_describer(loc, device, name=name)
    return VLMDescriber(load_vlm(name, device))


def load_captioner(name: str = "zoo:tiny-captioner", device=None):
    """Captioner: a BLIP-2-style hub model; a CLIP-prefix captioner directory (the zoo's ``tiny-captioner``); or a
    zoo VLM asked to caption."""
    from vadkit.models.captioner import VLMCaptioner, is_prefix_captioner, load_hf_captioner, load_prefix_captioner
    from vadkit.models.vlm import load_hf_vlm

    kind, loc = resolve_name(name)
    if kind != "hub" and is_prefix_captioner(loc):
        return load_prefix_captioner(loc, device, name=name)
    if kind == "zoo":
        vlm = load_hf_vlm(loc, device)
        vlm.name = name
        return VLMCaptioner(vlm)
    cap = load_hf_captioner(loc, device)
    cap.name = name
    return cap


def load_text_embedder(name: str = "minilm", device=None):
    """Sentence embedder -> :class:`vadkit.models.text.SentenceEmbedder` (``encode -> [N, dim]`` normalised)."""
    from vadkit.models.text import load_sentence_embedder

    return load_sentence_embedder(name, device)


def cached_generate(llm, prompts: Mapping[str, str], cache_dir=None, config: GenerationConfig | None = None,
                    *, progress: bool = True) -> dict[str, str]:
    """LLM completions ``{key: text}``, each cached by model identity, prompt and settings.

    See :mod:`vadkit.models.calls` (one cache for every model call); ``cache_dir`` is that cache's root
    (``None``: the default).
    """
    from vadkit.models.calls import cached_generate as _cached

    return _cached(llm, prompts, cache_dir, config, progress=progress)
