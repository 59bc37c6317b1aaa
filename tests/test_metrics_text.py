"""Text metrics: BLEU-4 backends and aggregation, Yes/No normalisation, (balanced) accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from vadkit import metrics
from vadkit.errors import ConfigError, ParseError, ScoreError

HYP = ["a man is running across the street", "a car drives the wrong way"]
REFS = [["A man runs across the street.", "a man is running across the street quickly"],
        ["a car goes the wrong way on the road"]]


@pytest.mark.parametrize("backend", metrics.BLEU_BACKENDS)
def test_identity_and_bounds(backend):
    if not metrics.backend_available(backend):
        pytest.skip(f"BLEU backend {backend} not available here")
    sents = ["the person on the left throws a bag over the fence", "a cyclist rides on the sidewalk"]
    assert metrics.bleu4(sents, [[s] for s in sents], backend=backend) == pytest.approx(1.0, abs=1e-6)
    v = metrics.bleu4(HYP, REFS, backend=backend)
    assert 0.0 <= v <= 1.0


def test_nltk_backend_matches_nltk_and_best_reference():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    sm = SmoothingFunction().method1
    tok = lambda s: s.lower().replace(".", " .").split()  # noqa: E731
    per_ref = [[sentence_bleu([tok(r)], tok(h), smoothing_function=sm) for r in rs] for h, rs in zip(HYP, REFS)]
    got = metrics.bleu4_per_video(HYP, REFS, backend="nltk")
    assert got == pytest.approx([max(x) for x in per_ref], abs=1e-12)
    assert metrics.bleu4(HYP, REFS, backend="nltk") == pytest.approx(np.mean([max(x) for x in per_ref]), abs=1e-12)
    multi = metrics.bleu4(HYP, REFS, backend="nltk", reference_mode="multi")
    assert multi >= metrics.bleu4(HYP, REFS, backend="nltk") - 1e-12  # more references never hurt
    assert 0 <= metrics.bleu4(HYP, REFS, backend="nltk", aggregate="corpus") <= 1


def test_sacrebleu_backend_matches_sacrebleu():
    import sacrebleu

    got = metrics.bleu4_per_video(HYP, REFS, backend="sacrebleu", reference_mode="multi")
    assert got[0] == pytest.approx(sacrebleu.sentence_bleu(HYP[0], REFS[0]).score / 100)


def test_bleu_bad_input():
    with pytest.raises(ConfigError, match="backend"):
        metrics.bleu4(HYP, REFS, backend="meteor")
    with pytest.raises(ScoreError, match="2 hypotheses but 1"):
        metrics.bleu4(HYP, REFS[:1])
    with pytest.raises(ScoreError, match="single string"):
        metrics.bleu4("a b c", ["a b c"])
    with pytest.raises(ScoreError, match="no reference"):
        metrics.bleu4(["a"], [[]])


@pytest.mark.parametrize("text,expected", [
    ("Yes.", "Yes"), ("yes, a person is climbing", "Yes"), ("No", "No"), ("no anomaly here", "No"),
    ("I would say yes", "Yes"), ("There is no anomaly in this video.", "No"), ("The video is abnormal", "Yes"),
    ("Nothing unusual happens", "No"), ("maybe", None), ("yes and no", None), ("Not at all", "No"),
    ("Yes, there is no doubt about it", "Yes"),
])
def test_normalize_yes_no(text, expected):
    assert metrics.normalize_yes_no(text) == expected


def test_strict_normalisation_raises():
    with pytest.raises(ParseError, match="Yes/No"):
        metrics.normalize_yes_no("perhaps", strict=True)


def test_accuracies():
    pred = ["Yes", "no.", "yes", "No", "maybe"]
    ref = ["Yes", "No", "No", "No", "Yes"]
    assert metrics.yes_no_accuracy(pred, ref) == pytest.approx(3 / 5)  # unparsed counts as wrong
    assert metrics.yes_no_accuracy(pred, ref, unparsed="skip") == pytest.approx(3 / 4)
    with pytest.raises(ParseError):
        metrics.yes_no_accuracy(pred, ref, unparsed="error")
    clean_p, clean_r = pred[:4], ref[:4]
    expected = balanced_accuracy_score([metrics.normalize_yes_no(r) for r in clean_r],
                                       [metrics.normalize_yes_no(p) for p in clean_p])
    assert metrics.balanced_accuracy(clean_p, clean_r) == pytest.approx(expected)
    assert metrics.balanced_accuracy(pred, ref) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(metrics.balanced_accuracy(["Yes"], ["Yes"]))
    with pytest.raises(ScoreError, match="2 predictions but 1"):
        metrics.yes_no_accuracy(["Yes", "No"], ["Yes"])


@pytest.mark.parametrize("text", ["N/A", "Not sure", "No, I am not sure.", "There is no doubt he runs.",
                                  "Probably yes", "n/a"])
def test_normalize_yes_no_hedges_are_undecidable(text):
    """Issue 10: "N/A" and "Not sure" used to normalise to No (the 'n' and 'not' words)."""
    assert metrics.normalize_yes_no(text) is None
    with pytest.raises(ParseError):
        metrics.normalize_yes_no(text, strict=True)
