"""Recipe: LAVAD, training-free VAD with a captioner, an LLM and CLIP (chapter 30).

1. :func:`prepare` - splits (only validation and test are scored: nothing is trained) and the frozen CLIP;
2. :func:`run_split` - captions every ``caption_stride`` frames -> cleaned (:mod:`vadkit.methods.captions`) ->
   window summaries -> LLM scores (parsed and expected value) -> video-text refinement, for every video of a
   split; every captioner and LLM call goes through the model-call cache (:mod:`vadkit.models.calls`), so a rerun
   makes none; the calls made and served per stage are counted (:class:`Cost`);
3. :func:`select_on_validation` - the score reading (parsed / expected value) and ``K`` of the refinement are
   chosen on validation (frame AUC, or video AUC where validation has video labels only), never on test;
4. tables: :func:`stream_table`, :func:`cost_table`, :func:`window_table`, :func:`reading`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vadkit.errors import VadkitError
from vadkit.experiment import evaluation as ev
from vadkit.experiment.chapter import ExperimentConfig, param
from vadkit.experiment.data import Splits, load_splits
from vadkit.experiment.types import SeedRun, VideoPrediction

READINGS = ("parsed", "expected")


@dataclass
class LAVADChapterConfig(ExperimentConfig):
    """Chapter 30's fields (smoke defaults; the chapter's ``FULL`` holds the full profile)."""

    seeds: list[int] = param([0], paper="training-free", note="greedy decoding: nothing trained or sampled, one run")
    clip: str = param("zoo:tiny-clip", paper="ImageBind (image, text, video towers)",
                      note="ImageBind replaced by CLIP; its image/text towers are frozen OpenCLIP ViT-H-14; "
                           "a window's video embedding = mean of its frames' image embeddings")
    captioner: str = param("zoo:tiny-captioner", paper="ensemble of 5 BLIP-2 (flan-t5-xl/xxl, opt-6.7b, +coco)",
                           note="one captioner")
    llm: str = param("zoo:tiny-instruct", paper="Llama-2-13b-chat",
                     note="smoke: the zoo's instruction-following tiny LLM, trained on SynthVAD's pretraining "
                          "corpus (this world): not training-free in spirit")
    caption_stride: int = param(8, code="every extracted frame, windows every 16", note="frames between captions")
    frame_interval: int = param(16, paper=16, code=16, note="frames between window centres (one score each)")
    bench_stride: int = param(2, note="on the shared bench only: captions and window scores at this multiple of "
                                      "caption_stride and frame_interval (66 videos of 300-420 frames; CPU time)")
    window_s: float = param(4.0, paper=10.0, code=10.0,
                            note="SynthVAD videos are 11-16 s: a 10-s window covers most of a video, 4 s gives "
                                 "about three disjoint windows a video (the zoo LLM saw 4-8-s windows)")
    window_frames: int = param(6, paper=10, code=10, note="N captions per window (the zoo LLM saw at most 6 lines)")
    k_neighbours: int = param(10, paper=10, code=10, note="K of the refinement, in the sweep chosen on validation")
    k_sweep: list[int] = param([1, 3, 5, 10], note="K values compared on validation (0 = no refinement is "
                                                     "always a candidate)")
    refine_tau: float = param(1.0, code="exp(sim) weights (tau = 1)", show=False)
    summary_tokens: int = param(32, code="max_gen_len None (up to max_seq_len 512)", show=False)
    score_tokens: int = param(8, show=False)
    score_format: str = param("{:.1f}", note="answer strings of the expected-value reading; full: '[{:.1f}]', "
                                            "what the format prompt asks")
    temperature: float = param(0.0, code="0.6, top_p 0.9 (sampled)", note="0 = greedy (deterministic, cacheable)")
    llm_batch_size: int = param(16, show=False)
    subset_llm: str | None = param("pkg:gemma3-270m", note="a real LLM (Gemma-3-270m base, packaged weights) on a "
                                                          "capped subset of test videos; None = skip")
    subset_videos: int = param(4, note="test videos for subset_llm (half abnormal)")
    subset_frame_interval: int = param(64, note="window spacing for subset_llm (CPU time)")
    subset_summary_tokens: int = param(20, show=False)
    prompt_sets: list[str] = param(["paper", "zoo"], paper="paper",
                                   note="paper = LAVAD's prompts verbatim; zoo = the same requests in the zoo LLM's "
                                        "trained wording (it does not follow the paper's); chosen on validation")
    run_ablations: bool = param(True, note="cleaning and summary ablations, on validation")
    gt_convention: str = param("lavad", code="src/eval.py: true frame count, end inclusive",
                               note="ground-truth convention (chapter 01)")

    def eval_settings(self) -> ev.EvalSettings:
        return ev.EvalSettings(gt_convention=self.gt_convention, expand="none", snippet_len=1)


@dataclass
class LAVADData:
    splits: Splits
    clip: Any

    @property
    def val(self):
        return self.splits.val

    @property
    def test(self):
        return self.splits.test

    def split(self, name: str):
        return self.splits.split(name)


def prepare(cfg: LAVADChapterConfig) -> LAVADData:
    from vadkit.experiment.runner import predictions_dir
    from vadkit.models import load_clip

    splits = load_splits(cfg.data_settings(), list_dir=predictions_dir(cfg.CHAPTER, cfg.profile).parent)
    for name in ("train", "val", "test"):
        setattr(splits, name, with_frame_counts(splits.split(name)))
    return LAVADData(splits, load_clip(cfg.clip))


def with_frame_counts(ann):
    """``ann`` with every missing ``num_frames`` / ``fps`` read from its video header (UCF-Crime's and XD-Violence's
    annotation files give neither; LAVAD's ground truth and windows need the true frame count). Videos that cannot
    be opened are kept as they are and fail later, recorded."""
    from vadkit.data.annotations import DatasetAnnotations
    from vadkit.data.video import probe

    videos = {}
    for vid, a in ann.items():
        if (not a.num_frames or not a.fps) and a.video_path is not None:
            try:
                info = probe(a.video_path)
                a = a.replace(num_frames=a.num_frames or int(info.num_frames), fps=a.fps or float(info.fps))
            except Exception:  # noqa: BLE001 - an unreadable video is reported by the captioning step
                pass
        videos[vid] = a
    return DatasetAnnotations(ann.name, videos, ann.class_names, ann.root, dict(ann.meta))


def describe_data(cfg, data: LAVADData) -> str:
    src = "SynthVAD smoke splits (procedural)" if cfg.dataset == "synthvad" else cfg.dataset
    n = {s: len(data.split(s)) for s in ("val", "test")}
    return (f"{src}: {n['val']} val / {n['test']} test videos scored (training-free: the {len(data.splits.train)} "
            f"training videos are not used)")


def models_label(cfg) -> str:
    return f"captioner {cfg.captioner}; LLM {cfg.llm}; CLIP {cfg.clip} (frozen; ImageBind's role)"


# ---------------------------------------------------------------- cost -----------------------------------------

@dataclass
class Cost:
    """Model calls per stage: ``{stage: {"made": n, "cached": n}}`` (from :data:`vadkit.models.calls.STATS`)."""

    stages: dict = field(default_factory=dict)

    def measure(self, stage: str, kind: str, fn):
        from vadkit.models import calls

        before = calls.stats(kind)
        out = fn()
        after = calls.stats(kind)
        s = self.stages.setdefault(stage, {"made": 0, "cached": 0})
        s["made"] += after["made"] - before["made"]
        s["cached"] += after["cached"] - before["cached"]
        return out

    def total(self, key: str = "made") -> int:
        return sum(s[key] for s in self.stages.values())


# ---------------------------------------------------------------- the pipeline ---------------------------------

def _gen(cfg, tokens: int):
    from vadkit.models.base import GenerationConfig

    sample = cfg.temperature > 0
    return GenerationConfig(max_new_tokens=tokens, do_sample=sample, temperature=cfg.temperature if sample else 1.0,
                            top_p=0.9 if sample else 1.0, batch_size=cfg.llm_batch_size)


def caption_split(ann, captioner, clip, caption_stride: int, cost: Cost) -> tuple[dict, dict]:
    """``({video: caption_and_clean record + "num_frames", "fps"}, {video: error})`` for every video of ``ann``."""
    from vadkit.methods import lavad
    from vadkit.methods.captions import caption_and_clean

    recs, errors = {}, {}
    for a in ann.values():
        try:
            if a.video_path is None or not a.num_frames:
                raise VadkitError(f"{a.video_id}: no readable video file / frame count")
            idx = lavad.caption_frames(a.num_frames, caption_stride)
            rec = cost.measure("captions", "caption",
                               lambda: caption_and_clean(a.video_path, idx, captioner, clip, batch_size=32))
            rec.update(num_frames=int(a.num_frames), fps=float(a.fps or 15.0))
            recs[a.video_id] = rec
        except (VadkitError, OSError, ValueError) as err:
            errors[a.video_id] = f"{type(err).__name__}: {err}"
    return recs, errors


def score_videos(caps: dict, llm, clip, cfg: LAVADChapterConfig, cost: Cost, *, frame_interval: int | None = None,
                 clean: bool = True, summarise: bool = True, summary_tokens: int | None = None,
                 prompts: str = "paper", tag: str = "") -> dict:
    """Windows -> summaries -> parsed and expected-value scores -> refinement inputs, for every captioned video.

    Returns ``{video: {"centres", "members", "summaries", "score_texts", "parsed" [W] (NaN = unparsed),
    "expected" [W], "video_emb" [W, D], "text_emb" [W, D], "num_frames"}}``. ``clean=False`` summarises the raw
    captions; ``summarise=False`` scores the window's captions directly (the two ablations). ``prompts``: a prompt
    set of :data:`vadkit.methods.lavad.PROMPT_SETS`.
    """
    from vadkit.methods import lavad
    from vadkit.models import cached_generate
    from vadkit.models.calls import cached_candidate_logprobs

    import torch

    fi = int(frame_interval or cfg.frame_interval)
    out, sum_prompts = {}, {}
    for vid, rec in caps.items():
        captioned = np.asarray(rec["frames"])
        centres = lavad.window_centres(rec["num_frames"], fi)
        members = [lavad.window_members(c, captioned, rec["num_frames"], rec["fps"], cfg.window_s,
                                        cfg.window_frames) for c in centres]
        text = rec["cleaned"] if clean else rec["captions"]
        out[vid] = {"centres": centres, "members": members, "num_frames": rec["num_frames"],
                    "window_captions": [[text[j] for j in m] for m in members]}
        out[vid]["times"] = [[captioned[j] / rec["fps"] for j in m] for m in members]
        for w, m in enumerate(members):
            sum_prompts[(vid, w)] = lavad.summary_prompt([text[j] for j in m], out[vid]["times"][w], prompts)
    if summarise:
        gen = cost.measure(f"summaries{tag}", "generate",
                           lambda: cached_generate(llm, sum_prompts, None,
                                                   _gen(cfg, summary_tokens or cfg.summary_tokens),
                                                   progress=False))
        summaries = {k: lavad.summary_from_output(v) for k, v in gen.items()}
    else:                                      # ablation: the window's captions stand in for the summary
        summaries = {(v, w): " ".join(lavad._dedup(out[v]["window_captions"][w])) for v, w in sum_prompts}
    score_prompts = {(v, w): lavad.score_prompt(s, prompts, out[v]["centres"][w] / caps[v]["fps"])
                     for (v, w), s in summaries.items()}
    texts = cost.measure(f"scores{tag}", "generate",
                         lambda: cached_generate(llm, score_prompts, None, _gen(cfg, cfg.score_tokens),
                                                 progress=False))
    cands = lavad.score_candidates(cfg.score_format)
    lps = cost.measure(f"score tokens{tag}", "candidates",
                       lambda: cached_candidate_logprobs(llm, score_prompts, cands, batch_size=2, progress=False))
    for vid, r in out.items():
        W = len(r["centres"])
        r["summaries"] = [summaries[(vid, w)] for w in range(W)]
        r["score_texts"] = [texts[(vid, w)] for w in range(W)]
        r["parsed"], r["failures"] = lavad.parse_window_scores(r["score_texts"])
        r["expected"] = np.array([lavad.expected_score(lps[(vid, w)]) for w in range(W)])
        r["video_emb"] = lavad.window_video_embeddings(caps[vid]["image_embeds"], r["members"])
        with torch.no_grad():
            t = torch.as_tensor(clip.encode_texts([s or "." for s in r["summaries"]])).float()
        r["text_emb"] = torch.nn.functional.normalize(t, dim=-1).numpy()
    return out


def window_streams(r: dict, k: int, tau: float) -> dict[str, np.ndarray]:
    """Window scores of one video: ``parsed`` (interpolated), ``expected``, and both refined with ``K = k``
    (``k = 0``: no refinement)."""
    from vadkit.methods.knn import video_text_refine
    from vadkit.methods.lavad import interpolate_unparsed

    base = {"parsed": interpolate_unparsed(r["parsed"]),
            "expected": np.asarray(r["expected"], dtype=np.float64)}
    if k <= 0:
        return base
    return {name: video_text_refine(s, r["video_emb"], r["text_emb"], k, tau)[0] for name, s in base.items()}


def predictions(scored: dict, cfg, k: int, frame_interval: int | None = None) -> dict[str, VideoPrediction]:
    """``{video: VideoPrediction}`` with per-frame streams ``parsed`` / ``expected`` (refined with ``K = k``)."""
    from vadkit.methods import lavad

    fi = int(frame_interval or cfg.frame_interval)
    out = {}
    for vid, r in scored.items():
        ws = window_streams(r, k, cfg.refine_tau)
        out[vid] = VideoPrediction(vid, scores={n: lavad.frame_scores(s, fi, r["num_frames"]) for n, s in ws.items()},
                                   snippet_len=1, explanation=None)
    return out


def metrics(preds: dict, ann, cfg, stream: str) -> dict[str, float]:
    m = ev.frame_metrics(preds, ann, stream, cfg.eval_settings())
    return {"auc_o": m["auc_o"], "auc_a": m["auc_a"], "ap_trapezoid": m["ap_trapezoid"], "ap_step": m["ap_step"]}


def validation_value(preds: dict, data: LAVADData, cfg, stream: str) -> float:
    if data.splits.val_criterion == "video":
        return ev.video_level_auc(preds, data.val, stream)
    return metrics(preds, data.val, cfg, stream)["auc_o"]


def select_on_validation(val_scored: dict, data: LAVADData, cfg) -> tuple[dict, "pd.DataFrame"]:
    """Choose (prompt set, reading, K) by validation AUC. ``val_scored = {prompt set: score_videos output}``.

    Returns ``({"prompts", "reading", "k", "val"}, table of every candidate)``."""
    import pandas as pd

    rows = []
    for prompts, sc in val_scored.items():
        for k in [0] + sorted(set(cfg.k_sweep) | {cfg.k_neighbours}):
            preds = predictions(sc, cfg, k)
            for reading in READINGS:
                rows.append({"prompts": prompts, "reading": reading, "K": k,
                             "val AUC": validation_value(preds, data, cfg, reading)})
    df = pd.DataFrame(rows)
    best = df.loc[df["val AUC"].idxmax()]
    df["selected"] = [(p == best["prompts"] and r == best["reading"] and k == best["K"])
                      for p, r, k in zip(df["prompts"], df["reading"], df["K"])]
    df["val AUC"] = (100 * df["val AUC"]).round(2)
    return {"prompts": str(best["prompts"]), "reading": str(best["reading"]), "k": int(best["K"]),
            "val": float(best["val AUC"])}, df


def stream_table(test_scored: dict, data: LAVADData, cfg, choice: dict) -> tuple["pd.DataFrame", dict]:
    """Test AUC_O / AUC_A / AP (trapezoid, LAVAD's; step) of each prompt set and reading, raw and refined with
    the chosen K. ``test_scored = {prompt set: score_videos output}``.

    Returns the table and the selected configuration's test metrics (with its ``preds``)."""
    import pandas as pd

    rows, selected = [], {}
    for prompts, sc in test_scored.items():
        for k in sorted({0, choice["k"]}):
            preds = predictions(sc, cfg, k)
            for reading in READINGS:
                m = metrics(preds, data.test, cfg, reading)
                is_sel = prompts == choice["prompts"] and reading == choice["reading"] and k == choice["k"]
                if is_sel:
                    selected = {**m, "preds": preds}
                rows.append({"prompts": prompts, "reading": reading, "refinement": f"K = {k}" if k else "none",
                             "AUC_O": 100 * m["auc_o"], "AUC_A": 100 * m["auc_a"],
                             "AP (trapezoid)": 100 * m["ap_trapezoid"], "AP (step)": 100 * m["ap_step"],
                             "chosen on val": is_sel})
    return pd.DataFrame(rows).round(2), selected


def parse_report(scored: dict) -> dict:
    """Windows whose score could not be parsed (interpolated), and videos with no parsed window at all."""
    n = sum(len(r["score_texts"]) for r in scored.values())
    bad = sum(len(r["failures"]) for r in scored.values())
    none = sum(1 for r in scored.values() if r["failures"] and len(r["failures"]) == len(r["score_texts"]))
    examples = [t for r in scored.values() for _, t in r["failures"]][:3]
    return {"windows": n, "unparsed": bad, "parse_rate": (n - bad) / n if n else float("nan"),
            "videos_without_parsed_score": none, "examples": examples}


def window_table(caps: dict, scored: dict, vid: str, cfg, max_rows: int = 12) -> "pd.DataFrame":
    """One video, window by window: centre (s), cleaned captions, summary, the LLM's answer, both readings."""
    import pandas as pd

    r, fps = scored[vid], caps[vid]["fps"]
    rows = []
    for w in range(min(max_rows, len(r["centres"]))):
        rows.append({"centre (s)": round(r["centres"][w] / fps, 1),
                     "captions (cleaned)": " | ".join(dict.fromkeys(r["window_captions"][w])),
                     "summary": r["summaries"][w], "LLM answer": r["score_texts"][w],
                     "parsed": None if np.isnan(r["parsed"][w]) else float(r["parsed"][w]),
                     "expected": round(float(r["expected"][w]), 3)})
    return pd.DataFrame(rows)


def cleaning_report(caps: dict) -> dict:
    n = sum(len(r["captions"]) for r in caps.values())
    changed = sum(sum(a != b for a, b in zip(r["captions"], r["cleaned"])) for r in caps.values())
    distinct = np.mean([len(set(r["captions"])) for r in caps.values()]) if caps else float("nan")
    return {"captions": n, "replaced_by_cleaning": changed, "share_replaced": changed / n if n else float("nan"),
            "distinct_captions_per_video": float(distinct)}


def cost_table(cost: Cost, caps: dict, scored: dict, cfg) -> "pd.DataFrame":
    """Model calls of this run per stage (made / served from the cache), beside what captioning every frame and
    scoring a window at every frame would need (LAVAD's protocol without a stride; three LLM passes a window:
    summary, score, score tokens)."""
    import pandas as pd

    frames = sum(r["num_frames"] for r in caps.values())
    rows = [{"stage": s, "calls made": v["made"], "served from cache": v["cached"]} for s, v in cost.stages.items()]
    rows.append({"stage": "total", "calls made": cost.total("made"), "served from cache": cost.total("cached")})
    rows.append({"stage": f"without a stride: a caption for each of the {frames} frames", "calls made": frames})
    rows.append({"stage": "without a stride: LLM passes for a window at every frame (one prompt set)",
                 "calls made": 3 * frames})
    return pd.DataFrame(rows)


def balanced_subset(ann, n: int) -> list[str]:
    """The first ``n // 2`` abnormal and ``n - n // 2`` normal videos of ``ann`` (by id)."""
    abn = sorted(v for v, a in ann.items() if a.is_anomalous)
    nor = sorted(v for v, a in ann.items() if not a.is_anomalous)
    return abn[:n // 2] + nor[:n - n // 2]


# ---------------------------------------------------------------- the shared benchmark -------------------------

def bench_caption_stride(cfg) -> int:
    """Frames between captions on the bench: ``caption_stride * bench_stride`` (chapters 30 and 31 agree, so the
    model-call cache shares the bench captions)."""
    return int(cfg.caption_stride) * max(1, int(getattr(cfg, "bench_stride", 1)))


def caption_bench(cfg, data: LAVADData, captioner, cost: Cost):
    """``(bench, captions)``: the shared SynthVAD benchmark (``None`` off SynthVAD or with ``bench=False``) and
    :func:`caption_split` of its videos at :func:`bench_caption_stride` (the model-call cache shares the captions
    between chapters 30 and 31 when captioner, CLIP and stride agree). A video that fails raises: every bench
    video must be scored."""
    from vadkit.experiment import benchmark

    bench = benchmark.load_benchmark(cfg)
    if bench is None:
        return None, {}
    caps, errors = caption_split(with_frame_counts(bench.ann), captioner, data.clip, bench_caption_stride(cfg),
                                 cost)
    benchmark.require_all(errors, len(bench.ann), "the captioner could not caption")
    return bench, caps


def score_bench(cfg, data: LAVADData, captioner, llm, choice: dict, cost: Cost) -> dict[str, list[dict]] | None:
    """``{"LAVAD": [bench numbers]}`` (one run: nothing is trained or sampled): the configuration chosen on
    validation (``choice``: prompt set, reading, ``K``), unchanged, on every bench video - captions every
    ``caption_stride * bench_stride`` frames, a window every ``frame_interval * bench_stride`` frames, its score
    held over them (:func:`bench_note`).
    Every call is cached and counted in ``cost`` (stages tagged "bench"). ``None`` where there is no bench."""
    from vadkit.experiment import benchmark

    bench, caps = caption_bench(cfg, data, captioner, cost)
    if bench is None:
        return None
    fi = int(cfg.frame_interval) * max(1, int(cfg.bench_stride))
    scored = score_videos(caps, llm, data.clip, cfg, cost, frame_interval=fi, prompts=choice["prompts"],
                          tag=" (bench)")
    preds = predictions(scored, cfg, choice["k"], frame_interval=fi)
    return {"LAVAD": [benchmark.score(bench, {v: p[choice["reading"]] for v, p in preds.items()},
                                      expand="none")]}


def bench_note(cfg) -> str:
    """How LAVAD met the bench (the leaderboard's note)."""
    m = max(1, int(cfg.bench_stride))
    return (f"prompt set, reading and K chosen on val; a caption every {bench_caption_stride(cfg)} frames, a "
            f"window score every {cfg.frame_interval * m} frames held over them"
            + (f" ({m}x the chapter's strides)" if m > 1 else " (the chapter's strides)"))


def headline(run, cfg, data: LAVADData, sel: dict, choice: dict,
             bench: dict[str, list[dict]] | None = None) -> list[dict]:
    """Declare LAVAD's headline metrics (test AUC_O with a bootstrap CI, trapezoid AP) with the published
    numbers beside them (Ex-VAD's Table 3, which quotes LAVAD), and its shared-benchmark rows
    (:func:`score_bench`) where ``bench`` has them."""
    from vadkit import papers
    from vadkit.experiment import benchmark
    from vadkit.experiment.reporting import frame_auc_bootstrap, headline_entry, log_headline

    doc = papers.load("lavad")
    t = doc["tables"]["table3_quoted"]
    ucf, xd = t["rows"]["LAVAD"]
    src = f"{t['quoted_from']} (quoted)"
    r = SeedRun("LAVAD", 0, selected=choice["reading"], info={"prompts": choice["prompts"], "k": choice["k"]},
                test={"auc_o": sel["auc_o"], "ap_trapezoid": sel["ap_trapezoid"]}, predictions=sel["preds"])
    dataset = "SynthVAD" if cfg.dataset == "synthvad" else cfg.dataset
    entries = [headline_entry("LAVAD", "AUC_O", [r], "auc_o", dataset=dataset, split=cfg.test_split,
                              profile=cfg.profile, ci=frame_auc_bootstrap([r], data.test, cfg.eval_settings()),
                              paper={"value": ucf, "dataset": "UCF-Crime", "source": src}),
               headline_entry("LAVAD", "AP", [r], "ap_trapezoid", dataset=dataset, split=cfg.test_split,
                              profile=cfg.profile, paper={"value": xd, "dataset": "XD-Violence", "source": src})]
    if bench and "LAVAD" in bench:
        entries += benchmark.headline_entries("LAVAD", bench["LAVAD"], profile=cfg.profile, note=bench_note(cfg))
    log_headline(run, entries)
    return entries
