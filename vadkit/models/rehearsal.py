"""Tiny random-weight instances of the full profile's model classes: the rehearsal fixtures.

The full profile of every chapter is rehearsed in tests (``pytest -m rehearsal``) on SynthVAD written in a
real dataset's layout (:mod:`vadkit.data.layouts`) with these models in place of the real checkpoints:
the **same classes, the same serialisation and the same loaders** as the hub ids the full profile names,
at toy sizes and with random weights, built offline in seconds and cached. Only the parameter values
differ from a user's run.

===============  ==========================================  ========================================  ==========================
fixture          class (full profile's model)                 how a chapter parameter names it         loader
===============  ==========================================  ========================================  ==========================
``clip``         open_clip ``CLIP`` + ``VisionTransformer``   ``clip_name()`` =                         :func:`vadkit.models.load_clip`
                 (``ViT-B-16:openai``)                        ``"ViT-Tiny-rehearsal:<dir>/open_clip_model.safetensors"``
``clip_resnet``  open_clip ``CLIP`` + ``ModifiedResNet``       ``clip_resnet_name()`` =                  :func:`vadkit.models.load_clip`
                 (``RN50:openai``, AnomalyCLIP's tower here)  ``"RN50-Tiny-rehearsal:<dir>/open_clip_model.safetensors"``
``blip2``        ``Blip2ForConditionalGeneration`` +          ``str(path("blip2"))``                    :func:`vadkit.models.load_captioner`
                 ``Blip2Processor`` (``Salesforce/blip2-opt-2.7b``; OPT decoder)
``llama``        ``LlamaForCausalLM`` + fast tokenizer with   ``str(path("llama"))``                    :func:`vadkit.models.load_llm`
                 a Llama-3 chat template (``meta-llama/Llama-3.1-8B-Instruct``; Vicuna is the same class)
``qwen2_5_vl``   ``Qwen2_5_VLForConditionalGeneration`` +     ``str(path("qwen2_5_vl"))``               :func:`vadkit.models.load_vlm`
                 ``Qwen2_5_VLProcessor`` (``Qwen/Qwen2.5-VL-7B-Instruct``, T-VAD's backbone; built by
                 :func:`vadkit.models.vlm.new_qwen2_5_vl`, as the zoo's ``tiny-vlm`` is)
``gemma3``       ``Gemma3ForConditionalGeneration`` +         ``str(path("gemma3"))``                   :func:`vadkit.models.load_vlm`
                 ``Gemma3Processor`` (Gemma 3 4B+, MLLM-EVAD's VLM)
``detector``     torchvision ``fasterrcnn_mobilenet_v3_large_320_fpn``  ``str(path("detector"))``       :func:`load_detector` (builder + safetensors)
===============  ==========================================  ========================================  ==========================

What is kept from the real model (so that parameters such as tapped layer indices, LoRA layer lists or
feature widths mean the same thing in the rehearsal): **CLIP** ViT-B/16's 12 vision and 12 text blocks,
patch 16 at 224 px (196 patch tokens), context 77, the real open_clip BPE vocabulary (49408) and the
512-d embedding, QuickGELU (OpenAI weights); widths 64 (vision) / 32 (text). **CLIP RN50** (chapter 32's
AnomalyCLIP taps the four ResNet stages and reads the attention pool densely): RN50's bottleneck counts
[3, 4, 6, 3], 224 px (stage grids 56, 28, 14, 7), the attention pool and the 1024-d embedding, the same text
tower as above; stem width 8 instead of 64 (stage channels 32-256 instead of 256-2048). **Qwen2.5-VL** 7B's 32
vision blocks with full attention at blocks 7, 15, 23, 31 and 112-px windows, patch 14, 2 x 2 spatial
merge, temporal patch 2, the real processor defaults (min/max pixels, CLIP mean/std), 28 decoder layers
with grouped-query attention and M-RoPE (section 2:3:3 of the rotary half); widths 32 / 64. **BLIP-2**
32 query tokens, patch 14 at 224 px, an OPT decoder. **Llama** grouped-query attention, rope theta
500000, untied embeddings, ``<|eot_id|>`` end of turn. **Gemma 3** a SigLIP tower and the pooled image
tokens between ``<start_of_image>`` / ``<end_of_image>``; 224 px and 16 image tokens instead of 896 px and
256 (a 4096-patch SigLIP pass is too slow for a CPU rehearsal). Tokenizers are byte-level BPEs trained
on a small built-in text (any string encodes), with the real models' special tokens and chat-template
formats; they are not the real vocabularies (except CLIP's).

Each fixture is built once into ``vadkit.paths.cache_dir() / "rehearsal" / "<name>-<version>"`` (built in
a hidden sibling folder and renamed, under a file lock; ``fixture.json`` records the class, the build
settings and the sha256 of every file, :func:`verify` checks them) and loads offline
(``HF_HUB_OFFLINE=1``). Weights are seeded, so a rebuild gives the same files.

>>> from vadkit.models import rehearsal                              # doctest: +SKIP
>>> load_clip(rehearsal.clip_name())                                 # doctest: +SKIP
>>> load_llm(str(rehearsal.path("llama")))                           # doctest: +SKIP
>>> rehearsal.names()   # {"clip": ..., "captioner": ..., "llm": ..., "vlm": ..., ...}  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import torch

from vadkit.errors import ModelNotFoundError
from vadkit.models.vlm import QWEN_VL_CHAT_TEMPLATE as _QWEN_VL_CHAT_TEMPLATE

REHEARSAL_VERSION = "1.0.0"
OPEN_CLIP_ARCH = "ViT-Tiny-rehearsal"
OPEN_CLIP_RESNET_ARCH = "RN50-Tiny-rehearsal"
FIXTURE_FILE = "fixture.json"
SEED = 0

#: Text the fixtures' byte-level BPEs are trained on: the book's prompt vocabulary and SynthVAD's words.
#: Any string still encodes (byte fallback); this only decides which words get their own tokens.
CORPUS = (
    "a person walks along the walkway. a man runs across the plaza. a woman sits on the bench.",
    "a car drives on the road. a bicycle rides in the bike lane. a car drives on the walkway.",
    "two people fight near the bench. a car hits a person crossing the street. two cars collide.",
    "a thief snatches a bag and runs away. a person falls down and lies on the ground. "
    "a person lingers and paces back and forth. a cyclist rides against the traffic.",
    "Here are captions of frames from a surveillance video, in temporal order. Is anything anomalous "
    "happening? Explain what is anomalous, who is involved, where and when. If nothing is anomalous, say "
    "that the scene is normal.",
    "Give short phrases that describe what a surveillance camera shows for the event category. One phrase "
    "per line. Describe this frame in one sentence. You are a surveillance video analyst. Answer briefly "
    "and truthfully. Yes. No. Is there any anomaly in the video? Yes, there are anomalies from 1.5s to 2s.",
    "If you were a law enforcement agency, how would you rate the scene described on a scale from 0 to 1, "
    "with 0 representing a standard scene and 1 representing a scene with suspicious activities? "
    "0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1",
    "normal running wrong way car on walkway falling loitering fighting collision theft abuse explosion "
    "shooting riot accident street plaza park campus person car bicycle red blue green white black",
)


# ---------------------------------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------------------------------
def root() -> Path:
    from vadkit.paths import cache_dir

    return cache_dir() / "rehearsal"


def _dir(name: str) -> Path:
    return root() / f"{name}-{REHEARSAL_VERSION}"


def _file_digests(d: Path) -> dict[str, str]:
    from vadkit.io_utils import sha256_file

    return {str(p.relative_to(d)): sha256_file(p) for p in sorted(d.rglob("*"))
            if p.is_file() and p.name != FIXTURE_FILE}


def path(name: str, *, force: bool = False) -> Path:
    """The directory of fixture ``name`` (built on first use; see :data:`BUILDERS`)."""
    from vadkit.data.synth.builder import _file_lock
    from vadkit.io_utils import atomic_write_json

    if name not in BUILDERS:
        raise ModelNotFoundError(f"unknown rehearsal fixture {name!r}; known: {', '.join(BUILDERS)}")
    d = _dir(name)
    if (d / FIXTURE_FILE).is_file() and not force:
        return d
    d.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(d.parent / f".{d.name}.lock"):
        if (d / FIXTURE_FILE).is_file() and not force:
            return d  # another process built it while we waited
        tmp = d.parent / f".{d.name}.partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        torch.manual_seed(SEED)
        info = BUILDERS[name](tmp)
        atomic_write_json(tmp / FIXTURE_FILE, {"name": name, "version": REHEARSAL_VERSION, "seed": SEED, **info,
                                               "files": _file_digests(tmp)})
        if d.exists():
            shutil.rmtree(d)
        os.rename(tmp, d)
    return d


def verify(name: str) -> dict:
    """Re-hash fixture ``name``'s files against its ``fixture.json``; raises on a mismatch. Returns the record."""
    d = path(name)
    rec = json.loads((d / FIXTURE_FILE).read_text())
    now = _file_digests(d)
    if now != rec["files"]:
        bad = sorted(k for k in set(now) | set(rec["files"]) if now.get(k) != rec["files"].get(k))
        raise ModelNotFoundError(f"{d}: rehearsal fixture files changed or missing ({bad[:5]}); rebuild with "
                                 f"vadkit.models.rehearsal.path({name!r}, force=True)")
    return rec


def clip_name() -> str:
    """The CLIP name a chapter parameter takes: ``"ViT-Tiny-rehearsal:<dir>/open_clip_model.safetensors"``
    (the full profile's form ``"ViT-B-16:openai"`` with a local checkpoint in place of the tag)."""
    return f"{OPEN_CLIP_ARCH}:{path('clip') / 'open_clip_model.safetensors'}"


def clip_resnet_name() -> str:
    """The ResNet CLIP's name for a chapter parameter: ``"RN50-Tiny-rehearsal:<dir>/open_clip_model.safetensors"``
    (the full profile's ``"RN50:openai"`` with a local checkpoint in place of the tag)."""
    return f"{OPEN_CLIP_RESNET_ARCH}:{path('clip_resnet') / 'open_clip_model.safetensors'}"


def names() -> dict[str, str]:
    """``{role: name}`` for chapter parameters: clip, clip_resnet, captioner (BLIP-2), llm (Llama), vlm
    (Qwen2.5-VL), vlm_gemma3, detector. Builds any fixture that is missing."""
    return {"clip": clip_name(), "clip_resnet": clip_resnet_name(), "captioner": str(path("blip2")),
            "llm": str(path("llama")),
            "vlm": str(path("qwen2_5_vl")), "vlm_gemma3": str(path("gemma3")), "detector": str(path("detector"))}


# ---------------------------------------------------------------------------------------------------
# tokenizers
# ---------------------------------------------------------------------------------------------------
def byte_bpe(specials: list[str], vocab_size: int = 1024, *, post_bos: str | None = None, texts=None, **named):
    """A byte-level BPE trained on :data:`CORPUS` (or on ``texts``, e.g. the zoo's training text) ->
    ``PreTrainedTokenizerFast`` (offline, deterministic).

    ``specials`` get the first ids; ``named`` maps roles (``bos_token``, ``eos_token``, ``pad_token``, or
    extra names such as ``image_token``) to tokens; ``post_bos`` prepends that token when
    ``add_special_tokens=True`` (as OPT's and Gemma's tokenizers do with their BOS).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(CORPUS) * 4 if texts is None else list(texts), trainer)
    if post_bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{post_bos} $A", pair=f"{post_bos} $A $B", special_tokens=[(post_bos, tok.token_to_id(post_bos))])
    roles = {k: v for k, v in named.items() if k in ("bos_token", "eos_token", "pad_token", "unk_token")}
    extra = {k: v for k, v in named.items() if k not in roles}
    kw = {"extra_special_tokens": extra} if extra else {}
    return PreTrainedTokenizerFast(tokenizer_object=tok, **roles, **kw)


LLAMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{% if m['content'] is string %}{{ m['content'] | trim }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'text' %}{{ c['text'] | trim }}{% endif %}{% endfor %}{% endif %}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)

QWEN_VL_CHAT_TEMPLATE = _QWEN_VL_CHAT_TEMPLATE  # defined with the shared builder in vadkit.models.vlm

GEMMA3_CHAT_TEMPLATE = (  # Gemma has no system role: a system turn is prefixed to the first user turn
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{% set ns.system = (m['content'] if m['content'] is string else m['content'][0]['text']) + '\n\n' %}"
    "{% else %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{% if m['role'] == 'user' %}{{ ns.system }}{% set ns.system = '' %}{% endif %}"
    "{% if m['content'] is string %}{{ m['content'] | trim }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<start_of_image>{% elif c['type'] == 'text' %}{{ c['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


# ---------------------------------------------------------------------------------------------------
# builders: each writes into a folder and returns the record for fixture.json
# ---------------------------------------------------------------------------------------------------
def _count(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _build_clip(d: Path, arch: str = OPEN_CLIP_ARCH) -> dict:
    """An open_clip model of vadkit's config ``arch`` with random weights, OpenAI's preprocessing (224 px,
    shorter side, centre crop, as the released checkpoints)."""
    import open_clip
    from open_clip.transform import PreprocessCfg

    from vadkit.models.clip import ClipModel, register_open_clip_configs

    register_open_clip_configs()
    cfg = open_clip.get_model_config(arch)
    model = open_clip.create_model(arch, pretrained=None, device="cpu")
    open_clip.model.set_model_preprocess_cfg(model, dataclasses_asdict(PreprocessCfg(size=224)))
    ClipModel(model, open_clip.get_tokenizer(arch), name=f"rehearsal-{arch}", arch=arch,
              pretrained=None, model_cfg=cfg).save_pretrained(d)
    return {"class": f"{type(model).__name__} ({type(model.visual).__name__} tower)", "arch": arch,
            "model_cfg": cfg, "parameters": _count(model),
            "load": f"vadkit.models.load_clip('{arch}:<dir>/open_clip_model.safetensors')"}


def _build_clip_resnet(d: Path) -> dict:
    return _build_clip(d, OPEN_CLIP_RESNET_ARCH)


def dataclasses_asdict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)


def _build_blip2(d: Path) -> dict:
    from transformers import (Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, Blip2QFormerConfig,
                              Blip2VisionConfig, BlipImageProcessor, OPTConfig)

    tok = byte_bpe(["<pad>", "</s>", "<unk>"], post_bos="</s>", pad_token="<pad>", bos_token="</s>",
                   eos_token="</s>", unk_token="<unk>")
    ip = BlipImageProcessor(size={"height": 224, "width": 224}, image_mean=[0.48145466, 0.4578275, 0.40821073],
                            image_std=[0.26862954, 0.26130258, 0.27577711])
    proc = Blip2Processor(image_processor=ip, tokenizer=tok, num_query_tokens=32)  # adds the <image> token
    vision = Blip2VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                               image_size=224, patch_size=14)
    qformer = Blip2QFormerConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                 encoder_hidden_size=32, vocab_size=len(tok))
    text = OPTConfig(vocab_size=len(tok), hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=2,
                     word_embed_proj_dim=32, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    cfg = Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(), text_config=text.to_dict(),
                      num_query_tokens=32, image_token_index=tok.convert_tokens_to_ids("<image>"))
    model = Blip2ForConditionalGeneration(cfg).eval()
    model.save_pretrained(d)
    proc.save_pretrained(d)
    return {"class": type(model).__name__, "processor": type(proc).__name__, "parameters": _count(model),
            "load": "vadkit.models.load_captioner('<dir>')"}


def _build_llama(d: Path) -> dict:
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tok = byte_bpe(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                   bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    tok.chat_template = LLAMA3_CHAT_TEMPLATE
    eos = [tok.convert_tokens_to_ids("<|eot_id|>"), tok.convert_tokens_to_ids("<|end_of_text|>")]
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      rope_theta=500000.0, tie_word_embeddings=False, bos_token_id=tok.bos_token_id, eos_token_id=eos)
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=eos)
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return {"class": type(model).__name__, "parameters": _count(model), "load": "vadkit.models.load_llm('<dir>')"}


def _build_qwen2_5_vl(d: Path) -> dict:
    from vadkit.models.vlm import QWEN_VL_SPECIALS, QWEN_VL_TOKEN_ROLES, new_qwen2_5_vl

    tok = byte_bpe(QWEN_VL_SPECIALS, **QWEN_VL_TOKEN_ROLES)
    vision = {"depth": 32, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
              "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
              "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2}
    text = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 28, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}}
    model, proc = new_qwen2_5_vl(tok, vision, text)  # the real processor defaults (patch 14, 28-px factor)
    model.save_pretrained(d)
    proc.save_pretrained(d)
    return {"class": type(model).__name__, "processor": type(proc).__name__, "parameters": _count(model),
            "load": "vadkit.models.load_vlm('<dir>') (AutoModelForImageTextToText + AutoProcessor)"}


def _build_gemma3(d: Path) -> dict:
    from transformers import (Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor,
                              GenerationConfig)

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                "<end_of_image>", "<image_soft_token>"]
    tok = byte_bpe(specials, post_bos="<bos>", pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                   unk_token="<unk>", boi_token="<start_of_image>", eoi_token="<end_of_image>",
                   image_token="<image_soft_token>")
    tok.chat_template = GEMMA3_CHAT_TEMPLATE
    mm_tokens = 16
    ip = Gemma3ImageProcessor(size={"height": 224, "width": 224}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    proc = Gemma3Processor(image_processor=ip, tokenizer=tok, chat_template=GEMMA3_CHAT_TEMPLATE,
                           image_seq_length=mm_tokens)
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    text = {"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "sliding_window": 64,
            "max_position_embeddings": 2048, "pad_token_id": ids["<pad>"], "bos_token_id": ids["<bos>"],
            "eos_token_id": ids["<eos>"]}
    vision = {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 2, "image_size": 224, "patch_size": 14, "vision_use_head": False}
    cfg = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=mm_tokens,
                       boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
                       image_token_index=ids["<image_soft_token>"])
    model = Gemma3ForConditionalGeneration(cfg).eval()
    model.generation_config = GenerationConfig(bos_token_id=ids["<bos>"], pad_token_id=ids["<pad>"],
                                               eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]])
    model.save_pretrained(d)
    proc.save_pretrained(d)
    return {"class": type(model).__name__, "processor": type(proc).__name__, "parameters": _count(model),
            "load": "vadkit.models.load_vlm('<dir>')"}


DETECTOR_FILE = "detector.json"


def _build_detector(d: Path) -> dict:
    from safetensors.torch import save_file
    from torchvision.models import get_model

    from vadkit.io_utils import atomic_write_json

    spec = {"builder": "fasterrcnn_mobilenet_v3_large_320_fpn", "kwargs": {"num_classes": 91}}
    model = get_model(spec["builder"], weights=None, weights_backbone=None, **spec["kwargs"]).eval()
    # fp16 on disk halves the file (random weights: nothing is lost); load_detector casts back to fp32
    save_file({k: v.detach().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
               for k, v in model.state_dict().items()}, str(d / "model.safetensors"))
    atomic_write_json(d / DETECTOR_FILE, spec)
    return {"class": type(model).__name__, **spec, "parameters": _count(model),
            "load": "vadkit.models.rehearsal.load_detector('<dir>')"}


BUILDERS: dict[str, Callable[[Path], dict]] = {
    "clip": _build_clip, "clip_resnet": _build_clip_resnet, "blip2": _build_blip2, "llama": _build_llama, "qwen2_5_vl": _build_qwen2_5_vl,
    "gemma3": _build_gemma3, "detector": _build_detector,
}


def load_detector(directory, device=None):
    """A torchvision detector from ``detector.json`` (``builder`` + ``kwargs`` of ``torchvision.models.get_model``)
    and ``model.safetensors`` (no pickle). The same two steps load a real checkpoint saved that way."""
    from safetensors.torch import load_file
    from torchvision.models import get_model

    d = Path(directory)
    try:
        spec = json.loads((d / DETECTOR_FILE).read_text())
        model = get_model(spec["builder"], weights=None, weights_backbone=None, **spec.get("kwargs", {}))
        state, ref = load_file(str(d / "model.safetensors")), model.state_dict()
        model.load_state_dict({k: v.to(ref[k].dtype) if k in ref else v for k, v in state.items()})
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise ModelNotFoundError(f"{d}: not a readable detector directory ({type(err).__name__}: {err})") from err
    return model.eval().to(device or "cpu")


__all__ = ["REHEARSAL_VERSION", "OPEN_CLIP_ARCH", "OPEN_CLIP_RESNET_ARCH", "BUILDERS", "path", "verify",
           "clip_name", "clip_resnet_name", "names", "byte_bpe",
           "load_detector", "root"]
