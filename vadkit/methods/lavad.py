"""LAVAD (Zanella et al., *Harnessing Large Language Models for Training-free Video Anomaly Detection*, CVPR 2024).

Training-free: a captioner, an LLM and an aligned image-text model, no parameter learned from VAD data.

1. **Captions** (Sec. 3.2): every sampled frame ``I_i`` (one every ``caption_stride`` frames) is captioned
   (BLIP-2 in the paper, an ensemble of five; one captioner here).
2. **Image-text caption cleaning** (Sec. 3.2): frame ``i`` takes the caption of its video nearest to its image
   embedding (ImageBind in the paper; the run's CLIP here), :func:`vadkit.methods.captions.caption_and_clean`,
   the same step as Ex-VAD's Eq. 2.
3. **LLM temporal summary** (Sec. 3.3): for each window centre ``c`` (one every ``frame_interval = 16`` frames), the
   ``N`` cleaned captions uniformly subsampled from the ``T``-second window around ``c`` (``T = 10``, ``N = 10``)
   are summarised by the LLM with :data:`SUMMARY_PROMPT`; the summary is the output's last line (official code).
4. **LLM anomaly score** (Sec. 3.3): the LLM rates the summary with :data:`CONTEXT_PROMPT` + :data:`FORMAT_PROMPT`
   ("If you were a law enforcement agency ..."), answering one of ``[0, 0.1, ..., 1.0]``. The official code reads
   ``\\[(\\d+(?:\\.\\d+)?)\\]`` and marks a miss ``-1``, then fills misses by linear interpolation over the window
   index (``np.interp``); here :func:`vadkit.models.parsing.parse_score` parses strictly, misses are counted
   (:func:`parse_window_scores`) and interpolated the same way (:func:`interpolate_unparsed`). Beside the parsed
   score, :func:`expected_score` reads the *expected value* over the eleven score strings' probabilities under the
   same prompt (teacher forcing, :func:`vadkit.models.llm.candidate_logprobs`), a continuous score that needs no
   parsing.
5. **Video-text score refinement** (Sec. 3.4): window ``i``'s video embedding (ImageBind's video encoder on ``N``
   frames; here the L2-normalised mean of the CLIP image embeddings of the window's ``N`` frames) queries the
   text embeddings of the video's summaries; the refined score is the ``softmax(cos)``-weighted mean of the ``K``
   nearest windows' scores (``K = 10``; :func:`vadkit.methods.knn.video_text_refine`).
6. **Frame scores**: each window score is repeated ``frame_interval`` times and cut to the frame count
   (:func:`frame_scores`; LAVAD's ``src/eval.py``), evaluated with the ``lavad`` ground-truth convention
   (end-inclusive segments) and the trapezoid AP.

Shapes: one video has ``n_c`` caption frames, ``W = ceil(num_frames / frame_interval)`` windows; embeddings
``[n_c, D]`` (frames), ``[W, D]`` (windows, summaries).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: The three prompts of LAVAD's official ``scripts/04_query_llm.sh``, verbatim.
SUMMARY_PROMPT = ("Please summarize what happened in few sentences, based on the following temporal description "
                  "of a scene. Do not include any unnecessary details or descriptions.")
CONTEXT_PROMPT = ("If you were a law enforcement agency, how would you rate the scene described on a scale from 0 "
                  "to 1, with 0 representing a standard scene and 1 denoting a scene with suspicious activities?")
FORMAT_PROMPT = ("Please provide the response in the form of a Python list and respond with only one number in the "
                 "provided list below [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] without any textual "
                 "explanation. It should begin with '[' and end with  ']'.")
#: The eleven answers the format prompt allows.
SCORE_VALUES = tuple(round(0.1 * i, 1) for i in range(11))


def window_centres(num_frames: int, frame_interval: int) -> np.ndarray:
    """Window centres ``0, fi, 2 fi, ... < num_frames`` (the official loops), ``[W]``."""
    if frame_interval < 1 or num_frames < 1:
        raise ValueError(f"need num_frames >= 1 and frame_interval >= 1, got {num_frames}, {frame_interval}")
    return np.arange(0, int(num_frames), int(frame_interval))


def caption_frames(num_frames: int, caption_stride: int) -> np.ndarray:
    """Frames that are captioned: ``0, s, 2 s, ...`` (``[n_c]``)."""
    return np.arange(0, int(num_frames), max(1, int(caption_stride)))


def window_members(centre: int, captioned: np.ndarray, num_frames: int, fps: float, window_s: float,
                   n: int) -> np.ndarray:
    """Indices into ``captioned`` of the ``n`` frames of the window around ``centre``.

    The window is ``[max(c - F // 2, 0), min(c + F // 2, num_frames))`` with ``F = int(window_s * fps)`` (the
    official ``_prepare_frame_data``); its captioned frames are subsampled uniformly to ``n``
    (``linspace(0, m - 1, n)`` rounded down, as ``uniform_temporal_subsample``; fewer than ``n`` are all kept).
    A window holding no captioned frame takes the captioned frame nearest to its centre.
    """
    F = int(window_s * fps)
    lo, hi = max(int(centre) - F // 2, 0), min(int(centre) + F // 2, int(num_frames))
    inside = np.flatnonzero((captioned >= lo) & (captioned < hi))
    if not len(inside):
        return np.array([int(np.abs(captioned - centre).argmin())])
    if len(inside) <= n:
        return inside
    return inside[np.linspace(0, len(inside) - 1, n).astype(int)]


def _dedup(items: Sequence[str]) -> list[str]:
    return [c for i, c in enumerate(items) if i == 0 or c != items[i - 1]]


#: Prompt sets: ``"paper"`` is LAVAD's wording (:data:`SUMMARY_PROMPT`, :data:`CONTEXT_PROMPT`,
#: :data:`FORMAT_PROMPT`); ``"zoo"`` asks the same two questions in the wording the zoo's tiny instruction-following
#: LLM was trained on (:data:`vadkit.models.instructions.TEMPLATES`, template 0 of ``summarise`` and ``rate``, with
#: timed captions), because a 0.3-M-parameter model does not follow an instruction it never saw (it answers the
#: paper's summary request with "No."). The full profile uses ``"paper"`` only.
PROMPT_SETS = ("paper", "zoo")


def _timed(lines: Sequence[str], times: Sequence[float] | None) -> str:
    if times is None:
        return "\n".join(lines)
    return "\n".join(f"[{t:.1f} s] {c}" for t, c in zip(times, lines))


def summary_prompt(captions: Sequence[str], times: Sequence[float] | None = None, style: str = "paper") -> str:
    """The summary request for one window's captions (temporal order; consecutive repeats written once).

    ``"paper"``: :data:`SUMMARY_PROMPT`, then one caption per line. The official code sends the prompt as a system
    turn and the captions (joined by ``"\\n "``) as the user turn; here both are one user turn (the tiny zoo LLM has no
    system role in training). ``"zoo"``: the zoo LLM's ``summarise`` template with ``"[t s] caption"`` lines
    (``times`` in seconds).
    """
    caps = [str(c).strip() for c in captions]
    keep = [i for i in range(len(caps)) if i == 0 or caps[i] != caps[i - 1]]
    lines = [caps[i] for i in keep]
    if style == "paper":
        return SUMMARY_PROMPT + "\n" + "\n".join(lines)
    if style == "zoo":
        from vadkit.models.instructions import TEMPLATES

        t = None if times is None else [times[i] for i in keep]
        return TEMPLATES["summarise"][0].format(captions=_timed(lines, t if t is not None else [0.0] * len(lines)))
    raise ValueError(f"prompt style must be one of {PROMPT_SETS}, got {style!r}")


def summary_from_output(text: str) -> str:
    """The summary is the output's last non-empty line (``.split("\\n")[-1]`` in the official code)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def score_prompt(summary: str, style: str = "paper", time: float | None = None) -> str:
    """The scoring request. ``"paper"``: context + format prompt, then the summary (with a full stop, as the
    official code). ``"zoo"``: the zoo LLM's ``rate`` template with the summary as one ``"[t s]"`` line (``time``:
    the window centre in seconds)."""
    s = summary.strip()
    s = s if s.endswith(".") else s + "."
    if style == "paper":
        return f"{CONTEXT_PROMPT} {FORMAT_PROMPT}\n{s}"
    if style == "zoo":
        from vadkit.models.instructions import TEMPLATES

        return TEMPLATES["rate"][0].format(captions=f"[{(time or 0.0):.1f} s] {s}")
    raise ValueError(f"prompt style must be one of {PROMPT_SETS}, got {style!r}")


def parse_window_scores(texts: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Strictly parsed scores ``[W]`` (NaN where unparsable) and the failures ``[(window, text)]``."""
    from vadkit.errors import ParseError
    from vadkit.models.parsing import parse_score

    out = np.full(len(texts), np.nan)
    bad = []
    for i, t in enumerate(texts):
        try:
            out[i] = parse_score(t, source=f"LAVAD window {i}")
        except ParseError:
            bad.append((i, t))
    return out, bad


def interpolate_unparsed(scores: np.ndarray, fill: float = 0.5) -> np.ndarray:
    """Fill NaN windows by linear interpolation over the window index from the parsed ones (``np.interp``: ends
    take the nearest parsed value), as the official ``_interpolate_unmatched_scores``. A video with no parsed
    window at all (the official code fails there) gets ``fill`` everywhere; the caller counts such videos."""
    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s)
    if ok.all():
        return s.copy()
    if not ok.any():
        return np.full_like(s, fill)
    x = np.arange(len(s))
    return np.interp(x, x[ok], s[ok])


def expected_score(logprobs: Sequence[float], values: Sequence[float] = SCORE_VALUES) -> float:
    """``sum_v v p(v)`` with ``p = softmax(log p(answer_v | prompt))`` over the allowed answers."""
    lp = np.asarray(logprobs, dtype=np.float64)
    if lp.shape != (len(values),):
        raise ValueError(f"{lp.shape[0] if lp.ndim else 0} log-probs for {len(values)} values")
    p = np.exp(lp - lp.max())
    p /= p.sum()
    return float(p @ np.asarray(values, dtype=np.float64))


def window_video_embeddings(image_embeds: np.ndarray, members: Sequence[np.ndarray]) -> np.ndarray:
    """``[W, D]``: the L2-normalised mean of the image embeddings ``[n_c, D]`` of each window's frames (the stand-in
    for ImageBind's video embedding of the window's ``N`` frames)."""
    x = np.asarray(image_embeds, dtype=np.float32)
    out = np.stack([x[np.asarray(m)].mean(0) for m in members])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def frame_scores(window_scores: Sequence[float], frame_interval: int, num_frames: int) -> np.ndarray:
    """Per-frame scores ``[num_frames]``: each window score repeated ``frame_interval`` times, cut to the frame count
    (``np.repeat`` then ``[:num_frames]``, LAVAD's ``src/eval.py``)."""
    s = np.repeat(np.asarray(window_scores, dtype=np.float64), int(frame_interval))
    if len(s) < num_frames:
        raise ValueError(f"{len(window_scores)} windows x {frame_interval} frames do not cover {num_frames} frames")
    return s[:int(num_frames)]


def score_candidates(fmt: str = "{:.1f}") -> list[str]:
    """The answer strings whose probabilities :func:`expected_score` weighs: ``fmt`` of each of :data:`SCORE_VALUES`
    (``"{:.1f}"`` -> ``"0.3"``; ``"[{:.1f}]"`` -> ``"[0.3]"``, the format the prompt asks for)."""
    return [fmt.format(v) for v in SCORE_VALUES]
