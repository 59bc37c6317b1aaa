"""A generic instruction mix built from SynthVAD's ground truth, for the instruction-following tiny LLM
(zoo entry ``tiny-instruct``).

The tiny LLM of :mod:`vadkit.models.zoo` (``tiny-llm``) is trained on Ex-VAD's two prompts verbatim. The method
chapters of LAVAD, VAD-LLaMA and Ex-VAD ask an LLM other things: summarise the captions of a window, rate a
window's anomaly in ``[0, 1]``, answer yes or no, list phrases for a label, say when an anomaly happens. This
module writes those five kinds of instruction from the pretraining corpus, each in eight paraphrases, so
that a chapter's own prompt is *in the distribution* of what the model saw without being one of its strings:

=============  ====================================================  ==========================================
task           input                                                 target
=============  ====================================================  ==========================================
``summarise``  timed captions of a window of ``window_s`` seconds    the anomalous activity's caption when the
                                                                     window holds one, else its most frequent
``rate``       the same                                              share of anomalous frames, one decimal
``yes_no``     the same                                              ``"Yes."`` / ``"No."`` (any anomalous frame)
``phrases``    an event label and ``m``                              ``m`` phrases, one per line (captions of
                                                                     that label's anomalous frames)
``when``       the same timed captions                               ``"From a s to b s."`` (the anomaly clipped
                                                                     to the window) or ``"No anomaly happens."``
=============  ====================================================  ==========================================

Timed captions are one line per caption change inside the window, ``"[4.5 s] <caption>"`` (seconds from the
video's start), at most :data:`MAX_LINES` lines (the line of the window's anomaly onset is always kept).

The **last template of every task is held out**: training never uses it, and :func:`evaluate_instruct`
scores a model on the smoke *test* split with a seen template and with the held-out one, so the gap says how
far the model follows an instruction it was not trained on.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import numpy as np

MAX_LINES = 6
#: version of the mix (templates, tasks, targets); part of the zoo entry's key. 2: seven trained paraphrases per
#: task instead of three (with three, a held-out rating prompt that said "Answer with a number" was answered
#: "Yes."/"No.": the model keyed on "Answer"), and phrase targets of distinct phrases only
MIX_VERSION = 2

TEMPLATES: dict[str, tuple[str, ...]] = {
    "summarise": (
        "Summarise these captions of a surveillance clip in one sentence:\n{captions}",
        "Here is what a camera saw, caption by caption:\n{captions}\nWrite a one-sentence summary.",
        "Captions:\n{captions}\nIn one sentence, what happens in this clip?",
        "{captions}\nDescribe the main event of this clip in a single sentence.",
        "Write one sentence that sums up the clip below.\n{captions}",
        "Camera log:\n{captions}\nWhat is the key thing that happens? One sentence.",
        "Give a short summary (one sentence) of these frame captions.\n{captions}",
        "Condense the following scene descriptions into a single sentence.\n{captions}",
    ),
    "rate": (
        "Captions of a surveillance clip:\n{captions}\nRate how anomalous this clip is, from 0 to 1.",
        "{captions}\nOn a scale from 0 (normal) to 1 (anomalous), score this window.",
        "Read these captions and give an anomaly score between 0 and 1.\n{captions}",
        "{captions}\nHow anomalous is this window? Reply with a number between 0 and 1.",
        "Give a number from 0 to 1 for how abnormal the activity below is.\n{captions}",
        "Camera log:\n{captions}\nAnomaly score (0 = normal, 1 = anomalous):",
        "Assign this clip a score in [0, 1], where 1 means clearly abnormal.\n{captions}",
        "How unusual is the scene below? Answer with a number in [0, 1].\n{captions}",
    ),
    "yes_no": (
        "Captions of a surveillance clip:\n{captions}\nDoes anything anomalous happen? Answer yes or no.",
        "{captions}\nIs there an anomaly in this clip? Yes or no.",
        "Read the captions and answer yes or no: is something unusual going on?\n{captions}",
        "{captions}\nDid something abnormal happen here? Reply yes or no.",
        "Yes or no: does this clip show an anomaly?\n{captions}",
        "Camera log:\n{captions}\nAnything unusual? Answer only yes or no.",
        "Reply with yes or no. Is any behaviour below anomalous?\n{captions}",
        "Answer with yes or no. Do these captions describe abnormal behaviour?\n{captions}",
    ),
    "phrases": (
        "List {m} short phrases that describe '{label}' as a surveillance camera would see it, one per line.",
        "Give {m} descriptions of the event '{label}', one per line.",
        "Write {m} phrases a caption of '{label}' could contain. One phrase per line.",
        "Describe '{label}' in {m} different ways, one line each.",
        "{m} phrases for the event '{label}', one per line:",
        "How might a caption describe '{label}'? Give {m} options, one per line.",
        "Write {m} distinct one-line descriptions of '{label}' seen from a surveillance camera.",
        "Name {m} visual cues of '{label}' in surveillance footage, one per line.",
    ),
    "when": (
        "Timed captions of a surveillance clip:\n{captions}\nWhen does the anomaly happen, in seconds?",
        "{captions}\nGive the start and end time of the anomalous event in seconds, or say there is none.",
        "From these captions, say when something unusual happens (in seconds).\n{captions}",
        "{captions}\nWhen does the unusual event start and end, in seconds?",
        "Report the time span (in seconds) of any anomaly in these captions.\n{captions}",
        "Camera log:\n{captions}\nAnomaly time interval in seconds, if any:",
        "In seconds, from when to when is there abnormal activity below?\n{captions}",
        "At what time, in seconds, does abnormal behaviour occur in the clip below?\n{captions}",
    ),
}
TASKS = tuple(TEMPLATES)
NO_ANOMALY = "No anomaly happens."


@dataclass(frozen=True)
class Instruction:
    """One example: ``task``, the template index used, the prompt and the target answer; ``truth`` keeps
    what the evaluation needs (``share`` of anomalous frames, ``interval`` in seconds or ``None``, ``label``)."""

    task: str
    template: int
    prompt: str
    target: str
    truth: dict


def _segments(ann) -> list[tuple[int, int, str]]:
    out = []
    for s in ann.segments:
        end = s.end if s.end_inclusive is not False else s.end - 1
        out.append((int(s.start), int(end), s.label or ann.label))
    return out


def timed_captions(ann, lo: int, hi: int, fps: float) -> tuple[str, list[int]]:
    """``("[t s] caption" lines, their frames)`` of the caption changes in frames ``[lo, hi)``."""
    from vadkit.models.zoo import caption_at

    frames, last = [], None
    for f in range(lo, hi):
        c = caption_at(ann.captions, f)
        if c and c != last:
            frames.append(f)
            last = c
    if len(frames) > MAX_LINES:  # keep the first, the anomaly onsets, then evenly spaced others
        onsets = {max(lo, s) for s, e, _ in _segments(ann) if s < hi and e >= lo}
        keep = [frames[0]] + [f for f in frames if any(abs(f - o) <= 2 for o in onsets)]
        rest = [f for f in frames if f not in keep]
        need = MAX_LINES - len(keep)
        if need > 0 and rest:
            keep += [rest[i] for i in np.linspace(0, len(rest) - 1, min(need, len(rest))).astype(int)]
        frames = sorted(set(keep))[:MAX_LINES]
    lines = [f"[{f / fps:.1f} s] {caption_at(ann.captions, f)}" for f in frames]
    return "\n".join(lines), frames


def window_truth(ann, lo: int, hi: int, fps: float) -> dict:
    """``{"share", "interval", "frames", "label"}`` of frames ``[lo, hi)``: the anomalous share, the first
    anomaly clipped to the window in seconds (half-open; ``None`` if none) and in frames (inclusive), and its
    label (``"normal"`` if none)."""
    n = hi - lo
    gt = np.zeros(n, bool)
    first = None
    for s, e, lab in _segments(ann):
        a, b = max(s, lo), min(e, hi - 1)
        if a <= b:
            gt[a - lo:b - lo + 1] = True
            if first is None or a < first[0]:
                first = (a, b, lab)
    interval = None if first is None else (round(first[0] / fps, 1), round((first[1] + 1) / fps, 1))
    return {"share": float(gt.mean()), "interval": interval, "frames": None if first is None else first[:2],
            "label": first[2] if first else "normal"}


def _summary(ann, lo: int, hi: int, truth: dict) -> str:
    """The window's caption at the middle of its first anomaly, else its most frequent caption."""
    from vadkit.models.zoo import caption_at

    if truth["frames"] is not None:
        return caption_at(ann.captions, sum(truth["frames"]) // 2)
    return Counter(caption_at(ann.captions, f) for f in range(lo, hi)).most_common(1)[0][0]


def answer(task: str, truth: dict, summary: str | None = None) -> str:
    """The target answer of ``task`` for a window's ``truth`` (:func:`window_truth`)."""
    if task == "rate":
        return f"{truth['share']:.1f}"
    if task == "yes_no":
        return "Yes." if truth["interval"] is not None else "No."
    if task == "when":
        if truth["interval"] is None:
            return NO_ANOMALY
        a, b = truth["interval"]
        return f"From {a:.1f} s to {b:.1f} s."
    if task == "summarise":
        return summary
    raise ValueError(f"instructions.answer: no window answer for task {task!r}")


def window_examples(ann, rng: random.Random, *, n_windows: int, window_s: tuple[float, float],
                    templates: str = "train") -> list[Instruction]:
    """Window instructions (summarise, rate, yes/no, when) of one annotated video. ``templates``: ``"train"``
    (a random seen template per example), ``"seen"`` (template 0) or ``"held_out"`` (the last template).
    Half of the windows of an abnormal video are placed over its first anomaly (a random window would often
    miss a short event)."""
    fps = float(ann.fps or 15.0)
    n = int(ann.num_frames)
    segs = _segments(ann)
    out = []
    for w in range(n_windows):
        length = min(n, int(round(rng.uniform(*window_s) * fps)))
        if segs and w % 2 == 0:
            s, e, _ = segs[0]
            lo = rng.randint(max(0, min(s, n - length) - length // 2), max(0, min(s, n - length)))
        else:
            lo = rng.randint(0, n - length)
        hi = lo + length
        caps, _ = timed_captions(ann, lo, hi, fps)
        truth = window_truth(ann, lo, hi, fps)
        summary = _summary(ann, lo, hi, truth)
        for task in ("summarise", "rate", "yes_no", "when"):
            k = _template_index(task, rng, templates)
            out.append(Instruction(task, k, TEMPLATES[task][k].format(captions=caps),
                                   answer(task, truth, summary), {**truth, "video": ann.video_id}))
    return out


def phrase_examples(phrases: dict[str, list[str]], rng: random.Random, *, per_label: int,
                    templates: str = "train") -> list[Instruction]:
    """``phrases`` task: ``{label: [phrase]}`` (captions of the label's anomalous frames) -> examples."""
    from vadkit.models.zoo import class_phrase

    out = []
    for label, ph in sorted(phrases.items()):
        ph = sorted({p.lower(): p for p in ph}.values())  # distinct up to case, as parse_phrases demands
        for _ in range(per_label):
            m = rng.randint(2, min(4, len(ph))) if len(ph) >= 2 else 1
            k = _template_index("phrases", rng, templates)
            out.append(Instruction("phrases", k, TEMPLATES["phrases"][k].format(m=m, label=class_phrase(label)),
                                   "\n".join(rng.sample(ph, m)), {"label": label, "m": m}))
    return out


def _template_index(task: str, rng: random.Random, templates: str) -> int:
    n = len(TEMPLATES[task])
    if templates == "train":
        return rng.randrange(n - 1)
    if templates == "seen":
        return 0
    if templates == "held_out":
        return n - 1
    raise ValueError(f"instructions: templates must be 'train', 'seen' or 'held_out', got {templates!r}")


def instruction_mix(ds, rng: random.Random, *, n_windows: int = 2, window_s=(4.0, 8.0),
                    phrases_per_label: int = 40) -> list[Instruction]:
    """The training mix of a SynthVAD split ``ds`` (the pretraining corpus): window tasks of every video and
    the phrase task of every anomaly label, seen templates only."""
    from vadkit.models.zoo import _phrases_by_label

    ex = []
    for ann in ds.values():
        if ann.captions:
            ex += window_examples(ann, rng, n_windows=n_windows, window_s=window_s)
    return ex + phrase_examples(_phrases_by_label(ds), rng, per_label=phrases_per_label)


def _iou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def score_answers(examples: list[Instruction], answers: list[str]) -> dict:
    """Held-out figures of generated ``answers`` to ``examples`` (one task mix), per task:

    * ``rate``: parse rate and AUC of the parsed score against "the window holds an anomaly" (unparsed: 0.5);
    * ``yes_no``: parse rate, accuracy and the majority answer's accuracy;
    * ``when``: parse rate, mean IoU of the first interval with the truth on anomalous windows, and the share of
      normal windows answered with no interval;
    * ``summarise``: corpus BLEU-4 against the target;
    * ``phrases``: share of answers that parse as ``m`` phrases.
    """
    from sklearn.metrics import roc_auc_score

    from vadkit.errors import ParseError
    from vadkit.models.parsing import parse_intervals, parse_phrases, parse_score, parse_yes_no
    from vadkit.models.zoo import _bleu4

    by: dict[str, list] = {}
    for e, a in zip(examples, answers):
        by.setdefault(e.task, []).append((e, a))
    out: dict[str, float] = {}
    if "rate" in by:
        ys, ss, ok = [], [], 0
        for e, a in by["rate"]:
            try:
                s = parse_score(a)
                ok += 1
            except ParseError:
                s = 0.5
            ys.append(e.truth["interval"] is not None)
            ss.append(s)
        out["rate_parse_rate"] = ok / len(ys)
        out["rate_auc"] = float(roc_auc_score(ys, ss)) if 0 < sum(ys) < len(ys) else float("nan")
    if "yes_no" in by:
        ok = correct = 0
        truths = [e.truth["interval"] is not None for e, _ in by["yes_no"]]
        for (e, a), t in zip(by["yes_no"], truths):
            try:
                correct += parse_yes_no(a) == t
                ok += 1
            except ParseError:
                pass
        out["yes_no_parse_rate"] = ok / len(truths)
        out["yes_no_accuracy"] = correct / len(truths)
        out["yes_no_majority"] = max(np.mean(truths), 1 - np.mean(truths))
    if "when" in by:
        ok, ious, none_ok, n_norm = 0, [], 0, 0
        for e, a in by["when"]:
            try:
                iv = parse_intervals(a)
                ok += 1
            except ParseError:
                iv = None
            if e.truth["interval"] is None:
                n_norm += 1
                none_ok += iv == []
            else:
                ious.append(_iou(iv[0], e.truth["interval"]) if iv else 0.0)
        out["when_parse_rate"] = ok / len(by["when"])
        out["when_mean_iou"] = float(np.mean(ious)) if ious else float("nan")
        out["when_normal_says_none"] = none_ok / n_norm if n_norm else float("nan")
    if "summarise" in by:
        out["summarise_bleu4"] = _bleu4([a for _, a in by["summarise"]], [e.target for e, _ in by["summarise"]])
    if "phrases" in by:
        ok = 0
        for e, a in by["phrases"]:
            try:
                parse_phrases(a, e.truth["m"])
                ok += 1
            except ParseError:
                pass
        out["phrases_parse_rate"] = ok / len(by["phrases"])
    return out


def evaluation_set(test_ds, *, templates: str, n_videos: int = 40, seed: int = 0) -> list[Instruction]:
    """The held-out set: one window per video of ``test_ds`` (its first ``n_videos`` with captions, abnormal
    and normal alike) for each window task, and 2 phrase requests per label, with template 0 (``"seen"``)
    or the never-trained last template (``"held_out"``)."""
    from vadkit.models.zoo import _phrases_by_label

    rng = random.Random(seed)
    anns = [a for a in test_ds.values() if a.captions][:n_videos]
    ex = []
    for a in anns:
        ex += window_examples(a, rng, n_windows=1, window_s=(4.0, 8.0), templates=templates)
    return ex + phrase_examples(_phrases_by_label(test_ds), rng, per_label=2, templates=templates)


def evaluate_instruct(llm, test_ds, *, n_videos: int = 40, max_new_tokens: int = 48) -> dict:
    """:func:`score_answers` of ``llm`` (the :class:`~vadkit.models.base.LLM` role) on the smoke test split,
    with a seen template (keys as :func:`score_answers`) and the held-out one (keys prefixed ``held_out_``)."""
    from vadkit.models.base import GenerationConfig

    out = {}
    for which, prefix in (("seen", ""), ("held_out", "held_out_")):
        ex = evaluation_set(test_ds, templates=which, n_videos=n_videos)
        gen = llm.generate([e.prompt for e in ex], GenerationConfig(max_new_tokens=max_new_tokens, batch_size=16))
        out.update({prefix + k: v for k, v in score_answers(ex, gen).items()})
    return out
