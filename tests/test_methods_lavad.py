"""LAVAD's pieces: windows, prompts, strict parsing with interpolation, the expected-value reading (teacher-forced
candidate log-probs on a tiny Llama, cached), the video-text refinement and frame expansion. The chapter end to end
(and a rerun that makes no model call) is ``tests/test_rehearsal_chapters.py::test_chapter_30_*``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.methods import lavad


def test_windows_follow_the_official_loops():
    assert lavad.window_centres(40, 16).tolist() == [0, 16, 32]
    cap = lavad.caption_frames(200, 8)
    assert cap[:3].tolist() == [0, 8, 16] and cap[-1] == 192
    # 4-s window at 15 fps = 60 frames around frame 100: [70, 130) -> captioned 72..128 (8 frames), 6 kept
    m = lavad.window_members(100, cap, 200, 15.0, 4.0, 6)
    frames = cap[m]
    assert len(m) == 6 and frames[0] == 72 and frames[-1] == 128 and np.all(np.diff(frames) > 0)
    # clipped at the start, fewer than n: all kept
    assert cap[lavad.window_members(0, cap, 200, 15.0, 2.0, 6)].tolist() == [0, 8]
    # a window without captioned frames takes the nearest one
    assert lavad.window_members(50, np.array([0, 100]), 200, 15.0, 0.1, 6).tolist() == [0]


def test_prompts_are_the_papers():
    p = lavad.score_prompt("A man runs")
    assert p.startswith("If you were a law enforcement agency") and p.endswith("A man runs.")
    assert "[0, 0.1, 0.2" in p
    s = lavad.summary_prompt(["a car", "a car", "a man"])
    assert s.startswith("Please summarize what happened") and s.endswith("a car\na man")
    assert lavad.summary_from_output("Sure.\nA man falls.\n") == "A man falls."


def test_strict_parse_counts_and_interpolates():
    scores, bad = lavad.parse_window_scores(["[0.2]", "no idea", "0.8", "between 0.1 and 0.9", "[1.0]"])
    assert [i for i, _ in bad] == [1, 3]
    assert np.isnan(scores[1]) and scores[2] == 0.8
    filled = lavad.interpolate_unparsed(scores)
    assert np.allclose(filled, [0.2, 0.5, 0.8, 0.9, 1.0])
    assert np.allclose(lavad.interpolate_unparsed(np.array([np.nan, 0.4, np.nan])), [0.4, 0.4, 0.4])
    assert np.allclose(lavad.interpolate_unparsed(np.array([np.nan, np.nan])), [0.5, 0.5])


def test_expected_score():
    lp = np.full(11, -50.0)
    lp[3] = 0.0
    assert lavad.expected_score(lp) == pytest.approx(0.3)
    assert lavad.expected_score(np.zeros(11)) == pytest.approx(0.5)
    assert lavad.score_candidates("[{:.1f}]")[10] == "[1.0]"
    with pytest.raises(ValueError):
        lavad.expected_score([0.0, 0.0])


def test_video_text_refine_weights_by_softmax_similarity():
    from vadkit.methods.knn import video_text_refine

    v = np.eye(3)
    t = np.eye(3)
    s = np.array([0.0, 0.5, 1.0])
    ref, idx = video_text_refine(s, v, t, 1)
    assert np.allclose(ref, s) and idx[:, 0].tolist() == [0, 1, 2]
    ref, _ = video_text_refine(s, v, t, 3)
    w = np.exp([1.0, 0.0, 0.0])
    w /= w.sum()
    assert ref[0] == pytest.approx(w @ [0.0, 0.5, 1.0])
    # the query is the video embedding, the bank the summaries: window 0's video looks like summary 2
    ref, idx = video_text_refine(s, np.array([[0, 0, 1.0], [0, 1.0, 0], [0, 0, 1.0]]), t, 1)
    assert ref.tolist() == [1.0, 0.5, 1.0]


def test_frame_scores_repeat_and_cut():
    assert lavad.frame_scores([0.1, 0.9], 3, 5).tolist() == [0.1, 0.1, 0.1, 0.9, 0.9]
    with pytest.raises(ValueError):
        lavad.frame_scores([0.1], 3, 5)
    emb = lavad.window_video_embeddings(np.array([[1.0, 0], [0, 1.0], [1.0, 0]]), [np.array([0, 1]), np.array([2])])
    assert np.allclose(emb, [[2 ** -0.5, 2 ** -0.5], [1, 0]])


@pytest.fixture(scope="module")
def tiny_llm():
    from vadkit.models import rehearsal
    from vadkit.models.llm import load_hf_llm

    return load_hf_llm(rehearsal.path("llama"))


def test_candidate_logprobs_match_step_by_step_scoring(tiny_llm, vadkit_home):
    from vadkit.models import calls
    from vadkit.models.llm import candidate_logprobs

    llm = tiny_llm
    llm.name = "rehearsal-llama"
    prompts = ["Rate this: a car drives.", "Rate this: a man falls over the railing."]
    cands = ["0.1", "[0.9]"]
    got = candidate_logprobs(llm, prompts, cands, batch_size=1)
    tok = llm.tokenizer
    for p, row in zip(prompts, got):
        pid = tok(llm.format_prompt(p), add_special_tokens=False)["input_ids"]
        for c, val in zip(cands, row):
            cid = tok(c, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([pid + cid])
            with torch.no_grad():
                lp = torch.log_softmax(llm.model(input_ids=ids).logits.float(), -1)[0]
            ref = sum(float(lp[len(pid) - 1 + i, t]) for i, t in enumerate(cid))
            assert val == pytest.approx(ref, abs=1e-4)
    # batched the same as one at a time, and cached: a second call makes none
    assert np.allclose(candidate_logprobs(llm, prompts, cands, batch_size=2), got, atol=1e-4)
    calls.reset_stats()
    a = calls.cached_candidate_logprobs(llm, dict(enumerate(prompts)), cands, progress=False)
    b = calls.cached_candidate_logprobs(llm, dict(enumerate(prompts)), cands, progress=False)
    assert a == b and calls.stats("candidates") == {"made": 2, "cached": 2}


def test_candidates_sharing_a_prefix_score_as_alone(tiny_llm):
    from vadkit.models.llm import candidate_logprobs

    cands = lavad.score_candidates() + ["[0.3]"]
    both = candidate_logprobs(tiny_llm, ["Rate: a person falls."], cands)[0]
    alone = [candidate_logprobs(tiny_llm, ["Rate: a person falls."], [c])[0][0] for c in cands]
    assert np.allclose(both, alone, atol=1e-4)


def test_refining_a_constant_gives_exactly_that_constant():
    from vadkit.methods.knn import softmax_refine, video_text_refine

    rng = np.random.default_rng(0)
    v, t = rng.normal(size=(9, 5)), rng.normal(size=(9, 5))
    assert np.unique(video_text_refine(np.full(9, 0.5), v, t, 5)[0]).tolist() == [0.5]
    assert np.unique(softmax_refine(np.full(9, 0.3), v, 5, 0.1)).tolist() == [0.3]
