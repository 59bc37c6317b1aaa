"""The tiny model zoo: small models of the real classes, trained on SynthVAD, cached ("train or load").

Entries (name -> class; evaluated on the SynthVAD smoke *test* split):

=================  =============================================  ==========================================
entry              class                                          trained on
=================  =============================================  ==========================================
``tiny-clip``      open_clip ``CLIP`` (custom config: frozen      the *pretraining corpus* (800 SynthVAD
                   packaged EfficientNet-Lite0 under a trained    videos of their own seed, never a chapter's
                   attention pool (:mod:`.locked_clip`), 2-block  data): frames <-> captions, frames <->
                   text transformer, open_clip BPE tokenizer)      category prompts, agent crops <-> agents
``tiny-lit``       LiT (:mod:`.lit`): real EfficientNet-Lite0     the pretraining corpus, the tiny CLIP's
                   (ImageNet) and MiniLM towers, both frozen;     pairs; only the heads are trained
                   attention-pool head + text MLP trained
``tiny-llm``       ``LlamaForCausalLM`` + byte-level BPE          the pretraining corpus: AEGM (captions ->
                   tokenizer trained here with ``tokenizers``      explanation) and LAAM (label -> m phrases)
                                                                   with the prompts of :mod:`.prompts`
``tiny-instruct``  ``LlamaForCausalLM`` + the same tokenizer       the pretraining corpus: the generic
                   recipe                                          instruction mix of :mod:`.instructions`
                                                                   (summarise, rate, yes/no, when, phrases)
``tiny-vlm``       ``Qwen2_5_VLForConditionalGeneration`` (T-VAD's the pretraining corpus: frame -> caption
                   class: windowed ViT, 8-px patches, 2 x 2        (CAPTION_PROMPT), clip frames + multi-turn
                   merger, 70 tokens a frame; Qwen2 decoder with   yes/no questions
                   M-RoPE; Qwen2.5-VL processor and chat format)
``tiny-captioner`` ``PrefixCaptioner`` (:mod:`.captioner`: frozen  the tiny CLIP's corpus: frame -> caption;
                   tiny CLIP + linear prefix bridge + Llama)       the CLIP stays frozen (BLIP-2's recipe)
``tiny-describer`` ``PrefixDescriber`` (:mod:`.describer`: CNN     the pretraining corpus' activity windows:
                   over two crops and their difference + Llama)    crops at t, t + 1 s -> single / pair text
=================  =============================================  ==========================================

The tiny CLIP plays the part of a web-pretrained CLIP that the VAD methods keep frozen, so it learns from
data the chapters never train on (:func:`vadkit.data.synth.pretrain_dataset`); trained on the 160 smoke
training videos alone, its frame features carried no anomaly signal on test (zero-shot AUC 0.47). Its image
trunk is real ImageNet features (LiT's locked-image recipe): only the pool over them and the text tower learn
SynthVAD (:class:`ClipTrainConfig` says what the from-scratch ResNet tower it replaced measured).

Each entry lives in ``vadkit.paths.cache_dir()/zoo/<entry>-<hash>`` where the hash covers the training
config, :data:`ZOO_VERSION` and the identity of the SynthVAD data (its ``synthvad.json`` digest, and for an
entry trained on the pretraining corpus, ``pretrain``, every one by default, the corpus' generation request). The
directory is written by the ordinary ``save_pretrained`` of its class and read back by the same loader a
full-profile hub id goes through, plus ``zoo.json`` with the config and the held-out figures:

* tiny-clip: zero-shot accuracy on agent crops (person/car/bicycle) and on frames' event category (9
  classes, plain and balanced), zero-shot frame anomaly AUC (1 - p("normal")), next to chance and to the
  same architecture untrained;
* tiny-instruct: per task of the mix, with a trained template and a never-trained one (:func:`.instructions.
  evaluate_instruct`): rating AUC, yes/no accuracy vs majority, mean IoU of the said anomaly time, summary BLEU-4,
  phrase parse rate, next to the untrained model;
* tiny-describer: BLEU-4 of the activity text on held-out crop pairs (all, anomalous, pair rows), exact matches and
  the share of distinct descriptions, next to the untrained model and to the most frequent training sentence;
* tiny-llm / tiny-vlm / tiny-captioner: BLEU-4 (sacrebleu, corpus level) of explanations / captions against
  the ground truth, next to the untrained model; VLM yes/no accuracy; LLM LAAM phrase parse rate; the
  captioner's and the VLM's share of distinct captions (a captioner that repeats one sentence can still score BLEU-4).

Every training loop is :func:`vadkit.trainer.fit` (through :func:`fit_steps`: one epoch of warm-up + cosine
steps; moving onto it left every entry's weights bit-identical). Training is on CPU with
``torch.set_num_threads(2)``; the entries together take a few minutes. A
directory is built in a temporary sibling and renamed into place, so a crash never leaves a half entry.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vadkit import paths
from vadkit.errors import ModelNotFoundError
from vadkit.io_utils import atomic_dir, atomic_write_json, content_hash

log = logging.getLogger(__name__)

ZOO_VERSION = 2  # 2: tiny CLIP (ResNet tower, whole frame, pretraining corpus); captioner of its own
ENTRIES = ("tiny-clip", "tiny-lit", "tiny-llm", "tiny-instruct", "tiny-vlm", "tiny-captioner", "tiny-describer")
ALIASES: dict[str, str] = {}
AGENT_CLASSES = ("person", "car", "bicycle")


def class_phrase(label: str) -> str:
    """``"car_on_walkway"`` -> ``"car on walkway"``."""
    return label.replace("_", " ")


def class_prompt(label: str) -> str:
    """Text used for zero-shot event classification (the tiny CLIP is trained with it)."""
    return f"a surveillance frame showing {class_phrase(label)}"


def agent_prompt(agent: str) -> str:
    return f"a photo of a {agent}"


@dataclass
class ClipTrainConfig:
    """The tiny CLIP: an open_clip ``CLIP`` whose image tower is the packaged ImageNet EfficientNet-Lite0, frozen,
    under a trained attention pool (:mod:`vadkit.models.locked_clip`), and whose 2-block text transformer is
    trained from scratch, contrastively, on the pretraining corpus (:func:`vadkit.data.synth.pretrain_dataset`).
    The frozen layer4 maps of every training frame (``image_size`` square) and agent crop (``crop_size``) are
    computed once, so a step costs only the pool and the text tower.

    Why a locked real tower (zoo v3): the previous tiny CLIP, a 96-px ModifiedResNet trained from scratch
    (``tower="resnet"``, kept), cost 813 s of the zoo's cold build on 2 cores (0.93 s a step, intrinsic), never
    read a frame as "normal" (normal recall 0.0; event balanced accuracy 0.136-0.167, chance 0.111) and gave
    chapter 02's linear probe frame AUC 0.58: its features barely saw SynthVAD's anomalies. Frozen ImageNet
    features with the same probe reached 0.63 (layer4, pooled), the LiT head on them 0.65.
    Measured (2026-12-04, 2 threads): 227 s (94 s of it the frozen pass); agent / event balanced accuracy 0.85 /
    0.35, zero-shot frame AUC 0.64, chapter 02's probe 0.59 on the smoke world; cold in ``vadkit zoo train`` (one
    thread beside another worker, the pass now shared with tiny-lit and the captioner: :func:`corpus_maps`) 257 s
    (122 s the pass), 0.85 / 0.33, AUC 0.65, probe 0.62 (same recipe and data; CPU batches of 4, not 16, which
    change float rounding only); on the sparse world variant of
    ``benchmarks/world_probe.py`` 0.82 / 0.41 / 0.74 and a probe of 0.73 (the ResNet tower: 0.07 event, probe 0.56).
    Why a ResNet-style tower at all (not a ViT): on SynthVAD an anomaly covers a few hundred of 19 200 pixels;
    2-block ViTs from scratch kept test balanced event accuracy at 0.13-0.19 (``tower="vit"`` keeps that option).
    Why the pretraining corpus: trained on the 160 smoke training videos alone, any frame encoder memorised them
    (a supervised CNN: train balanced accuracy 0.97, test 0.14, chance 0.11; with the corpus, test 0.25).
    """

    tower: str = "locked"              # locked (frozen EfficientNet-Lite0) | resnet (ModifiedResNet) | vit
    image_size: int = 224              # locked: the weights' own resolution (resnet was trained at 96)
    crop_size: int = 96                # locked: agent crops (a 3 x 3 layer4 map; the pool's grid is resized)
    pool_heads: int = 8                # locked: attention-pool heads over the 320 layer4 channels
    resize_mode: str = "squash"        # whole 4:3 frame -> S x S (a centre crop cut 20 px off each side)
    patch_size: int = 8                # vit only
    vision_width: int = 32             # resnet: stem width (stage 4 has 32 * vision_width channels); vit: width
    vision_layers: int = 2             # vit only
    resnet_layers: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    text_width: int = 64
    text_layers: int = 2
    heads: int = 4
    embed_dim: int = 64
    context_length: int = 32
    # the sampling of the LiT entry (2 uniform frames a video + one every 32 anomalous frames, 2 agent crops
    # each): the frozen pass over them is most of the cost (~37 ms a 224-px frame on one thread)
    frames_per_video: int = 2
    anomalous_stride: int = 32
    max_crops: int = 2                 # agent crops per sampled frame (agent <-> "a photo of a {agent}" pairs)
    steps: int = 600
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    augment: bool = True               # resnet/vit: random shift and gain/offset jitter (locked: maps fixed)
    # resnet/vit: image forward/backward in chunks of 16 (0: the whole batch at once); BatchNorm then normalises
    # each chunk with its own statistics ("ghost" batch norm) while the contrastive loss sees all pairs
    micro_batch: int = 16
    # kinds of pairs, one kind per step, cycled: caption (frame <-> its caption), event (frame <-> its category
    # prompt, class-balanced), agent (agent crop <-> "a photo of a {agent}"). Without agent steps the agent
    # prompts were read at chance (balanced accuracy 0.34, chance 0.33) although the captions name every agent;
    # with them (one step in 5) 0.83, at the price of a slightly weaker event read-out (0.17 vs 0.16-0.25).
    schedule: list[str] = field(default_factory=lambda: ["caption", "event", "caption", "event", "agent"])
    pretrain: bool = True              # train on the pretraining corpus (False: on the given root's train split)
    seed: int = 0


@dataclass
class LitTrainConfig:
    """The LiT tiny CLIP (:mod:`vadkit.models.lit`): the real EfficientNet-Lite0 and MiniLM towers, frozen; an
    attention-pooling image head, a text MLP and the logit scale trained contrastively on the pretraining corpus
    with the tiny CLIP's three kinds of pairs and schedule. The frozen stage-7 maps of every training frame
    (``image_size``) and agent crop (``crop_size``, the head's positional grid resized) are computed once, so a
    step costs only the heads."""

    # (H, W). Square, as the tiny CLIP's (the whole 4:3 frame squashed): the frozen maps are then the very ones
    # the tiny CLIP trains on (:func:`corpus_maps`), read, not computed again. Measured cold on 2 cores
    # (2026-12-04): 4:3 192 x 256 cost 366 CPU-s of its own pass, 224 x 224 shared 152 s in all (0 s of pass);
    # held-out agent / event balanced accuracy 0.91 / 0.35 -> 0.87 / 0.31, zero-shot frame AUC 0.62 -> 0.60, probe
    # 0.65 -> 0.63: a small loss for the zoo's 12-minute budget (the whole zoo: 1524 -> 616 s wall)
    image_size: list[int] = field(default_factory=lambda: [224, 224])
    crop_size: list[int] = field(default_factory=lambda: [96, 96])
    width: int = 192
    embed_dim: int = 128
    heads: int = 4
    # the frozen pass over the training frames is most of this entry's cost (~37 ms a frame at 192 x 256 on one
    # thread). Measured at 192 x 256 on the same corpus and test split: 4 uniform frames a video + one every 16
    # anomalous frames (6 789 frames, 1 crop each) took 691 CPU-s; 2 + one every 32 (3 488 frames, 2 crops each, so as
    # many agent pairs: a crop costs a tenth of a frame) 366 CPU-s, with agent balanced accuracy 0.97 -> 0.91, event
    # 0.27 -> 0.35, zero-shot frame AUC 0.56 -> 0.62, chapter 02's linear probe 0.62 -> 0.65 (1 crop each: 354 CPU-s,
    # agent 0.88, probe 0.63)
    frames_per_video: int = 2
    anomalous_stride: int = 32
    max_crops: int = 2
    steps: int = 1200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    schedule: list[str] = field(default_factory=lambda: ["caption", "event", "caption", "event", "agent"])
    pretrain: bool = True
    seed: int = 0

    def head_config(self) -> dict:
        """The :func:`vadkit.models.lit.new_lit` head settings of this config."""
        return {"image_size": list(self.image_size), "width": self.width, "embed_dim": self.embed_dim,
                "heads": self.heads}


@dataclass
class LMTrainConfig:
    vocab_size: int = 1200
    hidden: int = 96
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    max_len: int = 320
    # 800 steps on the pretraining corpus' 800 explanations: with 240 steps on the 160 smoke training videos the
    # LLM wrote the same "Anomaly (wrong way) from frame 18 ..." opening for every video, normal ones included
    steps: int = 800
    batch_size: int = 8
    lr: float = 3e-3
    laam_samples_per_label: int = 48   # 16 beside 800 explanations left LAAM lists unparsable (22 % parsed)
    pretrain: bool = True              # AEGM examples from the pretraining corpus (an LLM is pretrained elsewhere)
    seed: int = 0


@dataclass
class InstructTrainConfig:
    """The instruction-following tiny LLM: the tiny LLM's ``LlamaForCausalLM`` and tokenizer recipe trained on
    the generic instruction mix of :mod:`vadkit.models.instructions` (summarise, rate in [0, 1], yes/no,
    phrases for a label, when in seconds; several paraphrases each, the last one held out), written from the
    pretraining corpus' ground truth. Chapters that call a method "training-free" with it say that it was tuned
    on this world."""

    lm: LMTrainConfig = field(default_factory=lambda: LMTrainConfig(max_len=384, steps=1000))
    windows_per_video: int = 2         # x 4 window tasks per corpus video
    window_s: list[float] = field(default_factory=lambda: [4.0, 8.0])
    # 40 per label (5 % of the mix): no phrase answer parsed (lines repeated, the label ignored)
    phrases_per_label: int = 120
    mix_version: int = 2               # vadkit.models.instructions.MIX_VERSION of the templates and targets
    pretrain: bool = True              # the pretraining corpus (False: the given root's train split)
    seed: int = 0


@dataclass
class VLMTrainConfig:
    """The tiny VLM: a ``Qwen2_5_VLForConditionalGeneration`` (T-VAD's Qwen2.5-VL-7B class and processor, built by
    :func:`vadkit.models.vlm.new_qwen2_5_vl`) trained from scratch on the pretraining corpus: frame -> caption
    (:data:`~vadkit.models.prompts.CAPTION_PROMPT`) and ``qa_frames`` clip frames + two-turn yes/no questions.

    What the vision tower sees: a 160 x 120 SynthVAD frame is resized by ``Qwen2VLImageProcessor`` to a multiple
    of ``patch_size * merge_size`` = 16 px within ``max_pixels`` = 160 * 120 (no upscaling): **160 x 112** (W x H)
    is fed, **20 x 14 = 280 patches** of 8 px, which the 2 x 2 merger turns into **10 x 7 = 70 visual tokens per
    frame** for the language model (140 for a 2-frame clip). A person (~18 px tall, 17 px after the resize)
    spans 2-3 patches vertically, a car (~26 x 13 px) about 3 x 2. (Qwen2.5-VL-7B's real processor, 14-px
    patches and a 28-px factor, feeds the same frame as 168 x 112: 12 x 8 patches, 24 tokens, a person ~1.2
    patches tall.) ``temporal_patch_size`` 2 (a still image is repeated, as in the real model); window
    attention over 64-px windows (4 x 4 merged tokens, the real model's 112 px / 14 px * 8 px) with full
    attention at blocks ``fullatt_block_indexes`` (the real model's 7, 15, 23, 31 of 32: every block ending a
    quarter of the tower). The decoder is ``lm``'s size with grouped-query attention (``lm.heads // 2`` KV
    heads) and M-RoPE split 2:3:3 as in the 7B model.

    Training frames are the tiny CLIP's corpus frames (the same ``frames_per_video`` / ``anomalous_stride`` /
    ``max_crops``, so an in-process zoo build decodes the corpus once); a clip's QA frames are its corpus frames
    inside its first event (uniform ones for a normal video). Samples are built per step (steps x batch_size of
    them), not for the whole corpus. Measured on 2 idle CPU cores: 58 s (240 steps of 0.2 s, both evaluations),
    plus ~30 s to decode the corpus when no tiny CLIP was trained in the same process.
    """

    patch_size: int = 8
    merge_size: int = 2
    temporal_patch_size: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 160 * 120        # the SynthVAD frame's own size: resized down to 160 x 112, never up
    window_size: int = 64              # px: 4 x 4 merged tokens per attention window
    vision_width: int = 64
    vision_depth: int = 4
    vision_heads: int = 4
    fullatt_block_indexes: list[int] = field(default_factory=lambda: [1, 3])
    frames_per_video: int = 6          # = ClipTrainConfig: the corpus frames are shared with the tiny CLIP
    anomalous_stride: int = 16
    max_crops: int = 1
    qa_frames: int = 2
    steps: int = 240
    batch_size: int = 8
    lr: float = 3e-3
    lm: LMTrainConfig = field(default_factory=lambda: LMTrainConfig(max_len=320, steps=0))  # lm.steps unused
    pretrain: bool = True              # train on the pretraining corpus (False: on the given root's train split)
    seed: int = 0

    def vision_config(self) -> dict:
        """``Qwen2_5_VLVisionConfig`` fields; ``out_hidden_size`` is the decoder width."""
        return {"depth": self.vision_depth, "hidden_size": self.vision_width,
                "intermediate_size": self.vision_width * 2, "num_heads": self.vision_heads,
                "out_hidden_size": self.lm.hidden, "patch_size": self.patch_size,
                "spatial_merge_size": self.merge_size, "temporal_patch_size": self.temporal_patch_size,
                "window_size": self.window_size, "fullatt_block_indexes": list(self.fullatt_block_indexes),
                "tokens_per_second": 2}

    def text_config(self) -> dict:
        """``Qwen2_5_VLTextConfig`` fields (vocabulary and special ids come from the tokenizer)."""
        from vadkit.models.vlm import mrope_section

        c = self.lm
        return {"hidden_size": c.hidden, "intermediate_size": c.intermediate, "num_hidden_layers": c.layers,
                "num_attention_heads": c.heads, "num_key_value_heads": max(1, c.heads // 2),
                "max_position_embeddings": c.max_len * 2,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0,
                                    "mrope_section": mrope_section(c.hidden // c.heads)}}

    def image_processor(self) -> dict:
        """``Qwen2VLImageProcessor`` settings."""
        return {"patch_size": self.patch_size, "merge_size": self.merge_size,
                "temporal_patch_size": self.temporal_patch_size, "min_pixels": self.min_pixels,
                "max_pixels": self.max_pixels}


@dataclass
class CaptionerTrainConfig:
    """The tiny captioner: the frozen tiny CLIP (``clip``, trained first) + a linear prefix bridge + a Llama
    decoder, trained on frame -> caption pairs of the tiny CLIP's own training corpus (2026-12-04: 507 s beside
    another job, BLEU-4 0.47 and 98 % distinct captions; on the 96-px ResNet CLIP 146 s, 0.32 and 45 %).

    Why not the tiny VLM asked for a caption (the zoo's captioner until version 2): its 48-pixel ViT tower,
    trained from scratch on 160 videos, gave the same sentence for every one of 480 test frames, and every
    Ex-VAD explanation built on it read "nothing unusual happens".
    """

    clip: ClipTrainConfig = field(default_factory=ClipTrainConfig)
    lm: LMTrainConfig = field(default_factory=lambda: LMTrainConfig(max_len=64))
    grid_layer: int = -1               # CLIP tap for the spatial tokens (stage 4: 7 x 7 x 320 at 224 px)
    # the tiny CLIP's own frames (2 a video + one every 32 anomalous): the frozen 224-px pass over them is most
    # of the cost (6 a video + one every 16, the sampling of the 96-px ResNet CLIP, took 8 344 frames, ~6 min)
    frames_per_video: int = 2
    anomalous_stride: int = 32
    steps: int = 500
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 0


@dataclass
class DescriberTrainConfig:
    """The crop-pair describer (:mod:`vadkit.models.describer`): a small CNN over both crops and their difference
    + a Llama decoder, trained together from scratch on the pretraining corpus' activity windows (crop pair ->
    the window's single or pair text in :func:`~vadkit.models.describer.reference_text` form). The CNN is
    trained, not a frozen tiny CLIP: the describer must read pose and displacement in a 48-px crop, which
    whole-frame contrastive features were not trained to keep.

    Rows per window: every anomalous single and pair, plus up to ``max_singles`` / ``max_pairs`` normal ones;
    anomalous rows are repeated ``anomalous_repeat`` times (they are ~5 % of the rows otherwise).

    Budget (the zoo trains in 12 minutes cold on 2 cores, all entries together): 1200 steps on all 800 corpus
    videos took 176 CPU-s (80 s of it decoding the windows' frames) for held-out BLEU-4 0.83 (anomalous rows 0.64;
    the most frequent sentence 0.15 / 0.02); the loss had fallen from 5.0 to 0.3 by step 130, so the default is
    500 steps on 480 of the corpus videos (~9 500 rows)."""

    lm: LMTrainConfig = field(default_factory=lambda: LMTrainConfig(max_len=64, hidden=96))
    crop_size: int = 48
    margin: float = 0.5                # crop side = max(w, h) * (1 + margin), at least min_side px
    min_side: int = 32
    width: int = 32                    # CNN stem width
    grid: int = 3
    delta_s: float = 1.0
    max_videos: int = 480              # corpus videos read (0: all); they are taken in the split's order
    windows_per_video: int = 4
    max_singles: int = 3
    max_pairs: int = 2
    anomalous_repeat: int = 3
    steps: int = 500
    batch_size: int = 48
    lr: float = 3e-3
    pretrain: bool = True
    seed: int = 0


DEFAULT_CONFIGS = {"tiny-clip": ClipTrainConfig, "tiny-lit": LitTrainConfig, "tiny-llm": LMTrainConfig,
                   "tiny-instruct": InstructTrainConfig, "tiny-vlm": VLMTrainConfig,
                   "tiny-captioner": CaptionerTrainConfig, "tiny-describer": DescriberTrainConfig}


# ---------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------
def caption_at(captions: dict[int, str], frame: int) -> str | None:
    """Caption in force at ``frame`` (``captions`` maps a start frame to its caption)."""
    keys = [k for k in captions if k <= frame]
    if not keys:
        return captions[min(captions)] if captions else None
    return captions[max(keys)]


def frame_label(ann, frame: int) -> str:
    for seg in ann.segments:
        if seg.start <= frame <= seg.end:
            return seg.label or ann.label
    return "normal"


class SynthText:
    """Frames, captions and labels of a SynthVAD split, read once.

    ``frames_per_video`` uniform frames per video, plus one frame every ``anomalous_stride`` frames inside
    each anomalous segment (``0``: one random frame per segment), so rare events are represented.
    """

    def __init__(self, root: Path, split: str, frames_per_video: int, seed: int = 0, max_crops: int = 3,
                 anomalous_stride: int = 0):
        from vadkit.data.synth import load_objects, load_synthvad
        from vadkit.data.video import VideoReader, uniform_indices

        self.root = Path(root)
        self.sampling = {"split": split, "frames_per_video": int(frames_per_video), "seed": int(seed),
                         "max_crops": int(max_crops), "anomalous_stride": int(anomalous_stride)}
        self.ds = load_synthvad(self.root, split=split)
        rng = np.random.default_rng(seed)
        self.frames, self.captions, self.labels, self.video_ids, self.frame_idx = [], [], [], [], []
        self.crops, self.crop_agents = [], []
        for ann in self.ds.values():
            n = int(ann.num_frames)
            idx = uniform_indices(n, frames_per_video)
            extra = []
            for seg in ann.segments:  # make sure anomalous frames are represented
                lo, hi = max(seg.start, 0), min(seg.end, n - 1)
                if anomalous_stride > 0:
                    extra += list(range(lo + anomalous_stride // 4, hi + 1, anomalous_stride))
                else:
                    idx[rng.integers(len(idx))] = (lo + hi) // 2
            idx = np.unique(np.concatenate([idx, np.asarray(extra, dtype=idx.dtype)]))
            imgs = VideoReader(ann.video_path).get_frames(idx)
            objs = load_objects(self.root, ann.video_id)
            for f, img in zip(idx, imgs):
                cap = caption_at(ann.captions, int(f))
                if cap is None:
                    continue
                self.frames.append(img)
                self.captions.append(cap)
                self.labels.append(frame_label(ann, int(f)))
                self.video_ids.append(ann.video_id)
                self.frame_idx.append(int(f))
                rows = objs[objs["frame"] == int(f)]
                rows = rows.sample(n=min(len(rows), max_crops), random_state=int(rng.integers(1 << 31)))
                for _, r in rows.iterrows():
                    crop = _crop(img, r)
                    if crop is not None and str(r["object_class"]) in AGENT_CLASSES:
                        self.crops.append(crop)
                        self.crop_agents.append(str(r["object_class"]))
        self.frames = np.stack(self.frames)


@functools.lru_cache(maxsize=4)
def synth_text(root: str, split: str, frames_per_video: int, seed: int, max_crops: int = 3,
               anomalous_stride: int = 0) -> SynthText:
    """:class:`SynthText` cached in-process, so entries trained in one process decode SynthVAD once."""
    return SynthText(Path(root), split, frames_per_video, seed, max_crops, anomalous_stride)


def _crop(img: np.ndarray, r, margin: float = 0.25, min_size: int = 6) -> np.ndarray | None:
    H, W = img.shape[:2]
    x1, y1, x2, y2 = float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"])
    w, h = x2 - x1, y2 - y1
    if w < min_size or h < min_size:
        return None
    s = max(w, h) * (1 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, b = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
    c, d = int(min(W, cx + s / 2)), int(min(H, cy + s / 2))
    if c - a < min_size or d - b < min_size:
        return None
    import cv2

    return cv2.resize(np.ascontiguousarray(img[b:d, a:c]), (48, 48), interpolation=cv2.INTER_AREA)


def dataset_identity(root: Path) -> str:
    meta = Path(root) / "synthvad.json"
    if not meta.is_file():
        raise ModelNotFoundError(f"{root}: no synthvad.json; the tiny zoo trains on a SynthVAD root")
    from vadkit.identity import synth_manifest_digest

    return synth_manifest_digest(root)


def zoo_root() -> Path:
    return paths.cache_dir() / "zoo"


def entry_dir(entry: str, root: Path | None = None, config=None) -> Path:
    """``cache_dir()/zoo/<entry>-<hash>``: hash of the training config, ZOO_VERSION and the data identity."""
    entry = ALIASES.get(entry, entry)
    if entry not in DEFAULT_CONFIGS:
        raise ModelNotFoundError(f"zoo:{entry}: unknown tiny-zoo entry; known: {', '.join(ENTRIES)}")
    if root is None:
        from vadkit.data.synth import smoke_dataset

        root = Path(smoke_dataset())
    config = config or DEFAULT_CONFIGS[entry]()
    key = {"entry": entry, "version": ZOO_VERSION, "config": asdict(config), "data": dataset_identity(root)}
    if getattr(config, "pretrain", False) or getattr(getattr(config, "clip", None), "pretrain", False):
        from vadkit.data.synth.builder import pretrain_request_hash

        key["pretrain_data"] = pretrain_request_hash()
    h = content_hash(key)
    return zoo_root() / f"{entry}-{h}"


def train_or_load(entry: str, *, root: Path | None = None, config=None, force: bool = False,
                  progress: bool = True) -> Path:
    """Directory of the trained ``entry``; trains it (and records held-out figures) if absent."""
    entry = ALIASES.get(entry, entry)
    if entry not in DEFAULT_CONFIGS:  # before touching the data: a typo must not generate SynthVAD
        raise ModelNotFoundError(f"zoo:{entry}: unknown tiny-zoo entry; known: {', '.join(ENTRIES)}")
    if root is None:
        from vadkit.data.synth import smoke_dataset

        root = Path(smoke_dataset())
    config = config or DEFAULT_CONFIGS[entry]()
    target = entry_dir(entry, root, config)
    if (target / "zoo.json").is_file() and not force:
        return target
    # 2 threads on the 2-core CI machine; VADKIT_ZOO_THREADS overrides (1 is faster on a busy machine)
    torch.set_num_threads(int(os.environ.get("VADKIT_ZOO_THREADS", min(2, os.cpu_count() or 1))))
    with atomic_dir(target) as tmp:
        t0, cpu0 = time.time(), time.process_time()
        trainer = {"tiny-clip": _train_clip, "tiny-lit": _train_lit, "tiny-llm": _train_llm,
                   "tiny-instruct": _train_instruct, "tiny-vlm": _train_vlm,
                   "tiny-captioner": _train_captioner, "tiny-describer": _train_describer}[entry]
        metrics = trainer(Path(root), config, tmp, progress)
        meta = {"entry": entry, "zoo_version": ZOO_VERSION, "config": asdict(config),
                "data_root": str(root), "data_identity": dataset_identity(root),
                "train_seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - cpu0, 1),
                "threads": torch.get_num_threads(), "metrics": metrics}
        atomic_write_json(tmp / "zoo.json", meta)
    if progress:
        print(f"[zoo] {entry}: trained in {meta['train_seconds']} s; held-out: "
              + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
    return target


#: Entries that train another entry first (the captioner's frozen CLIP is the default tiny CLIP).
REQUIRES = {"tiny-captioner": ("tiny-clip",),
            # not its model: tiny-lit reads the frozen maps tiny-clip writes (corpus_maps) rather than compute
            # them beside it in the other worker
            "tiny-lit": ("tiny-clip",)}


def _train_in_worker(entry: str) -> str:
    os.environ["VADKIT_ZOO_THREADS"] = "1"
    return str(train_or_load(entry, progress=False))


def train_all(entries=None, *, workers: int | None = None, echo=print) -> dict[str, Path]:
    """Train-or-load ``entries`` (default: all) with the default configs on the smoke root, ``workers`` entries at
    a time in separate processes with one torch thread each (default: one worker per core, at most 2).

    Why processes: these models are too small for a second intra-op thread to pay (tiny CLIP: ~1.3 steps/s
    with one thread beside another busy process, ~1 step/s with two threads on an idle 2-core machine), so two
    entries side by side take about half the wall time of one after the other. The SynthVAD roots are
    generated here first; an entry waits for what it :data:`REQUIRES`. ``workers=1``: in this process, in order.
    Returns ``{entry: directory}``; a worker's error is raised after the others finish.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    from vadkit.data.synth import pretrain_dataset, smoke_dataset

    t_all = time.time()  # the data generation counts: a cold zoo starts without SynthVAD
    entries = [ALIASES.get(e, e) for e in (entries or ENTRIES)]
    unknown = [e for e in entries if e not in DEFAULT_CONFIGS]
    if unknown:
        raise ModelNotFoundError(f"zoo: unknown tiny-zoo entries {unknown}; known: {', '.join(ENTRIES)}")
    root = Path(smoke_dataset())
    pretrain_dataset()
    out = {e: entry_dir(e, root) for e in entries}
    todo = [e for e in entries if not (out[e] / "zoo.json").is_file()]
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1 or len(todo) <= 1:
        for e in todo:
            train_or_load(e, root=root)
        return out
    done, pending, errors = set(entries) - set(todo), {}, []
    queue, took = list(todo), {}
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        while queue or pending:
            for e in list(queue):
                if len(pending) >= workers:
                    break
                if all(r in done or r not in todo for r in REQUIRES.get(e, ())):
                    pending[pool.submit(_train_in_worker, e)] = (e, time.time())
                    queue.remove(e)
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                e, t0 = pending.pop(f)
                try:
                    f.result()
                    took[e] = round(time.time() - t0, 1)
                    echo(f"[zoo] {e}: trained in {took[e]:.0f} s ({out[e]})")
                except Exception as err:  # noqa: BLE001 - reported with the entry's name below
                    errors.append(f"{e}: {type(err).__name__}: {err}")
                done.add(e)
    if errors:
        from vadkit.errors import VadkitError

        raise VadkitError("zoo: training failed for " + "; ".join(errors))
    # the wall time of this parallel run (benchmarks/book_times.py reads it beside each entry's own time)
    atomic_write_json(zoo_root() / "_train_all.json",
                      {"workers": workers, "wall_seconds": round(time.time() - t_all, 1), "entries": took})
    return out


def metadata(entry: str, root: Path | None = None) -> dict:
    """``zoo.json`` of a trained entry (training config, time, held-out metrics)."""
    d = entry_dir(entry, root)
    f = d / "zoo.json"
    if not f.is_file():
        raise ModelNotFoundError(f"zoo:{entry}: not trained yet ({d}); run `vadkit zoo train {entry}`")
    return json.loads(f.read_text())


# ---------------------------------------------------------------------------------------------------
# tiny CLIP
# ---------------------------------------------------------------------------------------------------
def clip_model_cfg(c: ClipTrainConfig) -> dict:
    """open_clip ``CLIP(**cfg)`` kwargs: ModifiedResNet (``vision_cfg.layers`` a list) or ViT tower."""
    if c.tower == "locked":
        from vadkit.models.locked_clip import locked_vision_cfg

        vision = locked_vision_cfg(c.image_size, c.pool_heads, c.crop_size)
    elif c.tower == "resnet":
        # open_clip: heads = width * 32 // head_width; stage 4 has width * 32 channels
        vision = {"image_size": c.image_size, "layers": list(c.resnet_layers), "width": c.vision_width,
                  "head_width": 64}
    elif c.tower == "vit":
        vision = {"image_size": c.image_size, "layers": c.vision_layers, "width": c.vision_width,
                  "patch_size": c.patch_size, "head_width": c.vision_width // c.heads}
    else:
        from vadkit.errors import ConfigError

        raise ConfigError(f"ClipTrainConfig.tower must be 'locked', 'resnet' or 'vit', got {c.tower!r}")
    return {"embed_dim": c.embed_dim, "vision_cfg": vision,
            "text_cfg": {"context_length": c.context_length, "vocab_size": 49408, "width": c.text_width,
                         "heads": c.heads, "layers": c.text_layers}}


def _new_clip(c: ClipTrainConfig, *, pretrained_trunk: bool = True):
    """A fresh tiny CLIP of config ``c`` (seeded). ``pretrained_trunk=False``: a locked tower's trunk drawn at
    random too (the untrained twin)."""
    import open_clip
    from open_clip.transform import PreprocessCfg

    from vadkit.models.clip import ClipModel

    torch.manual_seed(c.seed)
    cfg = clip_model_cfg(c)
    if c.tower == "locked":
        from vadkit.models.locked_clip import build_locked_clip

        model = build_locked_clip(cfg, pretrained_trunk=pretrained_trunk)
        tok = open_clip.get_tokenizer("ViT-B-32")
        return ClipModel(model, tok, name="zoo:tiny-clip", arch="tiny-clip", pretrained="synthvad", model_cfg=cfg)
    model = open_clip.model.CLIP(**cfg)
    # the same preprocessing record open_clip's factory attaches, so a reload preprocesses identically
    open_clip.model.set_model_preprocess_cfg(model, asdict(PreprocessCfg(size=c.image_size, resize_mode=c.resize_mode)))
    tok = open_clip.get_tokenizer("ViT-B-32")  # the real open_clip BPE (SimpleTokenizer)
    return ClipModel(model, tok, name="zoo:tiny-clip", arch="tiny-clip", pretrained="synthvad", model_cfg=cfg)


def untrained_clip(c: ClipTrainConfig | None = None):
    """The tiny CLIP's untrained twin: the same architecture and seeded initialisation, no training and no
    pretraining (a locked tower's trunk is drawn at random as well): the control of every held-out figure and of
    the linear probe in chapter 02."""
    return _new_clip(c or ClipTrainConfig(), pretrained_trunk=False)


def _soft_targets(keys: list[str]) -> torch.Tensor:
    """Row-normalised ``[B, B]`` targets: items with the same text are all positives (captions repeat)."""
    ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    v = torch.tensor([ids[k] for k in keys])
    t = (v[:, None] == v[None, :]).float()
    return t / t.sum(1, keepdim=True)


def evaluate_clip(clip, data: SynthText, labels: tuple[str, ...]) -> dict:
    """Held-out zero-shot accuracies on agent crops and frame event categories."""
    from sklearn.metrics import balanced_accuracy_score  # mean recall over the classes present in the truth

    out = {}
    if data.crops:
        agents = [a for a in AGENT_CLASSES if a in set(data.crop_agents)]
        te = clip.encode_texts([agent_prompt(a) for a in agents])
        ie = clip.encode_images(np.stack(data.crops))
        pred = (ie @ te.T).argmax(1).numpy()
        y = np.array([agents.index(a) for a in data.crop_agents])
        out["agent_zero_shot_acc"] = float((pred == y).mean())
        # most crops are people: the balanced accuracy (mean per-class recall) is the figure to compare with chance
        out["agent_zero_shot_bacc"] = float(balanced_accuracy_score(y, pred))
        out["agent_chance"] = 1.0 / len(agents)
        out["agent_majority"] = float(np.bincount(y).max() / len(y))
    present = [c for c in labels if c in set(data.labels)]
    te = clip.encode_texts([class_prompt(c) for c in present])
    ie = clip.encode_images(data.frames)
    pred = (ie @ te.T).argmax(1).numpy()
    y = np.array([present.index(c) for c in data.labels])
    out["event_zero_shot_acc"] = float((pred == y).mean())
    # balanced accuracy (mean per-class recall): most frames are normal, so plain accuracy hides the rest
    out["event_zero_shot_bacc"] = float(balanced_accuracy_score(y, pred))
    out["event_chance"] = 1.0 / len(present)
    abn = y != present.index("normal") if "normal" in present else np.ones_like(y, bool)
    out["event_zero_shot_acc_anomalous_frames"] = float((pred[abn] == y[abn]).mean()) if abn.any() else float("nan")
    # frame anomaly score 1 - p(normal prompt): the zero-shot signal VadCLIP's alignment branch starts from
    if "normal" in present and abn.any() and (~abn).any():
        from sklearn.metrics import roc_auc_score

        p = torch.softmax(100.0 * ie @ te.T, dim=1)[:, present.index("normal")].numpy()
        out["anomaly_zero_shot_auc"] = float(roc_auc_score(abn, 1.0 - p))
    out["n_agent_crops"] = len(data.crops)
    out["n_frames"] = len(data.labels)
    return out


def _augment(px: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """Batch-wise random shift (+-3 rows, +-4 columns, wrapped) and per-image gain / colour offset."""
    dy, dx = rng.randint(-3, 3), rng.randint(-4, 4)
    px = torch.roll(px, (dy, dx), (2, 3))
    g = torch.Generator().manual_seed(rng.randrange(1 << 31))
    gain = 1 + 0.1 * (torch.rand(len(px), 1, 1, 1, generator=g) - 0.5)
    offset = 0.1 * (torch.rand(len(px), 3, 1, 1, generator=g) - 0.5)
    return px * gain + offset


def training_root(root: Path, c) -> Path:
    """Where an entry's training data come from: the pretraining corpus (``c.pretrain``), or ``root`` itself."""
    if not c.pretrain:
        return Path(root)
    from vadkit.data.synth import pretrain_dataset

    return Path(pretrain_dataset())


def _pair_sampler(train: SynthText, c, rng: random.Random):
    """``batches(step) -> (kind, [(source, index, text)])`` for the contrastive zoo entries: one kind of pair per
    step, cycled by ``c.schedule`` (source 0 = ``train.frames``, 1 = ``train.crops``)."""
    kinds = {
        "caption": [(0, i, train.captions[i]) for i in range(len(train.captions))],
        "agent": [(1, i, agent_prompt(a)) for i, a in enumerate(train.crop_agents)],
    }
    # mixing kinds in one batch would make a normal frame's caption pair treat the "normal" prompt of
    # another normal frame as a negative
    by_label: dict[str, list] = {}
    for i, lab in enumerate(train.labels):
        by_label.setdefault(lab, []).append((0, i, class_prompt(lab)))
    schedule = list(c.schedule)
    if not schedule or set(schedule) - {"caption", "event", "agent"}:
        from vadkit.errors import ConfigError

        raise ConfigError(f"{type(c).__name__}.schedule: kinds are caption / event / agent, got {schedule}")

    def batches(step):
        kind = schedule[step % len(schedule)]
        if kind == "event":  # class-balanced: rare event categories are seen as often as "normal"
            labs = list(by_label)
            batch = [rng.choice(by_label[rng.choice(labs)]) for _ in range(c.batch_size)]
        else:
            pool = kinds[kind] or kinds["caption"]
            batch = rng.sample(pool, min(c.batch_size, len(pool)))
        return kind, batch

    return batches


def contrastive_loss(ie: torch.Tensor, te: torch.Tensor, logit_scale: torch.Tensor, texts: list[str]) -> torch.Tensor:
    """Symmetric InfoNCE of ``[B, D]`` image and text embeddings (normalised here), with soft targets over
    repeated texts (two frames with the same caption are both positives of it)."""
    logits = logit_scale.exp() * F.normalize(ie, dim=-1) @ F.normalize(te, dim=-1).T
    tgt = _soft_targets(texts)
    return 0.5 * (torch.sum(-tgt * F.log_softmax(logits, 1), 1).mean()
                  + torch.sum(-tgt * F.log_softmax(logits.T, 1), 1).mean())


def _frozen_pass(encode, train: SynthText, image_size, crop_size, desc: str, progress: bool):
    """``(frame maps, crop maps, seconds)``: ``encode(images, size)`` over the training frames (``image_size``)
    and agent crops (``crop_size``), once, before the heads train on them."""
    from tqdm.auto import tqdm

    t0 = time.time()
    with tqdm(total=2, desc=f"{desc} frozen maps", disable=not progress, leave=False) as bar:
        fmaps = encode(train.frames, image_size)
        bar.update(1)
        cmaps = encode(list(train.crops), crop_size)
        bar.update(1)
    return fmaps, cmaps, time.time() - t0


def _contrastive_metrics(model, test: SynthText, untrained: dict, final: float, train: SynthText,
                         encode_s: float | None = None) -> dict:
    """Held-out figures of a trained tiny CLIP / LiT on ``test`` beside its untrained twin's, plus the training
    record (``zoo.json``'s ``metrics``)."""
    from vadkit.data.synth import CLASS_NAMES

    metrics = evaluate_clip(model, test, CLASS_NAMES)
    metrics.update(untrained)
    metrics["final_train_loss"] = final
    metrics["n_train_frames"] = len(train.labels)
    metrics["n_train_videos"] = len(train.ds)
    metrics["train_root"] = Path(train.root).name
    if encode_s is not None:
        metrics["frozen_encode_seconds"] = round(encode_s, 1)
    return metrics


def _train_clip(root: Path, c: ClipTrainConfig, out: Path, progress: bool, corpus: Path | None = None) -> dict:
    """Contrastive training (symmetric InfoNCE with soft targets for repeated texts) on three kinds of pairs,
    one kind per step: frame <-> caption, frame <-> event-class prompt (class-balanced), agent crop <-> agent
    prompt. Held-out figures on ``root``'s test split. ``corpus``: train on this SynthVAD root's train split
    instead of :func:`training_root` (world-variant experiments, ``benchmarks/world_probe.py --zoo``; never
    cached as a zoo entry)."""
    from vadkit.data.synth import CLASS_NAMES

    if c.tower == "locked":
        return _train_locked_clip(root, c, out, progress, corpus)
    rng = random.Random(c.seed)
    train = synth_text(str(corpus or training_root(root, c)), "train", c.frames_per_video, c.seed, c.max_crops,
                       c.anomalous_stride)
    test = synth_text(str(root), "test", 4, c.seed + 1)
    clip = _new_clip(c)
    untrained = {f"untrained_{k}": v for k, v in evaluate_clip(clip, test, CLASS_NAMES).items()
                 if "acc" in k or "auc" in k}
    crops = np.stack(train.crops) if train.crops else train.frames[:0]
    batches = _pair_sampler(train, c, rng)
    model = clip.model.train()
    # open_clip's 49408-token BPE table is mostly unused on SynthVAD text: sparse gradients + SparseAdam
    # update only the rows a batch touches (a dense AdamW step over it dominated the step time). The dense
    # parameters go through vadkit.trainer.fit; the sparse table is stepped in its step hook, same schedule.
    model.token_embedding.sparse = True
    dense = [p for n, p in model.named_parameters() if not n.startswith("token_embedding")]
    opt_emb = torch.optim.SparseAdam(list(model.token_embedding.parameters()), lr=c.lr, betas=(0.9, 0.98))
    from vadkit.trainer import Schedule

    sched_emb = Schedule("warmup_cosine", warmup_steps=max(1, c.steps // 10)).build(opt_emb, c.steps, c.steps, c.lr)
    # BatchNorm (ResNet tower) running statistics must be those of whole frames, which is what the chapters
    # encode: an agent-crop step normalises with its own batch statistics, then the frame statistics are put back
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved: list = []

    def forward(kb):
        kind, batch = kb
        saved[:] = [(m.running_mean.clone(), m.running_var.clone()) for m in norms] if kind == "agent" else []
        imgs = np.stack([(train.frames if src == 0 else crops)[i] for src, i, _ in batch])
        px = clip.preprocess(imgs)  # per batch: the whole corpus preprocessed would take ~1 GB
        if c.augment:
            px = _augment(px, rng)
        texts = [t for _, _, t in batch]
        mb = c.micro_batch or len(px)
        ie = torch.cat([model.encode_image(px[i:i + mb]) for i in range(0, len(px), mb)])
        te = model.encode_text(clip.tokenize(texts))
        return contrastive_loss(ie, te, model.logit_scale, texts)

    def after_step(_step, _parts):
        opt_emb.step()
        sched_emb.step()
        opt_emb.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
            for m, (mean, var) in zip(norms, saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)

    final = fit_steps(model, batches, c.steps, c.lr, "zoo: tiny-clip", progress, forward, params=dense,
                      step_hook=after_step, weight_decay=c.weight_decay, grad_clip=0.0)
    model.token_embedding.sparse = False
    metrics = _contrastive_metrics(clip, test, untrained, final, train)
    clip.save_pretrained(out)
    return metrics


def _locked_maps(clip, images, size: int, batch_size: int | None = None) -> torch.Tensor:
    """Frozen layer4 maps ``[N, 320, S/32, S/32]`` (float16) of uint8 images (a list of any sizes or an array),
    each resized whole to ``size x size`` with the tiny CLIP's preprocessing."""
    from vadkit.models.clip import forward_batch, preprocess_frames

    batch_size = forward_batch(batch_size or 64, clip.device)

    def px(chunk):
        if isinstance(chunk, list):
            return torch.cat([px(np.asarray(im)[None]) for im in chunk])
        return preprocess_frames(chunk, size, clip.mean, clip.std, "center", device=clip.device,
                                 resize_mode="squash")

    outs = [clip.model.visual.stage_maps(px(images[i:i + batch_size]).contiguous(
        memory_format=torch.channels_last)).half() for i in range(0, len(images), batch_size)]
    return torch.cat(outs) if outs else torch.zeros((0, 320, 1, 1), dtype=torch.float16)


def corpus_maps(train: SynthText, image_size: int, crop_size: int, *, desc: str = "zoo",
                progress: bool = True) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The packaged EfficientNet-Lite0's last-stage maps of ``train``'s frames and agent crops, computed once for
    every zoo entry that reads that trunk on them (tiny-clip, tiny-lit, tiny-captioner: the frozen pass was
    most of each one's cost, and the same pass three times).

    Returns ``(frame maps [N, 320, S/32, S/32], crop maps [M, 320, s/32, s/32], seconds)`` (float16; each image
    resized whole to ``S = image_size`` / ``s = crop_size`` squares, bicubic, scaled to ``[-1, 1]``:
    :func:`_locked_maps`); ``seconds`` is 0 when the maps were read. Stored as one safetensors file under
    ``$VADKIT_CACHE/zoo/_frozen/``, written atomically, named by the trunk file's digest, the corpus' identity,
    ``train``'s sampling and the sizes, and checked against the sha256 recorded beside it when read (a
    missing, partial or damaged file is recomputed), so parallel zoo workers and a resumed build share it.
    """
    from safetensors.torch import load, save

    from vadkit.identity import bytes_digest, cache_key, producer, read_json_entry, write_json_entry
    from vadkit.io_utils import atomic_write
    from vadkit.models.packaged import identity

    key = cache_key(producer("zoo-frozen-maps"), trunk=identity("efficientnet-lite0"),
                    corpus=dataset_identity(train.root), sampling=train.sampling, image_size=int(image_size),
                    crop_size=int(crop_size))
    stem = zoo_root() / "_frozen" / f"maps-{key}"
    blob_path, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    meta = read_json_entry(meta_path)
    if meta is not None and blob_path.is_file():
        blob = blob_path.read_bytes()
        if bytes_digest(blob) == meta.get("sha256"):
            maps = load(blob)
            if len(maps["frames"]) == len(train.frames) and len(maps["crops"]) == len(train.crops):
                return maps["frames"], maps["crops"], 0.0
        log.warning("%s: frozen maps fail their digest or size; recomputing", blob_path)
    clip = _new_clip(ClipTrainConfig(image_size=int(image_size), crop_size=int(crop_size)))
    fmaps, cmaps, seconds = _frozen_pass(lambda ims, size: _locked_maps(clip, ims, size), train, image_size,
                                         crop_size, desc, progress)
    blob = save({"frames": fmaps.contiguous(), "crops": cmaps.contiguous()})
    with atomic_write(blob_path, "wb") as fh:
        fh.write(blob)
    write_json_entry(meta_path, {"sha256": bytes_digest(blob), "frames": len(fmaps), "crops": len(cmaps),
                                 "seconds": round(seconds, 1), "sampling": train.sampling,
                                 "image_size": int(image_size), "crop_size": int(crop_size)})
    return fmaps, cmaps, seconds


def _train_locked_clip(root: Path, c: ClipTrainConfig, out: Path, progress: bool, corpus: Path | None) -> dict:
    """:func:`_train_clip` for ``tower="locked"``: the frozen trunk's maps of the training frames and crops once,
    then the attention pool and the text transformer (same pairs, schedule and loss)."""
    from vadkit.data.synth import CLASS_NAMES

    rng = random.Random(c.seed)
    train = synth_text(str(corpus or training_root(root, c)), "train", c.frames_per_video, c.seed, c.max_crops,
                       c.anomalous_stride)
    test = synth_text(str(root), "test", 4, c.seed + 1)
    clip = _new_clip(c)
    untrained = {f"untrained_{k}": v for k, v in evaluate_clip(untrained_clip(c), test, CLASS_NAMES).items()
                 if "acc" in k or "auc" in k}
    fmaps, cmaps, encode_s = corpus_maps(train, c.image_size, c.crop_size, desc="zoo: tiny-clip",
                                         progress=progress)
    batches = _pair_sampler(train, c, rng)
    model = clip.model.train()
    model.token_embedding.sparse = True        # as _train_clip: SparseAdam on the rows a batch touches
    dense = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("token_embedding")]
    opt_emb = torch.optim.SparseAdam(list(model.token_embedding.parameters()), lr=c.lr, betas=(0.9, 0.98))
    from vadkit.trainer import Schedule

    sched_emb = Schedule("warmup_cosine", warmup_steps=max(1, c.steps // 10)).build(opt_emb, c.steps, c.steps, c.lr)
    pool = model.visual.attnpool

    def forward(kb):
        _kind, batch = kb
        maps = torch.stack([(fmaps if src == 0 else cmaps)[i] for src, i, _ in batch]).float()
        texts = [t for _, _, t in batch]
        return contrastive_loss(pool(maps), model.encode_text(clip.tokenize(texts)), model.logit_scale, texts)

    def after_step(_step, _parts):
        opt_emb.step()
        sched_emb.step()
        opt_emb.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))

    final = fit_steps(model, batches, c.steps, c.lr, "zoo: tiny-clip", progress, forward, params=dense,
                      step_hook=after_step, weight_decay=c.weight_decay, grad_clip=1.0)
    model.token_embedding.sparse = False
    model.eval()
    metrics = _contrastive_metrics(clip, test, untrained, final, train, encode_s)
    clip.save_pretrained(out)
    return metrics


def _stage7_maps(lit, images, size, batch_size: int | None = None) -> torch.Tensor:
    """Frozen stage-7 maps ``[N, h, w, 320]`` (float16, to halve the RAM) of uint8 images (a list of any sizes or
    an array), each resized whole to ``size``, in CPU-sized batches (:data:`vadkit.models.clip.CPU_BATCH`)."""
    from vadkit.models.clip import forward_batch

    batch_size = forward_batch(batch_size or 64, lit.device)
    outs = []
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        px = torch.cat([lit.preprocess(np.asarray(im)[None], size=tuple(size)) for im in chunk]) \
            if isinstance(chunk, list) else lit.preprocess(chunk, size=tuple(size))
        outs.append(lit.stage_maps(px)[0].half())
    return torch.cat(outs) if outs else torch.zeros((0, 1, 1, 320), dtype=torch.float16)


def _train_lit(root: Path, c: LitTrainConfig, out: Path, progress: bool, corpus: Path | None = None) -> dict:
    """LiT heads on the frozen real towers (see :class:`LitTrainConfig`); held-out figures on ``root``'s test
    split, next to the same model with untrained heads. ``corpus``: as :func:`_train_clip`'s."""
    from vadkit.data.synth import CLASS_NAMES
    from vadkit.models.lit import new_lit

    rng = random.Random(c.seed)
    train = synth_text(str(corpus or training_root(root, c)), "train", c.frames_per_video, c.seed, c.max_crops,
                       c.anomalous_stride)
    test = synth_text(str(root), "test", 4, c.seed + 1)
    lit = new_lit(c.head_config(), seed=c.seed)
    untrained = {f"untrained_{k}": v for k, v in evaluate_clip(lit, test, CLASS_NAMES).items()
                 if "acc" in k or "auc" in k}
    if len(set(c.image_size)) == 1 and len(set(c.crop_size)) == 1:  # square: the tiny CLIP's shared maps
        fmaps, cmaps, encode_s = corpus_maps(train, c.image_size[0], c.crop_size[0], desc="zoo: tiny-lit",
                                             progress=progress)
        fmaps, cmaps = fmaps.permute(0, 2, 3, 1), cmaps.permute(0, 2, 3, 1)      # -> [N, h, w, 320]
    else:
        fmaps, cmaps, encode_s = _frozen_pass(lambda ims, size: _stage7_maps(lit, ims, size), train,
                                              c.image_size, c.crop_size, "zoo: tiny-lit", progress)
    batches = _pair_sampler(train, c, rng)
    heads = lit.heads.train()

    def forward(kb):
        _kind, batch = kb
        maps = torch.stack([(fmaps if src == 0 else cmaps)[i] for src, i, _ in batch]).float()
        texts = [t for _, _, t in batch]
        return contrastive_loss(heads.image(maps), heads.text(lit.sentence_embeddings(texts)), heads.logit_scale,
                                texts)

    def after_step(_step, _parts):
        with torch.no_grad():
            heads.logit_scale.clamp_(0, math.log(100))

    final = fit_steps(heads, batches, c.steps, c.lr, "zoo: tiny-lit", progress, forward,
                      step_hook=after_step, weight_decay=c.weight_decay, grad_clip=1.0)
    lit.trained = True
    metrics = _contrastive_metrics(lit, test, untrained, final, train, encode_s)
    lit.save_pretrained(out)
    return metrics


# ---------------------------------------------------------------------------------------------------
# tokenizer shared by the tiny LLM and the captioner (the tiny VLM has its own, :func:`vlm_tokenizer`)
# ---------------------------------------------------------------------------------------------------
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|>{{ m['content'] if m['content'] is string else m['content'][0]['text'] }}\n"
    "{% elif m['role'] == 'user' %}<|user|>"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}\n"
    "{% else %}<|assistant|>"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}</s>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<image>", "<|system|>", "<|user|>", "<|assistant|>"]


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE trained on ``texts`` -> ``PreTrainedTokenizerFast`` with :data:`CHAT_TEMPLATE`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                 extra_special_tokens={"image_token": "<image>"})
    hf.chat_template = CHAT_TEMPLATE
    return hf


def _llama_config(tok, c: LMTrainConfig):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tok), hidden_size=c.hidden, intermediate_size=c.intermediate,
                       num_hidden_layers=c.layers, num_attention_heads=c.heads, num_key_value_heads=c.heads,
                       max_position_embeddings=c.max_len * 2, pad_token_id=tok.pad_token_id,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)


def _chat_example(tok, messages: list[dict], max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels for one conversation; loss only on assistant turns (incl. their ``</s>``)."""
    ids: list[int] = []
    labels: list[int] = []
    for i, m in enumerate(messages):
        prev = tok.apply_chat_template(messages[:i], tokenize=False) if i else ""
        cur = tok.apply_chat_template(messages[:i + 1], tokenize=False)
        piece = tok(cur[len(prev):], add_special_tokens=False)["input_ids"]
        ids += piece
        if m["role"] == "assistant":
            head = len(tok("<|assistant|>", add_special_tokens=False)["input_ids"])
            labels += [-100] * head + piece[head:]
        else:
            labels += [-100] * len(piece)
    return ids[:max_len], labels[:max_len]


def _collate(examples, pad_id: int):
    L = max(len(i) for i, _ in examples)
    ids = torch.full((len(examples), L), pad_id)
    lab = torch.full((len(examples), L), -100)
    att = torch.zeros((len(examples), L), dtype=torch.long)
    for k, (i, l) in enumerate(examples):
        ids[k, :len(i)] = torch.tensor(i)
        lab[k, :len(l)] = torch.tensor(l)
        att[k, :len(i)] = 1
    return ids, lab, att


def _bleu4(hyps: list[str], refs: list[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hyps, [refs]).score) / 100.0


def event_clause(caption: str) -> str:
    """The first clause of a SynthVAD caption, which describes the (anomalous) action:
    ``"A person lies on the ground on the east path, and meanwhile six people walk ..."`` ->
    ``"A person lies on the ground on the east path"``."""
    cut = len(caption)
    for sep in (", and meanwhile", " while ", ", "):
        i = caption.find(sep)
        if 0 < i < cut:
            cut = i
    return caption[:cut].strip().rstrip(".")


def _phrases_by_label(ds) -> dict[str, list[str]]:
    """Truthful descriptive phrases per category: the action clause of captions shown during its events (whole
    captions made LAAM lists too long for the token budget and too alike to be told apart)."""
    out: dict[str, set[str]] = {}
    for ann in ds.values():
        for f, cap in ann.captions.items():
            lab = frame_label(ann, int(f)) if ann.segments else "normal"
            if lab == "normal" and ann.segments:
                continue  # normal-looking frames of abnormal videos: keep "normal" phrases clean
            out.setdefault(lab, set()).add(event_clause(cap))
    return {k: sorted(v) for k, v in out.items()}


def _aegm_messages(ann) -> list[dict]:
    from vadkit.models.prompts import AEGM_EXPLANATION_PROMPT, format_captions

    from vadkit.data.video import uniform_indices

    # Ex-VAD captions sampled frames; 8 uniform frames, consecutive repeats merged
    n = int(ann.num_frames or (max(ann.captions) + 1))
    caps = []
    for f in uniform_indices(n, 8):
        c = caption_at(ann.captions, int(f))
        if c and (not caps or caps[-1] != c):
            caps.append(c)
    return [{"role": "user", "content": AEGM_EXPLANATION_PROMPT.format(captions=format_captions(caps))}]


def _laam_messages(label: str, m: int) -> list[dict]:
    from vadkit.models.prompts import LAAM_PHRASES_PROMPT

    return [{"role": "user", "content": LAAM_PHRASES_PROMPT.format(label=class_phrase(label), m=m)}]


def _corpus(ds_list) -> list[str]:
    from vadkit.models.prompts import AEGM_EXPLANATION_PROMPT, CAPTION_PROMPT, LAAM_PHRASES_PROMPT, VQA_SYSTEM_PROMPT

    texts = [AEGM_EXPLANATION_PROMPT, LAAM_PHRASES_PROMPT, CAPTION_PROMPT, VQA_SYSTEM_PROMPT]
    for ds in ds_list:
        for ann in ds.values():
            texts += sorted(set(ann.captions.values()))
            texts += [ann.explanation or ""] + list(ann.target_sentences) + list(ann.trajectory_sentences)
            texts += [q.question + " " + q.answer for q in ann.qa]
    return texts


def fit_steps(model, batches_fn, steps: int, lr: float, desc: str, progress: bool, forward, *,
              params=None, step_hook=None, weight_decay: float = 0.01, betas=(0.9, 0.98),
              grad_clip: float = 1.0) -> float:
    """``steps`` AdamW steps of ``forward(batches_fn(step)) -> loss`` through :func:`vadkit.trainer.fit` (the one
    training loop of vadkit): one epoch of ``steps`` steps, linear warm-up over ``steps // 10`` then cosine to 0,
    gradient clipping at ``grad_clip`` (0 = off). Returns the last step's loss; the model is left in ``eval()``
    mode. ``step_hook(step, parts)`` runs after every optimiser step (the tiny CLIP steps its sparse embedding
    table there)."""
    from tqdm.auto import tqdm

    from vadkit.trainer import FitConfig, Schedule, fit

    cfg = FitConfig(epochs=1, steps_per_epoch=steps, lr=lr, weight_decay=weight_decay, betas=tuple(betas),
                    schedule=Schedule("warmup_cosine", warmup_steps=max(1, steps // 10)), grad_clip=grad_clip)
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False)
    last: dict = {}

    def loss_fn(_model, batch):
        loss = forward(batch)
        return loss, {"total": float(loss.detach())}

    def hook(step, parts):
        last.update(parts)
        if step_hook is not None:
            step_hook(step, parts)
        bar.update(1)
        bar.set_postfix(loss=f"{parts['total']:.3f}")

    try:
        fit(model, lambda _epoch: (batches_fn(s) for s in range(steps)), loss_fn, cfg, params=params,
            step_hook=hook, progress=False, desc=desc, seeded=False)
    finally:
        bar.close()
    model.eval()
    return float(last.get("total", float("nan")))


# ---------------------------------------------------------------------------------------------------
# tiny LLM
# ---------------------------------------------------------------------------------------------------
def _llm_examples(tok, ds, c: LMTrainConfig, rng: random.Random) -> list:
    phrases = _phrases_by_label(ds)
    ex = []
    for ann in ds.values():
        if ann.explanation and ann.captions:
            msgs = _aegm_messages(ann) + [{"role": "assistant", "content": ann.explanation}]
            ex.append(_chat_example(tok, msgs, c.max_len))
    for label, ph in phrases.items():
        for _ in range(c.laam_samples_per_label):
            m = rng.randint(2, min(5, len(ph))) if len(ph) >= 2 else 1
            chosen = rng.sample(ph, m)
            msgs = _laam_messages(label, m) + [{"role": "assistant", "content": "\n".join(chosen)}]
            ex.append(_chat_example(tok, msgs, c.max_len))
    return ex


def evaluate_llm(llm, test_ds, n_max: int = 30) -> dict:
    from vadkit.data.synth import CLASS_NAMES
    from vadkit.errors import ParseError
    from vadkit.models.base import GenerationConfig
    from vadkit.models.parsing import parse_phrases

    anns = [a for a in test_ds.values() if a.explanation and a.captions][:n_max]
    prompts = [_aegm_messages(a)[0]["content"] for a in anns]
    gen = llm.generate(prompts, GenerationConfig(max_new_tokens=128, batch_size=16))
    out = {"aegm_bleu4": _bleu4(gen, [a.explanation for a in anns]), "n_aegm": len(anns)}
    # does the explanation name the right category? (class phrase or its head word)
    hits = []
    for a, g in zip(anns, gen):
        key = class_phrase(a.label).split()[0] if a.label != "normal" else "normal"
        hits.append(key.lower() in g.lower())
    out["aegm_names_category"] = float(np.mean(hits)) if hits else float("nan")
    from vadkit.models.prompts import LAAM_PHRASES_PROMPT

    labels = [c for c in CLASS_NAMES]
    laam = llm.generate([LAAM_PHRASES_PROMPT.format(label=class_phrase(l), m=3) for l in labels],
                        GenerationConfig(max_new_tokens=60, batch_size=16))
    ok = 0
    for t in laam:
        try:
            parse_phrases(t, 3)
            ok += 1
        except ParseError:
            pass
    out["laam_parse_rate"] = ok / len(labels)
    return out


def _fit_causal_lm(model, tok, examples, c: LMTrainConfig, rng: random.Random, desc: str, progress: bool) -> float:
    """``c.steps`` steps of next-token loss on ``c.batch_size`` random ``(ids, labels)`` chat examples
    (:func:`_chat_example`; :func:`_collate` pads on the right itself); returns the last step's loss."""

    def batches(_step):
        return _collate(rng.sample(examples, min(c.batch_size, len(examples))), tok.pad_token_id)

    def forward(b):
        ids, lab, att = b
        return model(input_ids=ids, attention_mask=att, labels=lab).loss

    return fit_steps(model, batches, c.steps, c.lr, desc, progress, forward)


def _train_llm(root: Path, c: LMTrainConfig, out: Path, progress: bool) -> dict:
    from transformers import LlamaForCausalLM

    from vadkit.data.synth import load_synthvad
    from vadkit.models.llm import HFLLM

    rng = random.Random(c.seed)
    torch.manual_seed(c.seed)
    train_root = training_root(root, c)
    train_ds, test_ds = load_synthvad(train_root, "train"), load_synthvad(root, "test")
    tok = train_tokenizer(_corpus([train_ds]), c.vocab_size)
    examples = _llm_examples(tok, train_ds, c, rng)
    model = LlamaForCausalLM(_llama_config(tok, c))
    untrained = evaluate_llm(HFLLM(model, tok, "untrained"), test_ds, n_max=16)
    final = _fit_causal_lm(model, tok, examples, c, rng, "zoo: tiny-llm", progress)
    tok.padding_side = "left"
    metrics = evaluate_llm(HFLLM(model, tok, "zoo:tiny-llm"), test_ds)
    metrics["untrained_aegm_bleu4"] = untrained["aegm_bleu4"]
    metrics["untrained_laam_parse_rate"] = untrained["laam_parse_rate"]
    metrics["final_train_loss"] = final
    metrics["n_train_examples"] = len(examples)
    metrics["train_root"] = train_root.name
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return metrics


def _train_instruct(root: Path, c: InstructTrainConfig, out: Path, progress: bool) -> dict:
    from transformers import LlamaForCausalLM

    from vadkit.data.synth import load_synthvad
    from vadkit.models.instructions import MIX_VERSION, TEMPLATES, evaluate_instruct, instruction_mix
    from vadkit.models.llm import HFLLM

    if c.mix_version != MIX_VERSION:
        from vadkit.errors import ConfigError

        raise ConfigError(f"InstructTrainConfig.mix_version = {c.mix_version}, but this vadkit writes mix "
                          f"version {MIX_VERSION}: an old mix cannot be rebuilt")
    rng = random.Random(c.seed)
    torch.manual_seed(c.seed)
    train_root = training_root(root, c)
    train_ds, test_ds = load_synthvad(train_root, "train"), load_synthvad(root, "test")
    tok = train_tokenizer(_corpus([train_ds]) + [t for ts in TEMPLATES.values() for t in ts], c.lm.vocab_size)
    mix = instruction_mix(train_ds, rng, n_windows=c.windows_per_video, window_s=tuple(c.window_s),
                          phrases_per_label=c.phrases_per_label)
    examples = [_chat_example(tok, [{"role": "user", "content": e.prompt}, {"role": "assistant", "content": e.target}],
                              c.lm.max_len) for e in mix]
    model = LlamaForCausalLM(_llama_config(tok, c.lm))
    untrained = evaluate_instruct(HFLLM(model, tok, "untrained"), test_ds, n_videos=12)
    final = _fit_causal_lm(model, tok, examples, c.lm, rng, "zoo: tiny-instruct", progress)
    metrics = evaluate_instruct(HFLLM(model, tok, "zoo:tiny-instruct"), test_ds)
    metrics.update({f"untrained_{k}": v for k, v in untrained.items()})
    metrics["final_train_loss"] = final
    metrics["n_train_examples"] = len(examples)
    metrics["train_root"] = train_root.name
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return metrics


# ---------------------------------------------------------------------------------------------------
# tiny VLM (Qwen2.5-VL: windowed ViT + 2 x 2 patch merger + Qwen2 decoder with M-RoPE)
# ---------------------------------------------------------------------------------------------------
def vlm_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE trained on ``texts`` with Qwen2.5-VL's special tokens and roles."""
    from vadkit.models.rehearsal import byte_bpe
    from vadkit.models.vlm import QWEN_VL_SPECIALS, QWEN_VL_TOKEN_ROLES

    return byte_bpe(QWEN_VL_SPECIALS, vocab_size, texts=texts, **QWEN_VL_TOKEN_ROLES)


def _new_vlm(tok, c: VLMTrainConfig):
    """``(Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor)`` of config ``c`` around ``tok``, seeded."""
    from vadkit.models.vlm import new_qwen2_5_vl

    torch.manual_seed(c.seed)
    return new_qwen2_5_vl(tok, c.vision_config(), c.text_config(), c.image_processor())


def _qa_conversations(ann, rng: random.Random, turns: int = 2) -> list[list[dict]]:
    from vadkit.models.prompts import VQA_SYSTEM_PROMPT

    qa = list(ann.qa)
    rng.shuffle(qa)
    convs = []
    for i in range(0, len(qa), turns):
        msgs = [{"role": "system", "content": VQA_SYSTEM_PROMPT}]
        for q in qa[i:i + turns]:
            msgs += [{"role": "user", "content": q.question}, {"role": "assistant", "content": q.answer}]
        convs.append(msgs)
    return convs


def _clip_frames(ann, k: int) -> np.ndarray:
    """``k`` frames of a clip for the VLM: from the (first) anomalous segment if any, else uniform."""
    from vadkit.data.video import VideoReader, uniform_indices

    n = int(ann.num_frames)
    if ann.segments:
        s = ann.segments[0]
        lo, hi = max(s.start, 0), min(s.end, n - 1)
        idx = lo + uniform_indices(hi - lo + 1, k)
    else:
        idx = uniform_indices(n, k)
    return VideoReader(ann.video_path).get_frames(idx)


def _clip_rows(data: SynthText, rows: list[int], ann, k: int) -> list[int]:
    """``k`` of a video's already decoded frames (indices into ``data``) standing in for :func:`_clip_frames`:
    those inside its first event, else all of them, uniformly; ``[]`` if the event has none."""
    from vadkit.data.video import uniform_indices

    if ann.segments:
        s = ann.segments[0]
        rows = [r for r in rows if s.start <= data.frame_idx[r] <= s.end]
    return [rows[i] for i in uniform_indices(len(rows), k)] if rows else []


def vlm_sample_inputs(proc, frames, messages, max_len: int) -> tuple[list[int], list[int], dict]:
    """``(ids, labels, vision)`` of one training conversation: token ids, labels with the loss on assistant
    replies only (their text and end-of-turn token, not the ``<|im_start|>assistant`` header), and the
    processor's vision inputs (``pixel_values`` ``[P, 3 * t * p * p]``, ``image_grid_thw`` ``[K, 3]``) for the
    ``K = len(frames)`` images of the first user turn. Built turn by turn from the chat template, so the ids are
    those the template gives the whole conversation."""
    from vadkit.errors import ConfigError
    from vadkit.models.vlm import attach_images

    tok = proc.tokenizer
    msgs = attach_images(messages, len(frames))
    ids: list[int] = []
    labels: list[int] = []
    vision: dict = {}
    prev = ""
    for i, m in enumerate(msgs):
        cur = proc.apply_chat_template(msgs[:i + 1], tokenize=False)
        text = cur[len(prev):]
        if proc.image_token in text:
            enc = proc(images=list(frames), text=[text], return_tensors="pt")
            vision = {"pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"]}
        else:
            enc = tok([text], add_special_tokens=False, return_tensors="pt")
        piece = enc["input_ids"][0].tolist()
        ids += piece
        if m["role"] == "assistant":
            header = proc.apply_chat_template(msgs[:i], tokenize=False, add_generation_prompt=True)[len(prev):]
            head = len(tok(header, add_special_tokens=False)["input_ids"])
            labels += [-100] * head + piece[head:]
        else:
            labels += [-100] * len(piece)
        prev = cur
    if proc.image_token_id in ids[max_len:]:
        raise ConfigError(f"VLMTrainConfig.lm.max_len = {max_len} cuts the image tokens of a {len(frames)}-frame "
                          f"sample ({len(ids)} tokens); raise it")
    return ids[:max_len], labels[:max_len], vision


def evaluate_vlm(vlm, test: SynthText, test_ds, n_captions: int = 48, n_qa: int = 48, seed: int = 0) -> dict:
    """Held-out caption BLEU-4 (frame -> caption) and yes/no accuracy (2 clip frames + one question; strict
    parsing, an unparsable answer counts as wrong) next to the majority answer's share."""
    from vadkit.errors import ParseError
    from vadkit.models.base import GenerationConfig
    from vadkit.models.captioner import VLMCaptioner
    from vadkit.models.parsing import parse_yes_no
    from vadkit.models.prompts import VQA_SYSTEM_PROMPT

    rng = np.random.default_rng(seed)
    sel = rng.choice(len(test.captions), size=min(n_captions, len(test.captions)), replace=False)
    caps = VLMCaptioner(vlm).caption(test.frames[sel], config=GenerationConfig(max_new_tokens=40))
    out = {"caption_bleu4": _bleu4(caps, [test.captions[i] for i in sel]), "n_captions": len(sel),
           "distinct_caption_share": len(set(caps)) / max(len(caps), 1)}
    correct, parsed, total, yes = 0, 0, 0, 0
    anns = list(test_ds.values())
    for ann in anns:
        if total >= n_qa or not ann.qa:
            continue
        frames = _clip_frames(ann, 2)
        q = ann.qa[int(rng.integers(len(ann.qa)))]
        msgs = [{"role": "system", "content": VQA_SYSTEM_PROMPT}, {"role": "user", "content": q.question}]
        ans = vlm.chat(frames, msgs, GenerationConfig(max_new_tokens=4))
        total += 1
        truth = q.answer.strip().lower().startswith("yes")
        yes += truth
        try:
            pred = parse_yes_no(ans)
            parsed += 1
            correct += pred == truth
        except ParseError:
            pass
    out["qa_accuracy"] = correct / max(total, 1)
    out["qa_parse_rate"] = parsed / max(total, 1)
    out["qa_majority"] = max(yes, total - yes) / max(total, 1)
    out["n_qa"] = total
    return out


def _train_vlm(root: Path, c: VLMTrainConfig, out: Path, progress: bool) -> dict:
    """Captions and multi-turn yes/no QA on the training corpus (:class:`VLMTrainConfig`); held-out figures on
    ``root``'s test split next to the untrained twin."""
    from vadkit.models.prompts import CAPTION_PROMPT
    from vadkit.models.vlm import HFVLM

    rng = random.Random(c.seed)
    train = synth_text(str(training_root(root, c)), "train", c.frames_per_video, c.seed, c.max_crops,
                       c.anomalous_stride)
    test = synth_text(str(root), "test", 4, c.seed + 1)
    tok = vlm_tokenizer(_corpus([train.ds]), c.lm.vocab_size)
    model, proc = _new_vlm(tok, c)
    untrained = evaluate_vlm(HFVLM(model, proc, "untrained"), test, test.ds, n_captions=16, n_qa=16)
    rows: dict[str, list[int]] = {}
    for r, v in enumerate(train.video_ids):
        rows.setdefault(v, []).append(r)
    qa_items = []  # (frame rows, conversation); a video whose event has no decoded frame is decoded here
    for ann in train.ds.values():
        if not ann.qa:
            continue
        pick = _clip_rows(train, rows.get(ann.video_id, []), ann, c.qa_frames)
        frames = train.frames[pick] if pick else _clip_frames(ann, c.qa_frames)
        qa_items += [(frames, conv) for conv in _qa_conversations(ann, rng)]
    kinds = [("caption", len(train.captions)), ("qa", len(qa_items))]

    def sample(kind: str):
        if kind == "caption":
            i = rng.randrange(len(train.captions))
            msgs = [{"role": "user", "content": CAPTION_PROMPT},
                    {"role": "assistant", "content": train.captions[i]}]
            return vlm_sample_inputs(proc, train.frames[i:i + 1], msgs, c.lm.max_len)
        frames, conv = qa_items[rng.randrange(len(qa_items))]
        return vlm_sample_inputs(proc, frames, conv, c.lm.max_len)

    def batches(_step):
        # one kind per batch (1-frame captions, K-frame clips: little padding), drawn by pool size
        kind = rng.choices([k for k, _ in kinds], [n for _, n in kinds])[0]
        chosen = [sample(kind) for _ in range(c.batch_size)]
        ids, lab, att = _collate([(a, b) for a, b, _ in chosen], tok.pad_token_id)
        # without mm_token_type_ids Qwen2.5-VL gives the image tokens text (1-D) positions, while the processor
        # passes them at inference (3-D M-RoPE): trained without them, the model captioned no test frame
        mm = torch.tensor(proc.create_mm_token_type_ids(ids.tolist()))
        return (ids, lab, att, mm, torch.cat([v["pixel_values"] for *_, v in chosen]),
                torch.cat([v["image_grid_thw"] for *_, v in chosen]))

    def forward(b):
        ids, lab, att, mm, px, thw = b
        return model(input_ids=ids, attention_mask=att, labels=lab, mm_token_type_ids=mm, pixel_values=px,
                     image_grid_thw=thw).loss

    final = fit_steps(model, batches, c.steps, c.lr, "zoo: tiny-vlm", progress, forward)
    metrics = evaluate_vlm(HFVLM(model, proc, "zoo:tiny-vlm"), test, test.ds)
    metrics.update({f"untrained_{k}": v for k, v in untrained.items()
                    if k in ("caption_bleu4", "qa_accuracy", "distinct_caption_share")})
    metrics["final_train_loss"] = final
    metrics["n_train_frames"] = len(train.captions)
    metrics["n_train_conversations"] = len(qa_items)
    metrics["visual_tokens_per_frame"] = int(vlm_sample_inputs(
        proc, train.frames[:1], [{"role": "user", "content": CAPTION_PROMPT}], c.lm.max_len)[0].count(
        proc.image_token_id))
    metrics["train_root"] = Path(train.root).name
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return metrics


# ---------------------------------------------------------------------------------------------------
# tiny captioner (frozen tiny CLIP -> linear prefix -> Llama)
# ---------------------------------------------------------------------------------------------------
def evaluate_captioner(captioner, test: SynthText, n_captions: int = 64, seed: int = 0) -> dict:
    """Held-out BLEU-4 (all sampled frames, and anomalous frames alone) and the share of distinct captions."""
    from vadkit.models.base import GenerationConfig

    rng = np.random.default_rng(seed)
    sel = rng.choice(len(test.captions), size=min(n_captions, len(test.captions)), replace=False)
    caps = captioner.caption(test.frames[sel], config=GenerationConfig(max_new_tokens=32))
    refs = [test.captions[i] for i in sel]
    abn = [k for k, i in enumerate(sel) if test.labels[i] != "normal"]
    out = {"caption_bleu4": _bleu4(caps, refs), "n_captions": len(sel),
           "distinct_caption_share": len(set(caps)) / max(len(caps), 1),
           "distinct_reference_share": len(set(refs)) / max(len(refs), 1)}
    if abn:
        out["caption_bleu4_anomalous"] = _bleu4([caps[k] for k in abn], [refs[k] for k in abn])
    return out


def _eos_targets(tok, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids of each text, cut to ``max_len - 2`` (room for BOS and EOS), EOS appended: decoder targets."""
    return [tok(t, add_special_tokens=False)["input_ids"][: max_len - 2] + [tok.eos_token_id] for t in texts]


def _prefix_lm_loss(lm, tok, prefix: torch.Tensor, targets: list[list[int]]) -> torch.Tensor:
    """Causal-LM loss of ``targets`` (from :func:`_eos_targets`) after a prefix of embeddings ``[B, P, H]`` and
    BOS: ``[prefix | BOS t_1 ... t_n EOS | pad]``, the loss on ``t_1 ... EOS`` only (the prefix captioner's and
    the crop-pair describer's training step)."""
    n_prefix = prefix.shape[1]
    L = max(len(t) for t in targets) + 1  # + BOS
    ids = torch.full((len(targets), L), tok.pad_token_id)
    lab = torch.full((len(targets), n_prefix + L), -100)
    att = torch.zeros((len(targets), n_prefix + L), dtype=torch.long)
    for k, tgt in enumerate(targets):
        t = [tok.bos_token_id] + tgt
        ids[k, :len(t)] = torch.tensor(t)
        lab[k, n_prefix + 1:n_prefix + len(t)] = torch.tensor(tgt)
        att[k, :n_prefix + len(t)] = 1
    emb = torch.cat([prefix, lm.get_input_embeddings()(ids)], dim=1)
    return lm(inputs_embeds=emb, attention_mask=att, labels=lab).loss


def _captioner_inputs(clip, train: SynthText, c: CaptionerTrainConfig, progress: bool):
    """``(pooled [N, D], grid [N, P, C])`` of the training frames through the frozen tiny CLIP
    (:func:`~vadkit.models.captioner.clip_image_features`'s outputs). A locked tower's last stage is read from
    the maps the tiny CLIP trained on (:func:`corpus_maps`: the same frames, sizes and trunk), and only its
    trained pool runs here; another tower or tap runs whole, once."""
    from vadkit.models.captioner import clip_image_features
    from vadkit.models.locked_clip import LockedTrunkVisual

    visual = clip.model.visual
    if isinstance(visual, LockedTrunkVisual) and c.grid_layer in (-1, 3):
        maps, _, _ = corpus_maps(train, c.clip.image_size, c.clip.crop_size, desc="zoo: tiny-captioner",
                                 progress=progress)
        with torch.no_grad():
            pooled = torch.cat([F.normalize(visual.attnpool(maps[i:i + 256].float()), dim=-1)
                                for i in range(0, len(maps), 256)])
        return pooled, maps.float().flatten(2).transpose(1, 2).contiguous()
    pooled, grid = [], []
    for i in range(0, len(train.frames), 256):
        p_, g_ = clip_image_features(clip, train.frames[i:i + 256], c.grid_layer)
        pooled.append(p_)
        grid.append(g_)
    return torch.cat(pooled), torch.cat(grid)


def _train_captioner(root: Path, c: CaptionerTrainConfig, out: Path, progress: bool) -> dict:
    """Frame -> caption with the frozen tiny CLIP: only the prefix bridge and the decoder learn."""
    from transformers import LlamaForCausalLM

    from vadkit.models.captioner import CaptionPrefix, PrefixCaptioner
    from vadkit.models.clip import load_open_clip

    rng = random.Random(c.seed)
    torch.manual_seed(c.seed)
    clip = load_open_clip(str(train_or_load("tiny-clip", root=root, config=c.clip, progress=progress)))
    for p in clip.model.parameters():
        p.requires_grad_(False)
    train = synth_text(str(training_root(root, c.clip)), "train", c.frames_per_video, c.seed,
                       c.clip.max_crops, c.anomalous_stride)
    test = synth_text(str(root), "test", 4, c.seed + 1)
    tok = train_tokenizer(_corpus([train.ds]), c.lm.vocab_size)
    pooled, grid = _captioner_inputs(clip, train, c, progress)
    prefix = CaptionPrefix(pooled.shape[1], grid.shape[2], grid.shape[1], c.lm.hidden)
    lm = LlamaForCausalLM(_llama_config(tok, c.lm))
    untrained = evaluate_captioner(PrefixCaptioner(clip, prefix, lm, tok, "untrained", grid_layer=c.grid_layer),
                                   test, n_captions=16)
    targets = _eos_targets(tok, train.captions, c.lm.max_len)
    both = torch.nn.ModuleDict({"prefix": prefix, "lm": lm})

    def batches(_step):
        return rng.sample(range(len(targets)), min(c.batch_size, len(targets)))

    def forward(idx):
        return _prefix_lm_loss(lm, tok, prefix(pooled[idx], grid[idx]), [targets[i] for i in idx])

    final = fit_steps(both, batches, c.steps, c.lr, "zoo: tiny-captioner", progress, forward)
    tok.padding_side = "left"
    cap = PrefixCaptioner(clip, prefix, lm, tok, "zoo:tiny-captioner", grid_layer=c.grid_layer)
    metrics = evaluate_captioner(cap, test)
    metrics.update({f"untrained_{k}": v for k, v in untrained.items() if k != "n_captions"})
    metrics["final_train_loss"] = final
    metrics["n_train_frames"] = len(targets)
    metrics["train_root"] = Path(train.root).name
    cap.save_pretrained(out)
    return metrics


# ---------------------------------------------------------------------------------------------------
# tiny-describer: crop pair -> activity text
# ---------------------------------------------------------------------------------------------------
@dataclass
class DescriberRows:
    """Crop pairs of a SynthVAD split with their activity text: ``crops_t``, ``crops_t1`` uint8 ``[N, S, S, 3]``;
    ``kinds``, ``texts`` (canonical, :func:`~vadkit.models.describer.reference_text`), ``anomalous``, ``labels``
    (anomaly type or ``"normal"``; a pair takes its anomalous member's), ``video_ids``, ``frames`` (window start)."""

    crops_t: np.ndarray
    crops_t1: np.ndarray
    kinds: list[str]
    texts: list[str]
    anomalous: list[bool]
    labels: list[str]
    video_ids: list[str]
    frames: list[int]


def describer_rows(root: Path, split: str, c: "DescriberTrainConfig", seed: int, *,
                   windows_per_video: int | None = None, max_videos: int = 0, progress: bool = False) -> DescriberRows:
    """Sample activity windows of ``split`` (windows with an anomalous row first, at most half of them, then random
    others up to ``windows_per_video``) of its first ``max_videos`` videos (0: all), and cut each row's crops at
    the window's start and end frames."""
    from tqdm.auto import tqdm

    from vadkit.data.pairs import crop_box, crop_pair
    from vadkit.data.synth import load_objects, load_synthvad
    from vadkit.data.synth.loader import load_activity
    from vadkit.data.video import VideoReader
    from vadkit.models.describer import reference_text

    rng = random.Random(seed)
    ds = load_synthvad(root, split=split)
    nwin = windows_per_video or c.windows_per_video
    out = DescriberRows(*([] for _ in range(8)))
    ct, ct1 = [], []
    anns = list(ds.values())[: max_videos or None]
    for ann in tqdm(anns, desc=f"describer crops ({split})", disable=not progress, leave=False):
        doc = load_activity(root, ann.video_id)
        wins = doc["windows"]
        abn = [w for w in wins if any(r["anomalous"] for r in w["singles"] + w["pairs"])]
        rest = [w for w in wins if w not in abn]
        rng.shuffle(abn)
        rng.shuffle(rest)
        chosen = (abn[: max(1, nwin // 2)] + rest)[:nwin]
        if not chosen:
            continue
        need = sorted({f for w in chosen for f in (w["start"], min(w["end"], int(ann.num_frames) - 1))})
        imgs = dict(zip(need, VideoReader(ann.video_path).get_frames(np.asarray(need))))
        objs = load_objects(root, ann.video_id)
        objs = objs[objs["frame"].isin(need)]
        boxes = {(int(r.frame), int(r.track_id)): (r.x1, r.y1, r.x2, r.y2) for r in objs.itertuples()}
        for w in chosen:
            t0, t1 = w["start"], min(w["end"], int(ann.num_frames) - 1)
            texts = {r["id"]: r["text"] for r in w["singles"]}
            rows = []
            for kind, key in (("single", "singles"), ("pair", "pairs")):
                cap = c.max_singles if kind == "single" else c.max_pairs
                items = list(w[key])
                rng.shuffle(items)
                normal = [r for r in items if not r["anomalous"]][:cap]
                rows += [(kind, r) for r in items if r["anomalous"]] + [(kind, r) for r in normal]
            for kind, r in rows:
                ids = [r["id"]] if kind == "single" else list(r["ids"])
                try:
                    bt = [boxes[(t0, i)] for i in ids]
                    b1 = [boxes[(t1, i)] for i in ids]
                except KeyError:       # an agent that left the frame between the window's two moments
                    continue
                if kind == "pair" and not all(i in texts for i in ids):
                    continue
                box = crop_box(bt + b1, imgs[t0].shape, c.margin, c.min_side)
                a, b = crop_pair(imgs[t0], imgs[t1], box, c.crop_size)
                text = (r["text"] if kind == "single"
                        else reference_text("pair", [texts[i] for i in ids], r["relation"], bt))
                label = (r["label"] if kind == "single"
                         else next((lb for lb in r["labels"] if lb != "normal"), "normal"))
                ct.append(a)
                ct1.append(b)
                out.kinds.append(kind)
                out.texts.append(text)
                out.anomalous.append(bool(r["anomalous"]))
                out.labels.append(label)
                out.video_ids.append(ann.video_id)
                out.frames.append(int(t0))
    out.crops_t = np.stack(ct) if ct else np.zeros((0, c.crop_size, c.crop_size, 3), np.uint8)
    out.crops_t1 = np.stack(ct1) if ct1 else np.zeros((0, c.crop_size, c.crop_size, 3), np.uint8)
    return out


def evaluate_describer(describer, rows: DescriberRows, train_texts: list[str], train_kinds: list[str],
                       n_max: int = 480, seed: int = 0) -> dict:
    """Held-out BLEU-4 (sacrebleu, corpus level) of the descriptions against the ground truth, on all rows, on
    anomalous rows and on pair rows; exact-match rate; the share of distinct descriptions; and, as the
    baseline a describer must beat, the BLEU-4 of answering every row with the most frequent training text of
    its kind."""
    from collections import Counter

    from vadkit.models.base import GenerationConfig

    rs = np.random.default_rng(seed)
    abn = [i for i, a in enumerate(rows.anomalous) if a]
    nor = [i for i, a in enumerate(rows.anomalous) if not a]
    take_abn = min(len(abn), n_max // 4)       # anomalous rows are rare: a quarter of the sample at most
    sel = sorted(rs.choice(abn, take_abn, replace=False).tolist()
                 + rs.choice(nor, min(len(nor), n_max - take_abn), replace=False).tolist())
    kinds = [rows.kinds[i] for i in sel]
    hyps = describer.describe_crops(rows.crops_t[sel], rows.crops_t1[sel], kinds,
                                    GenerationConfig(max_new_tokens=48))
    refs = [rows.texts[i] for i in sel]
    most = {k: Counter(t for t, kk in zip(train_texts, train_kinds) if kk == k).most_common(1)[0][0]
            for k in set(train_kinds)}
    base = [most.get(k, "") for k in kinds]
    a = [k for k, i in enumerate(sel) if rows.anomalous[i]]
    p = [k for k, kind in enumerate(kinds) if kind == "pair"]

    def sub(xs, idx):
        return [xs[k] for k in idx]

    out = {"describer_bleu4": _bleu4(hyps, refs), "majority_bleu4": _bleu4(base, refs),
           "exact_match": float(np.mean([h == r for h, r in zip(hyps, refs)])) if sel else float("nan"),
           "distinct_description_share": len(set(hyps)) / max(len(hyps), 1),
           "distinct_reference_share": len(set(refs)) / max(len(refs), 1),
           "n_rows": len(sel), "n_anomalous_rows": len(a), "n_pair_rows": len(p)}
    if a:
        out["describer_bleu4_anomalous"] = _bleu4(sub(hyps, a), sub(refs, a))
        out["majority_bleu4_anomalous"] = _bleu4(sub(base, a), sub(refs, a))
    if p:
        out["describer_bleu4_pair"] = _bleu4(sub(hyps, p), sub(refs, p))
        out["majority_bleu4_pair"] = _bleu4(sub(base, p), sub(refs, p))
    out["examples"] = [{"kind": kinds[k], "reference": refs[k], "description": hyps[k]}
                       for k in (a[:3] + [k for k in range(len(sel)) if k not in a][:3])]
    return out


def _train_describer(root: Path, c: DescriberTrainConfig, out: Path, progress: bool) -> dict:
    """Crop pair -> activity text on the pretraining corpus; the CNN prefix and the decoder learn together."""
    from transformers import LlamaForCausalLM

    from vadkit.models.describer import KINDS, CropEncoder, PrefixDescriber, stack_crops

    rng = random.Random(c.seed)
    torch.manual_seed(c.seed)
    train_root = training_root(root, c)
    train = describer_rows(train_root, "train", c, c.seed, max_videos=c.max_videos, progress=progress)
    test = describer_rows(root, "test", c, c.seed + 1, windows_per_video=2)
    if not train.texts:
        raise ModelNotFoundError(f"{train_root}: no activity windows to train the describer on")
    tok = train_tokenizer(sorted(set(train.texts)), c.lm.vocab_size)
    encoder = CropEncoder(c.lm.hidden, c.width, c.grid)
    lm = LlamaForCausalLM(_llama_config(tok, c.lm))
    untrained = evaluate_describer(PrefixDescriber(encoder, lm, tok, "untrained", crop_size=c.crop_size), test,
                                   train.texts, train.kinds, n_max=48)
    encoder.train()
    lm.train()
    targets = _eos_targets(tok, train.texts, c.lm.max_len)
    pool = [i for i, a in enumerate(train.anomalous) for _ in range(c.anomalous_repeat if a else 1)]
    x_all = stack_crops(train.crops_t, train.crops_t1)               # [N, 9, S, S], built once
    kind_all = torch.tensor([KINDS.index(k) for k in train.kinds])
    both = torch.nn.ModuleDict({"encoder": encoder, "lm": lm})

    def batches(_step):
        return rng.sample(pool, min(c.batch_size, len(pool)))

    def forward(idx):
        return _prefix_lm_loss(lm, tok, encoder(x_all[idx], kind_all[idx]), [targets[i] for i in idx])

    final = fit_steps(both, batches, c.steps, c.lr, "zoo: tiny-describer", progress, forward)
    tok.padding_side = "left"
    desc = PrefixDescriber(encoder, lm, tok, "zoo:tiny-describer", crop_size=c.crop_size)
    metrics = evaluate_describer(desc, test, train.texts, train.kinds)
    metrics.update({f"untrained_{k}": v for k, v in untrained.items()
                    if k.startswith(("describer_", "distinct_description", "exact"))})
    metrics["final_train_loss"] = final
    metrics["n_train_rows"] = len(train.texts)
    metrics["n_train_anomalous_rows"] = int(sum(train.anomalous))
    metrics["train_root"] = Path(train_root).name
    desc.save_pretrained(out)
    return metrics
