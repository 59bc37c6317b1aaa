"""Model backends, one factory per role, each configured by a *name*.

=====================  ================================  ===========================================
factory                full profile (HF / open_clip)       smoke profile (tiny zoo)
=====================  ================================  ===========================================
:func:`load_clip`      ``"ViT-B-16:openai"``                ``"zoo:tiny-clip"``
:func:`load_captioner` ``"Salesforce/blip2-opt-2.7b"``      ``"zoo:tiny-captioner"``
:func:`load_llm`       ``"meta-llama/Llama-3.1-8B-Instruct"`` ``"zoo:tiny-llm"``
:func:`load_vlm`       ``"Qwen/Qwen2.5-VL-7B-Instruct"``     ``"zoo:tiny-vlm"``
:func:`load_text_embedder` ``"minilm"`` (both profiles) or any sentence-transformers id
=====================  ================================  ===========================================

A name is (1) ``"zoo:<entry>"``: trained on SynthVAD on first use and cached (:mod:`vadkit.models.zoo`),
then loaded from its directory; (2) a local directory written by ``save_pretrained``; (3) a hub id.
(1) and (2) go through exactly the loader (3) uses, so the smoke profile runs the full-profile code. A CLIP
name may also be ``"<arch>:/path/checkpoint.safetensors"`` (a local checkpoint in place of the pretrained tag;
the rehearsal fixtures of :mod:`vadkit.models.rehearsal` are named this way).
Offline with no cached weights, (3) raises :class:`~vadkit.errors.ModelNotFoundError`.

LLM outputs are cached per item by :func:`cached_generate` (prompt + model + generation config).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Mapping

from vadkit.errors import ModelNotFoundError
from vadkit.models.base import LLM, VLM, CLIPBackend, Captioner, GenerationConfig, TextEmbedder

__all__ = ["load_clip", "load_captioner", "load_llm", "load_vlm", "load_text_embedder", "cached_generate",
           "resolve_name", "model_identity", "GenerationConfig", "CLIPBackend", "Captioner", "LLM", "VLM", "TextEmbedder"]


def resolve_name(name: str) -> tuple[str, str]:
    """``(kind, location)``: kind is ``"zoo"`` (location = trained directory), ``"local"`` or ``"hub"``."""
    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(f"model name must be a non-empty string, got {name!r}")
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
    """A string that changes whenever the model behind ``name`` does (for keys of caches of its outputs).

    ``zoo:<entry>``: the entry's content-addressed directory name (config + data hash; nothing is trained),
    plus, once trained, the digest below (``--force`` retrains into the same directory);
    a local directory: its resolved path plus a digest of its files' names, sizes and modification times;
    an open_clip ``arch:/checkpoint/file``: the resolved file plus a digest of its size and modification time;
    a hub id: the id itself (pin a revision by downloading it to a directory).
    """
    from vadkit.io_utils import content_hash

    def files_digest(d: Path) -> str:
        files = sorted((str(f.relative_to(d)), f.stat().st_size, f.stat().st_mtime_ns) for f in d.rglob("*")
                       if f.is_file())
        return content_hash(files, 12)

    if name.startswith("zoo:"):
        from vadkit.models import zoo

        d = zoo.entry_dir(name[4:])
        return f"{d.name}#{files_digest(d)}" if d.is_dir() else d.name
    p = Path(name).expanduser()
    if p.is_dir():
        return f"{p.resolve()}#{files_digest(p)}"
    arch, _, ckpt = name.partition(":")
    if ckpt.startswith((".", "/", "~")) and Path(ckpt).expanduser().is_file():  # open_clip "arch:/checkpoint"
        f = Path(ckpt).expanduser().resolve()
        return f"{arch}:{f}#{content_hash([f.stat().st_size, f.stat().st_mtime_ns], 12)}"
    return name


def load_clip(name: str = "zoo:tiny-clip", device=None, precision: str = "fp32"):
    """open_clip model -> :class:`vadkit.models.clip.ClipModel` (``precision="bf16"`` autocasts on CUDA)."""
    from vadkit.models.clip import load_open_clip

    kind, loc = resolve_name(name)
    clip = load_open_clip(loc, device=device, precision=precision)
    clip.name = name
    return clip


def load_llm(name: str = "zoo:tiny-llm", device=None, *, lora: str | None = None):
    """Causal LM -> :class:`vadkit.models.llm.HFLLM`."""
    from vadkit.models.llm import load_hf_llm

    _, loc = resolve_name(name)
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


def cached_generate(llm, prompts: Mapping[str, str], cache_dir, config: GenerationConfig | None = None,
                    *, progress: bool = True) -> dict[str, str]:
    """Generate a completion per key, caching each one as an atomic JSON file.

    ``cache_dir/<key-hash>.json`` holds ``{key, prompt, model, config, output}``. A cached entry is reused
    only when prompt, model name and generation config all match; otherwise it is regenerated and
    overwritten. Re-running an interrupted job generates only the missing items. Returns ``{key: text}``.
    """
    from tqdm.auto import tqdm

    from vadkit.io_utils import atomic_write_json, content_hash

    config = config or GenerationConfig()
    cfg = dataclasses.asdict(config)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    todo: list[str] = []
    for key, prompt in prompts.items():
        f = cache_dir / f"{content_hash(str(key), 24)}.json"
        if f.is_file():
            try:
                rec = json.loads(f.read_text())
            except json.JSONDecodeError:
                rec = None  # a corrupt entry (should not happen with atomic writes): regenerate
            if rec and rec.get("prompt") == prompt and rec.get("model") == llm.name and rec.get("config") == cfg:
                out[key] = rec["output"]
                continue
        todo.append(key)
    bs = max(1, config.batch_size)
    bar = tqdm(total=len(todo), desc=f"generate ({llm.name})", disable=not progress or not todo, leave=False)
    for i in range(0, len(todo), bs):
        keys = todo[i:i + bs]
        texts = llm.generate([prompts[k] for k in keys], config)
        for k, t in zip(keys, texts):
            atomic_write_json(cache_dir / f"{content_hash(str(k), 24)}.json",
                              {"key": str(k), "prompt": prompts[k], "model": llm.name, "config": cfg, "output": t})
            out[k] = t
        bar.update(len(keys))
    bar.close()
    return {k: out[k] for k in prompts}
