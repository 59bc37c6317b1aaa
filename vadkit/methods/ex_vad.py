"""Ex-VAD (Huang et al., ICML 2025): explainable fine-grained VAD.

* **AEGM** (Sec. 3.2): caption ``n`` uniformly sampled frames with a captioner (BLIP-2 in the paper), clean the
  captions by image-text alignment (Eq. 2: each frame takes the video's caption of highest CLIP cosine to it),
  then prompt an LLM (Llama-3.1) with the cleaned captions for a video-level anomaly explanation ``E`` (Eq. 3).
  :func:`aegm_video` does one video, :func:`generate_explanations` a dataset with per-video caches.
* **MADM** (Sec. 3.3): ``F_T = E_T(E)`` (CLIP text encoder) fused with the LGT-Adapter features, ``F_F = F_V + F_T``
  (or concatenation, which the implementation details name), coarse classifier FFN + FC + sigmoid - the
  ``text_fusion`` option of :class:`~vadkit.methods.vadclip.DualBranchVAD`.
* **LAAM** (Sec. 3.4): the LLM writes ``m`` phrases per category label; the top-k (k = 4) by cosine to the label
  are fused with the label embedding into ``F_L`` (:func:`~vadkit.methods.prompt_learning.label_augmented_embeddings`);
  the alignment map ``M = cos(F_F, F_L)`` drives fine-grained classification.

Nothing here reads ground-truth explanations: the model only sees generated text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vadkit.errors import VadkitError
from vadkit.methods.captions import clean_captions  # noqa: F401 - Eq. 2, shared with LAVAD


def aegm_captions(video_path, num_frames: int, n: int, captioner, clip, prompt: str | None = None,
                  cache=None) -> dict:
    """Caption ``n`` uniformly sampled frames and clean them (AEGM, first half; the cleaning of Eq. 2 is
    :func:`vadkit.methods.captions.caption_and_clean`, shared with LAVAD).

    Captions go through the model-call cache (:func:`vadkit.models.calls.cached_captions`, keyed by the captioner's
    identity, the prompt and each frame's pixels); the frames of one video are captioned as one batch.
    Returns ``{"frames": [idx], "captions": [str], "cleaned": [str]}`` (``cleaned[i]`` is frame ``i``'s caption
    after Eq. 2).
    """
    from vadkit.data.video import uniform_indices
    from vadkit.methods.captions import caption_and_clean

    idx = uniform_indices(int(num_frames), n)
    rec = caption_and_clean(video_path, idx, captioner, clip, prompt, cache)
    if len(rec["captions"]) != len(idx):
        raise VadkitError(f"{video_path}: captioner returned {len(rec['captions'])} captions for {len(idx)} frames")
    return {"frames": [int(i) for i in idx], "captions": rec["captions"], "cleaned": rec["cleaned"]}


def explanation_prompt(cleaned: Sequence[str]) -> str:
    """The AEGM prompt ``P_S`` filled with the cleaned captions (template in :mod:`vadkit.models.prompts`)."""
    from vadkit.models.prompts import AEGM_EXPLANATION_PROMPT, format_captions

    # consecutive duplicates (a static scene) add no information; keep the first of each run
    dedup = [c for i, c in enumerate(cleaned) if i == 0 or c != cleaned[i - 1]]
    return AEGM_EXPLANATION_PROMPT.format(captions=format_captions(dedup))


def generate_explanations(annotations, captioner, clip, llm, cache=None, n_frames: int = 16,
                          caption_prompt: str | None = None, gen_config=None) -> tuple[dict, dict]:
    """AEGM over a dataset. Returns ``({video_id: {"captions", "cleaned", "frames", "explanation", "prompt"}},
    {video_id: error})``.

    Every model call goes through the one model-call cache ``cache`` (a
    :class:`~vadkit.models.calls.ModelCallCache` or its root; ``None`` = the default): captions keyed by captioner
    identity, prompt and pixels; the cleaned record of a video by captioner + CLIP identity, ``n_frames``, prompt and
    the video file's fingerprint; explanations by LLM identity, prompt and decoding settings. A re-run makes no new
    model call. A video that fails (unreadable file, captioner error) is recorded and skipped.
    """
    from tqdm.auto import tqdm

    from vadkit.features.provenance import source_fingerprint
    from vadkit.identity import cache_key, producer, read_json_entry, write_json_entry
    from vadkit.models import cached_generate
    from vadkit.models.calls import ModelCallCache, _identity_of

    cache = cache if isinstance(cache, ModelCallCache) else ModelCallCache(cache)
    ids = {"captioner": _identity_of(captioner), "clip": _identity_of(clip), "n": n_frames, "prompt": caption_prompt}
    out, errors = {}, {}
    for ann in tqdm(list(annotations.values()), desc="AEGM captions", leave=False):
        try:
            if ann.video_path is None or not ann.num_frames:
                raise VadkitError(f"{ann.video_id}: no readable video file / frame count")
            key = cache_key(producer("model-calls"), kind="aegm-record", video=source_fingerprint(ann.video_path),
                            num_frames=int(ann.num_frames), **ids)
            path = cache.root / "aegm" / key[:2] / f"{key}.json"
            rec = read_json_entry(path)
            if rec is None:
                rec = aegm_captions(ann.video_path, ann.num_frames, n_frames, captioner, clip, caption_prompt, cache)
                write_json_entry(path, rec)
            rec = {k: rec[k] for k in ("frames", "captions", "cleaned")}
            out[ann.video_id] = rec
        except (VadkitError, OSError, ValueError) as err:
            errors[ann.video_id] = f"{type(err).__name__}: {err}"
    prompts = {vid: explanation_prompt(rec["cleaned"]) for vid, rec in out.items()}
    texts = cached_generate(llm, prompts, cache, gen_config)
    for vid, rec in out.items():
        rec["prompt"] = prompts[vid]
        rec["explanation"] = texts.get(vid)
    return out, errors


def label_phrases(llm, classnames: Sequence[str], m: int, cache_dir=None, gen_config=None) -> tuple[dict, dict]:
    """LAAM step 1: ``m`` descriptive phrases per label from the LLM (cached), parsed strictly.

    Returns ``({label: [phrases]}, {label: parse error})``; a label whose output cannot be parsed keeps no
    phrases (its embedding is then the plain label embedding) and the error is reported.
    """
    from vadkit.errors import ParseError
    from vadkit.models import cached_generate
    from vadkit.models.parsing import parse_phrases
    from vadkit.models.prompts import LAAM_PHRASES_PROMPT

    prompts = {c: LAAM_PHRASES_PROMPT.format(label=c.replace("_", " "), m=m) for c in classnames}
    texts = cached_generate(llm, prompts, cache_dir, gen_config)
    phrases, errors = {}, {}
    for c in classnames:
        try:
            phrases[c] = parse_phrases(texts[c], m, source=f"LAAM phrases for {c!r}")
        except ParseError as err:
            phrases[c], errors[c] = [], str(err)
    return phrases, errors


def laam_embeddings(clip, classnames: Sequence[str], phrases: dict, k: int = 4, template: str = "{}"
                    ) -> tuple[torch.Tensor, dict]:
    """LAAM step 2: ``F_L [C, D]`` = label embedding fused with its top-k phrases, and the kept phrases per label."""
    from vadkit.methods.prompt_learning import label_augmented_embeddings

    with torch.no_grad():
        labels = clip.encode_texts([template.format(c.replace("_", " ")) for c in classnames])
        ph = [clip.encode_texts(phrases[c]) if phrases.get(c) else None for c in classnames]
    emb, kept = label_augmented_embeddings(labels, ph, k)
    return emb, {c: [phrases[c][i] for i in idx] for c, idx in zip(classnames, kept)}


def encode_explanations(clip, records: dict, key: str = "explanation") -> dict[str, np.ndarray]:
    """``F_T = E_T(E)`` per video: ``{video_id: [D]}`` (CLIP text encoder, L2-normalised)."""
    ids = [v for v, r in records.items() if r.get(key)]
    if not ids:
        return {}
    with torch.no_grad():
        emb = clip.encode_texts([records[v][key] for v in ids]).float().numpy()
    return dict(zip(ids, emb))


def encode_snippet_captions(clip, records: dict, num_snippets: dict[str, int], snippet_len: int = 16) -> dict[str, np.ndarray]:
    """Caption ablation (Tables 4-5): each snippet gets the cleaned caption of the nearest sampled frame, ``[T, D]``."""
    out = {}
    for vid, rec in records.items():
        if vid not in num_snippets:
            continue
        with torch.no_grad():
            emb = clip.encode_texts(rec["cleaned"]).float().numpy()          # [n, D]
        centres = np.arange(num_snippets[vid]) * snippet_len + snippet_len / 2
        frames = np.asarray(rec["frames"])
        nearest = np.abs(centres[:, None] - frames[None, :]).argmin(1)
        out[vid] = emb[nearest]
    return out


def variants(fusion: str, topk_phrases: int, topk_sweep) -> dict:
    """Every trained configuration of the Ex-VAD chapter, by table row name (:class:`~vadkit.methods.vadclip.Variant`).

    VadCLIP and Ex-VAD (no visual prompt: Ex-VAD's Fig. 2 has none), Table 4's module ablation (visual only / +
    captions / + explanation / + LAAM = Ex-VAD), Table 5 (captions instead of the explanation, with LAAM), Table 6's
    label prompts (all with the explanation text; "[CLS]" is "+ explanation") and Fig. 4's k sweep.
    """
    from vadkit.methods.vadclip import Variant

    f = fusion
    v = {
        "VadCLIP": Variant("VadCLIP", class_mode="learnable", visual_prompt=True),
        "Ex-VAD": Variant("Ex-VAD", class_mode="laam", text_source="explanation", visual_prompt=False, fusion=f,
                          topk_phrases=topk_phrases),
        "visual only": Variant("visual only", class_mode="cls", visual_prompt=False),
        "+ captions": Variant("+ captions", class_mode="cls", text_source="captions", visual_prompt=False, fusion=f),
        "+ explanation": Variant("+ explanation", class_mode="cls", text_source="explanation", visual_prompt=False,
                                 fusion=f),
        "captions + LAAM": Variant("captions + LAAM", class_mode="laam", text_source="captions", visual_prompt=False,
                                   fusion=f, topk_phrases=topk_phrases),
        "a video of [CLS]": Variant("a video of [CLS]", class_mode="a_video_of", text_source="explanation",
                                    visual_prompt=False, fusion=f),
        "learnable prompt": Variant("learnable prompt", class_mode="learnable", text_source="explanation",
                                    visual_prompt=False, fusion=f),
    }
    for k in topk_sweep:
        if k != topk_phrases:
            v[f"k={k}"] = Variant(f"k={k}", class_mode="laam", text_source="explanation", visual_prompt=False,
                                  fusion=f, topk_phrases=k)
    return v


def truncation_report(clip, texts: Sequence[str]) -> dict:
    """How many texts CLIP's text encoder cuts at its context length, and by how much.

    A CLIP text encoder reads at most ``context_length`` tokens (77 for OpenAI CLIP, start and end tokens included)
    and silently drops the rest; Ex-VAD encodes explanations with it, so long explanations lose their end. Returns
    ``{"n", "n_cut", "share_cut", "max_tokens", "mean_tokens_cut"}`` (tokens cut per truncated text). The count uses
    the tokenizer's own BPE (``tokenizer.encode``) where it exposes it, else the CLIP tokenizer without truncation.
    """
    L = int(getattr(clip, "context_length", 77))
    tok = getattr(clip, "tokenizer", None)
    counts = []
    for t in texts:
        if tok is not None and hasattr(tok, "encode"):
            n = len(tok.encode(t)) + 2                         # + start and end tokens
        else:
            ids = torch.as_tensor(clip.tokenize([t]))[0]
            n = int((ids != 0).sum())
        counts.append(n)
    cut = [n - L for n in counts if n > L]
    return {"n": len(counts), "n_cut": len(cut), "share_cut": (len(cut) / len(counts)) if counts else 0.0,
            "max_tokens": max(counts) if counts else 0, "context_length": L,
            "mean_tokens_cut": float(np.mean(cut)) if cut else 0.0}
