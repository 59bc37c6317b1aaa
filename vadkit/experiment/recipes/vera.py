"""Recipe: VERA, verbalized learning of guiding questions (chapter 31).

1. :func:`prepare` - splits and the frozen CLIP (as chapter 30);
2. :func:`segments` / :func:`answer_pool` - captions (the model-call cache shares them with chapter 30 when the
   captioner and stride agree), fixed-length segments, and the learner's ``p(yes)`` for every pool question on
   every segment of every split (cached calls, counted);
3. :func:`train` - the question search for each seed (:func:`vadkit.methods.vera.search_questions`), the
   validation curve of every epoch, the epoch chosen on validation;
4. :func:`infer` - segment scores -> kNN softmax refinement -> Gaussian smoothing -> frame scores, evaluated with
   and without VERA's video-centred Gaussian prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vadkit.experiment import evaluation as ev
from vadkit.experiment.chapter import ExperimentConfig, param
from vadkit.experiment.recipes.lavad import Cost, LAVADData
from vadkit.experiment.types import SeedRun, VideoPrediction


@dataclass
class VERAChapterConfig(ExperimentConfig):
    """Chapter 31's fields (smoke defaults; the chapter's ``FULL`` holds the full profile)."""

    clip: str = param("zoo:tiny-clip", paper="ImageBind (segment features of the scene context)",
                      note="segment feature = mean CLIP image embedding of its captioned frames")
    captioner: str = param("zoo:tiny-captioner", paper="none (the VLM sees frames)",
                           note="captioner + LLM stand in for the VLM learner")
    llm: str = param("zoo:tiny-instruct", paper="InternVL2-8B / Qwen2-VL-7B (learner and optimizer)",
                     note="learner: yes/no over a segment's timed captions; trained on SynthVAD's pretraining "
                          "corpus (this world)")
    caption_stride: int = param(8, note="frames between captions (chapter 30's, so its captions are reused)")
    bench_stride: int = param(2, note="on the shared bench only: captions at this multiple of caption_stride "
                                      "(chapter 30's, so its bench captions are reused; CPU time)")
    segment_frames: int = param(32, paper="segments of 10 frames (UCF: every 16th frame)",
                                note="frames a segment (about 2 s on SynthVAD)")
    window_s: float = param(4.0, note="seconds of captions the learner reads around a segment")
    window_frames: int = param(6, note="captions a segment (the zoo LLM saw at most 6 lines)")
    n_questions: int = param(3, paper="5 (VERA's default)", note="questions learned")
    epochs: int = param(4, paper="fixed epochs (VERA: a few hundred training videos, batch of 2)",
                        note="search steps")
    batch_size: int = param(32, note="training videos an epoch")
    seeds: list[int] = param([0, 1, 2], paper="not given", note="batch order of the search")
    threshold: float = param(0.5, note="video predicted abnormal when its top-k segment p(yes) exceeds it")
    knn_k: int = param(5, paper="K nearest segments (scene context)", note="k of the softmax refinement")
    knn_tau: float = param(0.1, paper="softmax temperature", note="tau of the softmax refinement")
    smooth_sigma: float = param(1.0, paper="Gaussian smoothing (temporal context)", note="sigma in segments")
    prior_sigma: float = param(0.5, code="compute_auc.py: sigma = len / 2; scores rounded to 0.1",
                               note="VERA's video-centred Gaussian prior (reported with and without)")
    gt_convention: str = param("vera", code="compute_auc.py: length from the annotation, end exclusive",
                               note="ground-truth convention (chapter 01)")

    def eval_settings(self) -> ev.EvalSettings:
        return ev.EvalSettings(gt_convention=self.gt_convention, expand="none", snippet_len=1)


def prepare(cfg) -> LAVADData:
    from vadkit.experiment.recipes.lavad import prepare as _prepare

    return _prepare(cfg)


def describe_data(cfg, data: LAVADData) -> str:
    src = "SynthVAD smoke splits (procedural)" if cfg.dataset == "synthvad" else cfg.dataset
    n = {s: len(data.split(s)) for s in ("train", "val", "test")}
    return (f"{src}: {n['train']} train (video-level labels only are used) / {n['val']} val / {n['test']} test "
            f"videos")


def models_label(cfg) -> str:
    return f"learner: LLM {cfg.llm} over captions of {cfg.captioner}; optimizer: a search over a question pool; " \
           f"CLIP {cfg.clip} (scene context)"


def segments(caps: dict, cfg) -> dict:
    """``{video: {"centres" [S], "members", "captions" (timed text a segment), "features" [S, D], "num_frames"}}``."""
    from vadkit.methods import lavad

    out = {}
    for vid, rec in caps.items():
        n, fps = rec["num_frames"], rec["fps"]
        captioned = np.asarray(rec["frames"])
        starts = np.arange(0, n, cfg.segment_frames)
        centres = np.minimum(starts + cfg.segment_frames // 2, n - 1)
        members = [lavad.window_members(c, captioned, n, fps, cfg.window_s, cfg.window_frames) for c in centres]
        texts = []
        for m in members:
            caps_m = [rec["cleaned"][j] for j in m]
            keep = [i for i in range(len(m)) if i == 0 or caps_m[i] != caps_m[i - 1]]
            texts.append("\n".join(f"[{captioned[m[i]] / fps:.1f} s] {caps_m[i]}" for i in keep))
        out[vid] = {"centres": centres, "members": members, "captions": texts, "num_frames": n,
                    "features": lavad.window_video_embeddings(rec["image_embeds"], members)}
    return out


def answer_pool(segs: dict, llm, pool, cost: Cost, tag: str = "") -> dict:
    """``{video: [S, |pool|]}`` of ``p(yes)`` (teacher-forced "Yes." vs "No.", cached per prompt)."""
    from vadkit.methods import vera
    from vadkit.models.calls import cached_candidate_logprobs

    prompts = {(v, s, q): vera.question_prompt(r["captions"][s], pool[q])
               for v, r in segs.items() for s in range(len(r["captions"])) for q in range(len(pool))}
    lps = cost.measure(f"learner answers{tag}", "candidates",
                       lambda: cached_candidate_logprobs(llm, prompts, vera.ANSWERS, batch_size=8, progress=False))
    out = {}
    for v, r in segs.items():
        S = len(r["captions"])
        out[v] = np.array([[vera.p_yes(lps[(v, s, q)]) for q in range(len(pool))] for s in range(S)])
    return out


def frame_stream(seg_scores: np.ndarray, seg: dict, cfg, stage: str = "smoothed") -> np.ndarray:
    """Per-frame scores ``[num_frames]`` of one video after ``stage``: ``raw`` | ``knn`` | ``smoothed``."""
    from vadkit.methods.knn import softmax_refine
    from vadkit.methods.lavad import frame_scores
    from vadkit.methods.vera import gaussian_smooth

    s = np.asarray(seg_scores, dtype=np.float64)
    if stage in ("knn", "smoothed"):
        s = softmax_refine(s, seg["features"], cfg.knn_k, cfg.knn_tau)
    if stage == "smoothed":
        s = gaussian_smooth(s, cfg.smooth_sigma)
    return frame_scores(s, cfg.segment_frames, seg["num_frames"])


def predictions(answers: dict, segs: dict, questions, cfg) -> dict[str, VideoPrediction]:
    """Streams ``raw``, ``knn``, ``smoothed`` and ``smoothed+prior`` (VERA's video-centred Gaussian) per video."""
    from vadkit.methods.vera import segment_scores
    from vadkit.metrics import video_centred_gaussian

    out = {}
    for v, a in answers.items():
        s = segment_scores(a, questions)
        streams = {st: frame_stream(s, segs[v], cfg, st) for st in ("raw", "knn", "smoothed")}
        streams["smoothed+prior"] = video_centred_gaussian(streams["smoothed"], sigma_fraction=cfg.prior_sigma)
        out[v] = VideoPrediction(v, scores=streams, snippet_len=1)
    return out


def split_value(preds, ann, cfg, stream: str, criterion: str = "frame") -> float:
    if criterion == "video":
        return ev.video_level_auc(preds, ann, stream)
    return ev.frame_metrics(preds, ann, stream, cfg.eval_settings())["auc_o"]


def train(answers: dict, segs: dict, data: LAVADData, cfg, pool) -> list[SeedRun]:
    """For each seed: the question search, every epoch's validation AUC (the full inference pipeline, no prior),
    the epoch chosen on validation (epoch 0 = the initial questions competes), and its test metrics."""
    from vadkit.methods import vera

    labels = {v: data.splits.train[v].is_anomalous for v in answers["train"]}
    initial = [pool.index(q) for q in vera.INITIAL_QUESTIONS[:cfg.n_questions]]
    crit = data.splits.val_criterion
    runs = []
    for seed in cfg.seeds:
        epochs = vera.search_questions(answers["train"], labels, initial, len(pool), epochs=cfg.epochs,
                                       batch_size=cfg.batch_size, seed=seed, threshold=cfg.threshold)
        history = []
        for e in epochs:
            vp = predictions(answers["val"], segs["val"], e.questions, cfg)
            history.append({"epoch": e.epoch, "val": split_value(vp, data.val, cfg, "smoothed", crit),
                            "batch errors": e.errors, "batch AUC": e.batch_auc, "change": e.changed,
                            "questions": [pool[q] for q in e.questions]})
        best = max(history, key=lambda h: (h["val"], -h["epoch"]))
        q_best = epochs[best["epoch"]].questions
        tp = predictions(answers["test"], segs["test"], q_best, cfg)
        test = {}
        for st in ("raw", "knn", "smoothed", "smoothed+prior"):
            m = ev.frame_metrics(tp, data.test, st, cfg.eval_settings())
            test[f"{st}/auc_o"], test[f"{st}/ap_trapezoid"] = m["auc_o"], m["ap_trapezoid"]
        init_tp = predictions(answers["test"], segs["test"], initial, cfg)
        for st in ("smoothed", "smoothed+prior"):
            m = ev.frame_metrics(init_tp, data.test, st, cfg.eval_settings())
            test[f"initial {st}/auc_o"], test[f"initial {st}/ap_trapezoid"] = m["auc_o"], m["ap_trapezoid"]
        runs.append(SeedRun("VERA", seed, best_epoch=best["epoch"], best_val=best["val"],
                            val={"smoothed": best["val"]}, val_criterion=crit, selected="smoothed", test=test,
                            predictions=tp, history=history,
                            info={"questions": [pool[q] for q in q_best], "initial_val": history[0]["val"]}))
    return runs


def epoch_table(run: SeedRun) -> "pd.DataFrame":
    import pandas as pd

    rows = [{"epoch": h["epoch"], "questions": " | ".join(h["questions"]), "change": h["change"],
             "batch errors": h["batch errors"], "val AUC": round(100 * h["val"], 2),
             "chosen on val": h["epoch"] == run.best_epoch} for h in run.history]
    return pd.DataFrame(rows)


def summary_table(runs: list[SeedRun]) -> "pd.DataFrame":
    """Initial vs learned questions (mean ± std over seeds): validation AUC, test AUC / AP without and with VERA's
    video-centred Gaussian prior."""
    import pandas as pd

    from vadkit.experiment.reporting import fmt, summarize
    from vadkit.trainer import mean_std

    init_val = mean_std([r.info["initial_val"] for r in runs if r.ok])
    learned_val = mean_std([r.best_val for r in runs if r.ok])
    s = summarize(runs, ["initial smoothed/auc_o", "initial smoothed+prior/auc_o", "smoothed/auc_o",
                         "smoothed+prior/auc_o", "initial smoothed/ap_trapezoid", "smoothed/ap_trapezoid"])
    return pd.DataFrame([
        {"questions": "initial (epoch 0)", "val AUC": fmt(init_val), "test AUC_O": fmt(s["initial smoothed/auc_o"]),
         "test AUC_O with VERA's Gaussian prior": fmt(s["initial smoothed+prior/auc_o"]),
         "test AP (trapezoid)": fmt(s["initial smoothed/ap_trapezoid"])},
        {"questions": "learned (epoch chosen on val)", "val AUC": fmt(learned_val),
         "test AUC_O": fmt(s["smoothed/auc_o"]),
         "test AUC_O with VERA's Gaussian prior": fmt(s["smoothed+prior/auc_o"]),
         "test AP (trapezoid)": fmt(s["smoothed/ap_trapezoid"])}])


def stage_table(runs: list[SeedRun]) -> "pd.DataFrame":
    """Test AUC_O of the learned questions after each inference stage (mean ± std over seeds)."""
    import pandas as pd

    from vadkit.experiment.reporting import fmt, summarize

    names = {"raw": "segment scores", "knn": "+ kNN softmax refinement (scene context)",
             "smoothed": "+ Gaussian smoothing (temporal context)",
             "smoothed+prior": "+ VERA's video-centred Gaussian (evaluation prior)"}
    s = summarize(runs, [f"{k}/auc_o" for k in names] + [f"{k}/ap_trapezoid" for k in names])
    return pd.DataFrame([{"stage": v, "test AUC_O": fmt(s[f"{k}/auc_o"]), "test AP (trapezoid)":
                          fmt(s[f"{k}/ap_trapezoid"])} for k, v in names.items()])


def prior_only(ann, cfg) -> dict[str, float]:
    """Test AUC_O / AP of VERA's video-centred Gaussian applied to a *constant* score: what the evaluation prior
    scores by itself (with scores that all round to the same 0.1 step, the prior is all that is left)."""
    from vadkit.metrics import video_centred_gaussian

    preds = {v: VideoPrediction(v, scores={"prior": video_centred_gaussian(np.ones(int(a.num_frames)),
                                                                          sigma_fraction=cfg.prior_sigma)})
             for v, a in ann.items()}
    m = ev.frame_metrics(preds, ann, "prior", cfg.eval_settings())
    return {"auc_o": m["auc_o"], "ap_trapezoid": m["ap_trapezoid"]}


def saturation(answers: dict, labels: dict, threshold: float = 0.5) -> dict[str, float]:
    """Share of segments whose ``p(yes)`` exceeds ``threshold`` (all pool questions), by the video's label."""
    a = {True: [], False: []}
    for v, x in answers.items():
        a[bool(labels[v])].append(np.asarray(x).ravel())
    return {f"share_yes_{'abnormal' if k else 'normal'}": float((np.concatenate(x) > threshold).mean())
            for k, x in a.items() if x}


def score_bench(cfg, data: LAVADData, captioner, llm, runs: list[SeedRun], pool, cost: Cost
                ) -> dict[str, list[dict]] | None:
    """``{"VERA": [bench numbers per seed]}``: each seed's questions of the epoch chosen on validation,
    unchanged, on every bench video - captions every ``caption_stride * bench_stride`` frames (shared with
    chapter 30 through the model-call cache), segments of ``segment_frames`` frames, the learner's ``p(yes)``
    for the learned questions only (cached, counted in ``cost``), then the seed's selected stream (``smoothed``: kNN
    refinement and Gaussian smoothing, no evaluation prior). ``None`` where there is no bench."""
    from vadkit.experiment import benchmark
    from vadkit.experiment.recipes.lavad import caption_bench

    bench, caps = caption_bench(cfg, data, captioner, cost)
    if bench is None:
        return None
    ok = [r for r in runs if r.ok]
    if not ok:
        raise ValueError("bench: VERA has no successful seed to score")
    learned = {q for r in ok for q in r.info["questions"]}
    asked = [q for q in pool if q in learned]
    segs = segments(caps, cfg)
    answers = answer_pool(segs, llm, asked, cost, tag=" (bench)")

    def predict(r: SeedRun) -> dict[str, np.ndarray]:
        preds = predictions(answers, segs, [asked.index(q) for q in r.info["questions"]], cfg)
        return {v: p[r.selected] for v, p in preds.items()}

    return {"VERA": benchmark.score_runs(bench, ok, predict, expand="none")}


def bench_note(cfg) -> str:
    """How VERA met the bench (the leaderboard's note)."""
    from vadkit.experiment.recipes.lavad import bench_caption_stride

    return (f"questions of the epoch chosen on val, per seed; a caption every {bench_caption_stride(cfg)} frames, a "
            f"segment score every {cfg.segment_frames} frames held over them; no Gaussian prior")


def headline(run, cfg, data: LAVADData, runs: list[SeedRun],
             bench: dict[str, list[dict]] | None = None) -> list[dict]:
    """Declare VERA's headline metrics (test AUC_O with a bootstrap CI, with VERA's prior, trapezoid AP) with
    the published numbers beside them, and its shared-benchmark rows (:func:`score_bench`) where ``bench`` has
    them."""
    from vadkit import papers
    from vadkit.experiment import benchmark
    from vadkit.experiment.reporting import frame_auc_bootstrap, headline_entry, log_headline

    doc = papers.load("vera")
    t = doc["tables"]["table3_quoted"]
    ucf, xd = t["rows"]["VERA"]
    src = f"{t['quoted_from']} (quoted)"
    dataset = "SynthVAD" if cfg.dataset == "synthvad" else cfg.dataset
    entries = [headline_entry("VERA", "AUC_O", runs, "smoothed/auc_o", dataset=dataset, split=cfg.test_split,
                              profile=cfg.profile, ci=frame_auc_bootstrap(runs, data.test, cfg.eval_settings()),
                              paper={"value": ucf, "dataset": "UCF-Crime", "source": src}),
               headline_entry("VERA", "AUC_O with VERA's Gaussian prior", runs, "smoothed+prior/auc_o",
                              dataset=dataset, split=cfg.test_split, profile=cfg.profile),
               headline_entry("VERA", "AP", runs, "smoothed/ap_trapezoid", dataset=dataset, split=cfg.test_split,
                              profile=cfg.profile, paper={"value": xd, "dataset": "XD-Violence", "source": src})]
    if bench and "VERA" in bench:
        entries += benchmark.headline_entries("VERA", bench["VERA"], profile=cfg.profile, note=bench_note(cfg))
    log_headline(run, entries)
    return entries
