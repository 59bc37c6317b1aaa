"""Text metrics of explainable VAD: BLEU-4 with a named backend, Yes/No accuracy, balanced accuracy.

BLEU-4 ``= BP * exp(1/4 sum_{n=1..4} log p_n)`` (Papineni et al. 2002; T-VAD Sec. 4) is computed by a
maintained library, never re-implemented here. The backends disagree (tokenisation, smoothing, brevity
penalty with several references), so the backend is a named argument of every call (default ``nltk``, which
needs nothing beyond pip; report it beside every number):

============  ================================================================================================
``coco``      pycocoevalcap ``Bleu(4)`` after its PTB tokeniser (lowercase, punctuation removed; needs Java):
              lmms-eval's CUVA task, captioning work. Sentence scores are pycocoevalcap's per-item scores.
``nltk``      nltk ``sentence_bleu`` / ``corpus_bleu`` with smoothing ``method1`` (epsilon 0.1 for zero
              n-gram counts) on lowercase word/punctuation tokens (regex ``\\w+|[^\\w\\s]``; no punkt data).
``sacrebleu`` sacrebleu ``sentence_bleu`` / ``corpus_bleu`` (13a tokeniser, its default smoothing ``exp``).
============  ================================================================================================

Aggregation (T-VAD Table 3): ``reference_mode="best"`` scores the hypothesis against each reference alone and
keeps the best; ``"multi"`` gives all references to BLEU at once. ``aggregate="macro"`` averages the
per-video scores; ``"corpus"`` pools n-gram counts over videos (with ``best``: over the best references).
T-VAD: best reference, macro over videos. Scores are fractions in [0, 1] (papers print x100).

Yes/No answers are normalised from free text (:func:`normalize_yes_no`) before accuracy; balanced accuracy
``(TPR + TNR) / 2`` treats ``Yes`` as the positive class.
"""

from __future__ import annotations

import re
import shutil
from typing import Sequence

import numpy as np

from vadkit.errors import ConfigError, ParseError, ScoreError

BACKENDS = ("coco", "nltk", "sacrebleu")

_TOKEN = re.compile(r"\w+|[^\w\s]")


def backend_available(backend: str) -> bool:
    """Whether a BLEU backend can run here (``coco`` needs pycocoevalcap and a ``java`` executable)."""
    if backend == "coco":
        try:
            import pycocoevalcap  # noqa: F401
        except ImportError:
            return False
        return shutil.which("java") is not None
    if backend == "nltk":
        try:
            import nltk  # noqa: F401
        except ImportError:
            return False
        return True
    if backend == "sacrebleu":
        try:
            import sacrebleu  # noqa: F401
        except ImportError:
            return False
        return True
    raise ConfigError(f"unknown BLEU backend {backend!r}; choose one of {BACKENDS}")


def _check_text_inputs(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[list[str]]:
    if isinstance(hypotheses, str):
        raise ScoreError("hypotheses must be a list of strings (one per video), got a single string")
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if len(hypotheses) != len(refs):
        raise ScoreError(f"{len(hypotheses)} hypotheses but {len(refs)} reference lists")
    for i, (h, rs) in enumerate(zip(hypotheses, refs)):
        if not isinstance(h, str):
            raise ScoreError(f"hypothesis {i} is {type(h).__name__}, not a string")
        if not rs:
            raise ScoreError(f"video {i}: no reference sentence")
    return refs


def _nltk_tok(s: str) -> list[str]:
    return _TOKEN.findall(s.lower())


def _sentence_scores(hyps: list[str], refs: list[list[str]], backend: str) -> list[float]:
    """BLEU-4 of each hypothesis against its own list of references (multi-reference)."""
    if backend == "nltk":
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

        sm = SmoothingFunction().method1
        return [float(sentence_bleu([_nltk_tok(r) for r in rs], _nltk_tok(h), smoothing_function=sm)) if h.strip()
                else 0.0 for h, rs in zip(hyps, refs)]
    if backend == "sacrebleu":
        import sacrebleu

        return [sacrebleu.sentence_bleu(h, rs).score / 100.0 for h, rs in zip(hyps, refs)]
    if backend == "coco":
        gts, res = _coco_tokenize(hyps, refs)
        from pycocoevalcap.bleu.bleu import Bleu

        _, per_item = Bleu(4).compute_score(gts, res, verbose=0)
        return [float(x) for x in per_item[3]]
    raise ConfigError(f"unknown BLEU backend {backend!r}; choose one of {BACKENDS}")


def _coco_tokenize(hyps, refs):
    if not backend_available("coco"):
        raise ConfigError("BLEU backend 'coco' needs `pip install pycocoevalcap` and a Java runtime on PATH")
    import contextlib
    import io

    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    with contextlib.redirect_stdout(io.StringIO()), _quiet_fd2():
        gts = tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
        res = tok.tokenize({i: [{"caption": h if h.strip() else "."}] for i, h in enumerate(hyps)})
    # an empty tokenised hypothesis breaks pycocoevalcap's assertion; keep a placeholder word
    res = {k: [v[0] if v[0].strip() else "<empty>"] for k, v in res.items()}
    return gts, res


@__import__("contextlib").contextmanager
def _quiet_fd2():
    """Silence the Java tokeniser's progress line, written to the process's stderr file descriptor."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some notebook frontends)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _corpus_score(hyps: list[str], refs: list[list[str]], backend: str) -> float:
    if backend == "nltk":
        from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

        return float(corpus_bleu([[_nltk_tok(r) for r in rs] for rs in refs], [_nltk_tok(h) for h in hyps],
                                 smoothing_function=SmoothingFunction().method1))
    if backend == "sacrebleu":
        import sacrebleu

        n = max(len(rs) for rs in refs)
        streams = [[rs[j] if j < len(rs) else None for rs in refs] for j in range(n)]
        return sacrebleu.corpus_bleu(hyps, streams).score / 100.0
    if backend == "coco":
        from pycocoevalcap.bleu.bleu import Bleu

        gts, res = _coco_tokenize(hyps, refs)
        score, _ = Bleu(4).compute_score(gts, res, verbose=0)
        return float(score[3])
    raise ConfigError(f"unknown BLEU backend {backend!r}; choose one of {BACKENDS}")


def bleu4_per_video(hypotheses: Sequence[str], references: Sequence[Sequence[str] | str], *, backend: str = "nltk",
                    reference_mode: str = "best") -> np.ndarray:
    """BLEU-4 per video ``[V]``: against the best single reference (``best``) or all of them (``multi``)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown BLEU backend {backend!r}; choose one of {BACKENDS}")
    if reference_mode not in ("best", "multi"):
        raise ConfigError(f"unknown reference_mode {reference_mode!r}; choose 'best' or 'multi'")
    refs = _check_text_inputs(hypotheses, references)
    hyps = list(hypotheses)
    if reference_mode == "multi":
        return np.asarray(_sentence_scores(hyps, refs, backend))
    flat_h = [h for h, rs in zip(hyps, refs) for _ in rs]
    flat_r = [[r] for rs in refs for r in rs]
    flat = np.asarray(_sentence_scores(flat_h, flat_r, backend))
    bounds = np.cumsum([0] + [len(rs) for rs in refs])
    return np.array([flat[a:b].max() for a, b in zip(bounds[:-1], bounds[1:])])


def bleu4(hypotheses: Sequence[str], references: Sequence[Sequence[str] | str], *, backend: str = "nltk",
          reference_mode: str = "best", aggregate: str = "macro") -> float:
    """BLEU-4 in [0, 1] over videos (T-VAD: ``reference_mode="best"``, ``aggregate="macro"``).

    Args:
        hypotheses: one generated sentence per video ``[V]``.
        references: per video, a reference sentence or a list of them.
        backend: ``"coco"`` | ``"nltk"`` | ``"sacrebleu"`` (module docstring).
    """
    if aggregate not in ("macro", "corpus"):
        raise ConfigError(f"unknown aggregate {aggregate!r}; choose 'macro' or 'corpus'")
    refs = _check_text_inputs(hypotheses, references)
    if not refs:
        raise ScoreError("no videos to score")
    if aggregate == "macro":
        return float(bleu4_per_video(hypotheses, refs, backend=backend, reference_mode=reference_mode).mean())
    if reference_mode == "best":
        flat = np.asarray(_sentence_scores([h for h, rs in zip(hypotheses, refs) for _ in rs],
                                           [[r] for rs in refs for r in rs], backend))  # one backend call
        bounds = np.cumsum([0] + [len(rs) for rs in refs])
        refs = [[rs[int(np.argmax(flat[a:b]))]] for rs, a, b in zip(refs, bounds[:-1], bounds[1:])]
    return _corpus_score(list(hypotheses), refs, backend)


# ----------------------------------------------------------------------------------------------------------
# Yes/No


def normalize_yes_no(text: str, *, strict: bool = False) -> str | None:
    """Map a free-text answer to ``"Yes"``, ``"No"`` or ``None`` (undecidable).

    One grammar for every yes/no answer in vadkit: :func:`vadkit.metrics.answers.parse_yes_no` (its docstring
    lists what it accepts; :mod:`vadkit.models.parsing` re-exports it). Hedges and refusals (``"N/A"``,
    ``"Not sure"``, ``"maybe"``), answers that say both, and sentences where no verdict leads are undecidable
    (``None``; ``strict=True`` raises :class:`~vadkit.errors.ParseError`), never a silent No.
    """
    from vadkit.metrics.answers import parse_yes_no

    if not isinstance(text, str):
        raise ScoreError(f"answer must be a string, got {type(text).__name__}")
    try:
        return "Yes" if parse_yes_no(text) else "No"
    except ParseError:
        if strict:
            raise ParseError(text, "Yes/No") from None
        return None


def _yes_no_pairs(predictions, references, unparsed: str):
    if unparsed not in ("wrong", "error", "skip"):
        raise ConfigError(f"unknown unparsed policy {unparsed!r}; choose 'wrong', 'error' or 'skip'")
    if len(predictions) != len(references):
        raise ScoreError(f"{len(predictions)} predictions but {len(references)} references")
    pred, ref = [], []
    for i, (p, r) in enumerate(zip(predictions, references)):
        rn = normalize_yes_no(r, strict=True)
        pn = normalize_yes_no(p, strict=(unparsed == "error"))
        if pn is None and unparsed == "skip":
            continue
        pred.append(pn)
        ref.append(rn)
    return pred, ref


def yes_no_accuracy(predictions: Sequence[str], references: Sequence[str], *, unparsed: str = "wrong") -> float:
    """Accuracy in [0, 1] after normalising both sides to Yes/No.

    ``unparsed``: an answer that is neither Yes nor No counts as ``"wrong"`` (default: a model that does not
    answer is not right), is an ``"error"``, or is left out (``"skip"``). References must normalise.
    """
    pred, ref = _yes_no_pairs(predictions, references, unparsed)
    if not ref:
        raise ScoreError("no answers to score")
    return float(np.mean([p == r for p, r in zip(pred, ref)]))


def balanced_accuracy(predictions: Sequence[str], references: Sequence[str], *, unparsed: str = "wrong") -> float:
    """``(TPR + TNR) / 2`` with ``Yes`` positive; NaN when the references hold only one class.
    Unparsed predictions count as wrong for either class (default)."""
    pred, ref = _yes_no_pairs(predictions, references, unparsed)
    p, r = np.asarray(pred, dtype=object), np.asarray(ref, dtype=object)
    pos, neg = r == "Yes", r == "No"
    if not pos.any() or not neg.any():
        return float("nan")
    tpr = float(np.mean(p[pos] == "Yes"))
    tnr = float(np.mean(p[neg] == "No"))
    return (tpr + tnr) / 2.0
