"""VERA's pieces: p(yes), the question search (questions change every epoch, fewer errors chosen), smoothing and
VERA's video-centred Gaussian evaluation prior."""

from __future__ import annotations

import numpy as np
import pytest

from vadkit.methods import vera


def test_p_yes_and_prompt():
    assert vera.p_yes([0.0, 0.0]) == pytest.approx(0.5)
    assert vera.p_yes([-0.1, -5.0]) > 0.99
    p = vera.question_prompt("[1.0 s] a car drives", "Does a car crash?")
    assert p.startswith("Captions of a surveillance clip:") and p.endswith("Does a car crash? Answer yes or no.")
    assert len(set(vera.QUESTION_POOL)) == len(vera.QUESTION_POOL)
    assert set(vera.INITIAL_QUESTIONS) <= set(vera.QUESTION_POOL)


def _toy(n=40, seed=0):
    rng = np.random.default_rng(seed)
    answers, labels = {}, {}
    for i in range(n):
        y = i % 2 == 0
        a = rng.uniform(0.3, 0.6, size=(5, 6))       # 6 pool questions, 5 segments
        if y:
            a[2, 4] = 0.95                             # question 4 fires on the anomalous segment
        answers[f"v{i}"], labels[f"v{i}"] = a, y
    return answers, labels


def test_search_finds_the_informative_question_and_changes_every_epoch():
    answers, labels = _toy()
    epochs = vera.search_questions(answers, labels, [0, 1], 6, epochs=3, batch_size=20, seed=0)
    assert [e.epoch for e in epochs] == [0, 1, 2, 3]
    assert 4 in epochs[1].questions
    for a, b in zip(epochs, epochs[1:]):
        assert a.questions != b.questions
    assert epochs[1].errors <= vera.objective(answers, labels, [0, 1], sorted(answers))[0]
    again = vera.search_questions(answers, labels, [0, 1], 6, epochs=3, batch_size=20, seed=0)
    assert [e.questions for e in again] == [e.questions for e in epochs]


def test_segment_and_video_scores():
    a = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    assert vera.segment_scores(a, [0, 1]).tolist() == [0.5, 1.0, 0.0, 0.0]
    assert vera.video_score(np.array([0.0, 1.0, 0.5, 0.0])) == pytest.approx(0.75)
    assert np.allclose(vera.gaussian_smooth([0, 0, 1, 0, 0], 0), [0, 0, 1, 0, 0])
    sm = vera.gaussian_smooth([0, 0, 1, 0, 0], 1.0)
    assert sm.argmax() == 2 and sm[1] > 0 and sm.sum() == pytest.approx(1.0, abs=0.02)   # truncated kernel


def test_video_centred_gaussian_prior():
    from vadkit.metrics import video_centred_gaussian

    s = np.full(101, 0.54)
    out = video_centred_gaussian(s)
    assert out[50] == pytest.approx(0.5)                       # rounded to 0.1, centre weight 1
    assert out[0] == pytest.approx(0.5 * np.exp(-(50 ** 2) / (2 * 50.5 ** 2)))
    assert np.allclose(video_centred_gaussian(s, round_to=None)[50], 0.54)
    with pytest.raises(ValueError):
        video_centred_gaussian(np.zeros((2, 2)))
