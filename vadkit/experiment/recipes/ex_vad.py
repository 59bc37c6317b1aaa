"""Recipe: Ex-VAD's text pipeline on the dual-branch network (chapter 12).

1. features: frozen CLIP snippet features (the feature cache is shared with chapter 11);
2. :func:`aegm`: captions of ``n_caption_frames`` uniformly sampled frames -> cleaned by CLIP image-text alignment ->
   an LLM explanation per video; LAAM phrases per label (every model call cached by model identity and prompt);
3. MADM + training: :class:`~vadkit.experiment.recipes.dual_branch.DualBranchMethod` with text fusion and LAAM class
   embeddings (the variants of :func:`vadkit.methods.ex_vad.variants`);
4. :func:`ablation_table`, :func:`explanation_records` (per-video explanations kept with the results).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadkit.experiment.chapter import param
from vadkit.experiment.recipes.dual_branch import ChapterData, DualBranchChapterConfig
from vadkit.experiment.reporting import fmt, summarize
from vadkit.experiment.types import SeedRun


@dataclass
class ExVADChapterConfig(DualBranchChapterConfig):
    """Chapter 12's fields beyond the dual-branch ones (AEGM, LAAM, MADM, ablations)."""

    captioner: str = param("zoo:tiny-captioner", paper="BLIP-2 (Salesforce/blip2-opt-2.7b)")
    llm: str = param("zoo:tiny-llm", paper="Llama-3.1-8B-Instruct; GPT-4 for LAAM")
    n_caption_frames: int = param(8, paper="n uniformly sampled frames (n not given)", note="full: 32")
    m_phrases: int = param(5, paper="not given", note="full: 10 (k up to 8 in Fig. 4 needs m >= 8); smoke: 5, the "
                                                     "most the tiny LLM was trained to list")
    topk_phrases: int = param(4, paper=4)
    laam_repetition_penalty: float = param(1.3, paper="not given (GPT-4 writes the phrases)",
                                           note="full: 1.0; greedy tiny LLM repeats one phrase m times without it")
    fusion: str = param("concat", paper="concatenation (Sec. 4.1); Eq. 3 writes F_V + F_T (add)")
    max_new_tokens: int = param(96, show=False)
    topk_sweep: list[int] = param([1, 2, 3, 4, 5], paper="1..8 (Fig. 4)")
    ablation_seeds: list[int] = param([0], note="smoke: one seed per ablation row (time); full: 0, 1, 2")
    run_ablations: bool = param(True, show=False)
    lam: float = param(1.0, paper="1 (UCF) / 1e-4 (XD)", code="VadCLIP's code: 0.1 (UCF) / 1e-4 (XD)",
                       note="contrastive weight; Ex-VAD's text, for every variant of this chapter")


def aegm(cfg: ExVADChapterConfig, data: ChapterData) -> dict:
    """Run (or load) AEGM on all splits and LAAM phrases; fill ``data.texts`` and ``data.extra``.

    Returns ``{"records": {vid: {...}}, "errors": {vid: msg}, "phrases", "phrase_errors", "kept"}``.
    """
    from vadkit.io_utils import content_hash
    from vadkit.methods import ex_vad
    from vadkit.models import load_captioner, load_llm
    from vadkit.models.base import GenerationConfig

    captioner = load_captioner(cfg.captioner)
    llm = load_llm(cfg.llm)
    gen = GenerationConfig(max_new_tokens=cfg.max_new_tokens, do_sample=False)
    records, errors = {}, {}
    for split in ("train", "val", "test"):
        rec, err = ex_vad.generate_explanations(data.split(split), captioner, data.clip, llm, None,
                                                n_frames=cfg.n_caption_frames, gen_config=gen)
        records.update(rec)
        errors.update(err)
    data.texts["explanation"] = ex_vad.encode_explanations(data.clip, records)
    truncation = ex_vad.truncation_report(data.clip, [r["explanation"] for r in records.values() if r.get("explanation")])
    n_snip = {v: int(np.asarray(data.stores[s].load(v)).shape[0])
              for s in ("train", "val", "test") for v in data.split(s) if v in records}
    data.texts["captions"] = ex_vad.encode_snippet_captions(data.clip, records, n_snip, cfg.snippet_len)
    laam_gen = dataclasses.replace(gen, repetition_penalty=cfg.laam_repetition_penalty)
    phrases, perr = ex_vad.label_phrases(llm, data.classes, cfg.m_phrases, None, laam_gen)
    ks = sorted(set(cfg.topk_sweep) | {cfg.topk_phrases})
    data.extra["laam"], kept = {}, {}
    for k in ks:
        data.extra["laam"][k], kept[k] = ex_vad.laam_embeddings(data.clip, data.classes, phrases, k)
    data.extra["cache_key"] = content_hash({"expl": {v: r.get("explanation") for v, r in sorted(records.items())},
                                            "phrases": phrases})
    return {"records": records, "errors": errors, "phrases": phrases, "phrase_errors": perr, "kept": kept,
            "truncation": truncation}


def aegm_bench(cfg: ExVADChapterConfig, data: ChapterData) -> dict | None:
    """AEGM on the shared benchmark's videos (:func:`~vadkit.experiment.recipes.dual_branch.attach_bench`), with
    the chapter's captioner, LLM, frames and decoding (cached as :func:`aegm`'s calls), so the text variants can
    score them: their explanation and caption features are added to ``data.texts`` (the trained weights' key,
    ``data.extra["cache_key"]``, is unchanged). Returns ``{"records", "errors"}``, or ``None`` where there is no
    bench."""
    from vadkit.experiment.recipes.dual_branch import attach_bench
    from vadkit.methods import ex_vad
    from vadkit.models import load_captioner, load_llm
    from vadkit.models.base import GenerationConfig

    bench = attach_bench(data, cfg)
    if bench is None:
        return None
    gen = GenerationConfig(max_new_tokens=cfg.max_new_tokens, do_sample=False)
    records, errors = ex_vad.generate_explanations(bench.ann, load_captioner(cfg.captioner), data.clip,
                                                   load_llm(cfg.llm), None, n_frames=cfg.n_caption_frames,
                                                   gen_config=gen)
    store = data.stores["bench"]
    n_snip = {v: int(np.asarray(store.load(v)).shape[0]) for v in records}
    data.texts.setdefault("explanation", {}).update(ex_vad.encode_explanations(data.clip, records))
    data.texts.setdefault("captions", {}).update(
        ex_vad.encode_snippet_captions(data.clip, records, n_snip, cfg.snippet_len))
    return {"records": records, "errors": errors}


#: how chapter 12 meets the bench (the leaderboard's note)
BENCH_NOTE = ("each seed's weights (epoch chosen on val) and coarse stream chosen on val; the bench videos' "
              "explanations generated by the same AEGM (captioner, LLM, frames); CLIP features every 16 frames")


def variants(cfg: ExVADChapterConfig) -> dict:
    from vadkit.methods.ex_vad import variants as _variants

    return _variants(cfg.fusion, cfg.topk_phrases, cfg.topk_sweep)


def ablation_table(results: dict[str, list[SeedRun]], rows: list[tuple[str, str]], metric_keys: list[str],
                   headers: list[str], paper_table: str | None = None, paper: str = "ex_vad"):
    """Rows ``(label, result key)`` with ``mean ± std`` (%) of ``metric_keys``, the paper's value beside."""
    import pandas as pd

    from vadkit import papers

    pub = papers.load(paper)["tables"][paper_table]["rows"] if paper_table else None
    out = []
    for label, key in rows:
        s = summarize(results.get(key, []), metric_keys)
        row = {"setting": label, **{h: fmt(s[k]) for h, k in zip(headers, metric_keys)}}
        if pub is not None:
            row["paper"] = pub.get(label, [None])[-1]
        out.append(row)
    return pd.DataFrame(out)


def other_chapter_rows(profile: str, methods=("LAVAD", "VADor", "VERA")) -> list[dict]:
    """Table 3 rows of other chapters' methods, from their declared headline metrics in the registry."""
    from vadkit import registry

    rows = []
    for chapter, rec in registry.load_all(profile).items():
        if rec.get("status") != "ok":
            continue
        for h in rec.get("headline") or []:
            if h.get("method") in methods and h.get("metric") in ("AUC_O", "AP"):
                col = "AUC val-selected" if h["metric"] == "AUC_O" else "AP val-selected"
                rows.append({"method": f"{h['method']} ({chapter})", "data": h.get("dataset"),
                             col: None if h.get("value") is None else f"{100 * h['value']:.2f}"})
    return rows


def explanation_records(records: dict, runs: list[SeedRun], data: ChapterData, k_div: int = 16) -> dict:
    """Per test video: the generated explanation, cleaned captions, predicted category and the frame scores, from
    the seed chosen on validation (:func:`~vadkit.experiment.recipes.dual_branch.selected_run`), never on test."""
    from vadkit.experiment.recipes.dual_branch import selected_run

    r = selected_run(runs)
    out = {}
    for vid, p in r.predictions.items():
        probs = p.class_probs[:, 1:]
        k = probs.shape[0] // k_div + 1
        video = np.sort(probs, axis=0)[-k:].mean(0)
        rec = records.get(vid, {})
        out[vid] = {"explanation": rec.get("explanation"), "cleaned_captions": rec.get("cleaned"),
                    "predicted_class": data.classes[1 + int(video.argmax())],
                    "true_classes": list(data.test[vid].classes),
                    "score_variant": r.selected, "scores": np.round(p.scores[r.selected], 4).tolist(),
                    "seed": r.seed}
    return out


def save_explanations(cfg, per_video: dict) -> Path:
    """Write the per-video results (explanations included) atomically next to the registry record."""
    from vadkit import paths
    from vadkit.io_utils import atomic_write_json

    path = paths.results_dir() / cfg.CHAPTER / f"{cfg.profile}-videos.json"
    atomic_write_json(path, per_video)
    return path
